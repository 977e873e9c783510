"""Scalar mass proxies (paper section 3, eqs. 3-7): recovery of a known multivariate log-normal
model, the ``massbench proxies`` command (JSON, errors, figure) and the proxy estimators."""

from __future__ import annotations

import itertools
import json
import math
import pickle
import time
from pathlib import Path

import numpy as np
import pytest

from massbench import Catalogue, InputArray
from massbench.errors import ConfigError, ContractError, DataError, UserError
from massbench.plugins.proxies import observables as obs_names
from massbench.plugins.proxies.binning import BinScheme
from massbench.plugins.proxies.estimators import (
    ALL_ESTIMATORS,
    ProxyAny,
    ProxyIdealised,
    ProxyNPhot,
    ProxyRealistic,
    fit_proxy,
)
from massbench.plugins.proxies.model import (
    LN10,
    fit_scaling_model,
    log_observables,
    measure_beta,
    mu_from_log10,
    subset_sigma2,
)
from massbench.plugins.proxies.report import analyse
from massbench.plugins.proxies.search import best_per_size
from massbench.plugins.proxies.table import table_from_catalogue, table_from_columns
from massbench.prediction import check_prediction

# ----------------------------------------------------------------------------------------------
# generator of a known multivariate log-normal model


def draw_truncated_exponential(rng: np.random.Generator, n: int, beta: float, lo: float, hi: float) -> np.ndarray:
    """mu on [lo, hi] with density proportional to exp(-beta mu) (inverse CDF)."""
    u = rng.random(n)
    if abs(beta) < 1e-12:
        return lo + u * (hi - lo)
    a, b = math.exp(-beta * lo), math.exp(-beta * hi)
    return -np.log(a - u * (a - b)) / beta


def random_covariance(rng: np.random.Generator, sigmas: np.ndarray) -> np.ndarray:
    """A random correlation matrix (with some strong negative and positive entries) scaled by ``sigmas``."""
    p = len(sigmas)
    a = rng.normal(size=(p, p + 2))
    cov = a @ a.T
    d = np.sqrt(np.diag(cov))
    corr = cov / np.outer(d, d)
    return corr * np.outer(sigmas, sigmas)


def make_truth(rng: np.random.Generator, p: int, n_bins: int) -> dict:
    """Per-bin intercepts, slopes and covariances of eq. 3-4 (different in each bin)."""
    base_alpha = rng.uniform(0.3, 1.8, size=p) * rng.choice([1.0, 1.0, -1.0], size=p)
    base_pi = rng.uniform(-2.0, 5.0, size=p)
    sigmas = rng.uniform(0.05, 0.6, size=p)
    truth = {"pi": [], "alpha": [], "cov": []}
    for b in range(n_bins):
        truth["pi"].append(base_pi + 0.1 * b)
        truth["alpha"].append(base_alpha * (1.0 + 0.05 * b))
        truth["cov"].append(random_covariance(rng, sigmas * (1.0 + 0.1 * b)))
    return {k: np.array(v) for k, v in truth.items()}


def draw_sample(
    rng: np.random.Generator,
    truth: dict,
    n_per_bin: int,
    redshifts: list[float],
    beta: float = 0.0,
    mu_range: tuple[float, float] = (-1.2, 2.4),
) -> dict:
    """ln S = pi + alpha mu + N(0, C) per redshift bin; returns columns for a table."""
    p = truth["alpha"].shape[1]
    mus, ss, zs = [], [], []
    for b, z in enumerate(redshifts):
        mu = draw_truncated_exponential(rng, n_per_bin, beta, *mu_range)
        eps = rng.multivariate_normal(np.zeros(p), truth["cov"][b], size=n_per_bin)
        ss.append(truth["pi"][b] + np.outer(mu, truth["alpha"][b]) + eps)
        mus.append(mu)
        zs.append(np.full(n_per_bin, z))
    mu = np.concatenate(mus)
    s = np.concatenate(ss)
    cols = {"cluster_id": np.arange(len(mu)), "M500c": 1e14 * np.exp(mu), "redshift": np.concatenate(zs)}
    for j in range(p):
        cols[f"obs{j}"] = np.exp(s[:, j])
    return cols


def true_sigma2(alpha: np.ndarray, cov: np.ndarray, subset: tuple[int, ...]) -> float:
    """Equation 7 computed directly: (alpha_S^T C_SS^-1 alpha_S)^-1."""
    idx = np.array(subset)
    a = alpha[idx]
    return float(1.0 / (a @ np.linalg.inv(cov[np.ix_(idx, idx)]) @ a))


def as_table(cols: dict, source: str = "generated"):
    from astropy.table import Table

    return table_from_columns(Table(cols), source)


# ----------------------------------------------------------------------------------------------
# model recovery


def test_fit_recovers_slopes_intercepts_and_covariance():
    rng = np.random.default_rng(11)
    z = [0.1, 0.25, 0.4]
    truth = make_truth(rng, p=4, n_bins=3)
    n = 4000
    table = as_table(draw_sample(rng, truth, n, z))
    rep = analyse(table, max_k=1)
    model = rep.model
    assert np.allclose(model.bins.redshift, z)
    assert list(model.n_clusters) == [n] * 3
    mu = mu_from_log10(table.log10_m500c)
    for b, f in enumerate(model.fits):
        m = mu[table.redshift == z[b]]
        sxx = np.sum((m - m.mean()) ** 2)
        c = truth["cov"][b]
        d = np.diag(c)
        se_alpha = np.sqrt(d / sxx)
        se_pi = np.sqrt(d * (1.0 / n + m.mean() ** 2 / sxx))
        se_cov = np.sqrt((np.outer(d, d) + c**2) / n)
        assert np.all(np.abs(f.alpha - truth["alpha"][b]) < 4.5 * se_alpha), (f.alpha, truth["alpha"][b])
        assert np.all(np.abs(f.pi - truth["pi"][b]) < 4.5 * se_pi)
        assert np.all(np.abs(f.cov - c) < 4.5 * se_cov)
        assert np.allclose(f.cov, f.cov.T)


def test_equation7_scatter_recovers_truth_for_singles_and_combinations():
    """Mean over replicate samples of the fitted eq.-7 variance equals the true one within sampling error."""
    rng = np.random.default_rng(5)
    z = [0.07, 0.3]
    truth = make_truth(rng, p=4, n_bins=2)
    subsets = [c for k in range(1, 5) for c in itertools.combinations(range(4), k)]
    names = [tuple(f"obs{j}" for j in c) for c in subsets]
    reps = 40
    est = np.zeros((reps, len(subsets)))
    for r in range(reps):
        table = as_table(draw_sample(rng, truth, 400, z))
        by = {s.observables: s for s in analyse(table, max_k=4).scatters}
        assert len(by) == len(subsets) == 15
        est[r] = [by[nm].sigma_ln ** 2 for nm in names]
    want = np.array([np.mean([true_sigma2(truth["alpha"][b], truth["cov"][b], c) for b in range(2)]) for c in subsets])
    mean = est.mean(axis=0)
    se = est.std(axis=0, ddof=1) / math.sqrt(reps)
    z_scores = (mean - want) / se
    assert np.all(np.abs(z_scores) < 4.0), z_scores
    # and each single replicate is close: relative error of a variance with ~400 clusters per bin
    assert np.all(np.abs(est / want - 1.0) < 0.5)
    # combining observables never increases the scatter (eq. 7 is a Fisher sum)
    for i, c in enumerate(subsets):
        for j, d in enumerate(subsets):
            if set(c) < set(d):
                assert np.all(est[:, j] <= est[:, i] * (1 + 1e-9))


def test_subset_sigma2_matches_direct_inverse_and_single_formula():
    rng = np.random.default_rng(3)
    truth = make_truth(rng, p=5, n_bins=3)
    subsets = np.array(list(itertools.combinations(range(5), 3)))
    got = subset_sigma2(truth["alpha"], truth["cov"], subsets)
    for b in range(3):
        for i, c in enumerate(subsets):
            assert got[b, i] == pytest.approx(true_sigma2(truth["alpha"][b], truth["cov"][b], tuple(c)), rel=1e-10)
    singles = subset_sigma2(truth["alpha"], truth["cov"], np.arange(5)[:, None])
    direct = np.stack([np.diag(truth["cov"][b]) / truth["alpha"][b] ** 2 for b in range(3)])
    assert np.allclose(singles, direct, rtol=1e-12)


def test_measure_beta_recovers_mass_function_slope():
    rng = np.random.default_rng(2)
    for beta in (-0.8, 0.0, 1.0, 2.5):
        mu = draw_truncated_exponential(rng, 20000, beta, -1.0, 2.0)
        se = 1.0 / math.sqrt(20000 * np.var(mu))  # Fisher information of beta is n Var(mu)
        assert measure_beta(mu) == pytest.approx(beta, abs=4.5 * se)
    assert measure_beta(np.array([0.5, 0.5, 0.5])) == 0.0


def test_equation6_prediction_is_calibrated_against_truth():
    """With a mass-function-shaped sample, eq. 6's mean is the posterior mean: E[mu_true | mu_pred] = mu_pred."""
    rng = np.random.default_rng(8)
    truth = make_truth(rng, p=3, n_bins=1)
    beta = 1.5
    train = draw_sample(rng, truth, 30000, [0.2], beta=beta, mu_range=(-4.0, 5.0))
    test = draw_sample(rng, truth, 30000, [0.2], beta=beta, mu_range=(-4.0, 5.0))
    names = ("obs0", "obs1", "obs2")
    tr = as_table(train)
    te = as_table(test)
    bins = BinScheme.parse("snapshot").fit(tr.redshift)
    model = fit_scaling_model(
        log_observables(tr.values, names, tr.redshift, bins),
        mu_from_log10(tr.log10_m500c),
        tr.redshift,
        names,
        bins=bins,
    )
    assert model.beta[0] == pytest.approx(beta, abs=0.05)
    mu_pred = model.predict_mu(np.log(te.values), te.redshift)
    mu_true = mu_from_log10(te.log10_m500c)
    sig = math.sqrt(model.sigma2()[0])
    central = (mu_pred > -2.0) & (mu_pred < 3.0)  # away from the truncation edges of the prior
    resid = mu_true[central] - mu_pred[central]
    assert abs(resid.mean()) < 5 * sig / math.sqrt(central.sum())
    assert resid.std() == pytest.approx(sig, rel=0.03)
    slope = np.polyfit(mu_pred[central], mu_true[central], 1)[0]
    assert slope == pytest.approx(1.0, abs=0.01)
    # without the beta term (beta = 0 imposed) the predictions are biased high by beta sigma^2
    flat = fit_scaling_model(
        log_observables(tr.values, names, tr.redshift, bins),
        mu_from_log10(tr.log10_m500c),
        tr.redshift,
        names,
        bins=bins,
        beta=0.0,
    )
    shift = np.mean(flat.predict_mu(np.log(te.values), te.redshift) - mu_pred)
    assert shift == pytest.approx(beta * sig**2, rel=0.05)


def test_exhaustive_fit_of_nine_observables_is_fast():
    """All 255 sets of up to 4 of 9 observables on 3,285 clusters in 11 bins, in under 2 s."""
    rng = np.random.default_rng(1)
    z = [0.06634, 0.10114, 0.13708, 0.17419, 0.21252, 0.25209, 0.29295, 0.33515, 0.37873, 0.42373, 0.47019]
    truth = make_truth(rng, p=9, n_bins=11)
    cols = draw_sample(rng, truth, 299, z)
    keep = np.arange(len(cols["M500c"])) < 3285
    table = as_table({k: v[keep] for k, v in cols.items()})
    assert len(table) == 3285 and len(table.observables) == 9
    t0 = time.perf_counter()
    rep = analyse(table, max_k=4)
    out = rep.to_json()
    elapsed = time.perf_counter() - t0
    assert len(out) == 9 + 36 + 84 + 126
    assert elapsed < 2.0, f"exhaustive proxy search took {elapsed:.2f} s"


# ----------------------------------------------------------------------------------------------
# the command


def _app():
    import typer

    from massbench.plugins.proxies import plugin

    app = typer.Typer()

    @app.callback()
    def main() -> None:  # a group, so that `proxies` is a sub-command as under `massbench`
        pass

    plugin.massbench_register_commands(app)
    return app


def _invoke(args: list[str]):
    from typer.testing import CliRunner

    return CliRunner().invoke(_app(), args)


def _mock_like_table(rng: np.random.Generator, n_per_bin: int = 60) -> dict:
    """Columns named like Table 2, 3 snapshot redshifts."""
    names = list(obs_names.BY_NAME)
    truth = make_truth(rng, p=len(names), n_bins=3)
    cols = draw_sample(rng, truth, n_per_bin, [0.06634, 0.17419, 0.47019])
    return {
        **{k: cols[k] for k in ("cluster_id", "M500c", "redshift")},
        **{n: cols[f"obs{j}"] for j, n in enumerate(names)},
    }


@pytest.mark.parametrize("suffix", [".fits", ".ecsv", ".csv"])
def test_cli_json_format(tmp_path: Path, suffix: str):
    from astropy.table import Table

    rng = np.random.default_rng(4)
    path = tmp_path / f"obs{suffix}"
    Table(_mock_like_table(rng)).write(path)
    res = _invoke(["proxies", str(path), "--json", "--max-combination", "2"])
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    assert isinstance(data, list) and len(data) == 9 + 36
    keys = {"observables", "scatter_dex", "scatter_percent", "per_bin"}
    assert all(keys <= set(e) for e in data)
    dex = [e["scatter_dex"] for e in data]
    assert dex == sorted(dex)
    for e in data:
        assert e["scatter_percent"] == pytest.approx(100 * LN10 * e["scatter_dex"], rel=1e-12)
        assert [b["redshift"] for b in e["per_bin"]] == [0.06634, 0.17419, 0.47019]
        assert all(b["n_clusters"] == 60 for b in e["per_bin"])
        var = np.mean([(b["scatter_dex"]) ** 2 for b in e["per_bin"]])
        assert e["scatter_dex"] == pytest.approx(math.sqrt(var), rel=1e-12)
    singles = {tuple(e["observables"]) for e in data if len(e["observables"]) == 1}
    assert singles == {(n,) for n in obs_names.BY_NAME}
    # id, mass and redshift are not observables
    assert not any({"cluster_id", "M500c", "redshift"} & set(e["observables"]) for e in data)


def test_cli_observables_option_table_and_plot(tmp_path: Path):
    from astropy.table import Table

    rng = np.random.default_rng(6)
    path = tmp_path / "obs.fits"
    Table(_mock_like_table(rng)).write(path)
    res = _invoke(["proxies", str(path), "--json", "--observables", "M_gas,N_phot,n_gal", "-k", "3"])
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    assert len(data) == 7
    assert {o for e in data for o in e["observables"]} == {"M_gas", "N_phot", "N_gal"}
    res = _invoke(["proxies", str(path), "--plot", str(tmp_path / "fig"), "--plot-z", "0.2"])
    assert res.exit_code == 0, res.output
    png = tmp_path / "fig" / "proxies_residual_correlation.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    for title in ("idealised", "realistic", "best idealised sets", "best realistic sets", "N_phot_500c"):
        assert title in res.stdout


def test_cli_errors_name_column_bin_and_count(tmp_path: Path):
    from astropy.table import Table

    rng = np.random.default_rng(9)
    cols = _mock_like_table(rng)
    bad = dict(cols)
    ng = bad["N_gal"].copy()
    ng[[3, 5]] = 0.0  # both in the first bin (z = 0.06634)
    ng[150] = np.nan  # third bin
    bad["N_gal"] = ng
    path = tmp_path / "bad.ecsv"
    Table(bad).write(path)
    res = _invoke(["proxies", str(path), "--json"])
    assert isinstance(res.exception, DataError)
    msg = str(res.exception)
    assert "'N_gal'" in msg and "3 non-positive or NaN" in msg
    assert "2 in z=0.0663" in msg and "1 in z=0.4702" in msg and "cluster id 3" in msg

    res = _invoke(["proxies", str(path), "--observables", "T,N_star"])
    assert isinstance(res.exception, DataError) and "'N_star'" in str(res.exception)

    nomass = {k: v for k, v in cols.items() if k != "M500c"}
    Table(nomass).write(tmp_path / "nomass.fits")
    res = _invoke(["proxies", str(tmp_path / "nomass.fits")])
    assert isinstance(res.exception, DataError) and "missing column 'M500c'" in str(res.exception)

    few = {k: np.concatenate([v, v[:4]]) for k, v in cols.items()}
    few["redshift"][-4:] = 0.9
    few["cluster_id"] = np.arange(len(few["cluster_id"]))
    Table(few).write(tmp_path / "few.csv")
    res = _invoke(["proxies", str(tmp_path / "few.csv"), "--observables", "T,L_X"])
    assert isinstance(res.exception, DataError)
    msg = str(res.exception)
    assert "z=0.9000 has 4 clusters" in msg and "at least 10" in msg

    res = _invoke(["proxies", str(tmp_path / "nope.fits")])
    assert res.exit_code != 0 and "no such file" in str(res.exception)
    res = _invoke(["proxies", str(tmp_path / "few.csv"), "--z-bins", "0.3,0.1"])
    assert isinstance(res.exception, ConfigError)
    res = _invoke(["proxies", str(tmp_path / "few.csv"), "-k", "0"])
    assert isinstance(res.exception, ConfigError)


def test_binning_schemes_and_nearest_bin():
    z = np.array([0.1, 0.1, 0.2, 0.2, 0.45])
    snap = BinScheme.parse("snapshot").fit(z)
    assert list(snap.redshift) == [0.1, 0.2, 0.45]
    assert list(snap.assign(np.array([0.1, 0.16, 0.3, 0.9, 0.100004]))) == [0, 1, 1, 2, 0]
    edges = BinScheme.parse("0.0,0.15,0.5").fit(z)
    assert len(edges) == 2 and list(edges.assign(np.array([-1.0, 0.14, 0.15, 3.0]))) == [0, 0, 1, 1]
    q = BinScheme.parse("2").fit(np.linspace(0, 1, 100))
    assert np.bincount(q.assign(np.linspace(0, 1, 100))).tolist() == [50, 50]
    assert len(BinScheme.parse("none").fit(z)) == 1
    with pytest.raises(ConfigError):
        BinScheme.parse("abc")


def test_best_per_size_and_kinds():
    rng = np.random.default_rng(12)
    table = table_from_columns(__import__("astropy.table").table.Table(_mock_like_table(rng, 80)), "t")
    rep = analyse(table, max_k=3)
    ideal = best_per_size(rep.scatters, kind="idealised")
    assert [len(c.observables) for c in ideal] == [2, 3]
    assert all(obs_names.kind(o) == "idealised" for c in ideal for o in c.observables)
    allbest = best_per_size(rep.scatters)
    for c in allbest:
        k = len(c.observables)
        assert c.sigma_ln == min(s.sigma_ln for s in rep.scatters if len(s.observables) == k)
    assert [t for t, _ in rep.sections()][:2] == ["idealised", "realistic"]


# ----------------------------------------------------------------------------------------------
# estimators


def _catalogue(rng: np.random.Generator, n_per_bin: int = 200, beta: float = 0.0) -> Catalogue:
    names = list(obs_names.BY_NAME)
    truth = make_truth(rng, p=len(names), n_bins=3)
    cols = draw_sample(rng, truth, n_per_bin, [0.06634, 0.17419, 0.47019], beta=beta)
    n = len(cols["M500c"])
    inputs = {
        obs_names.BY_NAME[nm].input: InputArray(cols[f"obs{j}"], idealised=obs_names.BY_NAME[nm].idealised)
        for j, nm in enumerate(names)
    }
    inputs["r500c"] = InputArray(np.ones(n), truth_only=True)
    return Catalogue(
        "gen", cols["cluster_id"], rng.uniform(0, 100, (n, 3)), 100.0, cols["redshift"], np.log10(cols["M500c"]), inputs
    )


def test_estimators_declare_inputs_and_params_check():
    from massbench.params import check_params

    names = {c.name for c in ALL_ESTIMATORS}
    assert names == {
        "proxy-n-phot",
        "proxy-n-phot-500c",
        "proxy-n-gal",
        "proxy-sigma-v",
        "proxy-realistic",
        "proxy-t",
        "proxy-l-x",
        "proxy-m-gas",
        "proxy-m-star",
        "proxy-sigma-v-true",
        "proxy-idealised",
        "proxy",
    }
    assert ProxyNPhot.inputs == ("n_phot",)
    assert set(ProxyRealistic.inputs) == {"n_gal", "sigma_v", "n_phot", "n_phot_500c"}
    assert set(ProxyIdealised.inputs) == {"T", "L_X", "M_gas", "M_star", "sigma_v_true"}
    assert check_params(ProxyNPhot, {"redshift_bins": "4", "beta": 1.7, "min_per_bin": 20}) == []
    assert check_params(ProxyNPhot, {"beta": "x"}) != []
    assert check_params(ProxyAny, {"observables": ["N_phot", "n_gal"]}) == []
    assert any("required" in p for p in check_params(ProxyAny, {}))
    for cls in ALL_ESTIMATORS:  # picklable for distributed executors
        assert pickle.loads(pickle.dumps(cls)) is cls


def test_estimator_fit_predict_save_load(tmp_path: Path):
    rng = np.random.default_rng(21)
    cat = _catalogue(rng)
    n = len(cat)
    order = rng.permutation(n)
    tr, va, te = order[: n // 2], order[n // 2 : 3 * n // 4], order[3 * n // 4 :]
    est = ProxyRealistic()
    train = cat.view(tr, est.inputs, "train")
    val = cat.view(va, est.inputs, "val")
    test = cat.view(te, est.inputs, "test")
    est.fit(train, val)
    assert est.context.info["device_used"] == "cpu"
    dist = check_prediction(est.predict(test), len(te))
    pred = dist.mean
    assert np.all(np.isfinite(pred)) and not test.mass_read
    resid = pred - cat.log10_m500c[te]
    sigma_dex = np.sqrt(np.mean(est.model_.sigma2())) / LN10
    assert abs(resid.mean()) < 5 * sigma_dex / math.sqrt(len(te)) + 0.02
    assert resid.std() == pytest.approx(sigma_dex, rel=0.25)
    assert est.alpha("N_gal").shape == (3,)
    params = est.parameters()
    assert len(params) == 3 and {"pi", "alpha", "C", "beta", "sigma", "redshift"} <= set(params[0])
    est.save(tmp_path / "m")
    again = ProxyRealistic.load(tmp_path / "m")
    assert np.array_equal(again.predict(test).mean, pred)
    assert np.array_equal(again.predict(test).sigma, dist.sigma)
    assert again.params() == est.params()

    anyp = ProxyAny(["N_phot"], min_per_bin=20)
    anyp.fit(cat.view(tr, anyp.inputs, "train"), None)
    single = ProxyNPhot(min_per_bin=20)
    single.fit(cat.view(tr, single.inputs, "train"), None)
    assert np.allclose(
        anyp.predict(cat.view(te, ("n_phot",), "test")).mean, single.predict(cat.view(te, ("n_phot",), "test")).mean
    )
    anyp.save(tmp_path / "any")
    assert ProxyAny.load(tmp_path / "any").observables == ("N_phot",)
    rel = anyp.model_.relation("N_phot", 0.17)
    assert rel["alpha"] == pytest.approx(anyp.alpha()[1]) and rel["redshift"] == pytest.approx(0.17419)
    viaf = fit_proxy(cat.view(tr, None, "truth"), ["N_phot"])
    assert np.allclose(viaf.alpha(), anyp.alpha())


def test_model_gradient_and_unseen_redshift():
    rng = np.random.default_rng(22)
    cat = _catalogue(rng, n_per_bin=100)
    est = ProxyRealistic()
    est.fit(cat.view(np.arange(len(cat)), est.inputs, "train"), None)
    # no input_gradients: the saliency explainer treats the N_phot proxy analytically (eq. 13)
    assert not hasattr(est, "input_gradients")
    view = cat.view(np.arange(5), est.inputs, "test")
    s = np.log(np.column_stack([view[k] for k in est.inputs]))
    z = view.redshift
    grad = est.model_.gradient_log10(s, z)
    h = 1e-6
    for j in range(s.shape[1]):
        bumped = s.copy()
        bumped[:, j] += h
        fd = (est.model_.predict_log10(bumped, z) - est.model_.predict_log10(s, z)) / h
        assert np.allclose(fd, grad[:, j], rtol=1e-4, atol=1e-8)
    # a test cluster at an unseen redshift uses the nearest bin
    sub = cat.subset(np.arange(3))
    sub.redshift[:] = [0.0, 0.3, 0.8]
    got = est.predict(sub.view(np.arange(3), est.inputs, "test"))
    ref = cat.subset(np.arange(3))
    ref.redshift[:] = [0.06634, 0.17419, 0.47019]
    want = est.predict(ref.view(np.arange(3), est.inputs, "test"))
    assert np.allclose(got.mean, want.mean) and np.allclose(got.sigma, want.sigma)


def test_estimator_errors_name_cluster_and_bin():
    rng = np.random.default_rng(23)
    cat = _catalogue(rng, n_per_bin=30)
    cat.inputs["n_phot"].data[7] = 0.0
    est = ProxyNPhot()
    with pytest.raises(DataError, match=r"'n_phot' has 1 non-positive.*z=0\.0663.*cluster id 7"):
        est.fit(cat.view(np.arange(len(cat)), est.inputs, "train"), None)
    est = ProxyIdealised(min_per_bin=40)
    with pytest.raises(DataError, match=r"z=0\.0663 has 30 clusters.*at least 40"):
        est.fit(cat.view(np.arange(len(cat)), est.inputs, "train"), None)
    with pytest.raises(ConfigError):
        ProxyAny([])
    anyp = ProxyAny(["N_phot"])
    with pytest.raises(ContractError, match="instance's `inputs`"):
        anyp.fit(cat.view(np.arange(len(cat)), (), "train"), None)
    with pytest.raises(ConfigError):
        ProxyNPhot(redshift_bins="x")


def test_catalogue_to_table_uses_observable_names():
    rng = np.random.default_rng(24)
    cat = _catalogue(rng, n_per_bin=20)
    t = table_from_catalogue(cat, "cat")
    assert t.observables == tuple(obs_names.BY_NAME)  # Table 2 order, canonical names; truth-only r500c left out
    t2 = table_from_catalogue(cat, "cat", ["n_phot", "M_gas"])
    assert t2.observables == ("N_phot", "M_gas")
    assert np.allclose(t2.values[:, 0], cat.inputs["n_phot"].data)
    with pytest.raises(DataError, match="r500c"):
        table_from_catalogue(cat, "cat", ["r500c"])


def test_read_observables_from_dataset_name_and_directory(tmp_path: Path):
    import types

    from massbench import hookimpl
    from massbench.plugins.proxies.table import read_observables
    from massbench.registry import load_registry

    rng = np.random.default_rng(25)
    cat = _catalogue(rng, n_per_bin=20)

    class GenDataset:
        name = "gen-proxies-test"

        def __init__(self, path: str = "") -> None:
            self.path = path

        def load(self, context):
            return cat

    mod = types.SimpleNamespace(massbench_datasets=hookimpl(lambda: [GenDataset]))
    reg = load_registry(extra=[mod], use_entry_points=False)
    t = read_observables("gen-proxies-test", ["N_phot", "M_gas"], registry=reg)
    assert t.observables == ("N_phot", "M_gas") and len(t) == len(cat)
    assert np.allclose(np.log10(t.m500c), cat.log10_m500c)
    d = read_observables(tmp_path, None, registry=reg, directory_dataset="gen-proxies-test")
    assert d.observables == tuple(obs_names.BY_NAME)
    with pytest.raises(UserError, match="not a dataset name"):
        read_observables("no-such-dataset", None, registry=reg)


def test_proxy_estimators_in_a_benchmark_run(tmp_path: Path):
    """The harness runs the proxies on octant folds: fitted on training folds, idealised ones flagged."""
    import types

    from massbench import hookimpl
    from massbench.config import parse_benchmark
    from massbench.plugins.proxies import plugin as proxies_plugin
    from massbench.registry import load_registry
    from massbench.runner import RunOptions, run_benchmark

    class GenCatalogue:
        name = "gen-proxies-bench"

        def __init__(self, seed: int = 0) -> None:
            self.seed = seed

        def load(self, context):
            return _catalogue(np.random.default_rng(self.seed), n_per_bin=120)

    data = types.SimpleNamespace(massbench_datasets=hookimpl(lambda: [GenCatalogue]))
    reg = load_registry(extra=[data, proxies_plugin], use_entry_points=False)
    bench = parse_benchmark(
        """\
benchmark: proxies-test
version: "1.0"
dataset: {name: gen-proxies-bench, params: {seed: 3}}
cv: {scheme: octants, val_fraction: 0.1, seed: 0}
estimators:
  - name: proxy-n-phot
  - name: proxy-realistic
  - name: proxy-idealised
""",
        "bench.yaml",
        reg,
    )
    out = tmp_path / "res"
    assert run_benchmark(bench, reg, RunOptions(out=out)) == 0
    rows = {r["estimator"]: r for r in json.loads((out / "leaderboard.json").read_text())}
    assert all(rows[n]["status"] == "ok" for n in ("proxy-n-phot", "proxy-realistic", "proxy-idealised"))
    assert rows["proxy-idealised"]["idealised"] and not rows["proxy-realistic"]["idealised"]
    assert rows["proxy-realistic"]["scatter_dex"] < rows["baseline-mean"]["scatter_dex"]
    saved = ProxyRealistic.load(out / "models" / "proxy-realistic" / "fold0")
    assert saved.model_ is not None and len(saved.model_.fits) == 3


# ----------------------------------------------------------------------------------------------
# the predictive distribution (eqs. 6-7; issue 19)


def test_predictive_mean_is_the_point_prediction_and_sigma_is_equation_7():
    """With beta 0 the Gaussian's mean is exactly eq. 6's point prediction; sigma is eq. 7 per bin,
    widened only by the 1/n parameter-error term, in dex."""
    rng = np.random.default_rng(31)
    cat = _catalogue(rng, n_per_bin=150)
    n = len(cat)
    order = rng.permutation(n)
    tr, te = order[: 2 * n // 3], order[2 * n // 3 :]
    est = ProxyRealistic()
    est.fit(cat.view(tr, est.inputs, "train"), None)
    test = cat.view(te, est.inputs, "test")
    dist = check_prediction(est.predict(test), len(te))
    s = np.log(np.column_stack([test[k] for k in est.inputs]))
    point = est.model_.predict_log10(s, test.redshift)
    assert np.array_equal(dist.mean, point)  # bit-identical to the point estimate (beta: 0)
    idx = est.model_.bins.assign(test.redshift)
    eq7 = np.sqrt(est.model_.sigma2()[idx]) / LN10
    ratio = dist.sigma / eq7
    # sqrt(nu / (nu - p + 1) ((nu - 1) / (nu - p) + 1/n + (mu - mu_bar)^2 / S_mumu)), n = 100 per bin, p = 4
    assert np.all(ratio > math.sqrt(98 / 95 * 97 / 94)) and np.all(ratio < 1.12)
    f = est.model_.fits[int(idx[0])]
    mu = mu_from_log10(point[0])
    nu = f.n_clusters - 2
    want = math.sqrt(
        est.model_.sigma2()[idx[0]]
        * nu
        / (nu - 4 + 1)
        * ((nu - 1) / (nu - 4) + 1 / f.n_clusters + (mu - f.mu_mean) ** 2 / (f.n_clusters * f.mu_var))
    )
    assert dist.sigma[0] == pytest.approx(want / LN10, rel=1e-12)
    # a model saved before mu_mean/mu_var were stored leaves out the parameter term only
    legacy = est.model_.to_dict()
    for fit in legacy["fits"]:
        del fit["mu_mean"], fit["mu_var"]
    from massbench.plugins.proxies.model import ScalingModel

    old = ScalingModel.from_dict(json.loads(json.dumps(legacy)))
    nus = np.array([fb.n_clusters - 2 for fb in est.model_.fits])[idx]
    wishart = nus / (nus - 3) * (nus - 1) / (nus - 4)
    assert np.allclose(old.predict_sigma_dex(point, test.redshift), eq7 * np.sqrt(wishart), rtol=1e-12)


@pytest.mark.parametrize("beta", [0.0, 1.5])
def test_predictive_intervals_are_calibrated_on_the_known_model(beta: float):
    """On clusters drawn from the model itself, the 68 % and 95 % intervals cover 68 % and 95 %
    (away from the prior's truncation edges); beta 0 for a flat sample, the true beta for a sloped one."""
    rng = np.random.default_rng(32)
    sig = np.array([0.25, 0.3, 0.4])  # ln S scatter at fixed mass: sigma_{mu|s} ~ 0.2, far below the prior's width
    truth = {
        "pi": np.array([[1.0, 2.0, -1.0], [1.2, 2.1, -0.8]]),
        "alpha": np.array([[1.0, 0.6, -0.9], [1.1, 0.7, -1.0]]),
        "cov": np.stack([random_covariance(rng, sig), random_covariance(rng, 1.2 * sig)]),
    }
    zs = [0.1, 0.3]
    # many training clusters: the fitted parameters' error is shared by every test cluster (one draw of it
    # shifts them all), so it must be small here for the coverage to measure eq. 7 itself
    cols_tr = draw_sample(rng, truth, 5000, zs, beta=beta, mu_range=(-3.0, 3.0))
    cols_te = draw_sample(rng, truth, 20000, zs, beta=beta, mu_range=(-3.0, 3.0))
    names = ("obs0", "obs1", "obs2")

    def catalogue(cols: dict) -> Catalogue:
        n = len(cols["M500c"])
        inputs = {nm: InputArray(cols[nm]) for nm in names}
        return Catalogue(
            "gen", cols["cluster_id"], np.zeros((n, 3)), 100.0, cols["redshift"], np.log10(cols["M500c"]), inputs
        )

    train, test = catalogue(cols_tr), catalogue(cols_te)
    est = ProxyAny(list(names), beta=beta)
    est.fit(train.view(np.arange(len(train)), est.inputs, "train"), None)
    dist = check_prediction(est.predict(test.view(np.arange(len(test)), est.inputs, "test")), len(test))
    mu_pred = mu_from_log10(dist.mean)
    central = (mu_pred > -1.5) & (mu_pred < 1.5)  # > 6 sigma from the prior's truncation edges
    z = (test.log10_m500c[central] - dist.mean[central]) / dist.sigma[central]
    assert central.sum() > 3000
    assert np.mean(np.abs(z) < 1.0) == pytest.approx(0.6827, abs=0.02)
    assert np.mean(np.abs(z) < 1.96) == pytest.approx(0.95, abs=0.012)


def test_predictive_variance_accounts_for_small_training_samples():
    """Fitted on 30 clusters with 4 observables, the mean squared error of eq. 6 over many training
    draws matches the mean predicted variance; eq. 7 alone is about 25 % low here (the estimated C's
    bias nu / (nu - p + 1), its weights' loss (nu - 1) / (nu - p), and pi and alpha's error)."""
    rng = np.random.default_rng(33)
    sig = np.array([0.3, 0.35, 0.4, 0.5])
    truth = {
        "pi": np.array([[1.0, 2.0, -1.0, 0.5]]),
        "alpha": np.array([[1.0, 0.6, -0.9, 1.4]]),
        "cov": np.stack([random_covariance(rng, sig)]),
    }
    names = ("obs0", "obs1", "obs2", "obs3")
    mse, var_pred, var_eq7 = [], [], []
    for _ in range(300):
        tr = draw_sample(rng, truth, 30, [0.2], mu_range=(-6.0, 6.0))
        te = draw_sample(rng, truth, 100, [0.2], mu_range=(-2.0, 2.0))
        s_tr, s_te = (np.log(np.column_stack([c[n] for n in names])) for c in (tr, te))
        model = fit_scaling_model(s_tr, np.log(tr["M500c"] / 1e14), tr["redshift"], names, beta=0.0)
        mu_pred = model.predict_mu(s_te, te["redshift"])
        mse.append(np.mean((np.log(te["M500c"] / 1e14) - mu_pred) ** 2))
        var_pred.append(np.mean(model.predict_sigma_mu(mu_pred, te["redshift"]) ** 2))
        var_eq7.append(model.sigma2()[0])
    assert np.mean(var_pred) == pytest.approx(np.mean(mse), rel=0.04)
    assert np.mean(var_eq7) < 0.85 * np.mean(mse)
