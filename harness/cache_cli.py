"""``massbench cache info`` and ``massbench cache clean`` (the dataset cache, :mod:`massbench.cache`)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer

cache_app = typer.Typer(
    help="Show or clean the dataset cache ($MASSBENCH_CACHE, else ~/.cache/massbench).", no_args_is_help=True
)

_CACHE_DIR_HELP = "Cache directory [default: $MASSBENCH_CACHE or ~/.cache/massbench]"


def _root(cache_dir: Optional[Path]) -> Path:
    from .errors import UserError
    from .estimator import default_cache_dir

    root = Path(cache_dir).expanduser() if cache_dir else default_cache_dir()
    if root.exists() and not root.is_dir():
        raise UserError(f"{root}: the cache directory is a file; give a directory with --cache-dir or MASSBENCH_CACHE")
    return root


@cache_app.command("info")
def cache_info(
    cache_dir: Optional[Path] = typer.Option(None, "--cache-dir", help=_CACHE_DIR_HELP.replace("[", "\\[")),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table"),
) -> None:
    """Where the cache is, and the size and last use of each dataset's entries."""
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    from .cache import human_bytes, scan_cache

    root = _root(cache_dir)
    entries = scan_cache(root)
    total = sum(e.bytes for e in entries)
    if as_json:
        doc = {"root": str(root), "total_bytes": total, "entries": [e.as_dict() for e in entries]}
        typer.echo(json.dumps(doc, indent=2))
        return
    c = Console()
    if not entries:
        c.print(f"cache {escape(str(root))}: empty", highlight=False)
        return
    t = Table(title=f"dataset cache {escape(str(root))}", title_justify="left")
    for col in ("dataset", "entry", "kind", "clusters", "size", "last used"):
        t.add_column(col, justify="right" if col in ("clusters", "size") else "left", overflow="fold")
    by_ds: dict[str, int] = {}
    for e in entries:
        by_ds[e.dataset] = by_ds.get(e.dataset, 0) + e.bytes
        t.add_row(
            escape(e.dataset),
            escape(e.key),
            e.kind,
            "" if e.n_clusters is None else str(e.n_clusters),
            human_bytes(e.bytes),
            e.as_dict()["last_used"].replace("T", " "),
        )
    c.print(t)
    for ds, b in by_ds.items():
        c.print(f"  {escape(ds)}: {human_bytes(b)}", highlight=False)
    c.print(f"  total: {human_bytes(total)}", highlight=False)
    c.print("remove entries with `massbench cache clean [--older-than 30d] [--dataset NAME]`", highlight=False)


@cache_app.command("clean")
def cache_clean(
    older_than: Optional[str] = typer.Option(
        None, "--older-than", help="Only entries last used longer ago than this, e.g. 30d, 12h, 2w"
    ),
    dataset: Optional[str] = typer.Option(None, "--dataset", help="Only this dataset's entries, e.g. erosita-mock"),
    dry_run: bool = typer.Option(False, "--dry-run", help="List what would be removed, remove nothing"),
    cache_dir: Optional[Path] = typer.Option(None, "--cache-dir", help=_CACHE_DIR_HELP.replace("[", "\\[")),
) -> None:
    """Remove cache entries (all of them unless --older-than / --dataset narrow it); they are rebuilt on use."""
    from .cache import clean_cache, human_bytes, parse_age

    root = _root(cache_dir)
    age = parse_age(older_than) if older_than is not None else None
    removed, skipped = clean_cache(root, older_than=age, dataset=dataset, dry_run=dry_run)
    verb = "would remove" if dry_run else "removed"
    for e in removed:
        typer.echo(f"{verb} {e.path} ({human_bytes(e.bytes)})")
    for e, why in skipped:
        typer.echo(f"kept {e.path}: {why}")
    typer.echo(
        f"{root}: {verb} {len(removed)} entr{'y' if len(removed) == 1 else 'ies'}, "
        f"{human_bytes(sum(e.bytes for e in removed))}"
    )
