"""The dataset cache: integrity of its entries, what lies in it, and cleaning it.

Layout (``$MASSBENCH_CACHE``, else ``~/.cache/massbench``): one folder per dataset
(``erosita-mock/``, ``magneticum-sixte/``, ``fusion-cubes/`` ...) holding entries:

- ``<key>/``: processed arrays of one catalogue, finished when ``complete.json`` is there;
- ``raw/<name>/``: a generated mock's raw files (halos.fits, events/, galaxies.fits);
- ``fingerprints/``: memo of raw-file stat signatures -> key (small);
- ``*.tmp-<PID>/``: work in progress of process PID (left behind when it was killed; removed by the
  next load once that process is gone: :func:`clean_stale_tmp`).

Integrity (issue 17): ``complete.json`` lists every array file with its size in bytes and SHA-256
(:func:`file_manifest`). :func:`verify_entry` checks the sizes on every load and the hashes whenever a
file's (size, mtime) differs from when it was last verified (memo ``verified.json``), or always with
``full=True``; a corrupt entry raises :class:`CacheCorrupt`.
"""

from __future__ import annotations

import errno
import fcntl
import hashlib
import json
import os
import re
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Optional

from .errors import UserError

#: file written into an entry on every load (its mtime is the entry's last use)
LAST_USED = "last-used"
VERIFIED = "verified.json"
_TMP = re.compile(r"^(?P<base>.+)\.tmp-(?P<pid>\d+)$")


class CacheCorrupt(Exception):
    """A cache entry's file is missing, truncated or altered."""

    def __init__(self, path: Path, reason: str):
        super().__init__(f"{path}: {reason}")
        self.path = Path(path)
        self.reason = reason


def sha256_file(path: Path, block: int = 1 << 22) -> str:
    """Hex SHA-256 of a file, read in 4 MiB blocks."""
    return file_hash(path, "sha256", block)


def file_hash(path: Path, algorithm: str = "sha256", block: int = 1 << 22) -> str:
    """Hex digest of a file's bytes with a ``hashlib`` algorithm, read in ``block``-byte pieces."""
    h = hashlib.new(algorithm)
    with open(path, "rb") as f:
        while True:
            b = f.read(block)
            if not b:
                break
            h.update(b)
    return h.hexdigest()


def file_manifest(directory: Path, pattern: str = "*.npy") -> dict[str, dict[str, Any]]:
    """``{file name: {"bytes": size, "sha256": hex}}`` of the files of ``directory`` matching ``pattern``."""
    d = Path(directory)
    return {
        p.name: {"bytes": p.stat().st_size, "sha256": sha256_file(p)} for p in sorted(d.glob(pattern)) if p.is_file()
    }


def _stat_sig(p: Path) -> list[int]:
    st = p.stat()
    return [st.st_size, st.st_mtime_ns]


def verify_entry(directory: Path, manifest: dict[str, dict[str, Any]], full: bool = False) -> int:
    """Check an entry against its manifest; returns the number of files hashed.

    Sizes are always compared (a truncated or grown file is caught at once); SHA-256 is recomputed for
    files whose (size, mtime) changed since the last verification, or for all with ``full``. Raises
    :class:`CacheCorrupt` naming the first bad file.
    """
    d = Path(directory)
    memo_path = d / VERIFIED
    try:
        memo = json.loads(memo_path.read_text()) if memo_path.is_file() else {}
        if not isinstance(memo, dict):
            memo = {}
    except (OSError, ValueError):
        memo = {}
    hashed = 0
    changed = False
    for name, want in manifest.items():
        p = d / name
        if not p.is_file():
            raise CacheCorrupt(p, "missing")
        sig = _stat_sig(p)
        if sig[0] != int(want["bytes"]):
            raise CacheCorrupt(p, f"{sig[0]} bytes, {int(want['bytes'])} expected (truncated or overwritten)")
        if full or memo.get(name) != sig:
            hashed += 1
            if sha256_file(p) != want["sha256"]:
                raise CacheCorrupt(p, "SHA-256 differs from complete.json (the file was altered or is damaged)")
            memo[name] = sig
            changed = True
    if changed:
        try:
            tmp = memo_path.with_name(f".{VERIFIED}.tmp{os.getpid()}")
            tmp.write_text(json.dumps(memo))
            os.replace(tmp, memo_path)
        except OSError:
            pass  # a read-only cache: verified again next time
    return hashed


def read_complete(directory: Path) -> dict[str, Any]:
    """The parsed ``complete.json`` of an entry; :class:`CacheCorrupt` when unreadable or not an object."""
    p = Path(directory) / "complete.json"
    try:
        info = json.loads(p.read_text())
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise CacheCorrupt(p, f"unreadable ({exc.__class__.__name__})") from None
    if not isinstance(info, dict):
        raise CacheCorrupt(p, "not a JSON object")
    return info


def touch_last_used(directory: Path) -> None:
    """Record that an entry was used now (ignored on a read-only cache)."""
    try:
        (Path(directory) / LAST_USED).write_text(time.strftime("%Y-%m-%dT%H:%M:%S%z") + "\n")
    except OSError:
        pass


def _pid_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except OSError as exc:
        return exc.errno == errno.EPERM
    return True


def clean_stale_tmp(parent: Path) -> list[Path]:
    """Remove the ``*.tmp-<PID>`` folders (and files) in ``parent`` whose process is gone; returns them."""
    removed: list[Path] = []
    try:
        children = list(Path(parent).iterdir())
    except OSError:
        return removed
    for p in children:
        m = _TMP.match(p.name)
        if m and not _pid_alive(int(m["pid"])):
            if p.is_dir() and not p.is_symlink():
                shutil.rmtree(p, ignore_errors=True)
            else:
                p.unlink(missing_ok=True)
            removed.append(p)
    return removed


# ------------------------------------------------------------------------------------------ info and clean


@dataclass
class CacheEntry:
    """One removable entry of the cache (a processed catalogue, a generated mock's raw files, ...)."""

    dataset: str
    key: str
    path: Path
    kind: str  # processed | raw | stale | in-progress | other
    bytes: int
    last_used: float  # epoch seconds
    n_clusters: Optional[int] = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "dataset": self.dataset,
            "key": self.key,
            "path": str(self.path),
            "kind": self.kind,
            "bytes": self.bytes,
            "last_used": time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(self.last_used)),
            "n_clusters": self.n_clusters,
        }


def _walk(path: Path) -> Iterator[os.stat_result]:
    if path.is_file() or path.is_symlink():
        yield path.lstat()
        return
    for root, _dirs, files in os.walk(path):
        for f in files:
            try:
                yield os.lstat(os.path.join(root, f))
            except OSError:
                continue


def disk_usage(path: Path) -> int:
    """Bytes the files under ``path`` take on disk (like ``du``; sparse files count what they use)."""
    return sum(st.st_blocks * 512 for st in _walk(path))


def _last_used(path: Path) -> float:
    marker = path / LAST_USED
    if marker.is_file():
        return marker.stat().st_mtime
    times = [max(st.st_mtime, st.st_atime) for st in _walk(path)]
    return max(times) if times else path.stat().st_mtime


def _entry(dataset: str, key: str, path: Path) -> CacheEntry:
    m = _TMP.match(path.name)
    n = None
    if m:
        kind = "in-progress" if _pid_alive(int(m["pid"])) else "stale"
    elif (path / "complete.json").is_file():
        kind = "processed"
        try:
            n = int(json.loads((path / "complete.json").read_text()).get("n_clusters"))
        except (OSError, ValueError, TypeError, AttributeError):
            n = None
    elif key.startswith("raw/"):
        kind = "raw"
        hit = re.match(r"n(\d+)-", path.name)
        n = int(hit[1]) if hit else None
    else:
        kind = "other"
    return CacheEntry(dataset, key, path, kind, disk_usage(path), _last_used(path), n)


def scan_cache(root: Path) -> list[CacheEntry]:
    """Every entry under the cache ``root``, sorted by dataset and key (lock files are not entries)."""
    root = Path(root)
    out: list[CacheEntry] = []
    if not root.is_dir():
        return out
    for ds in sorted(p for p in root.iterdir() if p.is_dir()):
        for child in sorted(ds.iterdir()):
            if child.name.endswith(".lock"):
                continue
            if child.name == "raw" and child.is_dir():
                for r in sorted(child.iterdir()):
                    if not r.name.endswith(".lock"):
                        out.append(_entry(ds.name, f"raw/{r.name}", r))
                continue
            out.append(_entry(ds.name, child.name, child))
    return out


def parse_age(text: str) -> float:
    """Seconds in an age such as ``30d``, ``12h``, ``90m``, ``2w`` or ``45s``."""
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*", text or "")
    if not m:
        raise UserError(f"--older-than must be a number and a unit s, m, h, d or w (e.g. 30d, 12h), not {text!r}")
    return float(m[1]) * {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}[m[2]]


def _try_lock(path: Path) -> Any:
    if not path.exists():
        return None
    f = open(path, "a")
    try:
        fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        f.close()
        raise
    return f


def clean_cache(
    root: Path, older_than: Optional[float] = None, dataset: Optional[str] = None, dry_run: bool = False
) -> tuple[list[CacheEntry], list[tuple[CacheEntry, str]]]:
    """Remove entries (of ``dataset`` only, last used more than ``older_than`` seconds ago).

    Returns ``(removed, skipped with the reason)``. An entry being generated right now (its lock is
    held, or its ``.tmp-PID`` process lives) is skipped.
    """
    entries = scan_cache(root)
    if dataset is not None:
        known = sorted({e.dataset for e in entries})
        if dataset not in known:
            raise UserError(
                f"{root}: no dataset {dataset!r} in the cache; it holds {', '.join(known) or 'nothing'} "
                "(see `massbench cache info`)"
            )
        entries = [e for e in entries if e.dataset == dataset]
    now = time.time()
    removed: list[CacheEntry] = []
    skipped: list[tuple[CacheEntry, str]] = []
    for e in entries:
        if older_than is not None and now - e.last_used < older_than:
            continue
        if e.kind == "in-progress":
            skipped.append((e, f"being written by process {_TMP.match(e.path.name)['pid']}"))  # type: ignore[index]
            continue
        lock_path = e.path.parent / f"{e.path.name}.lock"
        try:
            lock = _try_lock(lock_path)
        except OSError:
            skipped.append((e, "in use (its lock is held)"))
            continue
        try:
            if not dry_run:
                if e.path.is_dir() and not e.path.is_symlink():
                    shutil.rmtree(e.path)
                else:
                    e.path.unlink(missing_ok=True)
                if lock is not None:
                    lock_path.unlink(missing_ok=True)
            removed.append(e)
        finally:
            if lock is not None:
                lock.close()
    return removed, skipped


def human_bytes(n: float) -> str:
    """1.7 GB style (powers of 1000, as du -h --si)."""
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if abs(n) < 1000 or unit == "TB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} TB"


def notice(message: str) -> None:
    """One line to stderr, flushed at once (what the cache is doing, before and while it works)."""
    import sys

    print(message, file=sys.stderr, flush=True)
