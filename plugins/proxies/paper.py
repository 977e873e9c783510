"""Published reference values: the proxy rows of the paper's Table 3 (Ho et al.), for side-by-side display.

Scatter of M500c in dex and percent (100 ln 10 x dex), keyed by the set of observable names
of :mod:`.observables`. The paper's text adds Y_X = {M_gas, T} at about 5.1 % (no dex value given).
These are the paper's numbers on Magneticum, not results of massbench.
"""

from __future__ import annotations

from typing import Iterable

TABLE3: dict[frozenset[str], tuple[float, float]] = {
    frozenset({"T"}): (0.0510, 11.75),
    frozenset({"L_X"}): (0.1144, 26.33),
    frozenset({"M_gas"}): (0.0367, 8.46),
    frozenset({"M_star"}): (0.0545, 12.56),
    frozenset({"sigma_v_true"}): (0.1631, 37.56),
    frozenset({"N_gal"}): (0.1725, 39.72),
    frozenset({"sigma_v"}): (0.3057, 70.39),
    frozenset({"N_phot"}): (0.1738, 40.02),
    frozenset({"N_phot_500c"}): (0.1479, 34.07),
    frozenset({"M_gas", "M_star"}): (0.0214, 4.93),
    frozenset({"T", "M_gas", "M_star"}): (0.0176, 4.06),
    frozenset({"T", "L_X", "M_gas", "M_star"}): (0.0170, 3.90),
    frozenset({"T", "L_X", "M_gas", "M_star", "sigma_v_true"}): (0.0169, 3.90),
    frozenset({"N_gal", "N_phot_500c"}): (0.1252, 28.82),
    frozenset({"N_gal", "sigma_v", "N_phot_500c"}): (0.1198, 27.59),
    frozenset({"N_gal", "sigma_v", "N_phot", "N_phot_500c"}): (0.1187, 27.34),
}


def paper_value(observables: Iterable[str]) -> tuple[float, float] | None:
    """(dex, percent) of the paper's Table 3 for this set of observables, if it is listed there."""
    from .observables import canonical

    return TABLE3.get(frozenset(canonical(o) for o in observables))
