"""docs/plugins.md stays in sync with harness/hookspecs.py and the command line.

Each hook spec's signature and docstring must appear in the guide (the docstring verbatim up to
whitespace), the guide must not document hooks that do not exist, and every ``massbench``
command it shows must exist.
"""

from __future__ import annotations

import inspect
import re

import pytest

from massbench import hookspecs

from .conftest import ROOT

DOC = ROOT / "docs" / "plugins.md"


def _norm(text: str) -> str:
    return " ".join(text.split())


def _specs() -> dict[str, object]:
    return {
        n: f
        for n, f in vars(hookspecs).items()
        if n.startswith("massbench_") and callable(f) and hasattr(f, f"{hookspecs.PROJECT}_spec")
    }


def test_every_hook_is_documented_verbatim():
    doc = DOC.read_text()
    specs = _specs()
    assert set(specs) >= {
        "massbench_datasets",
        "massbench_estimators",
        "massbench_explainers",
        "massbench_register_commands",
    }
    for name, fn in specs.items():
        signature = name + str(inspect.signature(fn)).replace("'", "")
        assert signature in doc, f"docs/plugins.md lacks the signature `{signature}`"
        docstring = inspect.getdoc(fn)
        assert _norm(docstring) in _norm(doc), (
            f"docs/plugins.md is out of date for hook {name}: paste its docstring from harness/hookspecs.py "
            f"under the heading `{signature}`:\n\n{docstring}"
        )


def test_no_stale_hooks_in_the_guide():
    documented = set(re.findall(r"\bmassbench_[a-z_]+(?=\()", DOC.read_text()))
    assert documented <= set(_specs()), f"hooks documented but not specified: {documented - set(_specs())}"


def test_commands_shown_in_the_guide_exist():
    import typer.main

    from massbench.cli import app

    click_app = typer.main.get_command(app)
    blocks = re.findall(r"```bash\n(.*?)```", DOC.read_text(), re.S)
    shown = {
        m for b in blocks for m in re.findall(r"(?:^|&&\s*|\(\s*)massbench ([a-z][a-z-]+)(?: ([a-z][a-z-]+))?", b, re.M)
    }
    assert len(shown) >= 6, "the guide shows too few massbench commands"
    for cmd, sub in shown:
        assert cmd in click_app.commands, f"docs/plugins.md shows unknown command `massbench {cmd}`"
        group = click_app.commands[cmd]
        if hasattr(group, "commands"):
            assert sub in group.commands, f"docs/plugins.md shows unknown command `massbench {cmd} {sub}`"


@pytest.mark.parametrize(
    "anchor",
    [
        "--only",
        "check-plugin",
        "new-plugin",
        "leaderboards/submissions/",
        "leaderboard submit",
        "log10 M500c",
        "h^-1 Msun",
        "octants",
        "inputs.md",
    ],
)
def test_guide_covers_the_issue_topics(anchor):
    assert anchor in DOC.read_text()
