"""`massbench validate` on misspelt names (issue 21 item 1): the wrong entry is named, the registered
plugin is suggested, and every problem of the file is reported at once."""

from __future__ import annotations

import textwrap

import pytest

from massbench.config import parse_benchmark
from massbench.errors import ConfigError

from .conftest import run_cli

BAD = textwrap.dedent(
    """\
    benchmark: b
    version: "1"
    dataset: {name: erosita-mock, params: {n_clusters: 160}}
    cv: {scheme: octants}
    estimators:
      - name: proxy-n-phot
      - name: cnn-singleband
      - name: fusion-xray-dyn
        params: {epochz: 3}
    explainers:
      - name: saliency
        estimators: [cnn-single-band, proxy-n-phot]
    """
)


def test_all_problems_at_once_pointing_at_the_misspelt_entry() -> None:
    from massbench.registry import shared_registry

    with pytest.raises(ConfigError) as e:
        parse_benchmark(BAD, "bad.yaml", shared_registry())
    msg = str(e.value)
    lines = msg.splitlines()
    assert lines[0] == "3 problems in bad.yaml:"
    assert lines[1] == "bad.yaml:7: estimators[1]: unknown estimator 'cnn-singleband'; did you mean 'cnn-single-band'?"
    assert lines[2].startswith("bad.yaml:8: estimator 'fusion-xray-dyn': ") and "epochz" in lines[2]
    assert lines[3] == (
        "bad.yaml:12: explainers[0].estimators: 'cnn-single-band' matches no entry because estimators[1] "
        "(line 7) spells the estimator 'cnn-singleband'; fix that entry"
    )
    assert "did you mean 'cnn-singleband'" not in msg  # never suggest the typo as the fix


def test_one_problem_keeps_the_one_line_format() -> None:
    from massbench.registry import shared_registry

    text = BAD.replace("cnn-singleband", "cnn-single-band").replace("epochz", "epochs")
    parse_benchmark(text, "ok.yaml", shared_registry())
    with pytest.raises(ConfigError, match=r"^bad.yaml:12: explainers\[0\].estimators: 'cnn-singel-band' is not"):
        parse_benchmark(text.replace("[cnn-single-band,", "[cnn-singel-band,"), "bad.yaml", shared_registry())


def test_validate_cli_lists_them_and_accepts_debug(tmp_path) -> None:
    p = tmp_path / "bad.yaml"
    p.write_text(BAD)
    r = run_cli("validate", str(p), env={"COLUMNS": "250"})
    assert r.returncode == 2 and "3 problems in" in r.stderr and "Traceback" not in r.stderr
    r = run_cli("validate", str(p), "--debug")
    assert r.returncode != 0 and "No such option" not in r.stderr and "ConfigError" in r.stderr
