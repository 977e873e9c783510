"""``massbench mock``: generate a synthetic catalogue, describe any catalogue directory.

Imports of numpy/astropy happen inside the commands, so registering the sub-app stays cheap.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Optional

import typer

app = typer.Typer(help="Synthetic eROSITA / Magneticum-SIXTE catalogues: generate and describe.", no_args_is_help=True)


@app.command("generate")
def generate(
    directory: Path = typer.Argument(..., help="Output catalogue directory (halos.fits, events/, galaxies.fits)."),
    n_clusters: int = typer.Option(3285, "--n-clusters", min=1, help="Number of clusters (the paper has 3,285)."),
    seed: int = typer.Option(0, "--seed", min=0, help="Generator seed."),
    mode: str = typer.Option(
        "photon-list",
        "--mode",
        help="photon-list (the paper's SIXTE photon lists: no PSF, vignetting or background) "
        "or events (eROSITA PSF, vignetting, particle and sky background).",
    ),
    selection: str = typer.Option(
        "flat",
        "--selection",
        help="flat (the paper's sample, flattened in mass) or natural (drawn from the box's halos: the mass function).",
    ),
    workers: Optional[int] = typer.Option(
        None, "--workers", min=1, help="Processes (default: 2 for large catalogues)."
    ),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace a catalogue already in DIRECTORY."),
) -> None:
    """Generate a synthetic catalogue in the Magneticum/SIXTE layout."""
    from rich.console import Console
    from rich.progress import Progress

    from .generator import MockConfig, generate_catalogue

    if mode not in ("photon-list", "events"):
        raise typer.BadParameter(f"must be 'photon-list' or 'events', got {mode!r}", param_hint="--mode")
    if selection not in ("flat", "natural"):
        raise typer.BadParameter(f"must be 'flat' or 'natural', got {selection!r}", param_hint="--selection")
    console = Console(stderr=True)
    t0 = time.time()
    with Progress(console=console, transient=True) as bar:
        task = bar.add_task("generating", total=n_clusters)
        generate_catalogue(
            directory,
            n_clusters=n_clusters,
            seed=seed,
            workers=workers,
            overwrite=overwrite,
            config=MockConfig(mode=mode, selection=selection),
            progress=lambda done, total: bar.update(task, completed=done, total=total),
        )
    console.print(f"wrote {n_clusters} clusters to {directory} in {time.time() - t0:.1f} s", markup=False)


@app.command("describe")
def describe(
    directory: Path = typer.Argument(..., help="Catalogue directory."),
    as_json: bool = typer.Option(False, "--json", help="Print the Table-1 summary and the physics statistics as JSON."),
    out: Optional[Path] = typer.Option(None, "--out", help="Gallery directory (default: DIRECTORY/gallery)."),
    cache_dir: Optional[Path] = typer.Option(
        None, "--cache-dir", help="Processed-array cache (default: $MASSBENCH_CACHE)."
    ),
    no_figures: bool = typer.Option(False, "--no-figures", help="Skip the PNG gallery."),
) -> None:
    """Print Table 1 (min, median, max) and the mock's physics statistics; write a gallery like Figures 1-2.

    JSON: Table 1's keys (log10_m500c, redshift, n_phot, n_icm, n_agn, n_gal) and "physics"
    (``massbench.plugins.mock.describe.physics_summary``).
    """
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    from massbench.estimator import default_cache_dir

    from .describe import (
        PAPER_TABLE1,
        TABLE1_KEYS,
        gallery,
        physics_rows,
        physics_summary,
        read_halo_truth,
        table1_summary,
    )
    from .loader import load_catalogue

    console = Console(stderr=True)
    cat = load_catalogue(directory, cache_dir or default_cache_dir(), name="magneticum-sixte")
    summary = table1_summary(cat)
    physics = physics_summary(cat, read_halo_truth(directory))
    files = [] if no_figures else gallery(cat, out or Path(directory) / "gallery")
    if as_json:
        typer.echo(json.dumps({**summary, "physics": physics.to_dict()}, indent=2))
    else:
        table = Table(title=escape(f"{directory}: {len(cat)} clusters (paper's Table 1 in brackets)"))
        for col in ("quantity", "min", "median", "max"):
            table.add_column(col, justify="right")
        for k in TABLE1_KEYS:
            s = summary[k]
            p = PAPER_TABLE1[k]
            if s is None:
                table.add_row(k, "n/a", "n/a", "n/a")
                continue
            table.add_row(k, *(f"{s[q]:.4g} [{pv:.4g}]" for q, pv in zip(("min", "median", "max"), p)))
        Console().print(table)
        phys = Table(title="Physics statistics (truth maps, 0.5-10 keV; n/a where an input is absent)")
        for col, justify in (("statistic", "left"), ("value", "right"), ("definition", "left")):
            phys.add_column(col, justify=justify)
        for row in physics_rows(physics):
            phys.add_row(*row)
        Console().print(phys)
    for note in cat.meta.get("notes", []):
        console.print(f"note: {note}", markup=False)
    for f in files:
        console.print(f"wrote {f}", markup=False)


data_app = typer.Typer(help="Users' own catalogues in the Magneticum/SIXTE layout.", no_args_is_help=True)


@data_app.command("check")
def data_check(
    directory: Path = typer.Argument(..., help="Catalogue directory (halos.fits, events/, galaxies.fits)."),
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON."),
) -> None:
    """Check a catalogue before benchmarking on it: format, centre keywords, units and photons per file.

    Exit status 2 on anything that would stop the loader or make a benchmark silently wrong, else 0.
    """
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    from .datacheck import check_catalogue

    report = check_catalogue(directory)
    if as_json:
        typer.echo(json.dumps(report, indent=2))
    else:
        console = Console()
        table = Table(title=escape(f"{directory}: {len(report['clusters'])} clusters"))
        for col in ("cluster", "format", "centre from", "units (RA, DEC, energy)", "photons", "in map"):
            table.add_column(col)
        for c in report["clusters"]:
            if "n_photons" not in c:
                table.add_row(escape(str(c["cluster_id"])), "[red]unreadable[/red]", "", "", "", "")
                continue
            units = c.get("units", {})
            src = (c.get("centre_source") or "none") + (" (fallback)" if c.get("centre_fallback") else "")
            table.add_row(
                escape(str(c["cluster_id"])),
                escape(str(c["format"])),
                escape(src),
                escape(", ".join(f"{k}: {v or 'none'}" for k, v in units.items())),
                str(c["n_photons"]),
                f"{100 * c['share_in_map']:.1f}%" if "share_in_map" in c else "n/a",
            )
        console.print(table)
        for s in report["skipped_files"]:
            console.print(f"skipped {s['file']}: {s['reason']}", markup=False)
        for w in report["warnings"]:
            if not w.startswith("skipped "):
                console.print(f"[yellow]warning[/yellow]: {escape(w)}")
        for p in report["problems"]:
            console.print(f"[red]problem[/red]: {escape(p)}")
        console.print("status 2: fix the problems above" if report["status"] else "status 0: no problems")
    raise typer.Exit(code=report["status"])
