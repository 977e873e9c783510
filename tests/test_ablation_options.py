"""The ablation options of the data and of the fusion net (docs/mock.md and docs/fusion.md, "ablation").

erosita-mock ``photons: icm`` (only ICM photons reach the maps), ``neighbours: false`` (no photons of
projected neighbouring halos), ``core_excision`` (pixels within a fraction of the true R500c set to
zero, flagged idealised); fusion-xray-dyn ``branches``.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits

from massbench.errors import ConfigError, DataError
from massbench.plugins.mock.generator import MockConfig, generate_catalogue
from massbench.plugins.mock.loader import ABLATION_DEFAULTS, ProcessingParams, load_catalogue, photon_selection
from massbench.plugins.mock.projection import aperture_mask

N = 12


@pytest.fixture(scope="module")
def raw(tmp_path_factory) -> Path:
    # events mode: the fields hold ICM, AGN, background and neighbouring halos' photons
    return generate_catalogue(
        tmp_path_factory.mktemp("abl") / "cat", n_clusters=N, seed=0, workers=1, config=MockConfig(mode="events")
    )


@pytest.fixture(scope="module")
def cache(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("cache")


def _load(raw: Path, cache: Path, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return load_catalogue(raw, cache, workers=1, params=ProcessingParams(**kw))


def _dense(cat, name: str) -> np.ndarray:
    return np.asarray(cat.inputs[name].data[:])


@pytest.fixture(scope="module")
def default(raw: Path, cache: Path):
    return _load(raw, cache)


def test_defaults_keep_the_cache_key_of_earlier_code() -> None:
    keyed = ProcessingParams().key_fields()
    assert not set(ABLATION_DEFAULTS) & set(keyed)  # caches processed before the options keep their keys
    assert set(ProcessingParams(photons="icm", neighbours=False, core_excision=0.15).key_fields()) >= set(
        ABLATION_DEFAULTS
    )


def test_every_option_has_its_own_cache_entry(raw: Path, cache: Path, default) -> None:
    keys = {default.meta["cache_key"]}
    for kw in ({"photons": "icm"}, {"neighbours": False}, {"core_excision": 0.15}):
        keys.add(_load(raw, cache, **kw).meta["cache_key"])
    assert len(keys) == 4


def test_icm_only_maps_hold_no_agn_or_background_photons(raw: Path, cache: Path, default) -> None:
    icm = _load(raw, cache, photons="icm")
    assert np.array_equal(_dense(icm, "xray_map"), _dense(default, "xray_icm_map"))
    assert np.array_equal(_dense(icm, "xray_bands"), _dense(default, "xray_icm_bands"))
    assert _dense(icm, "xray_agn_map").sum() == 0 and _dense(default, "xray_agn_map").sum() > 0
    # the events mode's background is not ICM either: all photons minus ICM is AGN plus background
    assert (
        _dense(default, "xray_map").sum()
        > _dense(default, "xray_icm_map").sum() + _dense(default, "xray_agn_map").sum()
    )
    ap = aperture_mask(2.3)
    assert np.allclose(_dense(icm, "n_phot"), _dense(default, "xray_icm_map")[:, ap].sum(axis=1))
    assert icm.meta["ablation"]["photons"] == "icm"
    assert not icm.inputs["xray_map"].idealised  # a data ablation, not an idealised input


def test_no_neighbours_removes_exactly_the_neighbours_photons(raw: Path, cache: Path, default) -> None:
    nonb = _load(raw, cache, neighbours=False)
    removed = _dense(default, "xray_map") - _dense(nonb, "xray_map")
    assert (removed >= 0).all()
    n_nbr = np.asarray(fits.getdata(raw / "halos.fits", "HALOS")["n_nbr"], float)  # generator truth
    assert np.array_equal(removed.sum(axis=(1, 2)), n_nbr) and n_nbr.sum() > 0
    # neighbours are ICM: the AGN maps are untouched
    assert np.array_equal(_dense(nonb, "xray_agn_map"), _dense(default, "xray_agn_map"))


def test_core_excision_zeroes_the_pixels_within_the_radius_and_flags_idealised(raw: Path, cache: Path, default) -> None:
    exc = _load(raw, cache, core_excision=0.15)
    r500 = _dense(default, "r500c")
    full, cut = _dense(default, "xray_bands"), _dense(exc, "xray_bands")
    for i in range(N):
        core = aperture_mask(0.15 * r500[i])
        assert core.any()
        assert (cut[i][core] == 0).all()
        assert np.array_equal(cut[i][~core], full[i][~core])
    ap = aperture_mask(2.3)
    assert np.allclose(_dense(exc, "n_phot"), _dense(exc, "xray_map")[:, ap].sum(axis=1))
    assert (_dense(exc, "n_phot") < _dense(default, "n_phot")).all()
    for name in ("xray_map", "xray_bands", "n_phot", "n_phot_500c"):
        assert exc.inputs[name].idealised and "true R500c" in exc.inputs[name].description
        assert not default.inputs[name].idealised
    assert not exc.inputs["n_gal"].idealised
    assert exc.meta["ablation"]["core_excision"] == 0.15


def test_options_need_the_truth_columns(raw: Path) -> None:
    from massbench.plugins.mock.events import read_event_file

    ev = read_event_file(raw / "events" / "1.fits", 1)
    assert ev.src_id is not None and ev.component is not None
    ev.component, ev.src_id = None, None
    with pytest.raises(DataError, match="photons: icm needs the COMPONENT column"):
        photon_selection(ev, ProcessingParams(photons="icm"))
    with pytest.raises(DataError, match="neighbours: false needs the SRC_ID column"):
        photon_selection(ev, ProcessingParams(neighbours=False))
    assert photon_selection(ev, ProcessingParams()).all()


def test_dataset_params_list_the_allowed_values() -> None:
    from massbench.plugins.mock.datasets import ErositaMock

    with pytest.raises(ConfigError, match="'photons' must be one of 'all', 'icm'"):
        ErositaMock(photons="agn")
    with pytest.raises(ConfigError, match="'neighbours' must be true or false"):
        ErositaMock(neighbours="no")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match=r"'core_excision' must be a number in \[0, 1\)"):
        ErositaMock(core_excision=1.5)
    assert ErositaMock(core_excision=0.15).core_excision == 0.15


def test_fusion_branches_switch_a_branch_off() -> None:
    torch = pytest.importorskip("torch")
    from massbench.plugins.fusion_torch.estimator import FusionXrayDyn
    from massbench.plugins.fusion_torch.network import FusionConfig, FusionNet, count_parameters

    with pytest.raises(ConfigError, match="branches must be one of 'both', 'xray', 'dynamics'"):
        FusionXrayDyn(branches="optical")
    torch.manual_seed(0)
    kw = {"cube_size": 16, "xray_strides": [2, 2, 1, 1]}
    nets = {b: FusionNet(FusionConfig(branches=b, **kw)).eval() for b in ("both", "xray", "dynamics")}
    assert nets["xray"].dyn is None and nets["dynamics"].xray is None
    n = {b: count_parameters(net) for b, net in nets.items()}
    assert n["xray"] < n["both"] and n["dynamics"] < n["both"]
    x1, x2 = torch.rand(2, 3, 128, 128), torch.rand(2, 3, 128, 128)
    c1, c2 = torch.rand(2, 64, 64, 64), torch.rand(2, 64, 64, 64)
    with torch.no_grad():
        # dynamics only ignores the map entirely (no 2D branch, no tied X-ray channels); X-ray only the cube
        assert torch.equal(nets["dynamics"](x1, c1), nets["dynamics"](x2, c1))
        assert torch.equal(nets["xray"](x1, c1), nets["xray"](x1, c2))
        assert not torch.equal(nets["both"](x1, c1), nets["both"](x2, c1))
        assert not torch.equal(nets["both"](x1, c1), nets["both"](x1, c2))
