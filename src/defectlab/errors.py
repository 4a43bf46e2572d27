"""One error hierarchy for the whole package.

Every error a user can cause (a bad value, a missing file, weights that are
not on the machine, calling predict before fit) derives from
:class:`DefectlabError`, so the command line can print its message as one
line and exit 2, while any other exception is a bug and keeps its traceback.
Each class also derives from the built-in error that code written against the
standard library expects (``ValueError``, ``FileNotFoundError``, ...).
"""

from __future__ import annotations


class DefectlabError(Exception):
    """Base of every error defectlab raises on purpose; the message names the culprit."""


class ConfigError(DefectlabError, ValueError):
    """A parameter, argument or option has a value defectlab cannot use."""


class NotFittedError(DefectlabError, RuntimeError):
    """A fitted-state method (predict, score, align, ...) was called before ``fit``."""


class ModelNotFoundError(DefectlabError, OSError):
    """Model weights are neither on disk nor reachable; the message says how to get them."""


class DataError(DefectlabError):
    """Base of the data errors (:mod:`defectlab.data.errors`)."""
