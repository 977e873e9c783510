"""Progress (issue 21 item 7): a time-left estimate from each estimator's finished units, and a quiet
default for TensorFlow's C++ log that respects the user's own setting."""

from __future__ import annotations

import io
import os

import pytest

from massbench.eta import RunEstimate, human_duration


def test_estimate_uses_each_estimators_own_unit_time() -> None:
    est = RunEstimate(["proxy"] * 8 + ["cnn"] * 8)
    assert est.remaining() is None and est.text() == ""
    est.finish("proxy", 0.5)
    secs, exact = est.remaining()
    assert not exact and secs == pytest.approx(7 * 0.5 + 8 * 0.5)  # cnn unknown: a lower bound
    assert est.text().startswith("at least")
    est.finish("cnn", 100.0)
    secs, exact = est.remaining()
    assert exact and secs == pytest.approx(7 * 0.5 + 7 * 100.0)
    assert est.text() == "about 12 min left"
    est.finish("cnn", 200.0)
    assert est.remaining()[0] == pytest.approx(7 * 0.5 + 6 * 150.0)
    assert human_duration(40) == "40 s" and human_duration(7300) == "2 h 02 min"


def test_unit_lines_carry_the_estimate(toy_registry, write_bench, tmp_path) -> None:
    from rich.console import Console

    from massbench.config import load_benchmark
    from massbench.runner import RunOptions, run_benchmark

    buf = io.StringIO()
    con = Console(file=buf, width=200, force_terminal=False)
    b = load_benchmark(write_bench(), toy_registry)
    assert run_benchmark(b, toy_registry, RunOptions(out=tmp_path / "o", executor="inline"), con) == 0
    lines = [x for x in buf.getvalue().splitlines() if x.startswith("ok ")]
    assert len(lines) == 16
    assert all("left" in x for x in lines[:-2]) and "left" not in lines[-1]


@pytest.mark.parametrize("preset", [None, "0"])
def test_tf_log_level_default_respects_the_user(preset, monkeypatch, tmp_path) -> None:
    from massbench.cli import main

    if preset is None:
        monkeypatch.delenv("TF_CPP_MIN_LOG_LEVEL", raising=False)
    else:
        monkeypatch.setenv("TF_CPP_MIN_LOG_LEVEL", preset)
    with pytest.raises(SystemExit):
        main(["validate", str(tmp_path / "missing.yaml")])
    assert os.environ["TF_CPP_MIN_LOG_LEVEL"] == (preset or "3")


def test_tensorflow_start_up_lines_follow_the_log_level() -> None:
    """TensorFlow prints its oneDNN/CUDA notices through absl before reading TF_CPP_MIN_LOG_LEVEL."""
    import subprocess
    import sys

    pytest.importorskip("tensorflow")
    code = (
        "from massbench.plugins.cnn_tf.tf_runtime import import_tf; tf = import_tf(); print(tf.constant(2.0).numpy())"
    )
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    quiet = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300)
    assert quiet.returncode == 0 and quiet.stdout.strip() == "2.0"
    assert "I0000" not in quiet.stderr and "absl::InitializeLog" not in quiet.stderr
    loud = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env={**env, "TF_CPP_MIN_LOG_LEVEL": "0"},
        timeout=300,
    )
    assert loud.returncode == 0 and "I0000" in loud.stderr  # the user's own level is respected
