"""Injected faults (issue 17): a misbehaving estimator, tampered files, interruptions.

"Survived" means: the run ends (exit 0 or 1, never a traceback), the faulty estimator is a
``failed`` row saying why, every other row is intact (the same scores as a clean run), and no
file of the user's is touched. :data:`HOSTILE_MODES` and the tests below are the faults the
README's reliability section counts.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from massbench.config import load_benchmark
from massbench.registry import load_registry
from massbench.runner import RunOptions, run_benchmark

from . import hostileplugin, toyplugin
from .conftest import ROOT, TOY_BENCH

HOSTILE_MODES = sorted(hostileplugin.BAD_PREDICTIONS)


def registry():
    return load_registry(extra=[toyplugin, hostileplugin], use_entry_points=False)


def run(tmp: Path, text: str, name: str = "res", console=None, **options) -> tuple[int, dict[str, dict]]:
    reg = registry()
    path = tmp / f"{name}.yaml"
    path.write_text(text)
    opts = {"executor": "inline", "cache_dir": tmp / "cache", **options}
    code = run_benchmark(load_benchmark(path, reg), reg, RunOptions(out=tmp / name, **opts), console)
    rows = {r["label"]: r for r in json.loads((tmp / name / "leaderboard.json").read_text())}
    return code, rows


@pytest.fixture(scope="module")
def clean(tmp_path_factory):
    """Rows of the toy benchmark with no fault (the reference the other rows must equal)."""
    return run(tmp_path_factory.mktemp("clean"), TOY_BENCH)[1]


def same_row(a: dict, b: dict) -> bool:
    keys = ("scatter_dex", "bias_dex", "robust_scatter_dex", "scatter_ci95", "n_test", "status")
    return all(a[k] == b[k] for k in keys)


@pytest.fixture(scope="module")
def hostile_run(tmp_path_factory):
    """One run with an estimator entry per bad kind of prediction."""
    entries = "".join(f"  - name: toy-hostile\n    label: bad {m}\n    params: {{mode: {m}}}\n" for m in HOSTILE_MODES)
    tmp = tmp_path_factory.mktemp("hostile")
    return run(tmp, TOY_BENCH + entries), tmp


@pytest.mark.parametrize("mode", HOSTILE_MODES)
def test_bad_predictions_fail_their_row_only(mode, hostile_run, clean):
    (code, rows), _ = hostile_run
    assert code == 1
    row = rows[f"bad {mode}"]
    assert row["status"] == "failed" and row["scatter_dex"] is None and "predict() returned" in row["error"]
    for label in ("Linear", "baseline-mean"):
        assert same_row(rows[label], clean[label])
    assert len(rows) == len(HOSTILE_MODES) + 2


def test_absurd_predictions_cannot_reach_the_metrics():
    from massbench.metrics import score

    with pytest.raises(ValueError, match="residuals must be finite"):
        score(np.full(10, 1e300), np.full(10, 14.0))


def test_markup_in_labels_and_errors_does_not_end_the_run(tmp_path, clean):
    from rich.console import Console

    text = (
        TOY_BENCH.replace("label: Linear", "label: Linear")
        + "  - name: toy-hostile\n    label: 'N_phot [/h Msun]'\n"
        + "  - name: toy-hostile\n    label: '[bold]x[/]'\n    params: {mode: raise, message: 'cannot read [/data/maps.npy]'}\n"
    )
    console = Console(file=open(os.devnull, "w"), force_terminal=True)
    code, rows = run(tmp_path, text, console=console)
    assert code == 1
    assert rows["N_phot [/h Msun]"]["status"] == "ok"
    assert rows["[bold]x[/]"]["status"] == "failed" and "[/data/maps.npy]" in rows["[bold]x[/]"]["error"]
    assert same_row(rows["Linear"], clean["Linear"])


def test_pipes_and_newlines_in_labels_keep_markdown_tables_and_verify_intact(tmp_path):
    from massbench.escape import md_split_row
    from massbench.leaderboard import check_published, publish_leaderboard

    text = (
        TOY_BENCH.replace("label: Linear", 'label: "a | b\\\\"') + '  - name: toy-hostile\n    label: "two\\nlines"\n'
    )
    code, rows = run(tmp_path, text)
    assert code == 0 and set(rows) == {"a | b\\", "two\nlines", "baseline-mean"}
    md = (tmp_path / "res" / "leaderboard.md").read_text()
    body = [md_split_row(line) for line in md.splitlines() if line.startswith("| ") and line[2].isdigit()]
    assert sorted(r[1] for r in body) == ["a | b\\", "baseline-mean", "two lines"] and all(len(r) == 12 for r in body)
    root = tmp_path / "pub"
    publish_leaderboard([tmp_path / "res"], root, figures=False)
    assert check_published(root) == []


def test_verify_survives_a_broken_published_table(tmp_path):
    from massbench.leaderboard import check_published, publish_leaderboard

    run(tmp_path, TOY_BENCH)
    root = tmp_path / "pub"
    target = publish_leaderboard([tmp_path / "res"], root, figures=False)
    md = target / "leaderboard.md"
    md.write_text(md.read_text() + "| 9 |\n| 10 | x | y\n")
    problems = check_published(root)
    assert any("rows differ" in p for p in problems)


def test_tampered_figure_and_provenance_links_never_reach_the_page(tmp_path):
    from massbench.leaderboard import build_leaderboard, check_published, publish_leaderboard

    run(tmp_path, TOY_BENCH)
    lb = tmp_path / "res" / "leaderboard.json"
    rows = json.loads(lb.read_text())
    rows[0]["figure"] = "javascript:alert(document.cookie)"
    rows[0]["figure_id"] = "x"
    rows[1]["provenance"] = "../../../etc/passwd"
    lb.write_text(json.dumps(rows))
    out = build_leaderboard([tmp_path / "res"], tmp_path / "lb", figures=False)
    page = (out / "index.html").read_text()
    assert "javascript:" not in page and "etc/passwd" not in page
    target = publish_leaderboard([tmp_path / "res"], tmp_path / "pub", figures=False)
    published = json.loads((target / "leaderboard.json").read_text())
    published[0]["figure"] = "javascript:alert(1)"
    (target / "leaderboard.json").write_text(json.dumps(published))
    assert any("not a relative path" in p for p in check_published(tmp_path / "pub"))


def test_tampered_unit_record_becomes_a_failed_row(tmp_path, clean):
    run(tmp_path, TOY_BENCH)
    rec_path = tmp_path / "res" / "units" / "Linear" / "fold3.json"
    rec = json.loads(rec_path.read_text())
    rec["prediction"] = [1e300] * len(rec["prediction"])
    rec_path.write_text(json.dumps(rec))
    code, rows = run(tmp_path, TOY_BENCH, resume=True)
    assert code == 1
    assert rows["Linear"]["status"] == "failed" and "stored unit record is invalid" in rows["Linear"]["error"]
    assert same_row(rows["baseline-mean"], clean["baseline-mean"])


def test_an_estimator_with_no_records_is_a_failed_row_not_a_missing_one(tmp_path):
    from massbench.collect import collect_rows
    from massbench.plan import prepare

    reg = registry()
    (tmp_path / "b.yaml").write_text(TOY_BENCH)
    p = prepare(load_benchmark(tmp_path / "b.yaml", reg), reg, cache_dir=tmp_path / "c")
    rows, _ = collect_rows(p, {})
    assert {r.label: r.status for r in rows} == {"Linear": "failed", "baseline-mean": "failed"}
    assert all("no unit record" in (r.error or "") for r in rows)
    rows, _ = collect_rows(p, {}, expected={"Linear"})  # --only Linear: baseline has no row to claim
    assert [r.label for r in rows] == ["Linear"]


def test_two_runs_into_one_out_cannot_delete_each_others_records(tmp_path, clean):
    code, rows = run(tmp_path, TOY_BENCH)
    before = {p: p.read_bytes() for p in (tmp_path / "res" / "units").rglob("*.json")}
    other = TOY_BENCH.replace("label: Linear", "label: Other")
    from massbench.errors import UserError

    with pytest.raises(UserError, match="--resume"):
        run(tmp_path, other)
    assert {p: p.read_bytes() for p in (tmp_path / "res" / "units").rglob("*.json")} == before
    assert same_row(rows["Linear"], clean["Linear"])


def test_ctrl_c_prints_the_resume_command(tmp_path):
    crash = tmp_path / "crash"
    crash.write_text("")
    (tmp_path / "b.yaml").write_text(TOY_BENCH)
    env = {
        **os.environ,
        "MASSBENCH_PLUGINS": "tests.toyplugin",
        "PYTHONPATH": str(ROOT),
        "TOY_CRASH_FILE": str(crash),
        "MASSBENCH_CACHE": str(tmp_path / "cache"),
    }
    proc = subprocess.run(
        [
            sys.executable,
            "-c",
            "from massbench.cli import main; main()",
            "run",
            "b.yaml",
            "--out",
            "o",
            "--executor",
            "inline",
        ],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=300,
    )
    assert proc.returncode == 130, proc.stderr
    cmd = proc.stderr.split("Continue with:")[1].split()
    assert cmd[:5] == ["massbench", "run", "b.yaml", "--out", "o"] and "--resume" in cmd
    assert cmd[cmd.index("--executor") + 1] == "inline"
    assert "Traceback" not in proc.stderr


def test_sealed_seed_never_reaches_outputs_or_messages(tmp_path, monkeypatch, capsys):
    import massbench.registry as regmod
    from massbench import cli
    from massbench.sealed import SEALED_ENV

    seed = "4719236451982734561"
    monkeypatch.setattr(regmod, "_SHARED", registry())
    monkeypatch.setenv(SEALED_ENV, seed)
    monkeypatch.setenv("MASSBENCH_CACHE", str(tmp_path / "cache"))
    monkeypatch.chdir(tmp_path)
    (tmp_path / "b.yaml").write_text(TOY_BENCH)
    with pytest.raises(SystemExit) as exc:
        cli.main(["run", "b.yaml", "--out", "o", "--sealed"])
    assert exc.value.code == 0
    printed = capsys.readouterr()
    assert seed not in printed.out + printed.err and "sealed:" in printed.out
    assert SEALED_ENV not in os.environ  # taken out before plugins load: no child inherits it
    for p in (tmp_path / "o").rglob("*"):
        if p.is_file():
            assert seed.encode() not in p.read_bytes(), p
    prov = json.loads((tmp_path / "o" / "run.json").read_text())
    assert prov["sealed_seed"].startswith("sealed:pbkdf2-sha256:")
    assert prov["dataset"]["params"]["seed"] == prov["sealed_seed"]
    # the catalogue differs from the public seed's: the sealed seed was used
    public = json.loads((tmp_path / "o" / "run.json").read_text())["dataset"]["meta"]
    assert "-1-" not in str(public.get("cache_key"))


@pytest.mark.slow
def test_sealed_seed_is_invisible_to_worker_processes(tmp_path, monkeypatch):
    from massbench.sealed import SEALED_ENV, from_env, seal

    monkeypatch.setenv(SEALED_ENV, "4719236451982734561")
    reg = registry()
    path = tmp_path / "b.yaml"
    path.write_text(TOY_BENCH + "  - name: toy-hostile\n    label: spy\n    params: {mode: sealed-env}\n")
    bench = load_benchmark(path, reg)
    sealed = from_env()
    seal(bench, sealed, reg)
    code = run_benchmark(bench, reg, RunOptions(out=tmp_path / "o", cache_dir=tmp_path / "c", sealed=sealed))
    rows = {r["label"]: r for r in json.loads((tmp_path / "o" / "leaderboard.json").read_text())}
    assert code == 0 and rows["spy"]["status"] == "ok", rows["spy"].get("error")


@pytest.mark.slow
def test_bad_predictions_fail_their_units_under_the_process_executor(tmp_path, clean):
    entries = "".join(
        f"  - name: toy-hostile\n    label: bad {m}\n    params: {{mode: {m}}}\n" for m in ("huge", "row", "strings")
    )
    code, rows = run(tmp_path, TOY_BENCH + entries, executor="process")
    assert code == 1
    for m in ("huge", "row", "strings"):
        assert rows[f"bad {m}"]["status"] == "failed" and "predict() returned" in rows[f"bad {m}"]["error"]
    assert same_row(rows["Linear"], clean["Linear"])


def test_endless_subprocess_output_is_logged_not_held_in_memory(tmp_path, monkeypatch):
    from massbench import isolated_env

    monkeypatch.setattr(isolated_env, "MAX_CAPTURE", 10_000)
    code = "import sys\nfor i in range(200000): print(i)\nsys.stderr.write('the end')\nsys.exit(3)"
    proc = isolated_env.run_logged([sys.executable, "-c", code], tmp_path / "run.log")
    assert proc.returncode == 3 and proc.stderr == "the end"
    assert len(proc.stdout) < 10_100 and "earlier bytes of output left out" in proc.stdout
    log = (tmp_path / "run.log").read_text()
    assert "\n0\n" in log and "199999\n" in log and log.rstrip().endswith("[exit status 3]")
