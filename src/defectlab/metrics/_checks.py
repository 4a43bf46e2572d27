"""Input checks shared by the metrics.

A metric fed a NaN score, a mask of the wrong shape or a test set with one
class does not crash on its own: it returns a plausible-looking number that
is wrong. So every metric validates its inputs up front, and every error
names the argument the caller has to fix.
"""

from __future__ import annotations

import numpy as np

from ..errors import ConfigError


def binary_labels(name: str, values) -> np.ndarray:
    """Image labels as bools; only booleans or the numbers 0 and 1 pass.

    Stricter than `binary_masks`: a label of 2 or 0.7 is a bug upstream
    (a class index, a probability), not a convention to be guessed.
    """
    arr = np.asarray(values)
    if arr.size == 0:
        # An empty array has no class at all; "only normal samples" would misname the problem.
        raise ConfigError(f"{name} is empty; the metric needs at least one normal and one anomalous sample")
    if arr.dtype == bool:
        return arr
    if not _is_numeric(arr):
        raise ConfigError(f"{name} must be booleans or 0/1 numbers, got dtype {arr.dtype}")
    bad = arr[(arr != 0) & (arr != 1)]
    if bad.size:
        raise ConfigError(
            f"{name} must contain only 0 (normal) and 1 (anomalous); found {bad.ravel()[:3].tolist()}"
        )
    return arr == 1


def binary_masks(name: str, values) -> np.ndarray:
    """Ground-truth masks as bools.

    Integer masks count any nonzero pixel as defect, because the datasets ship
    0/255 PNGs and the official MVTec code labels nonzero pixels. Float masks
    must be exactly 0/1: anything in between usually means the mask was resized
    with interpolation and needs thresholding first, which we refuse to guess.
    """
    arr = np.asarray(values)
    if arr.dtype == bool:
        return arr
    if np.issubdtype(arr.dtype, np.integer):
        return arr != 0
    if np.issubdtype(arr.dtype, np.floating):
        is_defect = arr == 1
        if not (is_defect | (arr == 0)).all():
            raise ConfigError(
                f"{name} holds values other than 0 and 1 (or NaN); "
                "threshold interpolated masks before evaluating"
            )
        return is_defect
    raise ConfigError(f"{name} must be boolean or numeric, got dtype {arr.dtype}")


def finite_scores(name: str, values) -> np.ndarray:
    """Anomaly scores as a numeric array with no NaN or infinity.

    A NaN sorts to one end of the threshold sweep and silently shifts every
    curve point, so it is an error rather than something to drop.
    """
    arr = np.asarray(values)
    if not _is_numeric(arr):
        raise ConfigError(f"{name} must be numeric, got dtype {arr.dtype}")
    if np.issubdtype(arr.dtype, np.floating) and not np.isfinite(arr).all():
        raise ConfigError(f"{name} contains NaN or infinite values")
    return arr


def same_shape(name_a: str, a: np.ndarray, name_b: str, b: np.ndarray) -> None:
    # Broadcasting would happily pair a (N,) label vector with (N,1) scores.
    if a.shape != b.shape:
        raise ConfigError(f"{name_a} has shape {a.shape} but {name_b} has shape {b.shape}; they must match")


def both_classes(name: str, is_anomalous: np.ndarray, what: str) -> None:
    """Require normal and anomalous entries: ROC curves need both to exist."""
    n_anomalous = int(np.count_nonzero(is_anomalous))
    if n_anomalous == 0 or n_anomalous == is_anomalous.size:
        only = "normal" if n_anomalous == 0 else "anomalous"
        raise ConfigError(
            f"{name} contains only {only} {what}; AUROC is undefined, "
            f"both normal and anomalous {what} are needed"
        )


def some_anomalous(name: str, is_anomalous: np.ndarray, what: str, metric: str) -> None:
    # Precision and recall divide by the anomalous count.
    if not is_anomalous.any():
        raise ConfigError(f"{name} contains no anomalous {what}; {metric} needs at least one")


def fpr_limit(value) -> float:
    """An integration limit must lie on the FPR axis and leave an area."""
    limit = float(value)
    if not 0.0 < limit <= 1.0:
        raise ConfigError(f"fpr_limit must be in (0, 1], got {value!r}")
    return limit


def _is_numeric(arr: np.ndarray) -> bool:
    return arr.dtype == bool or np.issubdtype(arr.dtype, np.number)
