"""Params declared as dataclass fields: checked, described and validated like a typed ``__init__``."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import pytest

from massbench import Estimator
from massbench.errors import ConfigError
from massbench.params import check_params, describe_params, param_defaults


@dataclass(eq=False)
class _Params:
    epochs: int = 10
    widths: list[int] = field(default_factory=lambda: [8, 4])
    dropout: float = 0.0
    loss: Literal["mse", "mae"] = "mse"

    def __post_init__(self) -> None:
        if self.epochs < 1:
            raise ConfigError(f"epochs must be >= 1, got {self.epochs}")


class _Est(_Params, Estimator):
    name = "toy-dc"
    inputs = ()


@dataclass(eq=False)
class _Wider(_Est):
    dropout: float = 0.5  # only what differs


def test_dataclass_fields_are_the_params_with_factory_defaults():
    described = {d["name"]: d for d in describe_params(_Est)}
    assert list(described) == ["epochs", "widths", "dropout", "loss"]
    assert described["widths"] == {"name": "widths", "type": "list", "default": [8, 4], "required": False}
    assert described["loss"]["default"] == "mse"
    assert param_defaults(_Wider)["dropout"] == 0.5 and param_defaults(_Est)["dropout"] == 0.0
    assert [d["name"] for d in describe_params(_Wider)] == ["epochs", "widths", "dropout", "loss"]


def test_dataclass_params_are_type_checked_with_suggestions():
    assert check_params(_Wider, {"epochs": 3, "widths": [1, 2], "dropout": 1}) == []
    problems = check_params(_Wider, {"epochs": "3", "widht": [1], "loss": "huber"})
    assert any("param 'epochs' must be int" in p for p in problems)
    assert any("did you mean 'widths'" in p for p in problems)
    assert any("param 'loss'" in p for p in problems)


def test_post_init_range_checks_and_context():
    with pytest.raises(ConfigError, match="epochs must be >= 1"):
        _Wider(epochs=0)
    est = _Wider(epochs=2)
    assert est.dropout == 0.5 and est.widths == [8, 4] and est.context.seed == 0
    assert _Est().widths is not _Est().widths  # a fresh list per instance
