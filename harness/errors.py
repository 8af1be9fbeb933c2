"""Every error mistvla raises on purpose, under one base class (as Gymnasium's ``error.py``).

Each error also keeps the builtin base it had (``ValueError``, ``KeyError`` …),
so ``except ValueError`` still works. The CLI prints a :class:`MistvlaError`
as one line and exits with 2; any other exception is a bug and shows its
traceback.

>>> issubclass(ConfigError, MistvlaError) and issubclass(ConfigError, ValueError)
True
>>> str(UnknownNameError("unknown policy 'x'; known: random"))
"unknown policy 'x'; known: random"
"""

from __future__ import annotations


class MistvlaError(Exception):
    """Base class of every deliberate mistvla error: bad input, a refused run, a damaged file."""


class ConfigError(MistvlaError, ValueError):
    """A config value or key is wrong; the message starts with the field's dotted path."""


class UnknownNameError(MistvlaError, KeyError):
    """A registry has no entry of that name (policy, intervention, risk source); the message lists the known ones."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class MissingDependencyError(MistvlaError, ModuleNotFoundError):
    """An optional dependency is not installed; the message names the extra to install."""


class InvalidActionError(MistvlaError, ValueError):
    """An action of the wrong shape or with non-finite values; the episode is left untouched."""


class InvalidResetError(MistvlaError, ValueError):
    """Reset options an env does not accept (an unknown key, an init state out of range)."""


class UnsupportedTaskError(MistvlaError, ValueError):
    """A task whose goal a policy cannot pursue (e.g. a BDDL predicate the scripted expert cannot script)."""


class CalibrationError(MistvlaError, RuntimeError):
    """Thresholds cannot be calibrated from the held-out episodes."""


class ConfigMismatchError(MistvlaError, RuntimeError):
    """A run directory holds results of a different config; the message names the keys that differ."""


class DuplicateEpisodeError(MistvlaError, RuntimeError):
    """An episode is written twice into one results store."""


class RunLockedError(MistvlaError, RuntimeError):
    """Another process holds the run directory's lock."""


class StoreError(MistvlaError, RuntimeError):
    """A results store or run directory is missing, damaged or inconsistent; the message names the file."""


class LabelError(MistvlaError, ValueError):
    """Risk labels disagree with episode outcomes, or a horizon/type has too few positives to train on."""


class TrainingError(MistvlaError, RuntimeError):
    """A risk-predictor training run failed a sanity check (constant predictor, F1 = 0 while the loss falls)."""
