"""Typed records of a run: one :class:`UnitRecord` per (estimator, fold), one :class:`LeaderboardRow` per estimator.

Both serialise to exactly the JSON layout the run directory has always had
(``units/<label>/fold<k>.json`` and the rows of ``leaderboard.json``), so code outside
massbench that reads those files keeps working: :meth:`to_json` writes the same keys in the
same order, optional keys only when set, and keys this version does not know (written by a
newer one, or added by hand) are kept in ``extra`` and written back unchanged.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

if TYPE_CHECKING:
    from .population import PopulationScores

from .scoring import ProbabilisticScores

#: A unit's identity within a run: (estimator label, fold, repeat).
UnitKey = tuple[str, int, int]

#: Leaderboard-row keys of training-seed repeats, lineage intervals and the paired comparison.
SEED_AND_INTERVAL_KEYS = (
    "repeats",
    "scatter_seed_std",
    "bias_seed_std",
    "scatter_ci95_sampling",
    "bias_ci95_sampling",
    "n_groups",
    "vs_best",
)

#: Keys of a unit record written only when they have a value.
_UNIT_OPTIONAL = frozenset(
    {
        "cluster_id",
        "prediction",
        "distribution",
        "train_seconds",
        "predict_seconds",
        "traceback_file",
        "attempts",
        "exit_code",
        "signal",
        "stderr_tail",
        "timeout",
    }
)


@dataclass
class UnitRecord:
    """One finished unit (ok or failed), as written to ``units/<label>/fold<k>.json``.

    ``exit_code``, ``signal``, ``stderr_tail`` and ``timeout`` are set when the unit's worker
    process ended without a result (process and dask executors); ``attempts`` by the dask
    executor when a worker died. ``distribution`` is set when ``predict`` returned a
    :class:`~massbench.Prediction`: its :meth:`~massbench.Prediction.to_json` form (the point
    estimate is ``prediction``); :meth:`prediction_object` rebuilds it.
    """

    label: str
    estimator: str
    params: dict[str, Any]
    fold: int
    config_hash: str
    seed: int
    inputs: list[str]
    n_train: int
    n_val: int
    n_test: int
    started: float
    status: str = "failed"
    error: str | None = None
    cluster_id: list[Any] | None = None
    prediction: list[float] | None = None
    distribution: dict[str, Any] | None = None
    train_seconds: float | None = None
    predict_seconds: float | None = None
    traceback_file: str | None = None
    device_used: str | None = None
    info: dict[str, Any] = field(default_factory=dict)
    attempts: list[dict[str, Any]] | None = None
    exit_code: int | None = None
    signal: str | None = None
    stderr_tail: str | None = None
    timeout: float | None = None
    finished: float | None = None
    repeat: int = 0
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    @property
    def key(self) -> UnitKey:
        return (self.label, self.fold, self.repeat)

    def prediction_object(self) -> Any:
        """The stored :class:`~massbench.Prediction` (None for a point estimator or a failed unit)."""
        if self.distribution is None or self.prediction is None:
            return None
        from .prediction import Prediction

        return Prediction.from_json(self.prediction, self.distribution)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for f in dataclasses.fields(self):
            if f.name == "extra":
                continue
            v = getattr(self, f.name)
            if v is None and f.name in _UNIT_OPTIONAL:
                continue
            if f.name == "repeat" and not v:  # written for repeats after the first only
                continue
            out[f.name] = v
        out.update(self.extra)
        return out

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> "UnitRecord":
        names = {f.name for f in dataclasses.fields(cls)} - {"extra"}
        known = {k: v for k, v in d.items() if k in names}
        known.setdefault("info", {})
        for k, default in (
            ("label", ""),
            ("estimator", ""),
            ("params", {}),
            ("fold", -1),
            ("config_hash", ""),
            ("seed", 0),
            ("inputs", []),
            ("n_train", 0),
            ("n_val", 0),
            ("n_test", 0),
            ("started", 0.0),
        ):
            known.setdefault(k, default)
        known["info"] = known["info"] or {}
        return cls(**known, extra={k: v for k, v in d.items() if k not in names})


@dataclass
class LeaderboardRow:
    """One estimator's line of a leaderboard (a row of ``leaderboard.json``).

    Scores are None for a failed estimator; ``per_fold`` and ``mass_bins`` are present for
    scored rows only, ``run`` on merged leaderboards only. ``repeats`` is the number of
    training-seed repeats averaged (``scatter_seed_std`` their spread, None with one repeat);
    ``scatter_ci95`` combines the lineage bootstrap (``scatter_ci95_sampling``, over ``n_groups``
    lineages) with the seed term (see :mod:`massbench.metrics`). ``vs_best`` is the paired
    comparison with the best-scoring row: {"label", "delta_dex", "ci95", "significant"}.
    ``probabilistic`` holds the scores of an estimator that predicts distributions (NLL, CRPS,
    coverage, PIT, sharpness; :class:`massbench.scoring.ProbabilisticScores`), None otherwise.
    """

    estimator: str
    label: str
    inputs: list[str] = field(default_factory=list)
    framework: str = ""
    idealised: bool = False
    benchmark: str = ""
    version: str = ""
    status: str = "ok"
    error: str | None = None
    n_test: int | None = None
    scatter_dex: float | None = None
    scatter_percent: float | None = None
    bias_dex: float | None = None
    robust_scatter_dex: float | None = None
    scatter_ci95: list[float] | None = None
    bias_ci95: list[float] | None = None
    per_fold: list[dict[str, Any]] | None = None
    mass_bins: list[dict[str, Any]] | None = None
    repeats: int | None = None
    scatter_seed_std: float | None = None
    bias_seed_std: float | None = None
    scatter_ci95_sampling: list[float] | None = None
    bias_ci95_sampling: list[float] | None = None
    n_groups: int | None = None
    vs_best: dict[str, Any] | None = None
    #: metrics on the natural (mass-function) population (massbench.population); None for failed
    #: rows and for rows written before it existed (``leaderboard build`` then computes it)
    natural: "PopulationScores | None" = None
    device_used: str = ""
    train_seconds: float = 0.0
    run: str | None = None
    probabilistic: ProbabilisticScores | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    _OPTIONAL: ClassVar[frozenset[str]] = frozenset({"per_fold", "mass_bins", "run", "vs_best"})
    _SCORES: ClassVar[tuple[str, ...]] = (
        "n_test",
        "scatter_dex",
        "scatter_percent",
        "bias_dex",
        "robust_scatter_dex",
        "scatter_ci95",
        "bias_ci95",
        "per_fold",
        "mass_bins",
        *SEED_AND_INTERVAL_KEYS,
    )

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    def get(self, key: str, default: Any = None) -> Any:
        """The value of a key of the JSON row (a field or an extra key); for code written against dict rows."""
        if key in self.extra:
            return self.extra[key]
        return getattr(self, key, default) if key in _ROW_FIELDS else default

    def to_json(self) -> dict[str, Any]:
        head = ["estimator", "label", "inputs", "framework", "idealised", "benchmark", "version", "status", "error"]
        out: dict[str, Any] = {k: getattr(self, k) for k in head}
        for k in self._SCORES:
            v = getattr(self, k)
            if v is None and (k in self._OPTIONAL):
                continue
            out[k] = v
        if self.natural is not None:
            out["natural"] = self.natural.as_dict()
        out["device_used"] = self.device_used
        out["train_seconds"] = self.train_seconds
        if self.run is not None:
            out["run"] = self.run
        if self.probabilistic is not None:
            out["probabilistic"] = self.probabilistic.to_json()
        out.update(self.extra)
        return out

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> "LeaderboardRow":
        known = {k: v for k, v in d.items() if k in _ROW_FIELDS}
        known.setdefault("estimator", "")
        known.setdefault("label", "")
        if isinstance(known.get("probabilistic"), dict):
            known["probabilistic"] = ProbabilisticScores.from_json(known["probabilistic"])
        elif known.get("probabilistic") is not None:
            known.pop("probabilistic")
        if isinstance(known.get("natural"), dict):
            from .population import PopulationScores

            known["natural"] = PopulationScores.from_dict(known["natural"])
        elif "natural" in known:
            known["natural"] = None
        return cls(**known, extra={k: v for k, v in d.items() if k not in _ROW_FIELDS})


_ROW_FIELDS = frozenset(f.name for f in dataclasses.fields(LeaderboardRow)) - {"extra"}


def as_rows(rows: Any) -> list[LeaderboardRow]:
    """``rows`` as :class:`LeaderboardRow` objects (JSON dicts, as read from a leaderboard.json, are converted)."""
    return [r if isinstance(r, LeaderboardRow) else LeaderboardRow.from_json(r) for r in rows]
