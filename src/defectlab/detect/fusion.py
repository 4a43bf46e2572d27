"""Label-free fusion of descriptor scores: leave-one-out self-normalisation.

Descriptors speak in different units (cosine distances, log area ratios,
fractions of the diagonal), and how much each varies between normal images
depends on the product. With k >= 2 normal images each shot is scored
against the other k - 1 (leave-one-out); a descriptor's largest
leave-one-out score is the most a normal image is seen to deviate, and
becomes its weight. At test time each raw score is divided by its weight, so
1.0 means "as unusual as the most unusual normal shot", and the selected
descriptors are summed. A descriptor that is noisy on this product gets a
large weight and little say; one that is steady gets a voice.

With 1 shot there is nothing to leave out: each descriptor's fixed ``unit``
(its raw value that counts as one unit of anomaly, documented where the
descriptor is defined) is the weight.

A weight is never below ``floor`` times the unit: when the few normal shots
happen to agree perfectly on a descriptor (every part always present, say),
a zero weight would turn any rounding noise at test time into an alarm.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from ..errors import ConfigError
from .descriptors.base import Descriptor, Parse

FLOOR = 0.25


def fixed_weights(descriptors: list[Descriptor]) -> dict[str, float]:
    return {d.name: float(d.unit) for d in descriptors}


def leave_one_out_scores(make: Callable[[], list[Descriptor]], parses: list[Parse]) -> dict[str, list[float]]:
    """Raw score of each shot against the others, per descriptor (needs k >= 2)."""
    if len(parses) < 2:
        raise ConfigError(f"leave-one-out needs at least 2 normal images, got {len(parses)}")
    scores: dict[str, list[float]] = {}
    for i, held_out in enumerate(parses):
        rest = parses[:i] + parses[i + 1 :]
        for d in make():
            scores.setdefault(d.name, []).append(d.fit(rest).score(held_out).value)
    return scores


def leave_one_out_weights(
    make: Callable[[], list[Descriptor]], parses: list[Parse], floor: float = FLOOR
) -> tuple[dict[str, float], dict[str, list[float]]]:
    """(weights, leave-one-out scores): the max leave-one-out score per descriptor, floored."""
    units = fixed_weights(make())
    scores = leave_one_out_scores(make, parses)
    weights = {name: max(float(np.max(vals)), floor * units[name]) for name, vals in scores.items()}
    return weights, scores


def normalise(raw: dict[str, float], weights: dict[str, float]) -> dict[str, float]:
    return {name: raw[name] / weights[name] for name in raw}


def fuse(normalised: dict[str, float], selected: list[str] | tuple[str, ...] | None = None) -> float:
    """Sum of the selected normalised scores (all when ``selected`` is None)."""
    names = list(normalised) if selected is None else list(selected)
    return float(sum(normalised[n] for n in names))
