"""The dataset cache: sparse storage (bit for bit), integrity checks (issue 17 item 6), info and clean (issue 21)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from massbench.cache import (
    CacheCorrupt,
    clean_cache,
    clean_stale_tmp,
    file_manifest,
    parse_age,
    scan_cache,
    verify_entry,
)
from massbench.errors import DataError, UserError
from massbench.estimator import RunContext
from massbench.plugins.mock.datasets import ErositaMock, MagneticumSixte
from massbench.plugins.mock.loader import ProcessingParams, _array_specs, process_cluster, read_raw
from massbench.sparse import SparseRows, sparsify, write_sparse

from .conftest import run_cli

N = 12


def _ctx(cache: Path) -> RunContext:
    return RunContext(seed=0, device="cpu", cache_dir=cache)


def _load_mock(cache: Path):
    return ErositaMock(n_clusters=N, seed=3).load(_ctx(cache))


def _entry(cache: Path) -> Path:
    (d,) = [p for p in (cache / "erosita-mock").iterdir() if (p / "complete.json").is_file()]
    return d


# ------------------------------------------------------------------------------------------ SparseRows


@pytest.mark.parametrize("density", [0.02, 0.4])  # flat index (maps) and bit mask (cubes)
def test_sparse_rows_round_trip(tmp_path: Path, density: float) -> None:
    rng = np.random.default_rng(0)
    shape = (9, 8, 8, 3)
    dense = np.where(rng.random(shape) < density, rng.integers(1, 5000, shape), 0).astype(np.float32)
    dense[4] = 0  # an empty row
    parts = []
    for a in (0, 5):  # two parts, as two worker tasks write them
        vs, ixs, counts = [], [], []
        for row in dense[a : a + 5]:
            v, ix = sparsify(row, np.uint32)
            vs.append(v)
            ixs.append(ix)
            counts.append(len(v))
        p = tmp_path / f"part{a}.npz"
        np.savez(p, values=np.concatenate(vs), index=np.concatenate(ixs), counts=np.asarray(counts))
        parts.append(p)
    write_sparse(tmp_path, "x", parts, np.uint32, shape[1:])
    mask_used = (tmp_path / "x.mask.npy").is_file()
    assert mask_used == (density > 0.1)
    s = SparseRows.open(tmp_path, "x", shape[1:], np.float32)
    assert s.shape == dense.shape and s.dtype == np.float32 and len(s) == 9 and s.ndim == 4
    assert np.array_equal(np.asarray(s), dense)
    assert np.array_equal(s[3], dense[3]) and np.array_equal(s[-1], dense[-1])
    assert np.array_equal(s[[7, 0, 7]], dense[[7, 0, 7]])
    assert np.array_equal(s[2:6], dense[2:6])
    assert np.array_equal(s[np.arange(9) % 2 == 0], dense[np.arange(9) % 2 == 0])
    assert np.array_equal(s[1, :, 2], dense[1, :, 2])
    assert s.nnz == int((dense != 0).sum())
    with pytest.raises(IndexError):
        s[9]
    out = tmp_path / "dense.npy"
    s.write_dense_npy(out, chunk=4)
    assert np.array_equal(np.load(out), dense)


def test_sparsify_refuses_values_that_do_not_fit() -> None:
    with pytest.raises(ValueError, match="uint32"):
        sparsify(np.array([0.0, 1.5], dtype=np.float32), np.uint32)


def test_processed_mock_is_the_dense_processing_bit_for_bit(tmp_path: Path) -> None:
    """Every stored array equals what process_cluster computes (float32, as estimators always saw)."""
    from massbench.plugins.mock.events import read_event_file
    from massbench.plugins.mock.loader import read_galaxies

    cache = tmp_path / "cache"
    cat = _load_mock(cache)
    raw = read_raw(cat.meta["raw_dir"])
    gal, off = read_galaxies(raw)
    specs = _array_specs(ProcessingParams())
    for i in (0, N // 2, N - 1):
        ev = read_event_file(raw.event_files[i], int(raw.cluster_id[i]))
        arrays, _, _ = process_cluster(
            ev, float(raw.halos["redshift"][i]), float(raw.halos["R500c"][i]), None, gal[off[i] : off[i + 1]]
        )
        for k, arr in arrays.items():
            got = cat.inputs[k].data[i] if k in cat.inputs else None
            if got is None:  # truth-only maps are absent from photon lists without COMPONENT
                continue
            assert isinstance(cat.inputs[k].data, SparseRows)
            assert got.dtype == specs[k][1]
            assert np.array_equal(got, np.asarray(arr, dtype=specs[k][1])), k


# ------------------------------------------------------------------------------------------ integrity


def test_complete_json_records_size_and_sha256_of_every_array(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    _load_mock(cache)
    d = _entry(cache)
    info = json.loads((d / "complete.json").read_text())
    files = sorted(p.name for p in d.glob("*.npy"))
    assert sorted(info["arrays"]) == files and "dyn_cube.values.npy" in files
    for name, rec in info["arrays"].items():
        assert rec["bytes"] == (d / name).stat().st_size
        assert len(rec["sha256"]) == 64
    assert verify_entry(d, info["arrays"], full=True) == len(files)
    assert verify_entry(d, info["arrays"]) == 0  # memoised: nothing changed since


@pytest.mark.parametrize("damage", ["truncate", "empty", "random-bytes", "delete", "bad-json", "no-manifest"])
def test_a_damaged_generated_mock_is_rebuilt(tmp_path: Path, damage: str, capfd) -> None:
    cache = tmp_path / "cache"
    before = _load_mock(cache)
    want = np.asarray(before.inputs["xray_map"].data)
    d = _entry(cache)
    victim = d / "xray_map.values.npy"
    if damage == "truncate":
        os.truncate(victim, victim.stat().st_size - 7)
    elif damage == "empty":
        os.truncate(victim, 0)
    elif damage == "random-bytes":  # same size: only the hash can tell
        with open(victim, "r+b") as f:
            f.seek(victim.stat().st_size - 16)
            f.write(os.urandom(16))
    elif damage == "delete":
        victim.unlink()
    elif damage == "bad-json":
        (d / "complete.json").write_bytes(b"\x00{not json")
    else:
        info = json.loads((d / "complete.json").read_text())
        del info["arrays"]
        (d / "complete.json").write_text(json.dumps(info))
    capfd.readouterr()
    after = _load_mock(cache)
    err = capfd.readouterr().err
    assert "corrupt" in err and "processing again" in err
    assert np.array_equal(np.asarray(after.inputs["xray_map"].data), want)
    assert verify_entry(_entry(cache), json.loads((_entry(cache) / "complete.json").read_text())["arrays"], full=True)


def test_a_damaged_user_catalogue_cache_is_an_exit_2_error_naming_the_file(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    raw = ErositaMock(n_clusters=N, seed=3).ensure_raw(_ctx(cache))
    ds = MagneticumSixte(path=str(raw))
    ds.load(_ctx(cache))
    (d,) = [p for p in (cache / "magneticum-sixte").iterdir() if (p / "complete.json").is_file()]
    victim = d / "dyn_cube.values.npy"
    os.truncate(victim, 100)
    with pytest.raises(DataError) as e:
        ds.load(_ctx(cache))
    msg = str(e.value)
    assert str(victim) in msg and "truncated" in msg and "massbench cache clean --dataset magneticum-sixte" in msg
    assert isinstance(e.value, UserError)  # exit status 2 in the CLI


def test_verify_entry_names_the_altered_file(tmp_path: Path) -> None:
    (tmp_path / "a.npy").write_bytes(b"x" * 10)
    man = file_manifest(tmp_path)
    verify_entry(tmp_path, man)
    time.sleep(0.01)
    (tmp_path / "a.npy").write_bytes(b"y" * 10)
    with pytest.raises(CacheCorrupt, match="a.npy: SHA-256 differs"):
        verify_entry(tmp_path, man)


def test_stale_tmp_folders_of_dead_processes_are_cleaned_on_the_next_load(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    _load_mock(cache)
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    alive = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        root = cache / "erosita-mock"
        stale = [root / f"{_entry(cache).name}.tmp-{dead.pid}", root / "raw" / f"n{N}-seed3-x.tmp-{dead.pid}"]
        live = root / f"other.tmp-{alive.pid}"
        for p in [*stale, live]:
            p.mkdir(parents=True)
            (p / "halos.fits").write_bytes(b"half")
        # a new catalogue (other params) takes the locks and cleans up on the way
        ErositaMock(n_clusters=N, seed=4).load(_ctx(cache))
        assert not any(p.exists() for p in stale)
        assert live.exists()
        assert clean_stale_tmp(root) == []
    finally:
        alive.kill()
        alive.wait()


# ------------------------------------------------------------------------------------------ info and clean


def test_scan_and_clean(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    _load_mock(cache)
    entries = scan_cache(cache)
    kinds = {e.kind for e in entries}
    assert {"processed", "raw"} <= kinds
    proc = [e for e in entries if e.kind == "processed"][0]
    assert proc.n_clusters == N and proc.bytes > 0 and proc.dataset == "erosita-mock"
    removed, skipped = clean_cache(cache, older_than=parse_age("1d"))
    assert removed == [] and skipped == []  # all used just now
    removed, _ = clean_cache(cache, dataset="erosita-mock", dry_run=True)
    assert removed and all(e.path.exists() for e in removed)
    old = time.time() - 3 * 86400
    os.utime(proc.path / "last-used", (old, old))
    removed, _ = clean_cache(cache, older_than=parse_age("2d"))
    assert [e.key for e in removed] == [proc.key] and not proc.path.exists()
    with pytest.raises(UserError, match="no dataset 'nope'"):
        clean_cache(cache, dataset="nope")
    with pytest.raises(UserError, match="--older-than"):
        parse_age("3 days")


def test_cache_cli_info_and_clean(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    _load_mock(cache)
    env = {"MASSBENCH_CACHE": str(cache), "COLUMNS": "250"}
    r = run_cli("cache", "info", env=env)
    assert r.returncode == 0, r.stderr
    assert str(cache) in r.stdout and "erosita-mock" in r.stdout and "processed" in r.stdout and "total" in r.stdout
    r = run_cli("cache", "info", "--json", env=env)
    doc = json.loads(r.stdout)
    assert doc["root"] == str(cache) and doc["total_bytes"] == sum(e["bytes"] for e in doc["entries"])
    r = run_cli("cache", "clean", "--dataset", "nope", env=env)
    assert r.returncode == 2 and "no dataset 'nope'" in r.stderr
    r = run_cli("cache", "clean", "--older-than", "soon", env=env)
    assert r.returncode == 2 and "--older-than" in r.stderr
    r = run_cli("cache", "clean", "--dataset", "erosita-mock", env=env)
    assert r.returncode == 0 and "removed" in r.stdout
    assert scan_cache(cache) == []
