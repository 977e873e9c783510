"""The ``massbench`` command line (typer).

Exit status: 0 success, 1 when a unit failed (outputs still written), 2 for a user error
(bad file, unknown plugin, unreadable data), printed as one message without a traceback
unless ``--debug`` is given. Nothing here imports TensorFlow or torch.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, List, Optional

import typer

from .errors import UserError

app = typer.Typer(
    name="massbench",
    help="Benchmark galaxy-cluster mass estimators (X-ray photon maps, spectroscopy) with spatial "
         "cross-validation, as in Ho et al. Run `massbench run benchmarks/erosita-lite.yaml` to start.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)
leaderboard_app = typer.Typer(help="Merge run results into leaderboards.", no_args_is_help=True)
app.add_typer(leaderboard_app, name="leaderboard")

_REGISTRY = None


def registry() -> Any:
    """The plugin registry, loaded once per process."""
    global _REGISTRY
    if _REGISTRY is None:
        from .registry import load_registry

        _REGISTRY = load_registry()
    return _REGISTRY


def console(stderr: bool = False) -> Any:
    from rich.console import Console

    return Console(stderr=stderr)


def _split(values: Optional[List[str]]) -> list[str] | None:
    if not values:
        return None
    out = [v.strip() for item in values for v in item.split(",") if v.strip()]
    return out or None


@app.command()
def run(
    bench: Path = typer.Argument(..., help="Benchmark YAML file, e.g. benchmarks/erosita-lite.yaml"),
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="Output directory [default: results/<benchmark>@<version>/]"),
    resume: bool = typer.Option(False, "--resume", help="Skip units already finished with the same configuration"),
    only: Optional[List[str]] = typer.Option(None, "--only", help="Run only these estimator labels or names (repeat or comma-separate); baseline-mean always runs"),
    device: str = typer.Option("auto", "--device", help="auto (GPU when one is present), cpu or gpu"),
    cache_dir: Optional[Path] = typer.Option(None, "--cache-dir", help="Dataset cache [default: $MASSBENCH_CACHE or ~/.cache/massbench]"),
    executor: str = typer.Option("local", "--executor", help="local (this process) or dask"),
    scheduler: Optional[str] = typer.Option(None, "--scheduler", help="Dask scheduler address (dask executor); a LocalCluster when omitted"),
    workers: Optional[int] = typer.Option(None, "--workers", help="Worker processes of the LocalCluster (dask executor)"),
    debug: bool = typer.Option(False, "--debug", help="Show tracebacks of user errors"),
) -> None:
    """Run a benchmark: every estimator on every fold, then explainers and leaderboards."""
    from .config import load_benchmark
    from .runner import RunOptions, run_benchmark

    if device not in ("auto", "cpu", "gpu"):
        raise UserError(f"--device must be auto, cpu or gpu, not {device!r}")
    if executor not in ("local", "dask"):
        raise UserError(f"--executor must be local or dask, not {executor!r}")
    reg = registry()
    b = load_benchmark(bench, reg)
    options = RunOptions(out=out or Path("results") / b.key, resume=resume, only=_split(only), device=device,
                         cache_dir=cache_dir, debug=debug, executor=executor, scheduler=scheduler, workers=workers)
    code = run_benchmark(b, reg, options, console())
    raise typer.Exit(code)


@app.command()
def validate(bench: Path = typer.Argument(..., help="Benchmark YAML file")) -> None:
    """Check a benchmark file (keys, types, plugin names and params) without running it."""
    b = load_and_check(bench)
    n = len(b.estimators)
    typer.echo(f"{bench}: ok ({b.key}: dataset {b.dataset.name}, {b.cv.scheme} folds, {n} estimator(s), "
               f"{len(b.explainers)} explainer(s))")


def load_and_check(bench: Path) -> Any:
    from .config import load_benchmark

    return load_benchmark(bench, registry())


@app.command()
def plugins(as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table")) -> None:
    """List every dataset, estimator and explainer, with inputs, distribution and version, and load errors."""
    from .params import describe_params

    reg = registry()
    items = []
    for kind in ("dataset", "estimator", "explainer"):
        for name in sorted(reg.table(kind)):
            info = reg.table(kind)[name]
            d = info.as_dict()
            d["params"] = describe_params(info.cls)
            items.append(d)
    errors = [e.as_dict() for e in reg.errors]
    if as_json:
        typer.echo(json.dumps({"plugins": items, "errors": errors}, indent=2, default=str))
        return
    from rich.table import Table

    t = Table(title="massbench plugins")
    for col in ("kind", "name", "inputs", "framework", "distribution", "version"):
        t.add_column(col)
    for d in items:
        t.add_row(d["kind"], d["name"], ", ".join(d["inputs"]), d["framework"], d["distribution"], d["version"])
    c = console()
    c.print(t)
    for e in errors:
        c.print(f"[red]plugin {e['plugin']} ({e['distribution']} {e['version']}): {e['error']}[/red]", highlight=False)


@app.command()
def explain(
    run_dir: Path = typer.Argument(..., help="A run's output directory (holds run.json and models/)"),
    device: str = typer.Option("auto", "--device", help="auto, cpu or gpu"),
    cache_dir: Optional[Path] = typer.Option(None, "--cache-dir", help="Dataset cache directory"),
    debug: bool = typer.Option(False, "--debug", help="Show tracebacks"),
) -> None:
    """Run the benchmark's explainers on a finished run's saved models."""
    from .config import parse_benchmark
    from .explain import run_explainers
    from .progress import RunProgress
    from .report import write_report
    from .results import read_json
    from .runner import RunOptions, collect_rows, prepare

    import yaml

    prov = read_json(run_dir / "run.json")
    if "config" not in prov:
        raise UserError(f"{run_dir / 'run.json'}: no benchmark configuration recorded; re-run the benchmark")
    reg = registry()
    b = parse_benchmark(yaml.safe_dump(prov["config"], sort_keys=False), str(run_dir / "run.json"), reg)
    if not b.explainers:
        raise UserError(f"{run_dir}: the benchmark has no `explainers:` section")
    options = RunOptions(out=run_dir, device=device, cache_dir=cache_dir, debug=debug)
    c = console()
    with RunProgress(c) as prog:
        p = prepare(b, reg, device, cache_dir)
        summary = run_explainers(p, run_dir, options, prog)
        rows, _ = collect_rows(p, run_dir)
        write_report(p, run_dir, rows)
    c.print(f"explanations in {run_dir / 'explanations'}/ ({sum(len(v) for v in summary.values())} estimator(s))",
            markup=False)


@leaderboard_app.command("build")
def leaderboard_build(
    result_dirs: List[Path] = typer.Argument(..., help="Run output directories of one benchmark version"),
    out: Path = typer.Option(..., "--out", "-o", help="Directory for the merged leaderboard"),
) -> None:
    """Merge runs of the same benchmark version into one leaderboard (markdown, JSON, CSV)."""
    from .leaderboard import build_leaderboard

    path = build_leaderboard(result_dirs, out)
    typer.echo(f"leaderboard written to {path}")


def register_plugin_commands(reg: Any) -> None:
    """Let each plugin add sub-commands; a plugin whose registration fails is reported, not fatal."""
    from .registry import LoadError

    if reg.pm is None or getattr(reg, "_commands_registered", False):
        return
    reg._commands_registered = True
    for impl in reg.pm.hook.massbench_register_commands.get_hookimpls():
        try:
            impl.function(cli=app)
        except Exception as exc:  # noqa: BLE001
            reg.errors.append(LoadError(impl.plugin_name, "", "", f"massbench_register_commands failed: {exc!r}"))


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point: adds plugin commands, turns user errors into exit status 2."""
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv
    try:
        reg = registry()
        register_plugin_commands(reg)
        app(args=argv, prog_name="massbench", standalone_mode=True)
    except UserError as exc:
        if debug:
            raise
        console(stderr=True).print(f"[red]error:[/red] {exc}", highlight=False)
        sys.exit(2)
    except KeyboardInterrupt:
        console(stderr=True).print("interrupted; finished units are saved, use --resume to continue")
        sys.exit(130)
