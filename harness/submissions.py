"""Leaderboard submissions: ``leaderboards/submissions/NAME.yaml``, read safely, and the one command
that does what CI does with them (``massbench leaderboard submit``).

A submission file (YAML, read with safe loading; every error names the file and line)::

    name: mass-forest                      # must equal the file name without .yaml
    requirement: "mass-forest==0.2.1"      # one pip requirement for the plugin's distribution
    benchmark: benchmarks/erosita-lite.yaml    # optional; the lite benchmark by default
    estimators:                            # estimators that distribution registers (by entry point)
      - name: mass-forest
        label: Mass forest (200 trees)     # optional display name
        params: {n_trees: 200}             # optional, checked against the estimator's typed __init__

``requirement`` is a PEP 508 name with optional extras and version specifiers, or
``name @ URL`` with an https, git+https or file URL; options (``-e``, ``--index-url``), shell
metacharacters, spaces inside URLs and environment markers are refused. Plugins are named by the
entry points the installed distribution declares, never by import paths, and nothing in the file
is ever run through a shell.

``massbench leaderboard submit FILE`` then, exactly as the pull-request job of
``.github/workflows/leaderboard.yml``:

1. creates a fresh environment layered on the current one (:mod:`massbench.isolated_env`) and
   pip-installs the requirement into it (``--no-install`` uses the current environment);
2. checks that every named estimator is registered by that distribution;
3. runs ``massbench check-plugin`` on each estimator (on a 120-cluster version of the benchmark's
   dataset);
4. runs the benchmark with the submission's estimators added and ``--only`` them (plus the
   ``baseline-mean`` floor), in that environment;
5. writes ``comment.md``: the rows and the check lines, as posted on the pull request.

Output directory (``results/submissions/NAME/`` by default): ``benchmark.yaml`` (the benchmark run),
``install.log``, ``check.log``, ``checks/<estimator>.json`` and ``check.json`` (the check-plugin
reports), ``run.log``, ``results/`` (a normal run directory, which ``massbench leaderboard build``
merges), ``comment.md`` and ``summary.json``.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable

import yaml

from .config import plain
from .errors import ConfigError, UserError
from .fmt import fixed, interval
from .records import LeaderboardRow, as_rows

DEFAULT_BENCHMARK = "benchmarks/erosita-lite.yaml"

_NAME = r"[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?"
_VERSION_CLAUSE = r"(?:===|~=|==|!=|<=|>=|<|>)\s*[A-Za-z0-9.*+!_-]+"
_SPECIFIERS = rf"{_VERSION_CLAUSE}(?:\s*,\s*{_VERSION_CLAUSE})*"
_URL = r"(?:https|git\+https|file)://[A-Za-z0-9._~:/@%+=-]+(?:#egg=[A-Za-z0-9._-]+)?"
REQUIREMENT_RE = re.compile(
    rf"^(?P<name>{_NAME})\s*(?:\[\s*{_NAME}(?:\s*,\s*{_NAME})*\s*\])?\s*"
    rf"(?:(?:{_SPECIFIERS})|\(\s*{_SPECIFIERS}\s*\)|@\s*(?P<url>{_URL}))?$"
)
SUBMISSION_NAME_RE = re.compile(r"^[a-z0-9](?:[a-z0-9._-]*[a-z0-9])?$")
ESTIMATOR_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
BENCHMARK_PATH_RE = re.compile(r"^benchmarks/[A-Za-z0-9._-]+\.ya?ml$")
_SHELL_CHARS = set(";|&$`<>\\\"'!*?{}()\n\r\t ")


def normalize_dist_name(name: str) -> str:
    """PEP 503 normalised distribution name."""
    return re.sub(r"[-_.]+", "-", name).lower()


def validate_requirement(req: Any, where: str = "requirement") -> str:
    """Check a pip requirement string; return its normalised project name.

    Accepts ``name``, ``name[extra]``, version specifiers and ``name @ https://...``/``git+https``/
    ``file://`` URLs. Refuses options (``-e``, ``--index-url``), shell metacharacters and markers.
    """
    if not isinstance(req, str) or not req.strip():
        raise ConfigError(f'{where} must be a pip requirement string such as "mass-forest==0.2.1"')
    req = req.strip()
    if req.startswith("-"):
        raise ConfigError(
            f"{where} {req!r} is a pip option; give only a requirement (name, version or name @ URL); "
            "pip options are not allowed in submissions"
        )
    if "://" not in req and ("/" in req or req.startswith(".")):
        raise ConfigError(f'{where} {req!r} looks like a path; write it as a requirement: "NAME @ file:///abs/path"')
    m = REQUIREMENT_RE.match(req)
    if not m:
        bad = sorted(c for c in set(req) & _SHELL_CHARS if c not in " ()[],<>=!~*")
        why = f" (it contains {' '.join(repr(c) for c in bad)})" if bad else ""
        raise ConfigError(
            f"{where} {req!r} is not a plain pip requirement{why}; use NAME, NAME==VERSION, "
            "NAME[extra]>=VERSION or NAME @ https://... (no options, markers or shell characters)"
        )
    url = m.group("url")
    if url and set(url) & _SHELL_CHARS:
        raise ConfigError(f"{where} {req!r}: the URL contains shell metacharacters")
    return normalize_dist_name(m.group("name"))


@dataclass
class SubmissionEstimator:
    name: str
    label: str
    params: dict[str, Any] = field(default_factory=dict)


@dataclass
class Submission:
    """A parsed, checked submission file."""

    name: str
    requirement: str
    project: str  # normalised distribution name of the requirement
    estimators: list[SubmissionEstimator]
    benchmark: str | None = None
    path: str = ""
    sha256: str = ""

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


_TOP = {"name": True, "requirement": True, "estimators": True, "benchmark": False}


def load_submission(path: str | Path) -> Submission:
    """Read and check a submission file (see the module docstring); errors name file and line."""
    from .safeyaml import read_text

    path = Path(path)
    text = read_text(path, "submission file")  # size limit, UTF-8 (massbench.safeyaml)
    return parse_submission(text, str(path))


def parse_submission(text: str, path: str = "<string>") -> Submission:
    from .config import _Checker, _LineLoader
    from .safeyaml import load

    data = load(text, path, _LineLoader)  # depth, alias-expansion and key limits (massbench.safeyaml)
    c = _Checker(path)
    if not isinstance(data, dict):
        c.fail(
            1, "a submission file must be a mapping with keys name, requirement, estimators (and optionally benchmark)"
        )
    c.keys(data, _TOP, "", 1)
    name = c.typed(data, "name", str, "", "a string")
    if not SUBMISSION_NAME_RE.match(name):
        c.fail(data.key_lines["name"], f"name {name!r} must be lower-case letters, digits, '.', '_' or '-'")
    stem = Path(path).name.rsplit(".", 1)[0]
    if path != "<string>" and stem != name:
        c.fail(
            data.key_lines["name"],
            f"name {name!r} must equal the file name ({stem!r}); rename the file to {name}.yaml or change name",
        )
    req = data["requirement"]
    try:
        project = validate_requirement(req, "requirement")
    except ConfigError as exc:
        c.fail(data.key_lines["requirement"], str(exc))
    bench = None
    if "benchmark" in data:
        bench = c.typed(data, "benchmark", str, "", "a string")
        if not BENCHMARK_PATH_RE.match(bench):
            c.fail(
                data.key_lines["benchmark"],
                f"benchmark {bench!r} must name a file of massbench's benchmarks/ "
                "folder, e.g. benchmarks/erosita-lite.yaml",
            )
    from .config import parse_estimator_entries

    def check(i: int, em: Any, ename: str, label: str) -> None:
        if not ESTIMATOR_NAME_RE.match(ename):
            c.fail(
                em.key_lines["name"],
                f"estimators[{i}].name {ename!r} must be an estimator name as registered "
                "by the plugin's entry point (letters, digits, '.', '_', '-')",
            )
        if not label.strip() or len(label) > 80 or any(ch in label for ch in "\n\r|<>`,"):
            c.fail(
                em.key_lines.get("label", em.line),
                f"estimators[{i}].label {label!r} must be one line of at most "
                "80 characters without commas, | < > or backquotes",
            )

    specs = parse_estimator_entries(c, data["estimators"], data.key_lines["estimators"], check)
    out = [SubmissionEstimator(e.name, e.label, _plain(e.params)) for e in specs]
    return Submission(name, req.strip(), project, out, bench, path, hashlib.sha256(text.encode()).hexdigest())


_plain = plain  # plain dict/list copies of the line-tracking loader's containers


def derived_benchmark(bench_path: Path, sub: Submission) -> tuple[str, Any, list[str]]:
    """The benchmark file text to run: ``bench_path`` with the submission's estimators added and its
    explainers removed (name and version unchanged, so the rows merge with the published leaderboard).

    Returns (yaml text, parsed base benchmark, the submission's labels).
    """
    from .config import load_benchmark

    base = load_benchmark(bench_path)  # keys and types; plugin names are checked in the plugin's environment
    taken = {e.label for e in base.estimators} | {e.name for e in base.estimators} | {"baseline-mean"}
    for e in sub.estimators:
        if e.label in taken:
            raise ConfigError(
                f"{sub.path}: estimator label {e.label!r} is already used by {bench_path}; give the "
                "submission's estimator a distinct `label`"
            )
    raw = _plain(yaml.safe_load(Path(bench_path).read_text()))
    est_list = list(raw.get("estimators") or [])
    for e in sub.estimators:
        entry: dict[str, Any] = {"name": e.name, "label": e.label}
        if e.params:
            entry["params"] = e.params
        est_list.append(entry)
    raw["estimators"] = est_list
    raw.pop("explainers", None)
    text = f"# {Path(bench_path).as_posix()} with the estimators of submission {sub.name!r} added\n" + yaml.safe_dump(
        raw, sort_keys=False
    )
    return text, base, [e.label for e in sub.estimators]


@dataclass
class SubmitOptions:
    """Options of ``massbench leaderboard submit``."""

    out: Path
    bench: Path | None = None
    venv: Path | None = None  # default: OUT/venv
    install: bool = True  # False: use the current environment (the plugin is installed already)
    no_build_isolation: bool = False
    device: str = "auto"
    cache_dir: Path | None = None
    check_clusters: int = 120
    timeout_s: float = 6 * 3600.0
    install_only: bool = False  # stop after installing and checking the entry points (CI: before the network is cut)
    sealed: bool = False  # run the benchmark with --sealed (the seed in $MASSBENCH_SEALED_SEED; massbench.sealed)


@dataclass
class SubmitOutcome:
    code: int  # 0: installed, checked and every row ok; 1 otherwise
    comment: Path
    rows: list[LeaderboardRow]
    problems: list[str]


def submit(sub_path: Path, options: SubmitOptions, echo: Callable[[str], None] = print) -> SubmitOutcome:
    """Install, check and run a submission as CI does; write ``comment.md``. See the module docstring."""
    import sys

    from .config import slugify
    from .isolated_env import layered_venv, massbench_command, pip_install, run_logged
    from .results import atomic_write_json, atomic_write_text, read_json

    sub = load_submission(sub_path)
    if options.sealed:
        from .sealed import from_env

        from_env()  # fail before installing anything when the secret seed is missing or malformed
    bench_path = Path(options.bench or sub.benchmark or DEFAULT_BENCHMARK)
    if not bench_path.exists():
        raise UserError(f"{bench_path}: benchmark file not found (give --bench, or run from massbench's checkout)")
    out = Path(options.out)
    out.mkdir(parents=True, exist_ok=True)
    text, base, labels = derived_benchmark(bench_path, sub)
    derived = out / "benchmark.yaml"
    atomic_write_text(derived, text)
    problems: list[str] = []
    summary: dict[str, Any] = {
        "submission": sub.as_dict(),
        "benchmark": base.key,
        "benchmark_file": str(bench_path),
        "labels": labels,
    }

    # 1. install
    if options.install:
        venv = Path(options.venv or out / "venv")
        echo(f"creating a fresh environment at {venv}")
        python: Path | str = layered_venv(venv)
        echo(f"pip install {sub.requirement}")
        proc = pip_install(
            Path(python), sub.requirement, no_build_isolation=options.no_build_isolation, log=out / "install.log"
        )
        if proc.returncode != 0:
            tail = "\n".join((proc.stderr or proc.stdout).strip().splitlines()[-5:])
            problems.append(f"pip install {sub.requirement!r} failed (exit status {proc.returncode}):\n{tail}")
            return _finish(out, sub, base, summary, problems, [], None, echo)
    else:
        python = sys.executable

    # 2. the estimators come from the submitted distribution, by entry point
    proc = run_logged(massbench_command(python, "plugins", "--json"), out / "install.log")
    if proc.returncode != 0:
        problems.append(f"`massbench plugins` failed in the submission's environment: {proc.stderr.strip()[-500:]}")
        return _finish(out, sub, base, summary, problems, [], None, echo)
    try:  # the JSON document starts at a line "{" (a plugin may print while it loads)
        lines = proc.stdout.splitlines()
        listing = json.loads("\n".join(lines[lines.index("{") :]))
    except ValueError:
        problems.append("`massbench plugins --json` printed no JSON in the submission's environment (see install.log)")
        return _finish(out, sub, base, summary, problems, [], None, echo)
    dist_of = {d["name"]: d for d in listing["plugins"] if d["kind"] == "estimator"}
    for err in listing.get("errors", []):
        if normalize_dist_name(err.get("distribution") or "") == sub.project:
            problems.append(f"plugin {err['plugin']!r} of {err['distribution']} failed to load: {err['error']}")
    for e in sub.estimators:
        d = dist_of.get(e.name)
        if d is None:
            theirs = sorted(n for n, x in dist_of.items() if normalize_dist_name(x["distribution"]) == sub.project)
            problems.append(
                f"estimator {e.name!r} is not registered by any installed plugin; {sub.project} registers "
                f"{', '.join(theirs) or 'no estimators'} (check its `massbench` entry point)"
            )
        elif normalize_dist_name(d["distribution"]) != sub.project:
            problems.append(
                f"estimator {e.name!r} comes from distribution {d['distribution']!r}, not from the "
                f"submitted requirement {sub.project!r}; submissions may only run their own estimators"
            )
    summary["distributions"] = sorted(
        {f"{dist_of[e.name]['distribution']} {dist_of[e.name]['version']}" for e in sub.estimators if e.name in dist_of}
    )
    if problems:
        return _finish(out, sub, base, summary, problems, [], None, echo)
    if options.install_only:
        comment = out / "comment.md"
        atomic_write_text(
            comment,
            f"### massbench submission `{sub.name}`: installed ({', '.join(summary['distributions'])}); "
            "not checked or run yet (--install-only)\n",
        )
        summary.update(ok=True, problems=[], installed_only=True, rows=[])
        atomic_write_json(out / "summary.json", summary)
        echo(f"installed {sub.requirement}; --install-only: check-plugin and the run are left for a later call")
        return SubmitOutcome(0, comment, [], [])

    # 3. check-plugin on each estimator
    checks = []
    for e in sub.estimators:
        echo(f"check-plugin {e.name}")
        report = out / "checks" / f"{slugify(e.name)}.json"
        report.unlink(missing_ok=True)
        cmd = massbench_command(
            python,
            "check-plugin",
            e.name,
            "--bench",
            str(derived),
            "--json-out",
            str(report),
            "--n-clusters",
            str(options.check_clusters),
            "--params-json",
            json.dumps(e.params),
        )
        if options.cache_dir:
            cmd += ["--cache-dir", str(options.cache_dir)]
        proc = run_logged(cmd, out / "check.log", options.timeout_s)
        try:
            rep = json.loads(report.read_text())["estimators"][0]
        except (OSError, ValueError, KeyError, IndexError):
            problems.append(
                f"check-plugin {e.name} did not finish (exit status {proc.returncode}): "
                f"{(proc.stderr.strip().splitlines() or [''])[-1]}"
            )
            continue
        checks.append(rep)
        for r in rep["results"]:
            if r["status"] == "fail":
                problems.append(f"check-plugin {e.name}: {r['check']}: {r['message']}")
    atomic_write_json(out / "check.json", checks)
    if problems:
        return _finish(out, sub, base, summary, problems, [], checks, echo)

    # 4. the benchmark, with --only the submission's estimators (baseline-mean always runs)
    echo(f"massbench run {derived} --only {','.join(labels)}")
    cmd = massbench_command(
        python,
        "run",
        str(derived),
        "--out",
        str(out / "results"),
        "--only",
        ",".join(labels),
        "--overwrite",  # every submit is a fresh check
        "--device",
        options.device,
    )
    run_env = None
    if options.sealed:
        from .sealed import child_env

        cmd.append("--sealed")
        run_env = child_env()  # only this child gets the secret seed (not check-plugin, not pip)
    if options.cache_dir:
        cmd += ["--cache-dir", str(options.cache_dir)]
    proc = run_logged(cmd, out / "run.log", options.timeout_s, env=run_env)
    rows: list[LeaderboardRow] = []
    lb = out / "results" / "leaderboard.json"
    if lb.exists():
        rows = as_rows(read_json(lb))
    if proc.returncode not in (0, 1) or not rows:
        problems.append(
            f"massbench run failed (exit status {proc.returncode}): "
            f"{(proc.stderr.strip().splitlines() or ['see run.log'])[-1]}"
        )
    for r in rows:
        if r.label in labels and not r.ok:
            problems.append(f"{r.label}: {r.error}")
    return _finish(out, sub, base, summary, problems, rows, checks, echo)


def _finish(
    out: Path,
    sub: Submission,
    base: Any,
    summary: dict[str, Any],
    problems: list[str],
    rows: list[LeaderboardRow],
    checks: list[dict[str, Any]] | None,
    echo: Callable[[str], None],
) -> SubmitOutcome:
    from .results import atomic_write_json, atomic_write_text

    comment = out / "comment.md"
    atomic_write_text(comment, comment_markdown(sub, base.key, rows, checks, problems, summary.get("distributions")))
    summary.update(
        ok=not problems,
        problems=problems,
        rows=[r.to_json() for r in rows if r.label in summary["labels"] or r.estimator == "baseline-mean"],
    )
    atomic_write_json(out / "summary.json", summary)
    for p in problems:
        echo(f"problem: {p}")
    echo(f"comment written to {comment}")
    return SubmitOutcome(0 if not problems else 1, comment, rows, problems)


def _ci(v: Any) -> str:
    text = interval(v)
    return f" {text}" if text else ""


def comment_markdown(
    sub: Submission,
    bench_key: str,
    rows: list[LeaderboardRow],
    checks: list[dict[str, Any]] | None,
    problems: list[str],
    distributions: list[str] | None = None,
) -> str:
    """The pull-request comment: verdict, rows (with the baseline for reference) and check lines."""
    ok = not problems
    lines = [
        f"### massbench submission `{sub.name}` on `{bench_key}`: {'passed' if ok else 'problems found'}",
        "",
        f"Requirement `{sub.requirement}`"
        + (f" installed {', '.join(distributions)}" if distributions else "")
        + f"; estimators: {', '.join(f'`{e.name}`' for e in sub.estimators)}.",
        "",
    ]
    if rows:
        from .results import sort_rows

        lines += [
            "| # | label | estimator | inputs | framework | scatter (dex) [95% CI] | scatter (%) | "
            "bias (dex) [95% CI] | n | status |",
            "|---|---|---|---|---|---|---|---|---|---|",
        ]
        for i, r in enumerate(sort_rows(rows), 1):
            inputs = ", ".join(r.inputs or []) + (" (idealised)" if r.idealised else "")
            status = r.status
            if status != "ok" and r.error:
                status += ": " + str(r.error).splitlines()[0][:150].replace("|", "/")
            lines.append(
                f"| {i} | {r.label} | {r.estimator} | {inputs} | {r.framework}"
                f" | {fixed(r.scatter_dex)}{_ci(r.scatter_ci95)} | {fixed(r.scatter_percent, 2)}"
                f" | {fixed(r.bias_dex)}{_ci(r.bias_ci95)} | {'' if r.n_test is None else r.n_test} | {status} |"
            )
        lines.append("")
    if problems:
        lines += ["**Problems**", ""] + [f"- {p.splitlines()[0]}" for p in problems] + [""]
    if checks:
        lines += ["<details><summary>check-plugin</summary>", "", "```"]
        for rep in checks:
            lines.append(rep.get("text", ""))
        lines += ["```", "", "</details>", ""]
    if ok:
        lines.append("After merging, the main-branch workflow re-runs these estimators and publishes the rows.")
    return "\n".join(lines) + "\n"
