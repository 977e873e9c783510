"""Careless and hostile input (issue 17): every bad input ends in one clear exit-2 message, no traceback.

Each case of :data:`BAD_INPUTS` is one bad input a user can give (benchmark or submission file,
output directory, cache directory); the README's reliability section counts them. The commands
run in this process through :func:`massbench.cli.main` with the toy plugins registered.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import pytest

from massbench import cli
from massbench.registry import load_registry

from . import hostileplugin, toyplugin
from .conftest import ROOT, TOY_BENCH


@pytest.fixture(autouse=True)
def toy_cli(monkeypatch, tmp_path):
    """massbench.cli.main with the toy plugins and a private cache."""
    import massbench.registry as registry

    monkeypatch.setattr(registry, "_SHARED", load_registry(extra=[toyplugin, hostileplugin]))
    monkeypatch.setenv("MASSBENCH_CACHE", str(tmp_path / "cache"))
    monkeypatch.chdir(tmp_path)


def massbench(capsys, *args: str) -> tuple[int, str]:
    """Exit status and stdout+stderr of ``massbench ARGS`` run in this process."""
    try:
        cli.main(list(args))
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    out = capsys.readouterr()
    return code, out.out + out.err


def bench_with(estimators: str = "", dataset: str = "toy", params: str = "{n_clusters: 160, seed: 1}") -> str:
    base = TOY_BENCH.replace("name: toy\n  params: {n_clusters: 160, seed: 1}", f"name: {dataset}\n  params: {params}")
    return base + estimators


LAUGHS = "".join(f"      {c}: &{c} [{', '.join([f'*{p}'] * 10)}]\n" for p, c in zip("abcdefgh", "bcdefghi"))
BILLION_LAUGHS = bench_with(
    "  - name: toy-hostile\n    label: laughs\n    params:\n      a: &a [x, x, x, x, x, x, x, x, x, x]\n" + LAUGHS
)


@dataclass
class Bad:
    """One bad input: files to write, the command, and words the message must contain."""

    id: str
    args: tuple[str, ...]
    expect: tuple[str, ...]
    files: dict[str, str | bytes] = field(default_factory=dict)
    setup: Callable[[Path], None] | None = None

    def write(self, root: Path) -> None:
        for name, content in self.files.items():
            p = root / name
            p.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(content, bytes):
                p.write_bytes(content)
            else:
                p.write_text(content)
        if self.setup is not None:
            self.setup(root)


def _unrelated_dir(root: Path) -> None:
    (root / "mine").mkdir()
    (root / "mine" / "thesis.tex").write_text("my thesis\n")
    (root / "mine" / "models").mkdir()
    (root / "mine" / "models" / "keep.txt").write_text("keep\n")


def _leaderboard_dir(root: Path) -> None:
    _unrelated_dir(root)
    for sub in ("figures", "provenance"):
        (root / "mine" / sub).mkdir()
        (root / "mine" / sub / "mine.png").write_text("not generated\n")


def _file(root: Path) -> None:
    (root / "afile").write_text("a file\n")


def _deep(n: int) -> str:
    return TOY_BENCH + "run: " + "[" * n + "]" * n + "\n"


BAD_INPUTS = [
    # benchmark files (`massbench validate`)
    Bad("billion-laughs", ("validate", "b.yaml"), ("expands to more than", "aliases"), {"b.yaml": BILLION_LAUGHS}),
    Bad("nesting-5000", ("validate", "b.yaml"), ("nested too deeply",), {"b.yaml": _deep(5000)}),
    Bad("nesting-40", ("validate", "b.yaml"), ("nested more than 32 levels",), {"b.yaml": _deep(40)}),
    Bad("random-bytes", ("validate", "b.yaml"), ("not UTF-8",), {"b.yaml": bytes(range(256)) * 4}),
    Bad("nul-bytes", ("validate", "b.yaml"), ("NUL bytes",), {"b.yaml": b"benchmark: toy\x00\x00\n"}),
    Bad("latin-1", ("validate", "b.yaml"), ("b.yaml:2", "not UTF-8"), {"b.yaml": b"benchmark: toy\nversion: \xe9\n"}),
    Bad(
        "list-key",
        ("validate", "b.yaml"),
        ("b.yaml:2", "list is used as a mapping key"),
        {"b.yaml": "a: 1\n[x, y]: 2\n"},
    ),
    Bad(
        "mapping-key",
        ("validate", "b.yaml"),
        ("mapping is used as a mapping key",),
        {"b.yaml": "a: 1\n? {x: 1}\n: 2\n"},
    ),
    Bad("recursive-alias", ("validate", "b.yaml"), ("b.yaml",), {"b.yaml": TOY_BENCH + "run: &r {timeout: *r}\n"}),
    Bad("huge-file", ("validate", "b.yaml"), ("at most 1,000,000",), {"b.yaml": TOY_BENCH + "#" * 1_100_000 + "\n"}),
    Bad("empty-file", ("validate", "b.yaml"), ("must be a mapping",), {"b.yaml": ""}),
    Bad("top-level-list", ("validate", "b.yaml"), ("must be a mapping",), {"b.yaml": "- a\n- b\n"}),
    Bad("directory", ("validate", "d"), ("is a directory",), setup=lambda r: (r / "d").mkdir()),
    Bad("missing-file", ("validate", "nope.yaml"), ("cannot read",)),
    Bad(
        "n-clusters-1e20",
        ("validate", "b.yaml"),
        ("n_clusters", "12,000"),
        {"b.yaml": bench_with(dataset="erosita-mock", params="{n_clusters: 100000000000000000000, seed: 0}")},
    ),
    Bad(
        "n-clusters-10^20",
        ("validate", "b.yaml"),
        ("n_clusters", "must be int"),
        {"b.yaml": bench_with(params="{n_clusters: 10^20, seed: 1}")},
    ),
    Bad(
        "label-baseline-mean",
        ("validate", "b.yaml"),
        ("'baseline-mean'", "reserved", "estimators[1]"),
        {"b.yaml": bench_with("  - name: toy-hostile\n    label: baseline-mean\n")},
    ),
    Bad(
        "label-Baseline-MEAN",
        ("validate", "b.yaml"),
        ("'Baseline-MEAN'", "reserved"),
        {"b.yaml": bench_with("  - name: toy-hostile\n    label: Baseline-MEAN\n")},
    ),
    Bad(
        "labels-differ-in-case",
        ("validate", "b.yaml"),
        ("'LINEAR'", "estimators[0]", "estimators[1]", "ignoring case"),
        {"b.yaml": bench_with("  - name: toy-hostile\n    label: LINEAR\n")},
    ),
    Bad(
        "labels-same-slug",
        ("validate", "b.yaml"),
        ("is used twice",),
        {"b.yaml": bench_with("  - name: toy-hostile\n    label: 'Linear!'\n")},
    ),
    Bad(
        "blank-label",
        ("validate", "b.yaml"),
        ("label must be 1 to",),
        {"b.yaml": bench_with("  - name: toy-hostile\n    label: '  '\n")},
    ),
    Bad(
        "long-label",
        ("validate", "b.yaml"),
        ("label must be 1 to",),
        {"b.yaml": bench_with(f"  - name: toy-hostile\n    label: {'x' * 300}\n")},
    ),
    Bad(
        "markup-in-error",
        ("validate", "b.yaml"),
        ("[/data/maps.npy]",),
        {"b.yaml": bench_with("  - name: toy-hostile\n    label: x\n    params: {'[/data/maps.npy]': 1}\n")},
    ),
    # submission files (`massbench leaderboard submit`: the file is read before anything is installed)
    Bad(
        "submission-billion-laughs",
        ("leaderboard", "submit", "s.yaml", "--no-install", "--out", "o"),
        ("expands to more than",),
        {
            "s.yaml": "name: s\nrequirement: s\nestimators: [toy-hostile]\nx:\n  a: &a [x, x, x, x, x, x, x, x, x, x]\n"
            + LAUGHS.replace("      ", "  ")
        },
    ),
    Bad(
        "submission-binary",
        ("leaderboard", "submit", "s.yaml", "--no-install", "--out", "o"),
        ("not UTF-8",),
        {"s.yaml": b"\xff\xfe\x00n\x00a\x00m\x00e"},
    ),
    Bad(
        "submission-deep",
        ("leaderboard", "submit", "s.yaml", "--no-install", "--out", "o"),
        ("nested",),
        {"s.yaml": "name: s\nx: " + "[" * 3000 + "]" * 3000 + "\n"},
    ),
    Bad(
        "submission-huge",
        ("leaderboard", "submit", "s.yaml", "--no-install", "--out", "o"),
        ("at most 1,000,000",),
        {"s.yaml": "name: s\n" + "#" * 1_100_000},
    ),
    # output and cache directories (`massbench run`)
    Bad("out-is-a-file", ("run", "b.yaml", "--out", "afile"), ("is a file",), {"b.yaml": TOY_BENCH}, _file),
    Bad(
        "out-unrelated-dir",
        ("run", "b.yaml", "--out", "mine"),
        ("not created by massbench", ".massbench-run"),
        {"b.yaml": TOY_BENCH},
        _unrelated_dir,
    ),
    Bad(
        "out-leaderboard-dir",
        ("run", "b.yaml", "--out", "lb"),
        ("belongs to `massbench leaderboard build`",),
        {"b.yaml": TOY_BENCH, "lb/.massbench-leaderboard": "{}\n", "lb/leaderboard.json": "[]\n"},
    ),
    Bad("resume-and-overwrite", ("run", "b.yaml", "--resume", "--overwrite"), ("not both",), {"b.yaml": TOY_BENCH}),
    Bad(
        "cache-dir-is-a-file",
        ("run", "b.yaml", "--cache-dir", "afile"),
        ("--cache-dir", "is a file"),
        {"b.yaml": TOY_BENCH},
        _file,
    ),
    Bad("out-under-a-file", ("run", "b.yaml", "--out", "afile/sub"), ("cannot create",), {"b.yaml": TOY_BENCH}, _file),
    Bad(
        "sealed-without-seed",
        ("run", "b.yaml", "--sealed"),
        ("MASSBENCH_SEALED_SEED", "not set"),
        {"b.yaml": TOY_BENCH},
    ),
    Bad(
        "sealed-inline",
        ("run", "b.yaml", "--sealed", "--executor", "inline"),
        ("--executor process",),
        {"b.yaml": TOY_BENCH},
    ),
    # leaderboards (`massbench leaderboard build`)
    Bad(
        "leaderboard-out-unrelated-dir",
        ("leaderboard", "build", "run", "--out", "mine"),
        ("not created by massbench", ".massbench-leaderboard"),
        setup=_leaderboard_dir,
    ),
    Bad("leaderboard-missing-run", ("leaderboard", "build", "nope", "--out", "lb"), ("nope",)),
]


@pytest.mark.parametrize("case", BAD_INPUTS, ids=[b.id for b in BAD_INPUTS])
def test_bad_input_is_one_clear_exit_2_message(case: Bad, capsys, tmp_path, monkeypatch):
    monkeypatch.delenv("MASSBENCH_SEALED_SEED", raising=False)
    case.write(tmp_path)
    before = _snapshot(tmp_path / "mine")
    if case.id == "leaderboard-out-unrelated-dir":
        _toy_run(tmp_path / "run")
    code, text = massbench(capsys, *case.args)
    assert code == 2, text
    assert "Traceback" not in text and text.lstrip().startswith("error:"), text
    for word in case.expect:
        assert word in " ".join(text.split()), (word, text)
    assert _snapshot(tmp_path / "mine") == before  # a user's directory is never touched


def _snapshot(d: Path) -> dict[str, bytes]:
    return {str(p.relative_to(d)): p.read_bytes() for p in sorted(d.rglob("*")) if p.is_file()} if d.exists() else {}


def _toy_run(out: Path, text: str = TOY_BENCH, **options) -> int:
    from massbench.config import load_benchmark
    from massbench.runner import RunOptions, run_benchmark

    reg = load_registry(extra=[toyplugin, hostileplugin], use_entry_points=False)
    path = out.parent / f"{out.name}.yaml"
    path.write_text(text)
    return run_benchmark(
        load_benchmark(path, reg), reg, RunOptions(out=out, executor="inline", cache_dir=out.parent / "c", **options)
    )


def test_rerun_asks_for_resume_or_overwrite_and_overwrite_keeps_other_files(capsys, tmp_path):
    out = tmp_path / "res"
    assert _toy_run(out) == 0
    lb = (out / "leaderboard.json").read_bytes()
    (out / "notes.txt").write_text("my notes\n")
    (tmp_path / "b.yaml").write_text(TOY_BENCH)
    code, text = massbench(capsys, "run", "b.yaml", "--out", "res", "--executor", "inline")
    assert code == 2 and "--resume" in text and "--overwrite" in text and "toy@1.0" in text
    assert (out / "leaderboard.json").read_bytes() == lb  # nothing replaced
    code, text = massbench(capsys, "run", "b.yaml", "--out", "res", "--executor", "inline", "--overwrite")
    assert code == 0, text
    assert (out / "notes.txt").read_text() == "my notes\n"  # --overwrite deletes only what a run writes
    assert (out / ".massbench-run").is_file()


def test_second_run_into_a_locked_out_is_refused_with_the_holders_pid(capsys, tmp_path):
    out = tmp_path / "res"
    out.mkdir()
    (out / ".massbench-run").write_text("{}\n")
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; from pathlib import Path; from massbench.outdir import lock_run_dir; "
            "lock = lock_run_dir(Path(sys.argv[1])); print('locked', flush=True); time.sleep(60)",
            str(out),
        ],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        (tmp_path / "b.yaml").write_text(TOY_BENCH)
        code, text = massbench(capsys, "run", "b.yaml", "--out", "res", "--executor", "inline")
        text = " ".join(text.split())
        assert code == 2 and f"PID {holder.pid}" in text and "another massbench run" in text
        assert sorted(p.name for p in out.iterdir()) == [".massbench-run", ".massbench-run.lock"]
    finally:
        holder.kill()
        holder.wait()
    time.sleep(0.1)
    code, text = massbench(capsys, "run", "b.yaml", "--out", "res", "--executor", "inline")
    assert code == 0, text  # the lock went with its process


def test_leaderboard_build_refreshes_only_its_own_folders(tmp_path):
    from massbench.leaderboard import build_leaderboard

    run = tmp_path / "run"
    assert _toy_run(run) == 0
    out = tmp_path / "lb"
    build_leaderboard([run], out, figures=False)
    (out / "provenance" / "stale.json").write_text("{}")
    (out / "mine.txt").write_text("mine\n")
    build_leaderboard([run], out, figures=False)
    assert not (out / "provenance" / "stale.json").exists() and (out / "mine.txt").read_text() == "mine\n"
    assert (out / ".massbench-leaderboard").is_file()


def test_output_files_get_the_users_mode(tmp_path):
    old = os.umask(0o022)
    try:
        out = tmp_path / "res"
        assert _toy_run(out) == 0
    finally:
        os.umask(old)
    for name in ("leaderboard.json", "leaderboard.md", "run.json", "predictions.csv", "units/Linear/fold0.json"):
        assert (out / name).stat().st_mode & 0o777 == 0o644, name


def test_escaping_helpers():
    from massbench.escape import md_cell, md_split_row, rich_text, safe_relpath

    row = "| " + " | ".join(md_cell(x) for x in ["1", "a | b", "c\\", "line\nbreak", "x\\|y"]) + " |"
    assert md_split_row(row) == ["1", "a | b", "c\\", "line break", "x\\|y"]
    assert rich_text("N_phot [/h Msun]") == "N_phot \\[/h Msun]"
    for bad in (
        "javascript:alert(1)",
        "JaVaScRiPt:x",
        "data:text/html,x",
        "/etc/passwd",
        "../x.png",
        "a/../../x",
        "//evil.example/x.png",
        "http://x",
        "figures\\x.png",
        "a b.png",
        "x.png?y",
        "",
        None,
        3,
    ):
        assert safe_relpath(bad) is None, bad
    assert safe_relpath("figures/linear.png") == "figures/linear.png"
