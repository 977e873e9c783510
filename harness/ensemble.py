"""Deep ensembles (Lakshminarayanan et al. 2017): N networks, one Gaussian per test cluster.

Framework-free (numpy only), shared by the estimators that take an ``ensemble: N`` param (the
TensorFlow CNNs and the PyTorch fusion net). Member ``i`` of an ensemble trained in a unit with
seed ``s`` uses :func:`member_seeds` ``(s, N)[i]``: member 0 keeps the unit seed itself (so
``ensemble: 1`` trains exactly the network that a run without the param trains), the others use
seeds derived from ``(s, i)`` with :class:`numpy.random.SeedSequence`.

The members' predictions of log10 M500c [h^-1 Msun] are combined by :func:`combine` into the
Gaussian with the mixture's first two moments (Lakshminarayanan et al. 2017, section 2.4)::

    mean   = (1/N) sum_i mu_i
    sigma^2 = (1/N) sum_i sigma_i^2  +  (1/N) sum_i mu_i^2 - mean^2     [dex^2]

i.e. the mean of the member variances (each member's own predicted noise, for members with a
Gaussian head) plus the variance of the member means (their disagreement, ddof = 0). Point members
contribute only the second term, which needs N >= 2 members.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .errors import ConfigError
from .prediction import Prediction

#: Allowed ensemble sizes (the ``ensemble`` param), inclusive.
ENSEMBLE_RANGE = (1, 20)


def check_ensemble_size(n: Any, who: str) -> int:
    """``n`` as an int in :data:`ENSEMBLE_RANGE`, or a ConfigError naming the estimator ``who``."""
    lo, hi = ENSEMBLE_RANGE
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or not lo <= int(n) <= hi:
        raise ConfigError(
            f"{who}: ensemble must be an integer from {lo} to {hi} (the number of networks of the deep "
            f"ensemble; 1 trains a single network), got {n!r}"
        )
    return int(n)


def member_seeds(seed: int, n: int) -> list[int]:
    """Training seeds of ``n`` ensemble members from the unit seed: ``[seed, s_1, ..., s_{n-1}]``.

    Member 0 keeps ``seed``; member i >= 1 gets ``SeedSequence([seed mod 2^63, i])``'s first 31-bit
    word, so the seeds are distinct, reproducible and independent of ``n`` (member i is the same
    network in an ensemble of 3 and of 5).
    """
    base = int(seed) % 2**63
    out = [int(seed)]
    for i in range(1, int(n)):
        out.append(int(np.random.SeedSequence([base, i]).generate_state(1, dtype=np.uint32)[0] >> 1))
    return out


def combine(means: Any, sigmas: Any = None) -> tuple[np.ndarray, np.ndarray]:
    """Mixture mean and standard deviation [dex] of an ensemble's predictions.

    means : (N, n) member predictions of log10 M500c [h^-1 Msun];
    sigmas : (N, n) member Gaussian standard deviations [dex], or None for point members.
    Returns ``(mean, sigma)``, both (n,). Raises ValueError on bad shapes, and for point members
    when N < 2 (a single point prediction has no spread).
    """
    mu = np.asarray(means, dtype=np.float64)
    if mu.ndim != 2 or mu.shape[0] < 1:
        raise ValueError(f"ensemble means must have shape (N members, n clusters), got {mu.shape}")
    mean = mu.mean(axis=0)
    spread = np.mean((mu - mean) ** 2, axis=0)  # variance of the member means, ddof = 0
    if sigmas is None:
        if mu.shape[0] < 2:
            raise ValueError("an ensemble of point predictions needs at least 2 members for a spread")
        return mean, np.sqrt(spread)
    sig = np.asarray(sigmas, dtype=np.float64)
    if sig.shape != mu.shape:
        raise ValueError(f"ensemble sigmas have shape {sig.shape}, means {mu.shape}; they must match")
    return mean, np.sqrt(np.mean(sig**2, axis=0) + spread)


def ensemble_prediction(means: Any, sigmas: Any = None) -> Prediction:
    """:func:`combine` as a Gaussian :class:`~massbench.Prediction` (mean and sigma in dex)."""
    mean, sigma = combine(means, sigmas)
    return Prediction(mean=mean, sigma=sigma)
