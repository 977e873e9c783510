"""``massbench proxies TABLE``: the scalar mass-proxy baseline of paper section 3 (Table 3, Figure 3)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

HELP = (
    "Scatter of M500c predicted from scalar observables (Evrard et al. 2014 model, paper eqs. 3-7).\n\n"
    "TABLE is a FITS/ECSV/CSV table with columns M500c (h^-1 Msun), redshift and one column per observable; "
    "a catalogue directory (read by the magneticum-sixte dataset); or a dataset name such as erosita-mock. "
    "Intercepts, slopes and the residual covariance are fitted in each redshift bin, and every set of up to K "
    "observables is searched exhaustively."
)


def proxies(
    table: Annotated[str, typer.Argument(help="table file, catalogue directory or dataset name")],
    observables: Annotated[
        Optional[str],
        typer.Option(
            "--observables", help="comma-separated observables (default: every numeric column but id, mass, redshift)"
        ),
    ] = None,
    max_combination: Annotated[
        int, typer.Option("--max-combination", "-k", help="largest set of observables searched (exhaustively)")
    ] = 3,
    json_output: Annotated[
        bool, typer.Option("--json", help="print a JSON list on stdout instead of the table")
    ] = False,
    plot: Annotated[
        Optional[Path],
        typer.Option("--plot", help="write the Figure 3 residual-correlation heatmap (PNG) into this directory"),
    ] = None,
    z_bins: Annotated[
        str,
        typer.Option(
            "--z-bins",
            help="redshift bins: 'snapshot' (one per distinct redshift), 'none', N equal-count bins, "
            "or comma-separated edges",
        ),
    ] = "snapshot",
    min_per_bin: Annotated[int, typer.Option("--min-per-bin", help="fewest clusters a redshift bin may have")] = 10,
    plot_z: Annotated[
        str, typer.Option("--plot-z", help="redshift of the bin shown by --plot (nearest bin), or 'mean' over bins")
    ] = "0.17",
) -> None:
    from massbench.errors import ConfigError

    from .figure import plot_residual_correlation
    from .report import analyse, render_rich
    from .table import read_observables

    names = [n.strip() for n in observables.split(",") if n.strip()] if observables else None
    if plot_z.strip().lower() != "mean":
        try:
            float(plot_z)
        except ValueError:
            raise ConfigError(f"--plot-z {plot_z!r}: give a redshift or 'mean'") from None
    data = read_observables(table, names, registry=_registry())
    report = analyse(data, max_k=max_combination, bins=z_bins, min_per_bin=min_per_bin)
    if json_output:
        sys.stdout.write(json.dumps(report.to_json(), indent=1) + "\n")
    else:
        from rich.console import Console

        render_rich(report, Console())
    if plot is not None:
        path = plot_residual_correlation(report.model, plot, at=plot_z)
        print(f"wrote {path}", file=sys.stderr)


def _registry() -> Any:
    """The process's plugin registry (shared with the ``massbench`` command line, loaded once)."""
    from massbench.registry import shared_registry

    return shared_registry()


def register(cli: Any) -> None:
    """Add the ``proxies`` command to the root typer app."""
    cli.command("proxies", help=HELP)(proxies)
