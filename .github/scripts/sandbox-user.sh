#!/usr/bin/env bash
# The user `massbench-sub` that runs submitted code in CI (.github/workflows/leaderboard.yml):
# no sudo, no network except loopback (an iptables owner match), write access only to results/submissions/
# and the dataset caches. Without passwordless sudo (self-hosted runners) nothing changes and a warning says so.
set -euo pipefail
name=massbench-sub
if ! sudo -n true 2>/dev/null; then
  echo "::warning::no passwordless sudo on this runner: submitted code runs as $(id -un), with network access"
  exit 0
fi
id "$name" >/dev/null 2>&1 || sudo useradd --create-home --shell /usr/sbin/nologin "$name"
uid="$(id -u "$name")"
sudo iptables -I OUTPUT 1 -m owner --uid-owner "$uid" ! -o lo -j REJECT
sudo ip6tables -I OUTPUT 1 -m owner --uid-owner "$uid" ! -o lo -j REJECT || true
# it must reach the workspace, the venvs in RUNNER_TEMP and the cache, and write its own results
for d in "$GITHUB_WORKSPACE" "$RUNNER_TEMP"; do
  p="$d"
  while [ "$p" != "/" ]; do sudo chmod o+x "$p"; p="$(dirname "$p")"; done
done
sudo chmod -R a+rX "$GITHUB_WORKSPACE" "$RUNNER_TEMP"
mkdir -p results/submissions "${MASSBENCH_CACHE:-.massbench-cache}"
sudo chown -R "$name" results/submissions
sudo chmod -R a+rwX "${MASSBENCH_CACHE:-.massbench-cache}"
echo "submitted code runs as $name (uid $uid) without network access"
