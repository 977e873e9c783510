"""Sealed evaluation: the published leaderboard's catalogue generated with a secret seed.

With the public seed of a benchmark file, anyone (a submission's code included) can regenerate
the mock catalogue and look up its test clusters' masses, whatever the process isolation does.
``massbench run --sealed`` (and ``leaderboard submit --sealed``) replace the dataset's ``seed``
param by the integer in the environment variable :data:`SEALED_ENV` (a repository secret in
``.github/workflows/leaderboard.yml``). The seed is never printed: ``run.json`` and the run's
messages carry only ``sealed:<hash>``, a PBKDF2-SHA256 of it (slow on purpose: together with the
seed's required size, at least 10^15, the hash cannot be inverted by trying seeds).

Generate a seed with ``python -c "import secrets; print(10**18 + secrets.randbelow(2**63 - 10**18))"``.
"""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass
from typing import Any, Mapping

from .errors import UserError

SEALED_ENV = "MASSBENCH_SEALED_SEED"
MIN_SEED = 10**15  # about 50 bits: with PBKDF2 below, far too many to try
MAX_SEED = 2**63 - 1  # the mock writes its seed into FITS headers (64-bit integers)
_SALT = b"massbench sealed seed v1"
_ROUNDS = 200_000


@dataclass(frozen=True)
class SealedSeed:
    """The secret dataset seed (never printed: ``repr`` shows only its hash)."""

    value: int
    digest: str

    @property
    def tag(self) -> str:
        """What run.json and the messages show in place of the seed."""
        return f"sealed:pbkdf2-sha256:{self.digest}"

    def __repr__(self) -> str:
        return f"SealedSeed({self.tag})"

    __str__ = __repr__


def seed_digest(value: int) -> str:
    """The recorded form of a sealed seed (hex, 32 characters)."""
    return hashlib.pbkdf2_hmac("sha256", str(int(value)).encode(), _SALT, _ROUNDS).hex()[:32]


_stash: dict[str, str] = {}


def stash_env() -> None:
    """Move :data:`SEALED_ENV` out of the environment (``massbench`` does it before loading any plugin),
    so that no plugin code or child process reads it from there."""
    _stash.clear()  # one command, one seed: nothing from an earlier call in this process
    raw = os.environ.pop(SEALED_ENV, None)
    if raw is not None:
        _stash[SEALED_ENV] = raw


def from_env(env: Mapping[str, str] | None = None) -> SealedSeed:
    """The sealed seed from :data:`SEALED_ENV`, or a UserError saying what is wrong (without the value)."""
    env = ({**os.environ, **_stash} if _stash else os.environ) if env is None else env
    raw = (env.get(SEALED_ENV) or "").strip()
    if not raw:
        raise UserError(
            f"--sealed: the environment variable {SEALED_ENV} is not set; it holds the secret dataset seed "
            "(in CI a repository secret of the same name)"
        )
    if not re.fullmatch(r"[0-9]+", raw):
        raise UserError(f"--sealed: {SEALED_ENV} must be a decimal integer (its value is not shown)")
    value = int(raw)
    if not MIN_SEED <= value <= MAX_SEED:
        raise UserError(
            f"--sealed: {SEALED_ENV} must be an integer from 10^15 to 2^63 - 1 so that it cannot be guessed "
            '(its value is not shown); make one with python -c "import secrets; '
            'print(10**18 + secrets.randbelow(2**63 - 10**18))"'
        )
    return SealedSeed(value, seed_digest(value))


def child_env() -> dict[str, str]:
    """This process's environment plus :data:`SEALED_ENV` (for the one child that needs it: ``massbench run --sealed``)."""
    env = dict(os.environ)
    raw = _stash.get(SEALED_ENV) or os.environ.get(SEALED_ENV)
    if raw is not None:
        env[SEALED_ENV] = raw
    return env


def seal(bench: Any, sealed: SealedSeed, registry: Any = None) -> None:
    """Give ``bench``'s dataset the sealed seed (a UserError when its dataset plugin has no ``seed`` param).

    Also removes :data:`SEALED_ENV` from this process's environment, so that no worker process,
    plugin subprocess or dask worker started later inherits it.
    """
    from .params import declared_params

    os.environ.pop(SEALED_ENV, None)
    if registry is not None:
        info = registry.get("dataset", bench.dataset.name)
        if "seed" not in declared_params(info.cls):
            raise UserError(
                f"--sealed: dataset {bench.dataset.name!r} has no `seed` param, so its catalogue cannot be sealed"
            )
    bench.dataset.params["seed"] = sealed.value


def redact(obj: Any, sealed: SealedSeed | None) -> Any:
    """A copy of ``obj`` with the sealed seed replaced by its tag, in numbers and inside strings."""
    if sealed is None:
        return obj
    text = str(sealed.value)
    if isinstance(obj, bool):
        return obj
    if isinstance(obj, int) and obj == sealed.value:
        return sealed.tag
    if isinstance(obj, str):
        return obj.replace(text, sealed.tag) if text in obj else obj
    if isinstance(obj, dict):
        return {redact(k, sealed): redact(v, sealed) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [redact(v, sealed) for v in obj]
    return obj
