"""``massbench runs [DIR]``: the runs under a results folder (:mod:`massbench.runs`)."""

from __future__ import annotations

import json
from pathlib import Path

import typer


def runs_cmd(
    directory: Path = typer.Argument(Path("results"), help="Folder holding run directories (or one run)"),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table"),
) -> None:
    """List the runs under DIR: benchmark, version, date, estimators, status."""
    from rich.console import Console
    from rich.markup import escape

    from .errors import UserError
    from .runs import find_runs

    if not directory.is_dir():
        raise UserError(
            f"{directory}: no such directory; runs go to results/<benchmark>@<version>/ by default "
            "(give the folder that holds them: massbench runs DIR)"
        )
    found = find_runs(directory)
    if as_json:
        typer.echo(json.dumps([r.as_dict() for r in found], indent=2))
        return
    c = Console()
    if not found:
        c.print(f"{escape(str(directory))}: no run.json found (start one with `massbench run BENCH.yaml`)")
        return
    c.print(f"runs under {escape(str(directory))}, newest first:", highlight=False)
    for r in found:
        try:
            shown = r.path.relative_to(directory).as_posix() or "."
        except ValueError:
            shown = str(r.path)
        when = (r.started or "?")[:16].replace("T", " ")
        calls = f", {r.n_calls} calls" if r.n_calls > 1 else ""
        c.print(
            f"[bold]{escape(shown)}[/bold]  {escape(r.benchmark)}@{escape(r.version)}  {escape(when)}  "
            f"{escape(r.status)}  ({r.n_units}/{r.n_planned} units{calls})",
            highlight=False,
        )
        c.print(f"    estimators: {escape(', '.join(r.estimators) or '(none)')}", highlight=False)
