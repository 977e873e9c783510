"""``massbench ablate DIR``: runs each benchmark file, then one paired comparison table (harness/ablate.py)."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

BENCH = """\
# {comment}
benchmark: {name}
version: "2.0"
dataset:
  name: erosita-mock
  params: {{n_clusters: 40, seed: 2{extra}}}
cv:
  scheme: octants
  val_fraction: 0.1
  seed: 0
estimators:
{estimators}
"""

PROXIES = """\
  - name: proxy-n-phot
    params: {redshift_bins: none}
  - name: proxy-n-gal
    params: {redshift_bins: none}"""

BETAS = """\
  - name: proxy-n-phot
    label: beta 0
    params: {redshift_bins: none}
  - name: proxy-n-phot
    label: beta 0.5
    params: {redshift_bins: none, beta: 0.5}"""


def _write(d: Path, stem: str, comment: str, extra: str = "", estimators: str = PROXIES) -> Path:
    p = d / f"{stem}.yaml"
    p.write_text(
        textwrap.dedent(BENCH).format(
            comment=comment, name=f"abl-{stem.replace('--', '-')}", extra=extra, estimators=estimators
        )
    )
    return p


@pytest.fixture
def ablation_dir(tmp_path: Path) -> Path:
    d = tmp_path / "ablations"
    d.mkdir()
    _write(d, "agn--0-all", "Reference: all photons.")
    _write(d, "agn--1-icm", "Isolates the AGN: ICM photons only.", ", photons: icm")
    _write(d, "agn--2-core", "Core excised (idealised).", ", core_excision: 0.15")
    _write(d, "proxy-beta", "Isolates the eq. 6 slope.", estimators=BETAS)
    return d


def test_ablate_runs_every_file_and_writes_one_paired_table(ablation_dir: Path, tmp_path: Path, cli) -> None:
    out = tmp_path / "out"
    r = cli("ablate", str(ablation_dir), "--out", str(out), "--executor", "inline", "--n-boot", "200")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "[1/4] agn--0-all.yaml" in r.stdout and "[4/4] proxy-beta.yaml" in r.stdout
    for name in ("ablations.md", "ablations.json", "ablations.png"):
        assert (out / name).is_file(), name
    doc = json.loads((out / "ablations.json").read_text())
    rows = {(x["file"], x["label"]): x for x in doc["rows"]}
    assert not any(lab == "baseline-mean" for _, lab in rows)
    assert len(rows) == 8
    ref = rows[("agn--0-all.yaml", "proxy-n-phot")]
    assert ref["reference"] is None and ref["delta_scatter_dex"] is None
    icm = rows[("agn--1-icm.yaml", "proxy-n-phot")]
    assert icm["reference"] == "agn--0-all: proxy-n-phot" and icm["variant"] == "1-icm"
    # no repeats and the same 40 clusters: the paired difference is the difference of the scatters
    assert icm["n_paired"] == 40 and icm["delta_scatter_dex"] == pytest.approx(
        icm["scatter_dex"] - ref["scatter_dex"], abs=1e-5
    )
    assert icm["delta_bias_dex"] == pytest.approx(icm["bias_dex"] - ref["bias_dex"], abs=1e-5)
    lo, hi = icm["delta_scatter_ci95"]
    assert lo <= icm["delta_scatter_dex"] <= hi and icm["n_groups"] >= 1
    # N_gal does not depend on the photons: identical residuals, a zero difference with a zero-width interval
    gal = rows[("agn--1-icm.yaml", "proxy-n-gal")]
    assert gal["delta_scatter_dex"] == 0 and gal["delta_scatter_ci95"] == [0.0, 0.0] and gal["significant"] is False
    # core excision uses the true R500c: the X-ray row is flagged idealised, the richness row is not
    assert rows[("agn--2-core.yaml", "proxy-n-phot")]["idealised"] is True
    assert rows[("agn--2-core.yaml", "proxy-n-gal")]["idealised"] is False
    # a single-file ablation: each row against the first row of the same plugin
    assert rows[("proxy-beta.yaml", "beta 0")]["reference"] is None
    beta = rows[("proxy-beta.yaml", "beta 0.5")]
    assert beta["reference"] == "proxy-beta: beta 0" and beta["delta_bias_dex"] != 0
    md = (out / "ablations.md").read_text()
    assert "Isolates the AGN: ICM photons only." in md and "proxy-n-phot (idealised)" in md
    assert "| agn | 1-icm | proxy-n-phot |" in md
    # a second call reuses every finished unit; --table-only runs nothing
    again = cli("ablate", str(ablation_dir), "--out", str(out), "--executor", "inline", "--n-boot", "200")
    assert again.returncode == 0, again.stderr
    assert "0 already done" not in again.stdout and "already done" in again.stdout
    only = cli("ablate", str(ablation_dir), "--out", str(out), "--table-only", "--n-boot", "200")
    assert only.returncode == 0 and "[1/4]" not in only.stdout
    assert json.loads((out / "ablations.json").read_text())["rows"] == doc["rows"]


def _err(r) -> str:
    return r.stderr.replace("\n", "")  # the terminal wraps long messages (inside words too)


def test_ablate_errors_are_one_clear_message(tmp_path: Path, cli) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    r = cli("ablate", str(empty), "--out", str(tmp_path / "o1"))
    assert r.returncode == 2 and "no benchmark files (*.yaml)" in _err(r) and "Traceback" not in _err(r)
    r = cli("ablate", str(tmp_path / "nowhere"))
    assert r.returncode == 2 and "no such directory" in _err(r)
    bad = tmp_path / "bad"
    bad.mkdir()
    _write(bad, "a--0-ref", "ok")
    (bad / "a--1-typo.yaml").write_text((bad / "a--0-ref.yaml").read_text().replace("cv:", "cvv:"))
    r = cli("ablate", str(bad), "--out", str(tmp_path / "o2"))
    assert r.returncode == 2 and "a--1-typo.yaml" in _err(r) and "Traceback" not in _err(r)
    assert not (tmp_path / "o2" / "runs" / "a--0-ref").exists()  # checked before anything ran
    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("keep")
    r = cli("ablate", str(bad.parent / "bad"), "--out", str(foreign))
    assert r.returncode == 2
    (bad / "a--1-typo.yaml").unlink()
    r = cli("ablate", str(bad), "--out", str(foreign))
    assert r.returncode == 2 and "did not create" in _err(r) and (foreign / "notes.txt").read_text() == "keep"
    r = cli("ablate", str(bad), "--out", str(tmp_path / "o3"), "--table-only")
    assert r.returncode == 2 and "no finished run for a--0-ref.yaml" in _err(r)


def test_table_only_leaves_out_unfinished_runs(ablation_dir: Path, tmp_path: Path, cli) -> None:
    out = tmp_path / "out"
    part = tmp_path / "part"
    part.mkdir()
    for name in ("agn--0-all.yaml", "agn--1-icm.yaml"):
        (part / name).write_text((ablation_dir / name).read_text())
    r = cli("ablate", str(part), "--out", str(out), "--executor", "inline", "--n-boot", "200")
    assert r.returncode == 0, r.stderr
    (part / "agn--2-core.yaml").write_text((ablation_dir / "agn--2-core.yaml").read_text())
    (part / "other--0-ref.yaml").write_text((ablation_dir / "agn--0-all.yaml").read_text())
    (part / "other--1-x.yaml").write_text((ablation_dir / "agn--1-icm.yaml").read_text())
    r = cli("ablate", str(part), "--out", str(out), "--table-only", "--n-boot", "200")
    assert r.returncode == 0, r.stderr
    doc = json.loads((out / "ablations.json").read_text())
    assert doc["left_out"] == ["agn--2-core.yaml", "other--0-ref.yaml", "other--1-x.yaml"]
    assert {x["file"] for x in doc["rows"]} == {"agn--0-all.yaml", "agn--1-icm.yaml"}
    assert "Left out (run not finished): agn--2-core.yaml" in (out / "ablations.md").read_text()


def test_shipped_ablation_files_are_valid_and_say_what_they_isolate() -> None:
    from massbench.ablate import find_files, groups_of
    from massbench.config import load_benchmark

    root = Path(__file__).resolve().parents[1] / "benchmarks" / "ablations"
    files = find_files(root)
    groups = groups_of(files)
    assert [f.path.name for f in groups["data"]][0] == "data--0-reference.yaml" and len(groups["data"]) == 5
    for f in files:
        b = load_benchmark(f.path)
        assert f.description.startswith("Isolates") or f.description.startswith("Reference"), f.path.name
        assert b.run.deterministic and b.cv.scheme == "octants"
        assert "proxy-n-phot" in [e.name for e in b.estimators]  # the anchor
