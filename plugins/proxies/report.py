"""The analysis behind ``massbench proxies``: fit, exhaustive search, JSON and the Table 3 layout."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from massbench.errors import ConfigError

from . import observables as obs_names
from .binning import BinScheme
from .model import MIN_PER_BIN_DEFAULT, ScalingModel, Scatter, fit_scaling_model, log_observables, mu_from_log10
from .paper import paper_value
from .search import best_per_size, combination_scatters
from .table import ObservableTable


@dataclass
class ProxyReport:
    """Fitted model and the equation-7 scatter of every set of up to ``max_k`` observables."""

    table: ObservableTable
    model: ScalingModel
    scatters: list[Scatter]  # sorted by scatter
    max_k: int

    def to_json(self) -> list[dict[str, Any]]:
        """The ``--json`` list: one entry per set, sorted by scatter, with per-bin values."""
        return [s.as_dict(self.model) for s in self.scatters]

    def singles(self) -> list[Scatter]:
        """Single observables in Table 2 order."""
        order = obs_names.table2_order(list(self.model.observables))
        by = {s.observables[0]: s for s in self.scatters if len(s.observables) == 1}
        return [by[n] for n in order]

    def sections(self) -> list[tuple[str, list[Scatter]]]:
        """Table 3's layout: idealised, realistic, (other) singles; best sets per size by kind; best overall."""
        singles = self.singles()
        out: list[tuple[str, list[Scatter]]] = []
        for kind, title in (("idealised", "idealised"), ("realistic", "realistic"), ("other", "other observables")):
            rows = [s for s in singles if s.kind == kind]
            if rows:
                out.append((title, rows))
        kinds = {s.kind for s in singles}
        for kind, title in (("idealised", "best idealised sets"), ("realistic", "best realistic sets")):
            rows = best_per_size(self.scatters, kind=kind)
            if rows and len(kinds) > 1:
                out.append((title, rows))
        rows = best_per_size(self.scatters, kind=None)
        if rows:
            out.append(("best sets of any observables", rows))
        return out


def analyse(
    table: ObservableTable,
    max_k: int = 3,
    bins: str = "snapshot",
    decimals: int = 4,
    min_per_bin: int = MIN_PER_BIN_DEFAULT,
) -> ProxyReport:
    """Fit equations 3-5 per redshift bin and search every set of up to ``max_k`` observables (eq. 7)."""
    if max_k < 1:
        raise ConfigError(f"--max-combination must be at least 1, got {max_k}")
    fitted_bins = BinScheme.parse(bins, decimals).fit(table.redshift)
    s = log_observables(table.values, table.observables, table.redshift, fitted_bins, table.cluster_id, table.source)
    model = fit_scaling_model(
        s,
        mu_from_log10(table.log10_m500c),
        table.redshift,
        table.observables,
        bins=fitted_bins,
        min_per_bin=min_per_bin,
        source=table.source,
    )
    model.scheme = BinScheme.parse(bins, decimals).spec()
    scatters = combination_scatters(model, max_k)
    return ProxyReport(table, model, scatters, max_k)


def _scheme_words(spec: str) -> str:
    if spec == "snapshot":
        return "one per snapshot redshift"
    if spec == "none":
        return "all clusters together"
    if "," in spec:
        return f"edges {spec}"
    return "equal-count bins"


def render_rich(report: ProxyReport, console: Any) -> None:
    """Print the Table 3 analogue; "paper" columns: Ho et al. Table 3 where it lists the same set."""
    from rich.table import Table

    m = report.model
    t = Table(
        title=f"Mass-proxy scatter (Evrard et al. 2014 model, eq. 7) - {report.table.source}",
        caption=(
            f"{len(report.table)} clusters in {len(m.fits)} redshift bin(s) ({_scheme_words(m.scheme)}); "
            f"per-bin variances averaged with equal weight; % = 100 ln10 x dex; "
            f"all {len(report.scatters)} sets of up to {report.max_k} searched"
        ),
    )
    t.add_column("observables", no_wrap=True)
    t.add_column("dex", justify="right")
    t.add_column("%", justify="right")
    t.add_column("paper dex", justify="right", style="dim")
    t.add_column("paper %", justify="right", style="dim")
    for title, rows in report.sections():
        t.add_section()
        t.add_row(f"[bold]{title}[/bold]", "", "", "", "")
        for s in rows:
            ref = paper_value(s.observables)
            t.add_row(
                ", ".join(s.observables),
                f"{s.scatter_dex:.4f}",
                f"{s.scatter_percent:.2f}",
                f"{ref[0]:.4f}" if ref else "",
                f"{ref[1]:.2f}" if ref else "",
            )
    console.print(t)
    bins = ", ".join(f"{f.redshift:.4f} ({f.n_clusters})" for f in m.fits)
    console.print(f"redshift bins (clusters): {bins}", highlight=False)
