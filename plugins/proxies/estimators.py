"""Proxy estimators for the leaderboard: equation 6 of the paper on the fold's training clusters.

Each estimator fits the Evrard et al. (2014) model (:mod:`.model`, eqs. 3-5) per redshift bin on
its training clusters (train and, by default, val: both are training clusters of the fold) and
predicts each test cluster's log10 M500c [h^-1 Msun] with equation 6 in the test cluster's bin.
A test redshift without a training bin uses the nearest bin.

beta (eq. 5), the local slope of the prior mass distribution, is 0 by default: the benchmark's
sample is selected flat in mass, so the prior of a test cluster drawn from it has no slope, and
eq. 6's shift of -beta sigma^2 would only bias every prediction. (Fitting a truncated exponential
to a flattened sample's masses gives beta ~ 0.7 from the edges of the selection, and a bias of
-0.02 to -0.05 dex.) ``beta: fitted`` measures it per redshift bin from the training masses
(:func:`.model.measure_beta`, the earlier default); a number fixes it, e.g. a cosmological
mass-function slope (~1.6 to 2 near 1e14 h^-1 Msun) for a mass-function-shaped sample.

====================== ================================================ =========
estimator              observables                                      idealised
====================== ================================================ =========
proxy-n-phot           N_phot                                           no
proxy-n-phot-500c      N_phot_500c                                      no
proxy-n-gal            N_gal                                            no
proxy-sigma-v          sigma_v                                          no
proxy-realistic        N_gal, sigma_v, N_phot, N_phot_500c              no
proxy-t                T                                                yes
proxy-l-x              L_X                                              yes
proxy-m-gas            M_gas                                            yes
proxy-m-star           M_star                                           yes
proxy-sigma-v-true     sigma_v_true                                     yes
proxy-idealised        T, L_X, M_gas, M_star, sigma_v_true              yes
proxy                  any (``observables`` param)                      if any is
====================== ================================================ =========

The harness marks an estimator idealised when it declares an input flagged idealised. The
estimators deliberately have no ``input_gradients``: the saliency explainer computes the N_phot
proxy's saliency with respect to the photon map analytically (eq. 13), and a gradient with
respect to the scalar input would pre-empt that (``ScalingModel.gradient_log10`` gives d log10 M /
d ln S where it is wanted). The fitted parameters are public: ``estimator.model_`` (a :class:`~.model.ScalingModel`: per-bin
``pi``, ``alpha``, ``cov``, ``beta``, ``sigma2()``), ``estimator.alpha(name)`` and
``estimator.parameters()``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal, Union

import numpy as np

from massbench.catalogue import CatalogueView
from massbench.errors import ConfigError, ContractError, DataError
from massbench.estimator import Estimator
from massbench.prediction import Prediction

from . import observables as obs_names
from .binning import BinScheme
from .model import MIN_PER_BIN_DEFAULT, ScalingModel, fit_scaling_model, log_observables, mu_from_log10

MODEL_FILE = "proxy_model.json"


def parse_beta(beta: Any, name: str) -> float | str:
    """The ``beta`` param: a finite number, or the string 'fitted' (measure it per redshift bin)."""
    if isinstance(beta, str):
        if beta.strip().lower() == "fitted":
            return "fitted"
        try:
            beta = float(beta)
        except ValueError:
            raise ConfigError(f"estimator {name!r}: param 'beta' must be a number or 'fitted', got {beta!r}") from None
    if isinstance(beta, bool) or not isinstance(beta, (int, float)) or not np.isfinite(beta):
        raise ConfigError(f"estimator {name!r}: param 'beta' must be a finite number or 'fitted', got {beta!r}")
    return float(beta)


class ProxyEstimatorBase(Estimator):
    """Equation 6 of the paper with a fixed set of scalar observables (subclasses set ``observables``)."""

    name = ""
    observables: tuple[str, ...] = ()  # observable names (see .observables)
    inputs: tuple[str, ...] = ()  # the matching dataset inputs
    framework = "numpy"
    needs_gpu = False

    def __init__(
        self,
        redshift_bins: str = "snapshot",
        redshift_decimals: int = 4,
        beta: Union[float, Literal["fitted"]] = 0.0,
        min_per_bin: int = MIN_PER_BIN_DEFAULT,
        use_val: bool = True,
    ) -> None:
        """
        redshift_bins : 'snapshot' (one bin per distinct redshift rounded to ``redshift_decimals``),
            'none', an integer N (equal-count bins) or comma-separated edges (see .binning)
        beta : local mass-function slope of eq. 5 (per unit ln M): a number (default 0, unbiased for a
            sample selected flat in mass) or 'fitted' to measure it per redshift bin from the training masses
        min_per_bin : fewest training clusters a redshift bin may have
        use_val : fit on train and val together (both are training clusters of the fold)
        """
        BinScheme.parse(redshift_bins, redshift_decimals)  # fail early on a bad spec
        if min_per_bin < 3:
            raise ConfigError(f"estimator {self.name!r}: min_per_bin must be at least 3, got {min_per_bin}")
        self.redshift_bins = str(redshift_bins)
        self.redshift_decimals = int(redshift_decimals)
        self.beta = parse_beta(beta, self.name)
        self.min_per_bin = int(min_per_bin)
        self.use_val = bool(use_val)
        self.model_: ScalingModel | None = None

    # -- parameters ------------------------------------------------------------------------
    def params(self) -> dict[str, Any]:
        """The constructor params (saved with the model)."""
        return {
            "redshift_bins": self.redshift_bins,
            "redshift_decimals": self.redshift_decimals,
            "beta": self.beta,
            "min_per_bin": self.min_per_bin,
            "use_val": self.use_val,
        }

    def _values(self, view: Any) -> np.ndarray:
        return np.column_stack([np.asarray(view[k], dtype=float).reshape(len(view)) for k in self.inputs])

    # -- contract --------------------------------------------------------------------------
    def fit(self, train: CatalogueView, val: CatalogueView) -> None:
        views = [train] + ([val] if self.use_val and val is not None and len(val) else [])
        values = np.concatenate([self._values(v) for v in views])
        z = np.concatenate([np.asarray(v.redshift, float) for v in views])
        ids = np.concatenate([np.asarray(v.cluster_id) for v in views])
        mu = mu_from_log10(np.concatenate([np.asarray(v.log10_m500c, float) for v in views]))
        source = f"estimator {self.name!r}, training clusters of dataset {getattr(train, 'dataset', '?')!r}"
        bins = BinScheme.parse(self.redshift_bins, self.redshift_decimals).fit(z)
        s = log_observables(values, self.inputs, z, bins, ids, source)
        self.model_ = fit_scaling_model(
            s,
            mu,
            z,
            self.observables,
            bins=bins,
            min_per_bin=self.min_per_bin,
            beta=None if self.beta == "fitted" else self.beta,
            source=source,
        )
        self.model_.scheme = BinScheme.parse(self.redshift_bins, self.redshift_decimals).spec()
        self.context.info["device_used"] = "cpu"
        self.context.info["redshift_bins"] = len(self.model_.fits)
        self.context.progress(epoch=1, total=1)

    def _log_test(self, test: Any) -> np.ndarray:
        assert self.model_ is not None, "fit() or load() first"
        return log_observables(
            self._values(test),
            self.inputs,
            np.asarray(test.redshift, float),
            self.model_.bins,
            np.asarray(test.cluster_id),
            f"estimator {self.name!r}, test clusters",
        )

    def predict(self, test: CatalogueView) -> Prediction:
        """Equations 6-7: the Gaussian predictive of log10 M500c [h^-1 Msun] of each test cluster, in test order.

        ``mean`` is eq. 6's <mu | s> in the cluster's redshift bin (the point prediction, scored as
        before); ``sigma`` [dex] is eq. 7's sqrt(sigma^2_{mu|s}) of that bin, widened by the estimation
        error of the bin's fitted pi and alpha (:meth:`.model.ScalingModel.predict_sigma_mu`), / ln 10.
        """
        s = self._log_test(test)
        z = np.asarray(test.redshift, float)
        assert self.model_ is not None
        mean = self.model_.predict_log10(s, z)
        return Prediction(mean=mean, sigma=self.model_.predict_sigma_dex(mean, z))

    # -- fitted parameters -----------------------------------------------------------------
    def alpha(self, observable: str | None = None) -> np.ndarray:
        """Slope alpha of eq. 3 of one observable (the first when None) in each redshift bin, (n_bins,)."""
        assert self.model_ is not None, "fit() or load() first"
        name = self.observables[0] if observable is None else obs_names.canonical(observable)
        return self.model_.alpha[:, self.model_.columns([name])[0]]

    def bin_redshifts(self) -> np.ndarray:
        """Representative redshift of each fitted bin, (n_bins,)."""
        assert self.model_ is not None, "fit() or load() first"
        return np.asarray(self.model_.bins.redshift, float)

    def parameters(self) -> list[dict[str, Any]]:
        """Per redshift bin: redshift, n_clusters, pi, alpha, C, beta, sigma (eq. 7, ln M) -- JSON-able."""
        assert self.model_ is not None, "fit() or load() first"
        sig2 = self.model_.sigma2()
        return [
            {
                "redshift": f.redshift,
                "n_clusters": f.n_clusters,
                "observables": list(self.observables),
                "pi": f.pi.tolist(),
                "alpha": f.alpha.tolist(),
                "C": f.cov.tolist(),
                "beta": f.beta,
                "sigma": float(np.sqrt(sig2[b])),
            }
            for b, f in enumerate(self.model_.fits)
        ]

    # -- persistence -----------------------------------------------------------------------
    def save(self, directory: Path) -> None:
        assert self.model_ is not None, "fit() first"
        d = Path(directory)
        d.mkdir(parents=True, exist_ok=True)
        (d / MODEL_FILE).write_text(
            json.dumps({"estimator": self.name, "params": self.params(), "model": self.model_.to_dict()}, indent=1)
        )

    @classmethod
    def load(cls, directory: Path) -> "ProxyEstimatorBase":
        path = Path(directory) / MODEL_FILE
        if not path.is_file():
            raise DataError(f"{path}: no saved proxy model here (expected {MODEL_FILE})")
        d = json.loads(path.read_text())
        est = cls(**d["params"])
        est.model_ = ScalingModel.from_dict(d["model"])
        return est


def _fixed(name: str, observables: tuple[str, ...], doc: str) -> type[ProxyEstimatorBase]:
    cls_name = "Proxy" + "".join(p.capitalize() for p in name.split("-")[1:])
    cls = type(
        cls_name,
        (ProxyEstimatorBase,),
        {
            "__doc__": doc,
            "__module__": __name__,
            "__qualname__": cls_name,
            "name": name,
            "observables": observables,
            "inputs": tuple(obs_names.input_key(o) for o in observables),
        },
    )
    return cls


ProxyNPhot = _fixed("proxy-n-phot", ("N_phot",), "N_phot proxy (eq. 6): photons in R_proj <= 2.3 h^-1 Mpc.")
ProxyNPhot500c = _fixed("proxy-n-phot-500c", ("N_phot_500c",), "N_phot,500c proxy (eq. 6): photons in R_proj <= R500c.")
ProxyNGal = _fixed("proxy-n-gal", ("N_gal",), "Richness proxy N_gal (eq. 6).")
ProxySigmaV = _fixed("proxy-sigma-v", ("sigma_v",), "Galaxy velocity dispersion proxy sigma_v,1D (eq. 6).")
ProxyRealistic = _fixed(
    "proxy-realistic",
    ("N_gal", "sigma_v", "N_phot", "N_phot_500c"),
    "All four realistic proxies combined (eq. 6): N_gal, sigma_v, N_phot, N_phot_500c.",
)
ProxyT = _fixed("proxy-t", ("T",), "Idealised temperature proxy T within R500c (eq. 6).")
ProxyLX = _fixed("proxy-l-x", ("L_X",), "Idealised bolometric luminosity proxy L_X within R500c (eq. 6).")
ProxyMGas = _fixed("proxy-m-gas", ("M_gas",), "Idealised gas-mass proxy M_gas within R500c (eq. 6).")
ProxyMStar = _fixed("proxy-m-star", ("M_star",), "Idealised stellar-mass proxy M_star within R500c (eq. 6).")
ProxySigmaVTrue = _fixed(
    "proxy-sigma-v-true",
    ("sigma_v_true",),
    "Idealised 1D velocity dispersion proxy sigma_v,1D,true within R500c (eq. 6).",
)
ProxyIdealised = _fixed(
    "proxy-idealised",
    ("T", "L_X", "M_gas", "M_star", "sigma_v_true"),
    "All five idealised proxies combined (eq. 6): T, L_X, M_gas, M_star, sigma_v_true.",
)


class ProxyAny(ProxyEstimatorBase):
    """Equation 6 with any set of scalar inputs (the ``observables`` param)."""

    name = "proxy"

    def __init__(
        self,
        observables: list[str],
        redshift_bins: str = "snapshot",
        redshift_decimals: int = 4,
        beta: Union[float, Literal["fitted"]] = 0.0,
        min_per_bin: int = MIN_PER_BIN_DEFAULT,
        use_val: bool = True,
    ) -> None:
        """observables : observable names (N_phot, M_gas, ...) or dataset input keys (n_phot, ...); other
        scalar inputs of a dataset are used under their input key. Remaining params as the fixed proxies."""
        if not observables:
            raise ConfigError(
                "estimator 'proxy': param 'observables' must name at least one observable, "
                f"e.g. {list(obs_names.REALISTIC)}"
            )
        names = tuple(obs_names.canonical(o) for o in observables)
        if len(set(names)) != len(names):
            raise ConfigError(f"estimator 'proxy': param 'observables' names an observable twice: {list(observables)}")
        self.observables = names
        self.inputs = tuple(obs_names.input_key(o) for o in names)
        super().__init__(redshift_bins, redshift_decimals, beta, min_per_bin, use_val)

    def params(self) -> dict[str, Any]:
        return {"observables": list(self.observables), **super().params()}

    def fit(self, train: CatalogueView, val: CatalogueView) -> None:
        missing = [k for k in self.inputs if k not in getattr(train, "inputs", self.inputs)]
        if missing:
            raise ContractError(
                f"estimator 'proxy' declares its inputs per instance (from its observables param: "
                f"{list(self.inputs)}), but the training view exposes only {list(train.inputs)}; the runner "
                f"must build the views from the instance's `inputs`"
            )
        super().fit(train, val)


FIXED_PROXIES: tuple[type[ProxyEstimatorBase], ...] = (
    ProxyNPhot,
    ProxyNPhot500c,
    ProxyNGal,
    ProxySigmaV,
    ProxyRealistic,
    ProxyT,
    ProxyLX,
    ProxyMGas,
    ProxyMStar,
    ProxySigmaVTrue,
    ProxyIdealised,
)
ALL_ESTIMATORS: tuple[type[ProxyEstimatorBase], ...] = FIXED_PROXIES + (ProxyAny,)


def fit_proxy(view: Any, observables: list[str] | tuple[str, ...] = ("N_phot",), **params: Any) -> ProxyAny:
    """Fit a proxy model directly on a view with masses (e.g. an explainer's ``train_truth``).

    ``view`` must expose the inputs of ``observables``; returns the fitted :class:`ProxyAny`, whose
    ``model_.relation(name, z)`` gives (pi, alpha, beta, sigma2) of eq. 12 for a redshift.
    """
    est = ProxyAny(list(observables), **params)
    est.fit(view, None)
    return est
