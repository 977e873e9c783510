"""Exceptions. ``UserError`` ends a command with one clear message and exit status 2."""

from __future__ import annotations


class UserError(Exception):
    """An error the user can fix: bad benchmark file, unknown plugin, unreadable data.

    The message must name the file (and line, key or cluster where known) and
    say what to fix. The CLI prints it without a traceback (unless ``--debug``).
    """


class ConfigError(UserError):
    """A benchmark file or plugin parameter is invalid."""


class DataError(UserError):
    """A data file is missing, corrupt, or has wrong columns, units or values."""


class ContractError(Exception):
    """An estimator broke the estimator contract (wrong prediction shape, NaN, ...).

    Raised inside a unit: the unit is recorded as failed with this message.
    """


class TestMassAccessError(ContractError):
    """An estimator read the masses of its test clusters."""

    __test__ = False  # not a pytest test class


class RunInterrupted(KeyboardInterrupt):
    """Ctrl-C during a run; the message says what is saved and the ``--resume`` command to continue."""
