import pytest

from massbench.config import load_benchmark, parse_benchmark
from massbench.errors import ConfigError, UserError

from .conftest import TOY_BENCH


def test_parse_good_file(toy_registry, write_bench):
    b = load_benchmark(write_bench(), toy_registry)
    assert b.key == "toy@1.0"
    assert b.dataset.params == {"n_clusters": 160, "seed": 1}
    assert b.cv.scheme == "octants" and b.cv.val_fraction == 0.1
    assert b.estimators[0].label == "Linear" and b.estimators[0].params == {"degree": 1}
    assert len(b.sha256) == 64


def err(text, registry=None):
    with pytest.raises(ConfigError) as e:
        parse_benchmark(text, "bench.yaml", registry)
    return str(e.value)


def test_unknown_key_names_file_line_and_suggests():
    msg = err(TOY_BENCH.replace("cv:\n", "cvv:\n"))
    assert msg.startswith("bench.yaml:6:") and "cvv" in msg and "did you mean 'cv'" in msg


def test_nested_unknown_key():
    msg = err(TOY_BENCH.replace("  val_fraction", "  val_fracton"))
    assert "bench.yaml:8:" in msg and "val_fraction" in msg


def test_wrong_type_and_unquoted_version():
    msg = err(TOY_BENCH.replace('version: "1.0"', "version: 1.0"))
    assert "bench.yaml:2:" in msg and "quote" in msg
    msg = err(TOY_BENCH.replace("seed: 0", "seed: zero"))
    assert "cv.seed must be an integer" in msg


def test_bad_yaml_and_missing_key():
    assert "not valid YAML" in err("benchmark: [x\n")
    msg = err(TOY_BENCH.replace("benchmark: toy\n", ""))
    assert "missing key benchmark" in msg


def test_unknown_plugin_with_suggestion(toy_registry):
    msg = err(TOY_BENCH.replace("name: toy-linear", "name: toy-linaer"), toy_registry)
    assert "bench.yaml:11:" in msg and "did you mean 'toy-linear'" in msg


def test_param_checking(toy_registry):
    msg = err(TOY_BENCH.replace("n_clusters: 160", "n_clusters: fifty"), toy_registry)
    assert "dataset 'toy'" in msg and "n_clusters" in msg and "int" in msg and "bench.yaml:" in msg
    msg = err(TOY_BENCH.replace("{degree: 1}", "{degre: 1}"), toy_registry)
    assert "toy-linear" in msg and "did you mean 'degree'" in msg
    msg = err(TOY_BENCH.replace("{degree: 1}", "{degree: 1.5}"), toy_registry)
    assert "param 'degree' must be int" in msg


def test_duplicate_labels_rejected():
    text = TOY_BENCH + "  - name: toy-linear\n    label: Linear\n"
    assert "used twice" in err(text)


def test_explainer_targets_checked(toy_registry):
    text = TOY_BENCH + "explainers:\n  - name: toy-explainer\n    estimators: [Lineer]\n"
    assert "did you mean 'Linear'" in err(text, toy_registry)


def test_missing_file():
    with pytest.raises(UserError, match="nope.yaml"):
        load_benchmark("nope.yaml")
