"""The static leaderboard page (``index.html``): one self-contained file, inline CSS and JavaScript,
no network resources. The figures (``figures/<label>.png``) and provenance copies
(``provenance/<run>.json``) it links to sit beside it, by relative path.

The table lists every estimator row: scatter and bias [dex] with bootstrap 95 % intervals,
scatter in per cent, robust scatter, inputs (with an ``idealised`` badge), framework, number of
test clusters, status, and links to the run's provenance and the estimator's figure. When some row
predicts distributions, the probabilistic columns (NLL, CRPS, 68 % and 95 % coverage, PIT KS distance,
sigma / scatter; :mod:`massbench.scoring`) sit before N test, empty for point estimators. Headings sort
the table (click again to reverse; rows without a value stay last); ``#sort=scatter`` or
``#sort=-bias`` in the URL sorts on load through the same click handler.
"""

from __future__ import annotations

import html
import math
from importlib import resources
from string import Template
from typing import Any, Sequence

from .escape import safe_relpath
from .fmt import fixed, interval
from .prob_tables import HTML_COLUMNS, has_probabilistic
from .records import LeaderboardRow, as_rows

# (key, heading, type) of each sortable column; ``key`` is the tr's data-* attribute
COLUMNS: list[tuple[str, str, str]] = [
    ("rank", "#", "num"),
    ("label", "Label", "str"),
    ("estimator", "Estimator", "str"),
    ("inputs", "Inputs", "str"),
    ("framework", "Framework", "str"),
    ("scatter", "Scatter (dex) [95% CI]", "num"),
    ("scatter_percent", "Scatter (%)", "num"),
    ("bias", "Bias (dex) [95% CI]", "num"),
    ("robust", "Robust scatter (dex)", "num"),
    ("n_test", "N test", "num"),
    ("status", "Status", "str"),
]


def _e(v: Any) -> str:
    return html.escape("" if v is None else str(v), quote=True)


def _num(v: Any) -> str:
    """A data-* attribute value for a number ('' when missing)."""
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
        return ""
    return repr(float(v)) if isinstance(v, float) else str(v)


def _f(v: Any, digits: int = 4, sign: bool = False) -> str:
    return fixed(v, digits, sign)


def _ci(v: Any, digits: int = 4) -> str:
    text = interval(v, digits)
    return f'<span class="ci">{text}</span>' if text else ""


def table_html(rows: Sequence[LeaderboardRow]) -> str:
    """The ``<table id="leaderboard">`` of the page; rows in the given (scatter) order."""
    rows = as_rows(rows)
    sources = reference_sources(rows)
    columns = list(COLUMNS)
    if sources:  # the benchmark file's `reference:` values (massbench.reference), labelled with their source
        columns.insert(7, ("reference", "Reference (dex)", "num"))
    prob = has_probabilistic(rows)  # scores of predictive distributions (massbench.scoring), before N test
    if prob:
        at = [k for k, _, _ in columns].index("n_test")
        columns[at:at] = [(k, h, "num") for k, h, _, _, _ in HTML_COLUMNS]
    natural = any(r.natural is not None for r in rows)
    if natural:  # the natural-population metrics (massbench.population), after the flat ones
        at = [k for k, _, _ in columns].index("robust") + 1
        columns[at:at] = [
            ("natural_scatter", "Natural scatter (dex) [95% CI]", "num"),
            ("natural_bias", "Natural bias (dex) [95% CI]", "num"),
        ]
    head = "".join(
        f'<th class="sortable" data-key="{k}" data-type="{t}" scope="col"'
        + (f' title="{_e("; ".join(sources))}"' if k == "reference" else "")
        + f">{_e(h)}</th>"
        for k, h, t in columns
    )
    head += '<th scope="col">Run</th><th scope="col">Figure</th>'
    body = []
    for i, r in enumerate(rows, 1):
        ok = r.ok
        inputs = ", ".join(r.inputs or []) or "(none)"
        data = {
            "rank": str(i),
            "label": r.label,
            "estimator": r.estimator,
            "inputs": inputs,
            "framework": r.framework or "",
            "scatter": _num(r.scatter_dex),
            "scatter_percent": _num(r.scatter_percent),
            "bias": _num(r.bias_dex),
            "robust": _num(r.robust_scatter_dex),
            "n_test": _num(r.n_test),
            "status": r.status,
        }
        if sources:
            data["reference"] = _num(r.get("reference_scatter_dex"))
        prob_cells = []
        if prob:
            s = r.probabilistic
            for k, _, name, ci, digits in HTML_COLUMNS:
                v = getattr(s, name) if s is not None else None
                data[k] = _num(v)
                prob_cells.append(f'<td class="num">{_f(v, digits)}{_ci(getattr(s, ci) if s else None, digits)}</td>')
        nat = r.natural
        if natural:
            data["natural_scatter"] = _num(nat.scatter_dex if nat else None)
            data["natural_bias"] = _num(nat.bias_dex if nat else None)
        attrs = " ".join(f'data-{k}="{_e(v)}"' for k, v in data.items())
        status = _e(r.status)
        if not ok and r.error:
            status += f'<span class="ci">{_e(str(r.error).splitlines()[0][:200])}</span>'
        badge = (
            ' <span class="badge" title="reads an observable no observer has">idealised</span>' if r.idealised else ""
        )
        prov_href = safe_relpath(r.get("provenance"))
        prov = f'<a href="{_e(prov_href)}">run.json</a>' if prov_href else ""
        fig = f'<a href="#fig-{_e(r.extra.get("figure_id"))}">figure</a>' if safe_relpath(r.get("figure")) else ""
        cells = [
            f'<td class="num">{i}</td>',
            f'<td class="label">{_e(r.label)}</td>',
            f"<td><code>{_e(r.estimator)}</code></td>",
            f"<td>{_e(inputs)}{badge}</td>",
            f"<td>{_e(r.framework or '')}</td>",
            f'<td class="num">{_f(r.scatter_dex)}{_ci(r.scatter_ci95)}</td>',
            f'<td class="num">{_f(r.scatter_percent, 2)}</td>',
            *([f'<td class="num">{_f(r.get("reference_scatter_dex"))}</td>'] if sources else []),
            f'<td class="num">{_f(r.bias_dex, sign=True)}{_ci(r.bias_ci95)}</td>',
            f'<td class="num">{_f(r.robust_scatter_dex)}</td>',
            *(
                [
                    f'<td class="num">{_f(nat.scatter_dex)}{_ci(nat.scatter_ci95)}</td>'
                    if nat
                    else '<td class="num"></td>',
                    f'<td class="num">{_f(nat.bias_dex, sign=True)}{_ci(nat.bias_ci95)}</td>'
                    if nat
                    else '<td class="num"></td>',
                ]
                if natural
                else []
            ),
            *prob_cells,
            f'<td class="num">{_e("" if r.n_test is None else r.n_test)}</td>',
            f'<td class="status">{status}</td>',
            f"<td>{prov}</td>",
            f"<td>{fig}</td>",
        ]
        body.append(f'<tr class="{"ok" if ok else "failed"}" {attrs}>' + "".join(cells) + "</tr>")
    return (
        '<table id="leaderboard">\n<thead><tr>'
        + head
        + "</tr></thead>\n<tbody>\n"
        + "\n".join(body)
        + "\n</tbody>\n</table>"
    )


def reference_sources(rows: Sequence[LeaderboardRow]) -> list[str]:
    """The distinct sources of the rows' reference values (empty when no row has one)."""
    return sorted({str(r.get("reference_source")) for r in rows if r.get("reference_scatter_dex") is not None})


def figures_html(rows: Sequence[LeaderboardRow]) -> str:
    out = []
    rows = as_rows(rows)
    for r in rows:
        href = safe_relpath(r.get("figure"))  # a tampered leaderboard.json may hold javascript: or ../ links
        if not href:
            continue
        cap = (
            f"{_e(r.label)}: scatter {_f(r.scatter_dex)} dex ({_f(r.scatter_percent, 1)} %), "
            f"bias {_f(r.bias_dex, sign=True)} dex, {_e(r.n_test)} test clusters"
        )
        out.append(
            f'<figure id="fig-{_e(r.extra.get("figure_id"))}"><a href="{_e(href)}"><img src="{_e(href)}" '
            f'alt="predicted versus true mass for {_e(r.label)}" loading="lazy"></a>'
            f"<figcaption>{cap}</figcaption></figure>"
        )
    return "\n".join(out) or "<p>No finished estimator has predictions to plot.</p>"


def runs_html(runs: Sequence[dict[str, Any]]) -> str:
    rows = []
    for r in runs:
        commit = r.get("git_commit") or ""
        rows.append(
            "<tr>"
            + "".join(
                [
                    f'<td><a href="{_e(safe_relpath(r.get("provenance")) or "")}">{_e(r.get("id", ""))}</a></td>',
                    f"<td>{_e(', '.join(r.get('labels') or []))}</td>",
                    f"<td><code>{_e(commit[:12])}</code></td>",
                    f"<td>{_e(r.get('massbench_version'))}</td>",
                    f"<td>{_e(r.get('started'))}</td>",
                    f"<td>{_e(r.get('finished'))}</td>",
                ]
            )
            + "</tr>"
        )
    return (
        '<table id="runs"><thead><tr><th>Provenance</th><th>Estimators</th><th>massbench commit</th>'
        "<th>massbench version</th><th>Started</th><th>Finished</th></tr></thead>\n<tbody>\n"
        + "\n".join(rows)
        + "\n</tbody></table>"
    )


def page_html(
    benchmark: str,
    version: str,
    rows: Sequence[LeaderboardRow],
    runs: Sequence[dict[str, Any]],
    dataset: str = "",
    massbench_version: str = "",
    population: str = "flat",
) -> str:
    """The whole page as a string; rows sorted by the scatter of ``population`` (flat or natural)."""
    from .results import sort_rows

    rows = sort_rows(rows, population)
    n_ok = sum(1 for r in rows if r.get("status") == "ok")
    tmpl = Template((resources.files("massbench") / "templates" / "leaderboard.html").read_text())
    key = f"{benchmark}@{version}"
    meta = f"Benchmark <code>{_e(key)}</code>"
    if dataset:
        meta += f" on dataset <code>{_e(dataset)}</code>"
    meta += f"; {len(rows)} estimator rows ({n_ok} finished) from {len(runs)} run(s)."
    intro = (
        "Scatter is the standard deviation of the residual log<sub>10</sub>(M<sub>pred</sub>/M<sub>true</sub>) of "
        "M<sub>500c</sub> [h<sup>-1</sup> M<sub>&#9737;</sub>] pooled over every test fold (the paper's eq. 9); per "
        "cent is 100 ln(10) times dex; bias is the mean residual. Intervals are seeded bootstrap 95 % intervals. "
        "Folds are drawn by the harness (spatial octants), never by the estimators."
    )
    if any(r.natural is not None for r in rows):
        intro += (
            " Natural columns weight the test clusters to the halo mass function at each cluster's redshift "
            "(a survey's population; the sample is flattened in mass)"
            + (", and rank the table." if population == "natural" else ".")
        )
    sources = reference_sources(rows)
    if sources:
        intro += (
            " The Reference column is published values, not measured here: " + "; ".join(_e(x) for x in sources) + "."
        )
    finished = sorted(str(r.get("finished")) for r in runs if r.get("finished"))
    footer = (
        f"Generated by <code>massbench leaderboard build</code> (massbench {_e(massbench_version)}) from stored run "
        f"results{f'; latest run finished {_e(finished[-1])}' if finished else ''}. Do not edit: regenerate it."
    )
    return tmpl.substitute(
        title=_e(f"massbench leaderboard: {key}"),
        heading=_e(f"massbench leaderboard: {key}"),
        meta=meta,
        intro=intro,
        table=table_html(rows),
        figures=figures_html(rows),
        runs=runs_html(runs),
        footer=footer,
        massbench_version=_e(massbench_version),
    )


def index_html(entries: Sequence[dict[str, Any]], massbench_version: str = "") -> str:
    """The root page of a published leaderboards folder: one line per benchmark version."""
    items = []
    for e in entries:
        best = e.get("best")
        best_txt = f" &mdash; best: {_e(best['label'])}, {_f(best.get('scatter_dex'))} dex" if best else ""
        items.append(
            f'<li><a href="{_e(e["href"])}">{_e(e["benchmark"])}@{_e(e["version"])}</a> '
            f"({_e(e['n_rows'])} estimators{best_txt})</li>"
        )
    body = "\n".join(items) or "<li>No leaderboards yet.</li>"
    return (
        "<!DOCTYPE html>\n<!-- Generated by `massbench leaderboard build --publish`. Do not edit by hand. -->\n"
        '<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, '
        'initial-scale=1"><title>massbench leaderboards</title><style>body{font-family:system-ui,sans-serif;'
        "margin:2rem auto;max-width:50rem;padding:0 1rem;line-height:1.5}</style></head><body>\n"
        "<h1>massbench leaderboards</h1>\n<p>Galaxy-cluster mass estimators scored with spatial cross-validation "
        "on each benchmark version. Results of different versions are never mixed.</p>\n"
        f"<ul>\n{body}\n</ul>\n<p><small>Generated by massbench {_e(massbench_version)}.</small></p>\n"
        "</body></html>\n"
    )


class TableRows:
    """Parse the ``data-*`` attributes of the leaderboard table's body rows (used to verify pages)."""

    def __init__(self) -> None:
        from html.parser import HTMLParser

        outer = self
        self.rows: list[dict[str, str]] = []

        class _P(HTMLParser):
            inside = False

            def handle_starttag(self, tag, attrs):
                a = dict(attrs)
                if tag == "table":
                    self.inside = a.get("id") == "leaderboard"
                elif tag == "tr" and self.inside and "data-label" in a:
                    outer.rows.append({k[5:]: v or "" for k, v in a.items() if k.startswith("data-")})

        self._parser = _P()

    def feed(self, text: str) -> None:
        self._parser.feed(text)
