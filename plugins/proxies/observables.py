"""The scalar observables of the paper's Table 2, and the one mapping between their names.

Observable names (used by the ``proxies`` command, its JSON and its figure) and the
dataset input that holds each one (docs/inputs.md):

============== ============== ========= ===================================================
observable     dataset input  idealised meaning
============== ============== ========= ===================================================
T              T              yes       temperature within R500c [keV]
L_X            L_X            yes       bolometric X-ray luminosity within R500c [erg/s]
M_gas          M_gas          yes       gas mass within R500c [h^-1 Msun]
M_star         M_star         yes       stellar mass within R500c [h^-1 Msun]
sigma_v_true   sigma_v_true   yes       1D velocity dispersion within R500c [km/s]
N_gal          n_gal          no        richness (R_proj <= 1.25 h^-1 Mpc, |v| <= 2000 km/s)
sigma_v        sigma_v        no        gapper velocity dispersion of those galaxies [km/s]
N_phot         n_phot         no        photons in R_proj <= 2.3 h^-1 Mpc, 0.5-10 keV
N_phot_500c    n_phot_500c    no        photons in R_proj <= R500c
============== ============== ========= ===================================================

The order is Table 2's: idealised first, then realistic. Any other column of a user's
table is an observable too, named by its column and classed as neither ("other").
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Observable:
    """One scalar mass proxy of Table 2."""

    name: str  # observable name in the proxies table, JSON and figure
    input: str  # dataset input key (docs/inputs.md)
    idealised: bool  # an observable no observer has (Table 2's top block)
    label: str  # matplotlib mathtext label
    unit: str


OBSERVABLES: tuple[Observable, ...] = (
    Observable("T", "T", True, r"$T$", "keV"),
    Observable("L_X", "L_X", True, r"$L_X$", "erg/s"),
    Observable("M_gas", "M_gas", True, r"$M_{\rm gas}$", "h^-1 Msun"),
    Observable("M_star", "M_star", True, r"$M_{\rm star}$", "h^-1 Msun"),
    Observable("sigma_v_true", "sigma_v_true", True, r"$\sigma_{\rm v,1D,true}$", "km/s"),
    Observable("N_gal", "n_gal", False, r"$N_{\rm gal}$", "1"),
    Observable("sigma_v", "sigma_v", False, r"$\sigma_{\rm v,1D}$", "km/s"),
    Observable("N_phot", "n_phot", False, r"$N_{\rm phot}$", "count"),
    Observable("N_phot_500c", "n_phot_500c", False, r"$N_{\rm phot,500c}$", "count"),
)

BY_NAME: dict[str, Observable] = {o.name: o for o in OBSERVABLES}
BY_INPUT: dict[str, Observable] = {o.input: o for o in OBSERVABLES}

IDEALISED: tuple[str, ...] = tuple(o.name for o in OBSERVABLES if o.idealised)
REALISTIC: tuple[str, ...] = tuple(o.name for o in OBSERVABLES if not o.idealised)


def lookup(name: str) -> Observable | None:
    """The Table 2 observable called ``name`` (observable name or dataset input key), else None."""
    return BY_NAME.get(name) or BY_INPUT.get(name)


def canonical(name: str) -> str:
    """Observable name for ``name`` (``n_phot`` -> ``N_phot``); unknown names are returned as given."""
    obs = lookup(name)
    return obs.name if obs else name


def input_key(name: str) -> str:
    """Dataset input key for an observable name (``N_phot`` -> ``n_phot``); unknown names as given."""
    obs = lookup(name)
    return obs.input if obs else name


def kind(name: str) -> str:
    """``"idealised"``, ``"realistic"`` or ``"other"`` (a column not in Table 2)."""
    obs = lookup(name)
    if obs is None:
        return "other"
    return "idealised" if obs.idealised else "realistic"


def label(name: str) -> str:
    """Plot label (mathtext) of an observable; unknown names are returned as given."""
    obs = lookup(name)
    return obs.label if obs else name


def table2_order(names: list[str] | tuple[str, ...]) -> list[str]:
    """``names`` sorted as in Table 2 (idealised, realistic), other columns last in their given order."""
    rank = {o.name: i for i, o in enumerate(OBSERVABLES)}
    known = sorted((n for n in names if canonical(n) in rank), key=lambda n: rank[canonical(n)])
    return known + [n for n in names if canonical(n) not in rank]
