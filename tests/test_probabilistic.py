"""Probabilistic estimators (issue 19): the Prediction contract through the executors, the scores of
massbench.scoring on synthetic predictions of known calibration, and every output format."""

from __future__ import annotations

import csv
import json
import math
import textwrap
from pathlib import Path

import numpy as np
import pytest
from scipy.stats import norm

from massbench import Prediction
from massbench.errors import ContractError
from massbench.records import LeaderboardRow, UnitRecord
from massbench.scoring import ProbabilisticScores, cluster_scores, score_distributions
from massbench.unit import check_output, check_predictions, stored_distribution

N = 5000


def _synthetic(sigma_true: float = 0.1, sigma_pred: float = 0.1, n: int = N, seed: int = 0):
    """Truths drawn from N(mean, sigma_true): a Gaussian prediction with sigma_pred is calibrated when equal."""
    rng = np.random.default_rng(seed)
    mean = rng.uniform(13.5, 15.0, n)
    true = mean + rng.normal(0.0, sigma_true, n)
    return mean, true, np.full(n, sigma_pred)


def _scores(pred: Prediction, true: np.ndarray, groups=None) -> ProbabilisticScores:
    point = pred.point()
    return score_distributions([cluster_scores(pred, true)], (point - true)[None, :], groups)


# --------------------------------------------------------------------------- known calibration


def test_calibrated_gaussian_covers_68_and_95_percent_and_a_2x_overconfident_one_about_38():
    mean, true, sigma = _synthetic()
    cal = _scores(Prediction(mean, sigma), true)
    assert abs(cal.coverage_68 - 0.68) <= 0.03
    assert abs(cal.coverage_95 - 0.95) <= 0.015
    assert cal.coverage_68_ci95[0] < 0.6827 < cal.coverage_68_ci95[1]
    assert abs(cal.sigma_ratio - 1.0) < 0.05
    over = _scores(Prediction(mean, sigma / 2), true)  # error bars half the true scatter
    expected = 2 * norm.cdf(0.5) - 1  # 0.383
    assert abs(over.coverage_68 - expected) <= 0.03 and abs(over.coverage_68 - 0.38) <= 0.03
    assert abs(over.coverage_95 - (2 * norm.cdf(0.98) - 1)) <= 0.03
    assert abs(over.sigma_ratio - 0.5) < 0.03
    under = _scores(Prediction(mean, sigma * 2), true)
    assert under.coverage_68 > 0.9 and under.sigma_ratio > 1.9


def test_crps_and_nll_match_the_gaussian_closed_forms():
    mean, true, _ = _synthetic(n=400)
    sigma = np.random.default_rng(1).uniform(0.03, 0.3, 400)
    cs = cluster_scores(Prediction(mean, sigma), true)
    z = (true - mean) / sigma
    closed = sigma * (z * (2 * norm.cdf(z) - 1) + 2 * norm.pdf(z) - 1 / np.sqrt(np.pi))
    np.testing.assert_allclose(cs.crps, closed, rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(cs.nll, -norm.logpdf(true, mean, sigma), rtol=1e-10)
    np.testing.assert_allclose(cs.pit, norm.cdf(z), rtol=1e-12)
    np.testing.assert_allclose(cs.q84 - cs.q16, 2 * norm.ppf(0.84) * sigma)
    s = score_distributions([cs], (mean - true)[None, :])
    assert math.isclose(s.crps_dex, closed.mean()) and s.crps_ci95[0] < s.crps_dex < s.crps_ci95[1]


def test_pit_histogram_and_ks_tell_calibrated_from_miscalibrated():
    mean, true, sigma = _synthetic()
    cal = _scores(Prediction(mean, sigma), true)
    over = _scores(Prediction(mean, sigma / 2), true)
    under = _scores(Prediction(mean, sigma * 2), true)
    assert cal.pit_ks < 1.36 / np.sqrt(N)  # below the 5 % critical value of the KS test
    assert over.pit_ks > 0.1 and under.pit_ks > 0.1
    assert len(cal.pit_histogram) == 10 and max(abs(d - 1) for d in cal.pit_histogram) < 0.15
    h = over.pit_histogram  # U-shaped: mass piles up in the tails
    assert h[0] > 1.5 and h[-1] > 1.5 and h[5] < 0.7
    h = under.pit_histogram  # humped
    assert h[0] < 0.3 and h[5] > 1.5
    assert math.isclose(sum(cal.pit_histogram) / 10, 1.0)
    for p in cal.reliability:  # reliability diagram on the diagonal, each point's interval around it
        assert abs(p.empirical - p.nominal) < 0.03 and p.ci95[0] <= p.empirical <= p.ci95[1]
    for p in over.reliability:
        assert p.empirical < p.nominal


def test_samples_and_quantile_forms_score_like_the_gaussian_they_describe():
    mean, true, sigma = _synthetic()
    rng = np.random.default_rng(5)
    draws = mean[:, None] + sigma[:, None] * rng.standard_normal((N, 200))
    gauss = _scores(Prediction(mean, sigma), true)
    samp = _scores(Prediction(samples=draws), true)
    assert samp.kind == "samples" and abs(samp.coverage_68 - 0.68) <= 0.03
    assert abs(samp.crps_dex - gauss.crps_dex) / gauss.crps_dex < 0.02
    assert abs(samp.nll - gauss.nll) < 0.05  # kernel density of the draws
    assert abs(samp.sigma_mean_dex - 0.1) < 0.002
    levels = (0.025, 0.16, 0.5, 0.84, 0.975)
    quant = _scores(Prediction(mean, quantiles={q: mean + sigma * norm.ppf(q) for q in levels}), true)
    assert quant.kind == "quantiles" and quant.nll is None and quant.nll_ci95 is None
    assert quant.coverage_68 == gauss.coverage_68 and quant.coverage_95 == gauss.coverage_95
    assert abs(quant.sigma_mean_dex - 0.1) < 1e-9
    assert 0.5 * gauss.crps_dex < quant.crps_dex < gauss.crps_dex  # pinball approximation with 5 levels
    narrow = _scores(Prediction(mean, quantiles={0.16: mean - 0.1, 0.84: mean + 0.1}), true)
    assert narrow.coverage_68 is not None and narrow.coverage_95 is None  # 0.025 / 0.975 not given
    assert max(p.nominal for p in narrow.reliability) == 0.68


def test_intervals_use_the_lineage_bootstrap_and_the_seed_spread():
    mean, true, sigma = _synthetic(n=600)
    pred = Prediction(mean, sigma)
    plain = _scores(pred, true)
    dup = np.repeat(np.arange(300), 2)  # clusters in pairs of one lineage: wider intervals
    grouped = _scores(pred, true, groups=dup)
    width = lambda ci: ci[1] - ci[0]  # noqa: E731
    assert grouped.coverage_68 == plain.coverage_68
    assert width(grouped.crps_ci95) > width(plain.crps_ci95)
    cs1 = cluster_scores(pred, true)
    cs2 = cluster_scores(Prediction(mean, sigma * 1.2), true)
    r = (mean - true)[None, :].repeat(2, axis=0)
    both = score_distributions([cs1, cs2], r)
    assert both.repeats == 2 and both.seed_std is not None
    assert math.isclose(both.sigma_mean_dex, 0.11) and both.seed_std["sigma_mean_dex"] > 0.01
    one = score_distributions([cs1], r[:1])
    assert width(both.sigma_mean_ci95) > width(one.sigma_mean_ci95)  # the seed term widens it


# --------------------------------------------------------------------------- the contract


def test_the_contract_accepts_each_form_and_refuses_broken_ones_clearly():
    mu = np.linspace(13.6, 15.0, 5)
    point, dist = check_output(Prediction(mu, np.full(5, 0.1)), 5)
    assert np.array_equal(point, mu) and dist is not None and dist.kind == "gaussian"
    point, dist = check_output(Prediction(samples=mu[:, None] + np.array([[-0.1, 0.1]])), 5)
    assert np.allclose(point, mu) and np.allclose(dist.mean, mu)
    assert check_output(mu, 5)[1] is None and np.array_equal(check_predictions(Prediction(mu, mu * 0 + 0.1), 5), mu)
    for bad, words in [
        (Prediction(mu, np.full(5, -0.1)), "sigma has 5 values <= 0"),
        (Prediction(mu, np.full(4, 0.1)), "shape (4,) for 5 test clusters"),
        (Prediction(mu, np.full(5, np.nan)), "NaN or infinite"),
        (Prediction(mu, quantiles={0.84: mu - 0.1, 0.16: mu + 0.1}), "quantiles must be ordered"),
        (Prediction(samples=mu[:, None]), "k >= 2"),
        (Prediction(mu), "exactly one of sigma"),
        (Prediction(10**mu, np.full(5, 0.1)), "a Prediction whose mean has 5 of 5 values outside the plausible"),
    ]:
        with pytest.raises(ContractError) as exc:
            check_output(bad, 5)
        assert words in str(exc.value), str(exc.value)


def test_stored_distributions_are_checked_again_and_records_round_trip():
    mu = np.linspace(13.6, 15.0, 4)
    good = Prediction(mu, quantiles={0.16: mu - 0.1, 0.84: mu + 0.1}).to_json()
    assert stored_distribution(mu, good, 4) == good
    assert stored_distribution(mu, None, 4) is None
    for bad in ({"kind": "gaussian", "sigma": [0.1, 0.1, 0.1, -1]}, {"kind": "nonsense"}, [1, 2], {"kind": "samples"}):
        with pytest.raises(ContractError):
            stored_distribution(mu, bad, 4)
    rec = UnitRecord("x", "x", {}, 0, "h", 1, [], 1, 1, 4, 0.0, status="ok", prediction=mu.tolist(), distribution=good)
    d = rec.to_json()
    assert list(d).index("distribution") == list(d).index("prediction") + 1
    back = UnitRecord.from_json(json.loads(json.dumps(d)))
    assert back.to_json() == d and back.prediction_object().kind == "quantiles"
    del d["distribution"]  # records of point estimators (and of older versions) have none
    assert UnitRecord.from_json(d).distribution is None and "distribution" not in UnitRecord.from_json(d).to_json()


def test_leaderboard_rows_round_trip_their_probabilistic_scores():
    mean, true, sigma = _synthetic(n=200)
    s = _scores(Prediction(mean, sigma), true)
    row = LeaderboardRow("e", "e", scatter_dex=0.1, probabilistic=s)
    d = json.loads(json.dumps(row.to_json()))
    back = LeaderboardRow.from_json(d)
    assert back.to_json() == d and list(back.to_json()) == list(d)
    assert back.probabilistic is not None and back.probabilistic.reliability[0].nominal == 0.1
    assert "probabilistic" not in LeaderboardRow("p", "p").to_json()


# --------------------------------------------------------------------------- end to end

BENCH = """\
benchmark: prob
version: "1.0"
dataset:
  name: toy
  params: {{n_clusters: 160, seed: 1}}
cv:
{cv}
estimators:
  - name: toy-linear
    label: Point
  - name: prob-gauss
  - name: prob-quantiles
  - name: prob-samples
  - name: prob-negative-sigma
{more}"""
OCTANTS = "  scheme: octants\n  val_fraction: 0.1\n  seed: 0"
RANDOM = "  scheme: random\n  n_folds: 2\n  seed: 0"
PROB = ("prob-gauss", "prob-quantiles", "prob-samples")


def _run(tmp: Path, executor: str, cv: str, more: str = "", **kw) -> Path:
    from massbench.config import parse_benchmark
    from massbench.registry import load_registry
    from massbench.runner import RunOptions, run_benchmark

    from . import probplugin, toyplugin

    reg = load_registry(extra=[toyplugin, probplugin], use_entry_points=False)
    out = tmp / executor
    b = parse_benchmark(textwrap.dedent(BENCH.format(cv=cv, more=more)), str(tmp / "bench.yaml"), reg)
    assert run_benchmark(b, reg, RunOptions(out=out, executor=executor, **kw)) == 1  # the contract breakers fail
    return out


@pytest.fixture(scope="module")
def inline_run(tmp_path_factory):
    more = "  - name: prob-gauss\n    label: gauss-repeats\n    repeats: 2\n  - name: prob-wrong-shape\n"
    return _run(tmp_path_factory.mktemp("inline"), "inline", OCTANTS, more)


def _check_outputs(out: Path, labels=PROB) -> dict[str, dict]:
    rows = {r["label"]: r for r in json.loads((out / "leaderboard.json").read_text())}
    assert rows["Point"]["status"] == "ok" and "probabilistic" not in rows["Point"]
    for lab in labels:
        p = rows[lab]["probabilistic"]
        assert rows[lab]["status"] == "ok" and p["n"] == rows[lab]["n_test"]
        assert 0.45 < p["coverage_68"] < 0.9 and p["crps_dex"] > 0 and 0 <= p["pit_ks"] < 0.3
        assert p["crps_ci95"][0] < p["crps_dex"] < p["crps_ci95"][1] and len(p["pit_histogram"]) == 10
        assert p["kind"] == lab.split("-")[1].replace("gauss", "gaussian")
    assert rows["prob-quantiles"]["probabilistic"]["nll"] is None and rows["prob-gauss"]["probabilistic"]["nll"] < 0
    bad = rows["prob-negative-sigma"]
    assert bad["status"] == "failed" and "Prediction.sigma has" in bad["error"] and "<= 0" in bad["error"]
    rec = json.loads((out / "units" / "prob-negative-sigma" / "fold0.json").read_text())
    assert rec["status"] == "failed" and "sigma is a standard deviation in dex" in rec["error"]
    rec = json.loads((out / "units" / "prob-gauss" / "fold0.json").read_text())
    assert rec["distribution"]["kind"] == "gaussian" and len(rec["distribution"]["sigma"]) == rec["n_test"]
    md = (out / "leaderboard.md").read_text()
    assert "| label | form | NLL | CRPS (dex) | 68% coverage | 95% coverage | PIT KS |" in md
    prob_table = md[md.index("| label | form |") :]
    assert all(f"\n| {lab} | " in prob_table for lab in labels) and "| Point | " not in prob_table
    with open(out / "leaderboard.csv", newline="") as fh:
        lb = {r["label"]: r for r in csv.DictReader(fh)}
    assert lb["Point"]["coverage_68"] == "" and float(lb["prob-gauss"]["coverage_68"]) == pytest.approx(
        rows["prob-gauss"]["probabilistic"]["coverage_68"]
    )
    assert len(lb["prob-gauss"]["crps_ci95"].split(";")) == 2 and lb["prob-samples"]["prob_kind"] == "samples"
    with open(out / "predictions.csv", newline="") as fh:
        preds = list(csv.DictReader(fh))
    point = [p for p in preds if p["label"] == "Point"]
    assert point and all(p["pit"] == "" and p["log10_m500c_sigma"] == "" for p in point)
    for lab in labels:
        mine = [p for p in preds if p["label"] == lab]
        assert mine and all(p["pred_kind"] and 0 <= float(p["pit"]) <= 1 for p in mine)
        assert all(
            float(p["log10_m500c_q16"]) < float(p["log10_m500c_pred"]) < float(p["log10_m500c_q84"]) for p in mine
        )
        cov = np.mean([abs(float(p["pit"]) - 0.5) <= 0.34 for p in mine])
        assert cov == pytest.approx(rows[lab]["probabilistic"]["coverage_68"])
    report = (out / "report.md").read_text()
    assert "## Calibration of the probabilistic estimators" in report
    for lab in labels:
        for name in (f"figures/pit_{lab}.png", f"figures/reliability_{lab}.png"):
            assert f"]({name})" in report and (out / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "pit_Point" not in report
    return rows


def test_every_form_end_to_end_inline(inline_run):
    rows = _check_outputs(inline_run)
    assert "shape (" in rows["prob-wrong-shape"]["error"] and rows["prob-wrong-shape"]["status"] == "failed"
    rep = rows["gauss-repeats"]["probabilistic"]
    assert rep["repeats"] == 2 and rep["seed_std"] is not None  # seed spread as for the point metrics
    assert rep["coverage_68"] == rows["prob-gauss"]["probabilistic"]["coverage_68"]  # fits are deterministic


def test_every_form_end_to_end_in_worker_processes(tmp_path):
    out = _run(tmp_path, "process", RANDOM)
    _check_outputs(out)
    rec = json.loads((out / "units" / "prob-samples" / "fold1.json").read_text())
    assert rec["distribution"]["kind"] == "samples" and len(rec["distribution"]["samples"][0]) == 64
    inline = _run(tmp_path / "again", "inline", RANDOM)  # both executors give the same scores
    a = json.loads((out / "leaderboard.json").read_text())
    b = json.loads((inline / "leaderboard.json").read_text())
    assert [r.get("probabilistic") for r in a] == [r.get("probabilistic") for r in b]


@pytest.mark.slow  # a LocalCluster and 12 worker processes: about 45 s on 2 busy cores
def test_distributions_travel_through_the_dask_executor(tmp_path):
    pytest.importorskip("distributed")
    out = _run(tmp_path, "dask", RANDOM, workers=1)
    _check_outputs(out)
    inline = _run(tmp_path / "again", "inline", RANDOM)
    a = json.loads((out / "leaderboard.json").read_text())
    b = json.loads((inline / "leaderboard.json").read_text())
    assert [r.get("probabilistic") for r in a] == [r.get("probabilistic") for r in b]
    assert (out / "predictions.csv").read_text() == (inline / "predictions.csv").read_text()


def test_html_page_has_the_probabilistic_columns(inline_run, tmp_path):
    from massbench.leaderboard import build_leaderboard
    from massbench.leaderboard_html import TableRows

    lb = build_leaderboard([inline_run], tmp_path / "lb", figures=False)
    page = (lb / "index.html").read_text()
    for heading in ("CRPS (dex) [95% CI]", "68% coverage [95% CI]", "95% coverage [95% CI]", "PIT KS [95% CI]"):
        assert heading in page
    parser = TableRows()
    parser.feed(page)
    rows = {r["label"]: r for r in parser.rows}
    assert rows["Point"]["cov68"] == "" and float(rows["prob-gauss"]["cov68"]) > 0.4
    assert rows["prob-quantiles"]["nll"] == "" and float(rows["prob-samples"]["crps"]) > 0


@pytest.mark.browser
def test_probabilistic_columns_render_and_sort_in_headless_chromium(inline_run, tmp_path):
    from massbench.leaderboard import build_leaderboard

    from .test_leaderboard_html import dump_dom, find_chromium, parse_rows

    browser = find_chromium()
    if browser is None:
        pytest.skip("no headless Chromium found (install Debian's `chromium` package; .ci/run does)")
    lb = build_leaderboard([inline_run], tmp_path / "lb", figures=False)
    page = (lb / "index.html").as_uri()
    dom = dump_dom(browser, page + "#sort=-cov68", tmp_path / "profile")
    assert "68% coverage [95% CI]" in dom and "PIT KS [95% CI]" in dom
    table, rows = parse_rows(dom)
    assert table.get("data-sorted") == "cov68:desc"
    cov = [float(r["cov68"]) for r in rows if r["cov68"]]
    assert len(cov) == 4 and cov == sorted(cov, reverse=True)
    assert all(r["cov68"] == "" for r in rows[len(cov) :])  # point rows stay last


def test_natural_block_has_the_eq6_prior_corrected_bias_of_probabilistic_rows(inline_run):
    """The natural block's prior-corrected bias: eq. 6's shift of each predictive mean, natural weights."""
    from massbench.population import catalogue_weights, prior_corrected_bias

    rows = {r["label"]: r for r in json.loads((inline_run / "leaderboard.json").read_text())}
    assert rows["Point"]["natural"]["prior_corrected_bias_dex"] is None
    with open(inline_run / "predictions.csv", newline="") as fh:
        mine = sorted((p for p in csv.DictReader(fh) if p["label"] == "prob-gauss"), key=lambda p: p["cluster_id"])
    cols = {k: np.array([float(p[k]) for p in mine]) for k in ("log10_m500c_true", "redshift")}
    pred = np.array([float(p["log10_m500c_pred"]) for p in mine])
    sigma = np.array([float(p["log10_m500c_sigma"]) for p in mine])
    w = catalogue_weights(cols["log10_m500c_true"], cols["redshift"])
    assert w is not None
    expected = prior_corrected_bias(pred, sigma, cols["log10_m500c_true"], cols["redshift"], weights=w.weights)
    got = rows["prob-gauss"]["natural"]["prior_corrected_bias_dex"]
    assert got == pytest.approx(expected, abs=1e-6)
    assert got != pytest.approx(rows["prob-gauss"]["natural"]["bias_dex"], abs=1e-6)  # the correction moved it
    assert "eq. 6 prior-corrected (dex)" in (inline_run / "leaderboard.md").read_text()
