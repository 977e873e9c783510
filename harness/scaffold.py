"""``massbench new-plugin DIR --name NAME``: write a minimal installable estimator plugin package.

The package (``src`` layout) holds a pyproject declaring the ``massbench`` entry point, a plugin
module of ``@hookimpl`` functions that imports the estimator lazily, a working estimator skeleton
whose docstring states the contract, a test and a README. It installs with
``pip install -e DIR``, its tests pass, and it passes ``massbench check-plugin NAME`` as written.
The files come from ``massbench/templates/plugin_*.tmpl`` (``string.Template`` placeholders).
"""

from __future__ import annotations

import keyword
import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from string import Template

from .errors import UserError

NAME_RE = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$")

# template file -> path inside the new package ({package} is replaced)
FILES = {
    "plugin_pyproject.toml.tmpl": "pyproject.toml",
    "plugin_readme.md.tmpl": "README.md",
    "plugin_init.py.tmpl": "src/{package}/__init__.py",
    "plugin_hooks.py.tmpl": "src/{package}/plugin.py",
    "plugin_estimator.py.tmpl": "src/{package}/estimator.py",
    "plugin_test.py.tmpl": "tests/test_estimator.py",
}


@dataclass(frozen=True)
class PluginNames:
    """The names a new plugin package uses, all derived from ``--name``."""

    dist_name: str  # distribution (pip) name, e.g. "mass-forest"
    plugin_name: str  # entry-point name in the massbench group
    estimator_name: str  # the estimator's `name`
    package: str  # import name, e.g. "mass_forest"
    class_name: str  # e.g. "MassForest"
    input_name: str  # the one dataset input the skeleton reads

    @classmethod
    def from_name(cls, name: str, input_name: str = "n_phot_500c") -> "PluginNames":
        if not NAME_RE.match(name):
            raise UserError(
                f"--name {name!r}: use lower-case letters, digits and single hyphens, starting with a "
                "letter (e.g. mass-forest); it becomes the distribution, entry-point and estimator name"
            )
        package = name.replace("-", "_")
        if keyword.iskeyword(package) or package in {"massbench", "test", "tests"}:
            raise UserError(f"--name {name!r}: {package!r} cannot be a package name; choose another name")
        if not re.match(r"^[A-Za-z_][A-Za-z0-9_]*$", input_name):
            raise UserError(f"--input {input_name!r} is not an input name (see docs/inputs.md)")
        class_name = "".join(part.capitalize() for part in name.split("-"))
        return cls(name, name, name, package, class_name, input_name)


def render_files(names: PluginNames, massbench_version: str) -> dict[str, str]:
    """Relative path -> text of every file of the new package."""
    subs = {**names.__dict__, "massbench_version": massbench_version}
    out = {}
    tdir = resources.files("massbench") / "templates"
    for tmpl, rel in FILES.items():
        text = (tdir / tmpl).read_text()
        out[rel.format(package=names.package)] = Template(text).substitute(subs)
    return out


def new_plugin(
    directory: Path, name: str, input_name: str = "n_phot_500c", registry: object | None = None
) -> list[Path]:
    """Write the package into ``directory`` (which must not exist or be empty); return the written files.

    With a registry, refuses an estimator name another installed plugin already uses.
    """
    from . import __version__

    names = PluginNames.from_name(name, input_name)
    directory = Path(directory)
    if directory.exists() and (not directory.is_dir() or any(directory.iterdir())):
        raise UserError(f"{directory}: already exists and is not an empty directory; choose a new directory")
    if registry is not None:
        taken = getattr(registry, "estimators", {})
        if names.estimator_name in taken:
            other = taken[names.estimator_name]
            raise UserError(
                f"--name {name!r}: an estimator of that name is already registered by plugin "
                f"{other.plugin!r} ({other.distribution}); choose another name"
            )
    files = render_files(names, ".".join(__version__.split(".")[:2]))
    written = []
    for rel, text in files.items():
        path = directory / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        written.append(path)
    return written
