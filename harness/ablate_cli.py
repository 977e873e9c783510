"""``massbench ablate DIR``: run every benchmark file of an ablation directory, then one comparison table
(:mod:`massbench.ablate`)."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path
from typing import Any, Optional

import typer


def ablate_cmd(
    directory: Path = typer.Argument(..., help="Folder of benchmark files, e.g. benchmarks/ablations/"),
    out: Optional[Path] = typer.Option(
        None, "--out", "-o", help="Output folder \\[default: results/ablations/]; runs go to OUT/runs/<file stem>/"
    ),
    device: str = typer.Option("auto", "--device", help="auto (GPU when one is present), cpu or gpu"),
    cache_dir: Optional[Path] = typer.Option(
        None, "--cache-dir", help="Dataset cache \\[default: $MASSBENCH_CACHE or ~/.cache/massbench]"
    ),
    executor: str = typer.Option("process", "--executor", help="process (default), inline or dask"),
    retry_failed: bool = typer.Option(False, "--retry-failed", help="Run failed units of earlier calls again"),
    table_only: bool = typer.Option(
        False, "--table-only", help="Run nothing: rebuild the table from the finished runs in OUT/runs/"
    ),
    n_boot: int = typer.Option(1000, "--n-boot", min=100, help="Bootstrap resamples of the paired intervals"),
    seed: int = typer.Option(0, "--seed", help="Bootstrap seed"),
    debug: bool = typer.Option(False, "--debug", help="Show tracebacks of user errors"),
) -> None:
    """Run each benchmark file in DIR (reusing finished units), then write one comparison table.

    Files named ABLATION--VARIANT.yaml form one ablation; its reference is its first file by name.

    Each row is compared with the same label in the reference file (no `--`: the first row of its plugin).

    OUT/ablations.md, .json, .png: scatter, bias (dex) and the paired difference from the reference row.

    Intervals: 95 %, paired lineage bootstrap. Exit 1 when any unit failed.
    """
    from rich.console import Console
    from rich.markup import escape

    from .ablate import run_ablations
    from .errors import UserError
    from .options import EXECUTORS
    from .registry import shared_registry
    from .runner import RunOptions

    if device not in ("auto", "cpu", "gpu"):
        raise UserError(f"--device must be auto, cpu or gpu, not {device!r}")
    if executor not in EXECUTORS:
        raise UserError(f"--executor must be process, inline or dask, not {executor!r}")
    console = Console()
    target = out or Path("results") / "ablations"

    def options(run_dir: Path) -> RunOptions:
        return RunOptions(
            out=run_dir,
            resume=True,
            device=device,
            cache_dir=cache_dir,
            debug=debug,
            executor=executor,
            retry_failed=retry_failed,
        )

    def run(bench: Any, reg: Any, opts: Any) -> int:
        from .runner import run_benchmark

        return run_benchmark(bench, reg, opts, console)

    code, written = run_ablations(
        directory,
        target,
        shared_registry(),
        options,
        say=lambda m: console.print(escape(m), highlight=False),
        run=run,
        table_only=table_only,
        n_boot=n_boot,
        seed=seed,
        command=" ".join(["massbench", *(shlex.quote(a) for a in sys.argv[1:])]),
    )
    console.print("ablation table: " + ", ".join(escape(str(p)) for p in written), highlight=False)
    raise typer.Exit(code)
