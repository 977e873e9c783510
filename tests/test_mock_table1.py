"""Table 1 of the paper on a few hundred generated clusters, through the generator, files and loader."""

from __future__ import annotations

import numpy as np
import pytest

from massbench.plugins.mock.describe import table1_summary
from massbench.plugins.mock.generator import generate_catalogue
from massbench.plugins.mock.loader import load_catalogue


def test_table1_medians_within_sensible_ranges(tmp_path) -> None:
    raw = generate_catalogue(tmp_path / "cat", n_clusters=250, seed=2, workers=1)
    cat = load_catalogue(raw, tmp_path / "cache", workers=1)
    t = table1_summary(cat)
    # mass and redshift selection: the paper's ranges and medians (13.94, 0.21) up to box-to-box variation
    assert t["log10_m500c"]["min"] >= 13.5 and t["log10_m500c"]["max"] < 15.1
    assert t["log10_m500c"]["median"] == pytest.approx(13.94, abs=0.08)
    assert 0.066 <= t["redshift"]["min"] and t["redshift"]["max"] <= 0.4702
    assert 0.17 <= t["redshift"]["median"] <= 0.26
    # counts: within a factor of two of the paper's medians (1072, 762, 225, 112), with wide ranges
    for key, paper in (("n_phot", 1072), ("n_icm", 762), ("n_agn", 225), ("n_gal", 112)):
        assert paper / 2 <= t[key]["median"] <= paper * 2, (key, t[key])
    assert t["n_phot"]["max"] / t["n_phot"]["median"] > 20
    assert t["n_gal"]["max"] / t["n_gal"]["min"] > 5
    # N_phot within R500c grows with mass; the idealised observables follow their relations
    lm = cat.log10_m500c
    assert np.corrcoef(lm, np.log10(np.asarray(cat.inputs["n_phot_500c"].data) + 1))[0, 1] > 0.4
    assert np.corrcoef(lm, np.log10(np.asarray(cat.inputs["M_gas"].data)))[0, 1] > 0.95
    assert np.corrcoef(lm, np.log10(np.asarray(cat.inputs["n_gal"].data)))[0, 1] > 0.5
