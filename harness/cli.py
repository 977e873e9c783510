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


def _plain_help_placeholders() -> None:
    """Usage lines say ``BENCH`` / ``[DIR]`` (not typer's ``{bench}``) and flags show no ``<bool>`` type."""
    from typer.core import TyperArgument, TyperOption

    def usage_name(self: Any) -> str:
        name = self.metavar or str(self.name).upper()
        name = name if self.required else f"[{name}]"
        return name + ("..." if self.nargs != 1 else "")

    original = TyperOption.display_type_rich

    def display_type_rich(self: Any, ctx: Any) -> str | None:
        return None if getattr(self, "is_flag", False) or getattr(self, "is_bool_flag", False) else original(self, ctx)

    TyperArgument._usage_display_name = usage_name  # type: ignore[method-assign]
    TyperOption.display_type_rich = display_type_rich  # type: ignore[method-assign]


_plain_help_placeholders()

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


def _add_command_groups() -> None:
    from .ablate_cli import ablate_cmd
    from .cache_cli import cache_app
    from .runs_cli import runs_cmd

    app.add_typer(cache_app, name="cache")
    app.command("runs")(runs_cmd)
    app.command("ablate")(ablate_cmd)


_add_command_groups()


def registry() -> Any:
    """The plugin registry, loaded once per process (:func:`massbench.registry.shared_registry`)."""
    from .registry import shared_registry

    return shared_registry()


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
    out: Optional[Path] = typer.Option(
        None, "--out", "-o", help="Output directory \\[default: results/<benchmark>@<version>/]"
    ),
    resume: bool = typer.Option(False, "--resume", help="Skip units already finished with the same configuration"),
    only: Optional[List[str]] = typer.Option(
        None,
        "--only",
        help="Run only these estimator labels or names (repeat or comma-separate); baseline-mean always runs",
    ),
    device: str = typer.Option("auto", "--device", help="auto (GPU when one is present), cpu or gpu"),
    cache_dir: Optional[Path] = typer.Option(
        None, "--cache-dir", help="Dataset cache \\[default: $MASSBENCH_CACHE or ~/.cache/massbench]"
    ),
    executor: str = typer.Option(
        "process",
        "--executor",
        help="process (each unit in a fresh worker process), inline (this process, for debugging; old name: local) or dask",
    ),
    scheduler: Optional[str] = typer.Option(
        None, "--scheduler", help="Dask scheduler address (dask executor); a LocalCluster when omitted"
    ),
    workers: Optional[int] = typer.Option(
        None, "--workers", help="Worker processes of the LocalCluster (dask executor)"
    ),
    unit_retries: int = typer.Option(2, "--unit-retries", help="Dask executor: retries of a unit whose worker died"),
    retry_failed: bool = typer.Option(
        False, "--retry-failed", help="With --resume: run failed units again (by default --resume moves past them)"
    ),
    repeats: Optional[int] = typer.Option(
        None,
        "--repeats",
        min=1,
        max=50,
        help="Train every estimator N times per fold with derived seeds (overrides the file's `repeats`; "
        "repeat 0 is the same unit either way, so --resume adds only the new repeats)",
    ),
    sealed: bool = typer.Option(
        False,
        "--sealed",
        help="Generate the dataset with the secret seed in $MASSBENCH_SEALED_SEED (published leaderboard; "
        "run.json records only its hash)",
    ),
    overwrite: bool = typer.Option(
        False,
        "--overwrite",
        help="Replace the results of an earlier run in --out (without it, or --resume, it is refused)",
    ),
    debug: bool = typer.Option(False, "--debug", help="Show tracebacks of user errors"),
) -> None:
    """Run a benchmark: every estimator on every fold, then explainers and leaderboards."""
    from .config import load_benchmark
    from .options import EXECUTORS
    from .runner import RunOptions, run_benchmark

    if device not in ("auto", "cpu", "gpu"):
        raise UserError(f"--device must be auto, cpu or gpu, not {device!r}")
    if executor not in EXECUTORS:
        import difflib

        hint = difflib.get_close_matches(executor, EXECUTORS[:3], n=1)
        raise UserError(
            f"--executor must be process, inline or dask, not {executor!r}"
            + (f"; did you mean {hint[0]!r}?" if hint else "")
        )
    reg = registry()
    b = load_benchmark(bench, reg)
    if repeats is not None:
        import dataclasses

        b.estimators = [dataclasses.replace(e, repeats=repeats) for e in b.estimators]
    sealed_seed = None
    if sealed:
        from .sealed import from_env, seal

        if executor in ("inline", "local"):
            raise UserError("--sealed runs estimators in worker processes: use --executor process (or dask)")
        sealed_seed = from_env()
        seal(b, sealed_seed, reg)
    options = RunOptions(
        out=out or Path("results") / b.key,
        resume=resume,
        only=_split(only),
        device=device,
        cache_dir=cache_dir,
        debug=debug,
        executor=executor,
        scheduler=scheduler,
        workers=workers,
        unit_retries=unit_retries,
        retry_failed=retry_failed,
        overwrite=overwrite,
        sealed=sealed_seed,
    )
    code = run_benchmark(b, reg, options, console())
    raise typer.Exit(code)


@app.command()
def validate(
    bench: Path = typer.Argument(..., help="Benchmark YAML file"),
    debug: bool = typer.Option(False, "--debug", help="Show the traceback of a user error"),
) -> None:
    """Check a benchmark file (keys, types, plugin names and params) without running it; lists every problem."""
    b = load_and_check(bench)
    n = len(b.estimators)
    typer.echo(
        f"{bench}: ok ({b.key}: dataset {b.dataset.name}, {b.cv.scheme} folds, {n} estimator(s), "
        f"{len(b.explainers)} explainer(s))"
    )


def load_and_check(bench: Path) -> Any:
    from .config import load_benchmark

    return load_benchmark(bench, registry())


@app.command()
def plugins(as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table")) -> None:
    """List every dataset, estimator and explainer, with inputs, distribution and version, and load errors."""
    from .escape import rich_text
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

    t = Table(title="massbench plugins", show_lines=True)
    for col in ("kind", "name", "inputs", "params (name: type = default)", "framework", "distribution", "version"):
        t.add_column(col, no_wrap=col in ("kind", "name"), overflow="fold")
    for d in items:
        params = "\n".join(
            f"{q['name']}"
            + (f": {q['type']}" if q["type"] else "")
            + (" (required)" if q.get("required") else f" = {json.dumps(q['default'], default=str)}")
            for q in d["params"]
        )
        t.add_row(
            *(
                rich_text(v)
                for v in (
                    d["kind"],
                    d["name"],
                    ", ".join(d["inputs"]),
                    params or "-",
                    d["framework"],
                    d["distribution"],
                    d["version"],
                )
            )
        )
    c = console()
    c.print(t)
    for e in errors:
        c.print(
            "[red]" + rich_text(f"plugin {e['plugin']} ({e['distribution']} {e['version']}): {e['error']}") + "[/red]",
            highlight=False,
        )


@app.command()
def explain(
    run_dir: Path = typer.Argument(..., help="A run's output directory (holds run.json and models/)"),
    device: str = typer.Option("auto", "--device", help="auto, cpu or gpu"),
    cache_dir: Optional[Path] = typer.Option(None, "--cache-dir", help="Dataset cache directory"),
    debug: bool = typer.Option(False, "--debug", help="Show tracebacks"),
) -> None:
    """Run the benchmark's explainers on a finished run's saved models."""
    import yaml

    from .config import parse_benchmark
    from .explain import run_explainers
    from .progress import RunProgress
    from .report import write_report
    from .results import read_json
    from .runner import RunOptions, collect_rows, prepare

    prov = read_json(run_dir / "run.json")
    if "config" not in prov:
        raise UserError(f"{run_dir / 'run.json'}: no benchmark configuration recorded; re-run the benchmark")
    reg = registry()
    b = parse_benchmark(yaml.safe_dump(prov["config"], sort_keys=False), str(run_dir / "run.json"), reg)
    if not b.explainers:
        raise UserError(f"{run_dir}: the benchmark has no `explainers:` section")
    options = RunOptions(out=run_dir, device=device, cache_dir=cache_dir, debug=debug)
    c = console()
    failures: list[tuple[str, str, str]] = []
    with RunProgress(c) as prog:
        p = prepare(b, reg, device, cache_dir)
        summary = run_explainers(p, run_dir, options, prog, failures=failures)
        rows, _ = collect_rows(p, run_dir)
        write_report(p, run_dir, rows)
    n_ok = sum(1 for v in summary.values() for e in v.values() if isinstance(e, dict) and e.get("status") == "ok")
    for xname, label, err in failures:
        c.print(f"explainer {xname} on {label} failed: {err}", markup=False, highlight=False)
    c.print(f"explanations in {run_dir / 'explanations'}/ ({n_ok} ok, {len(failures)} failed now)", markup=False)
    if failures:
        c.print("earlier successful explanations were kept; fix the problem above and run again", markup=False)
        raise typer.Exit(1)


@leaderboard_app.command("build")
def leaderboard_build(
    result_dirs: List[Path] = typer.Argument(..., help="Run output directories of one benchmark version"),
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="Directory for the merged leaderboard"),
    publish: Optional[Path] = typer.Option(
        None,
        "--publish",
        help="Publish into PUBLISH/<benchmark>/<version>/ "
        "(replaced entirely) and refresh PUBLISH/index.html, e.g. --publish leaderboards/",
    ),
    html: bool = typer.Option(True, "--html/--no-html", help="Write the static sortable page index.html"),
    figures: Optional[bool] = typer.Option(
        None,
        "--figures/--no-figures",
        help="Write each estimator's Figure-4 PNG "
        "(needs matplotlib); by default always with --publish, with --out "
        "when matplotlib is installed",
    ),
) -> None:
    """Merge runs of the same benchmark version into one leaderboard (markdown, JSON, CSV, HTML, figures)."""
    from .leaderboard import build_leaderboard, publish_leaderboard

    if (out is None) == (publish is None):
        raise UserError("give exactly one of --out DIR or --publish ROOT")
    if publish is not None:
        path = publish_leaderboard(result_dirs, publish, html=html, figures=True if figures is None else figures)
    else:
        assert out is not None
        path = build_leaderboard(result_dirs, out, html=html, figures=figures)
    typer.echo(f"leaderboard written to {path}")


@leaderboard_app.command("submit")
def leaderboard_submit(
    submission: Path = typer.Argument(..., help="Submission file, e.g. leaderboards/submissions/NAME.yaml"),
    bench: Optional[Path] = typer.Option(
        None,
        "--bench",
        help="Benchmark file (default: the submission's `benchmark`, else benchmarks/erosita-lite.yaml)",
    ),
    out: Optional[Path] = typer.Option(
        None, "--out", "-o", help="Output directory (default: results/submissions/NAME/)"
    ),
    venv: Optional[Path] = typer.Option(
        None, "--venv", help="Fresh environment to install the plugin into (default: OUT/venv)"
    ),
    install: bool = typer.Option(
        True, "--install/--no-install", help="--no-install: the plugin is already installed in this environment"
    ),
    no_build_isolation: bool = typer.Option(
        False, "--no-build-isolation", help="Pass --no-build-isolation to pip (offline installs of local packages)"
    ),
    device: str = typer.Option("auto", "--device", help="auto, cpu or gpu"),
    cache_dir: Optional[Path] = typer.Option(None, "--cache-dir", help="Dataset cache directory"),
    check_clusters: int = typer.Option(120, "--check-clusters", help="Clusters of the check-plugin catalogue"),
    install_only: bool = typer.Option(
        False,
        "--install-only",
        help="Only install the plugin and check its entry points (CI, before cutting the network)",
    ),
    sealed: bool = typer.Option(
        False, "--sealed", help="Run the benchmark with the secret seed in $MASSBENCH_SEALED_SEED (see `run --sealed`)"
    ),
) -> None:
    """Do locally what CI does with a submission: install it fresh, check-plugin, run with --only, write comment.md."""
    from .submissions import SubmitOptions, load_submission, submit

    if device not in ("auto", "cpu", "gpu"):
        raise UserError(f"--device must be auto, cpu or gpu, not {device!r}")
    sub = load_submission(submission)
    options = SubmitOptions(
        out=out or Path("results") / "submissions" / sub.name,
        bench=bench,
        venv=venv,
        install=install,
        no_build_isolation=no_build_isolation,
        device=device,
        cache_dir=cache_dir,
        check_clusters=check_clusters,
        install_only=install_only,
        sealed=sealed,
    )
    outcome = submit(submission, options, echo=typer.echo)
    typer.echo(outcome.comment.read_text())
    raise typer.Exit(outcome.code)


@leaderboard_app.command("verify")
def leaderboard_verify(root: Path = typer.Argument(Path("leaderboards"), help="Published leaderboards folder")) -> None:
    """Check that published leaderboards are as `leaderboard build --publish` wrote them (no hand edits)."""
    from .leaderboard import check_published

    problems = check_published(root)
    for p in problems:
        typer.echo(p)
    n = len(list(root.glob("*/*/leaderboard.json")))
    typer.echo(f"{root}: {n} published leaderboard(s), {len(problems)} problem(s)")
    raise typer.Exit(1 if problems else 0)


@app.command()
def compare(
    result_dir: Path = typer.Argument(..., help="A run's output directory (holds predictions.csv)"),
    a: str = typer.Argument(..., help="Label of the first estimator"),
    b: str = typer.Argument(..., help="Label of the second estimator"),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of text"),
    n_boot: int = typer.Option(1000, "--n-boot", min=100, help="Bootstrap resamples"),
    seed: int = typer.Option(0, "--seed", help="Bootstrap seed"),
) -> None:
    """Scatter of A minus scatter of B on the same clusters, with a paired lineage-bootstrap 95 % interval.

    The interval resamples whole lineages (clusters of one halo together) and adds both
    estimators' training-seed spread when they have repeats; it excludes 0 when the ranking is
    significant.
    """
    from .compare import compare_run, describe

    d, left_out = compare_run(result_dir, a, b, n_boot=n_boot, seed=seed)
    if as_json:
        typer.echo(json.dumps({**d.as_dict(), "left_out": left_out}, indent=2))
    else:
        typer.echo(describe(d, left_out))


@app.command()
def leakage(
    bench: Path = typer.Argument(..., help="Benchmark YAML file, e.g. benchmarks/erosita-lite.yaml"),
    estimators: Optional[List[str]] = typer.Option(
        None,
        "--estimators",
        "-e",
        help="Only these estimator labels or names, shell patterns allowed ('proxy-*'; repeat or "
        "comma-separate); default: all of the file's",
    ),
    out: Optional[Path] = typer.Option(
        None, "--out", "-o", help="Output directory \\[default: results/<benchmark>@<version>-leakage/]"
    ),
    resume: bool = typer.Option(False, "--resume", help="Continue an earlier leakage call in --out"),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace the runs of an earlier call in --out"),
    device: str = typer.Option("auto", "--device", help="auto (GPU when one is present), cpu or gpu"),
    cache_dir: Optional[Path] = typer.Option(
        None, "--cache-dir", help="Dataset cache \\[default: $MASSBENCH_CACHE or ~/.cache/massbench]"
    ),
    executor: str = typer.Option("process", "--executor", help="process (default), inline or dask"),
    repeats: Optional[int] = typer.Option(
        None, "--repeats", min=1, max=50, help="Train every estimator N times per fold (overrides the file's)"
    ),
    debug: bool = typer.Option(False, "--debug", help="Show tracebacks of user errors"),
) -> None:
    """How much random folds overstate performance: run the estimators under random, lineage and octant folds.

    Each scheme is a normal run in OUT/random/, OUT/lineage/ and OUT/octants/ (same cv seed and
    validation share; cv.n_folds folds for random and lineage). OUT/leakage.md, .json and .png give
    each estimator's scatter per scheme and scatter(scheme) - scatter(octants) on the same clusters
    with a paired lineage-bootstrap 95 % interval (as `massbench compare`). Exit 1 when a unit failed.
    """
    import dataclasses

    from .config import load_benchmark
    from .leakage import check_estimators, run_leakage
    from .options import EXECUTORS, RunOptions

    if device not in ("auto", "cpu", "gpu"):
        raise UserError(f"--device must be auto, cpu or gpu, not {device!r}")
    if executor not in EXECUTORS:
        raise UserError(f"--executor must be process, inline or dask, not {executor!r}")
    if resume and overwrite:
        raise UserError("give --resume (continue the call in --out) or --overwrite (replace it), not both")
    reg = registry()
    b = load_benchmark(bench, reg)
    labels = _split(estimators)
    check_estimators(b, labels)
    if repeats is not None:
        b.estimators = [dataclasses.replace(e, repeats=repeats) for e in b.estimators]
    options = RunOptions(
        out=out or Path("results") / f"{b.key}-leakage",
        resume=resume,
        overwrite=overwrite,
        device=device,
        cache_dir=cache_dir,
        debug=debug,
        executor=executor,
    )
    con = console()
    report, code = run_leakage(b, reg, options, labels, con)
    con.print(report.markdown(), markup=False, highlight=False, soft_wrap=True)
    con.print(f"leakage table: {Path(options.out) / 'leakage.md'} (also .json, .png)", markup=False)
    raise typer.Exit(code)


@app.command("new-plugin")
def new_plugin_cmd(
    directory: Path = typer.Argument(..., help="New directory for the plugin package"),
    name: str = typer.Option(..., "--name", help="Distribution, entry-point and estimator name, e.g. mass-forest"),
    input_name: str = typer.Option(
        "n_phot_500c", "--input", help="The dataset input the skeleton estimator reads (docs/inputs.md)"
    ),
) -> None:
    """Write a minimal installable estimator plugin package (pyproject, estimator skeleton, test)."""
    from .scaffold import new_plugin

    files = new_plugin(directory, name, input_name, registry())
    for f in files:
        typer.echo(f"wrote {f}")
    typer.echo(
        f"next: pip install -e '{directory}[test]' && (cd {directory} && python -m pytest) "
        f"&& massbench check-plugin {name}"
    )


@app.command("check-plugin")
def check_plugin_cmd(
    name: str = typer.Argument(..., help="Estimator name, or a plugin's entry-point name (checks all its estimators)"),
    dataset: str = typer.Option("erosita-mock", "--dataset", help="Dataset plugin of the tiny benchmark"),
    n_clusters: int = typer.Option(120, "--n-clusters", help="Clusters of the tiny catalogue (0: the dataset's own)"),
    dataset_param: Optional[List[str]] = typer.Option(None, "--dataset-param", help="Dataset param key=value (repeat)"),
    param: Optional[List[str]] = typer.Option(None, "--param", "-p", help="Estimator param key=value (repeat)"),
    params_json: Optional[str] = typer.Option(None, "--params-json", help="Estimator params as a JSON object"),
    bench: Optional[Path] = typer.Option(
        None, "--bench", help="Take the dataset and its params from this benchmark file"
    ),
    seed: int = typer.Option(0, "--seed", help="Seed of the folds and of the estimator's RunContext"),
    device: str = typer.Option("cpu", "--device", help="auto, cpu or gpu"),
    cache_dir: Optional[Path] = typer.Option(None, "--cache-dir", help="Dataset cache directory"),
    import_check: bool = typer.Option(
        True,
        "--import-check/--no-import-check",
        help="Check in a fresh interpreter that loading the plugin imports no heavy framework",
    ),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of text"),
    json_out: Optional[Path] = typer.Option(None, "--json-out", help="Also write the JSON report to this file"),
) -> None:
    """Check an estimator's contract on a tiny benchmark: one line per problem; exit 1 when any fails."""
    from .plugin_check import check_estimator, parse_param_options, resolve_estimators

    if device not in ("auto", "cpu", "gpu"):
        raise UserError(f"--device must be auto, cpu or gpu, not {device!r}")
    params = parse_param_options(param)
    if params_json:
        try:
            extra = json.loads(params_json)
        except json.JSONDecodeError as exc:
            raise UserError(f"--params-json is not valid JSON: {exc.msg}") from None
        if not isinstance(extra, dict):
            raise UserError("--params-json must be a JSON object, e.g. '{\"epochs\": 3}'")
        params.update(extra)
    ds_params = parse_param_options(dataset_param, "--dataset-param")
    if bench is not None:
        from .config import load_benchmark

        b = load_benchmark(bench)
        dataset = b.dataset.name
        ds_params = {**b.dataset.params, **ds_params}
    reg = registry()
    targets = resolve_estimators(reg, name)
    reports = []
    for info in targets:
        rep = check_estimator(
            reg,
            info.name,
            dataset=dataset,
            dataset_params=ds_params,
            params=params,
            n_clusters=n_clusters or None,
            seed=seed,
            device=device,
            cache_dir=cache_dir,
            import_check=import_check,
        )
        reports.append(rep)
        if not as_json:
            typer.echo(rep.text())
    ok = all(r.ok for r in reports)
    doc = json.dumps(
        {"ok": ok, "estimators": [{**r.as_dict(), "text": r.text()} for r in reports]}, indent=2, default=str
    )
    if json_out is not None:
        from .results import atomic_write_text

        atomic_write_text(json_out, doc + "\n")
    if as_json:
        typer.echo(doc)
    raise typer.Exit(0 if ok else 1)


def register_plugin_commands(reg: Any) -> None:
    """Let each plugin add sub-commands; a plugin whose registration fails is reported, not fatal."""
    from .registry import LoadError

    if reg.pm is None or getattr(reg, "_commands_registered", False):
        return
    reg._commands_registered = True
    for impl in reg.pm.hook.massbench_register_commands.get_hookimpls():
        try:
            impl.function(cli=app)
        except Exception as exc:
            reg.errors.append(LoadError(impl.plugin_name, "", "", f"massbench_register_commands failed: {exc!r}"))


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point: adds plugin commands, turns user errors into exit status 2."""
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv
    from .escape import rich_text

    if "--sealed" in argv:  # take the secret seed out of the environment before any plugin is imported
        from .sealed import stash_env

        stash_env()

    import os

    # TensorFlow's C++ start-up log (CUDA/oneDNN notices, cuInit on a CPU machine) is noise in a run:
    # level 3 (as the cnn-tf plugin sets), unless the user set their own. Worker processes inherit it.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    try:
        reg = registry()
        register_plugin_commands(reg)
        app(args=argv, prog_name="massbench", standalone_mode=True)
    except UserError as exc:
        if debug:
            raise
        console(stderr=True).print(f"[red]error:[/red] {rich_text(exc)}", highlight=False)
        sys.exit(2)
    except KeyboardInterrupt as exc:
        _interrupted(argv, str(exc))
    except SystemExit as exc:
        cause = _from_interrupt(exc) if exc.code == 130 else None
        if cause is not None:  # typer turns Ctrl-C into a silent exit 130
            _interrupted(argv, str(cause))
        raise


def _from_interrupt(exc: BaseException) -> KeyboardInterrupt | None:
    """The KeyboardInterrupt behind ``exc`` (following causes and contexts), if any."""
    seen: set[int] = set()
    e: BaseException | None = exc
    while e is not None and id(e) not in seen:
        if isinstance(e, KeyboardInterrupt):
            return e
        seen.add(id(e))
        e = e.__cause__ or e.__context__
    return None


def _interrupted(argv: list[str], message: str = "") -> None:
    """The Ctrl-C message (with the exact ``--resume`` command for ``run``), exit status 130.

    ``message``: the runner's own (:class:`~massbench.errors.RunInterrupted`: units saved and the
    command); otherwise one is built from ``argv``.
    """
    import shlex

    msg = message or "interrupted"
    if not message and argv[:1] == ["run"]:
        again = [a for a in argv if a != "--overwrite"]  # continuing must not replace what was done
        again += [] if "--resume" in again else ["--resume"]
        msg += "; finished units are saved. Continue with:\n  massbench " + shlex.join(again)
    console(stderr=True).print(msg, markup=False, highlight=False)
    sys.exit(130)
