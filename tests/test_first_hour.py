"""Small things a new user met in the first hour (issue 21 items 2, 6, 9)."""

from __future__ import annotations

from pathlib import Path

import pytest

from massbench.errors import UserError

from .conftest import run_cli


def test_help_has_no_typer_placeholders() -> None:
    r = run_cli("run", "--help", env={"COLUMNS": "120"})
    assert r.returncode == 0
    assert "Usage: massbench run [OPTIONS] BENCH" in r.stdout
    assert "{bench}" not in r.stdout and "<bool>" not in r.stdout
    r = run_cli("runs", "--help", env={"COLUMNS": "120"})
    assert "Usage: massbench runs [OPTIONS] [DIRECTORY]" in r.stdout


def test_plugins_table_shows_each_plugins_params() -> None:
    r = run_cli("plugins", env={"COLUMNS": "220"})
    assert r.returncode == 0, r.stderr
    assert "params (name: type = default)" in r.stdout
    assert "epochs: int = 200" in r.stdout and "n_clusters: int = 3285" in r.stdout
    assert "path: str (required)" in r.stdout


def test_leaderboard_build_on_a_missing_directory(tmp_path: Path) -> None:
    r = run_cli("leaderboard", "build", str(tmp_path / "nope"), "--out", str(tmp_path / "lb"), env={"COLUMNS": "250"})
    assert r.returncode == 2 and "nope: no such directory" in r.stderr and "no run.json" not in r.stderr


def test_mock_generate_into_an_existing_catalogue_names_overwrite(tmp_path: Path) -> None:
    from massbench.plugins.mock.formats import HALOS_FILE
    from massbench.plugins.mock.generator import generate_catalogue

    (tmp_path / HALOS_FILE).write_bytes(b"")
    with pytest.raises(UserError, match="--overwrite"):
        generate_catalogue(tmp_path, 3)


def test_new_plugin_next_step_installs_the_test_extra_and_uses_this_python(tmp_path: Path) -> None:
    d = tmp_path / "mass-forest"
    r = run_cli("new-plugin", str(d), "--name", "mass-forest")
    assert r.returncode == 0, r.stderr
    assert f"pip install -e '{d}[test]'" in r.stdout and "python -m pytest" in r.stdout
    readme = (d / "README.md").read_text()
    assert "pip install -e '.[test]'" in readme and "python -m pytest" in readme
    assert 'test = ["pytest' in (d / "pyproject.toml").read_text()
    guide = (Path(__file__).resolve().parents[1] / "docs" / "plugins.md").read_text()
    assert "(cd mass-forest && pytest)" not in guide and "(cd mass-forest && python -m pytest)" in guide
