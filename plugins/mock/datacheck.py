"""``massbench data check DIR``: what a user runs first on their own Magneticum/SIXTE-layout catalogue.

For each cluster of ``halos.fits`` it reads the event or photon file(s) exactly as the loader does and
reports the format recognised (events, photon list, per-telescope event lists merged), where the
centre came from (``halos.fits`` RA/DEC or the header keywords, and whether a fallback was used), the
units read, the photon count and the share of photons inside the 2.3 h^-1 Mpc map. Files in
``events/`` that no cluster uses are listed with the reason.

Problems (status 2) are what would stop the loader or make a benchmark silently wrong: unreadable or
missing files, missing columns, coordinates out of range, no usable centre, no photon in the
0.5-10 keV map, energies that look like eV labelled as keV, galaxies that do not match. Warnings
(status 0) are worth reading but do not change the maps' meaning: centres from a fallback, no
COMPONENT column (no truth maps), skipped files, few photons inside the map.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from massbench.errors import DataError

from .events import TELESCOPE_RE, event_file_group, find_event_file, read_event_file
from .formats import EVENTS_DIR, HALOS_COLUMNS, HALOS_FILE, HALOS_OPTIONAL, read_table
from .projection import APERTURE_HMPC, FULL_BAND, sky_to_projected

#: share of a cluster's photons inside the map below which a warning is given
LOW_SHARE = 0.01
#: median photon energy [keV] above which the energies are taken to be eV mislabelled as keV
MAX_MEDIAN_KEV = 20.0


def _file_id(name: str) -> int | None:
    m = TELESCOPE_RE.match(name)
    if m:
        return int(m.group(1))
    stem = name[:-3] if name.endswith(".gz") else name
    for suffix in ("_evt.fits", "_phlist.fits", ".phlist.fits", ".fits"):
        if stem.endswith(suffix) and stem[: -len(suffix)].isdigit():
            return int(stem[: -len(suffix)])
    return None


def check_cluster(path: Path, cluster_id: int, redshift: float, halos_centre: tuple[float, float] | None) -> dict:
    """One cluster's entry of the report (``problems`` empty when the loader would use it as is)."""
    entry: dict[str, Any] = {"cluster_id": int(cluster_id), "problems": [], "warnings": []}
    try:
        ev = read_event_file(path, cluster_id)
    except DataError as exc:
        entry["files"] = [str(p) for p in event_file_group(path)]
        entry["problems"].append(str(exc))
        return entry
    entry["files"] = [str(p) for p in ev.paths]
    entry["format"] = (
        f"per-telescope event lists ({len(ev.paths)} merged)"
        if len(ev.paths) > 1 or TELESCOPE_RE.match(path.name)
        else ("photon list" if ev.kind == "photons" else "event list")
    )
    entry["kind"] = ev.kind
    entry["energy_column"] = ev.energy_column
    entry["units"] = dict(ev.units or {})
    entry["has_component"] = ev.component is not None
    entry["header_centre_keywords"] = ev.centre_keys or None
    entry["skipped_centre_keywords"] = list(ev.centre_skipped)
    centre: tuple[float, float] | None = halos_centre
    source = f"{HALOS_FILE} RA/DEC"
    if halos_centre is None:
        centre, source = ev.centre, ev.centre_keys
    entry["centre"] = None if centre is None else [float(centre[0]), float(centre[1])]
    entry["centre_source"] = source or None
    entry["centre_fallback"] = bool(halos_centre is None and (ev.centre_skipped or ev.centre_keys.startswith("RA_PNT")))
    n = len(ev.ra)
    entry["n_photons"] = int(n)
    if ev.component is None:
        entry["warnings"].append("no COMPONENT column: the truth-only ICM/AGN maps cannot be made")
    if entry["centre_fallback"] and centre is not None:
        entry["warnings"].append(f"centre from the fallback {source} ({'; '.join(ev.centre_skipped) or 'no RA_OBJ'})")
    if n and float(np.median(ev.energy)) > MAX_MEDIAN_KEV:
        entry["problems"].append(
            f"{ev.path}: median {ev.energy_column} is {float(np.median(ev.energy)):.4g} keV; energies in eV "
            f"need TUNIT 'eV'"
        )
    if centre is None:
        entry["problems"].append(
            f"{ev.path}: no cluster centre (no RA/DEC in {HALOS_FILE}; header: "
            f"{'; '.join(ev.centre_skipped) or 'no RA_OBJ/DEC_OBJ/DE_OBJ or RA_PNT/DEC_PNT'})"
        )
        return entry
    x, y = sky_to_projected(ev.ra, ev.dec, centre[0], centre[1], redshift)
    inside = (np.abs(x) <= APERTURE_HMPC) & (np.abs(y) <= APERTURE_HMPC)
    band = (ev.energy >= FULL_BAND[0]) & (ev.energy < FULL_BAND[1])
    entry["n_in_map"] = int(inside.sum())
    entry["n_in_map_0.5_10keV"] = int((inside & band).sum())
    entry["share_in_map"] = float(inside.mean()) if n else 0.0
    if entry["n_in_map_0.5_10keV"] == 0:
        entry["problems"].append(
            f"{ev.path}: no photon in the 0.5-10 keV map around ({centre[0]:.6g}, {centre[1]:.6g}) deg from {source}"
        )
    elif entry["share_in_map"] < LOW_SHARE:
        entry["warnings"].append(f"only {100 * entry['share_in_map']:.2g}% of the photons fall inside the map")
    return entry


def check_catalogue(directory: Path) -> dict:
    """The whole report: ``status`` 2 if any problem, else 0."""
    from .loader import read_galaxies, read_raw

    root = Path(directory).expanduser()
    report: dict[str, Any] = {
        "directory": str(root),
        "clusters": [],
        "skipped_files": [],
        "problems": [],
        "warnings": [],
    }
    try:
        halos, _ = read_table(root / HALOS_FILE, "HALOS", HALOS_COLUMNS, HALOS_OPTIONAL, what="halos")
    except DataError as exc:
        report["problems"].append(str(exc))
        report["status"] = 2
        return report
    ids = np.asarray(halos["cluster_id"]).astype(np.int64)
    has_centre = "RA" in halos and "DEC" in halos
    report["halos"] = {"file": str(root / HALOS_FILE), "n_clusters": int(len(ids)), "centre_columns": has_centre}
    used: set[Path] = set()
    for i, cid in enumerate(ids):
        try:
            path = find_event_file(root, int(cid))
        except DataError as exc:
            report["clusters"].append({"cluster_id": int(cid), "files": [], "problems": [str(exc)], "warnings": []})
            continue
        hc = (float(halos["RA"][i]), float(halos["DEC"][i])) if has_centre else None
        entry = check_cluster(path, int(cid), float(halos["redshift"][i]), hc)
        used.update(Path(p) for p in entry["files"])
        report["clusters"].append(entry)
    known = set(int(c) for c in ids)
    events_dir = root / EVENTS_DIR
    for f in sorted(events_dir.iterdir()) if events_dir.is_dir() else []:
        if f in used:
            continue
        fid = _file_id(f.name)
        if fid is None:
            why = "name not recognised (expected <id>.fits, <id>_evt.fits, <id>_phlist.fits, <id>_ccdN_evt.fits[.gz])"
        elif fid not in known:
            why = f"cluster_id {fid} is not in {HALOS_FILE}"
        else:
            why = f"cluster {fid} is read from another file (first match wins)"
        report["skipped_files"].append({"file": str(f), "reason": why})
    if not any(c["problems"] for c in report["clusters"]):
        try:
            read_galaxies(read_raw(root))
        except DataError as exc:
            report["problems"].append(str(exc))
    for c in report["clusters"]:
        report["problems"].extend(c["problems"])
        report["warnings"].extend(f"cluster {c['cluster_id']}: {w}" for w in c["warnings"])
    report["warnings"].extend(f"skipped {s['file']}: {s['reason']}" for s in report["skipped_files"])
    report["status"] = 2 if report["problems"] else 0
    return report
