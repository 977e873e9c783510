#!/usr/bin/env bash
# Run a command as `massbench-sub` (see sandbox-user.sh) when that user exists, else as the current user.
# Only the variables massbench needs are passed on; MASSBENCH_SEALED_SEED reaches `massbench ... --sealed`,
# which moves it out of its environment before any plugin is imported (harness/sealed.py).
set -euo pipefail
if id massbench-sub >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
  exec sudo -u massbench-sub -H \
    --preserve-env=MASSBENCH_SEALED_SEED,MASSBENCH_CACHE,TF_CPP_MIN_LOG_LEVEL,PIP_DISABLE_PIP_VERSION_CHECK,PATH \
    -- "$@"
fi
exec "$@"
