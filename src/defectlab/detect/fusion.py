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


# -- group fusion: structural and logical evidence kept apart ---------------------
#
# Why: summing all seven normalised scores lets the logical descriptors' noise
# drown a structural defect (and the other way round): a scratch raises three
# structural scores while four logical ones, each wandering about 0.5-1 on any
# normal image, add their noise to the sum (issue 16: structural image AUROC
# 0.885 with the structural three alone, 0.684 with all seven). The two groups
# answer different questions ("is a surface damaged?", "is the composition
# wrong?"), so each is first summed within itself and self-normalised again by
# the largest leave-one-out group score of the normal shots: 1.0 is then "as
# unusual as the most unusual normal shot" *for that question*, whatever the
# number of descriptors in the group and however noisy they are on this
# product. The image score combines the normalised groups by MODES (default in
# DEFAULT_MODE, chosen on the development benchmark before the held-out one was
# scored; bench/results/compositional_real.md records the order).

GROUPS = ("structural", "logical")
MODES = ("sum", "group-max", "group-sum", "group-l2")
# Chosen on the development benchmark (generator seed 1) before the held-out one
# (seed 2) was scored, by the mean of logical and structural image AUROC at 4 and
# 8 shots over support seeds 42, 0, 1234: group-sum 64.9, sum 64.7, group-max
# 62.3 (bench/results/compositional_real.md). group-sum and sum tie; group-sum
# is kept because it gives the two questions equal say whatever the number of
# descriptors in each (a preset with one structural and four logical
# descriptors would otherwise be four-fifths logical). group-max ("either
# group fires") lost: most logical anomalies raise both groups a little (a
# misplaced part is also a patch where only tray was), and the max throws
# one of them away. Rechecked with the codebook aligner on the rules-2
# development benchmark (generator seed 11): group-sum within 0.1 point of the
# best rule, so it stays.
DEFAULT_MODE = "group-sum"


def group_of(kinds: dict[str, str]) -> dict[str, list[str]]:
    """{group: descriptor names}, in GROUPS order, groups without members left out."""
    return {g: [n for n, k in kinds.items() if k == g] for g in GROUPS if any(k == g for k in kinds.values())}


def group_raw(normalised: dict[str, float], kinds: dict[str, str]) -> dict[str, float]:
    """Each group's sum of its members' normalised scores (before the group's own normalisation)."""
    return {g: float(sum(normalised[n] for n in names)) for g, names in group_of(kinds).items()}


def group_weights(loo_normalised: dict[str, list[float]], kinds: dict[str, str],
                  floor: float = FLOOR) -> dict[str, float]:
    """Each group's normaliser: its largest leave-one-out group score among the shots.

    Never below ``floor`` times the number of members (each member's own floor
    is a quarter of its unit); with one shot (no leave-one-out) the number of
    members, i.e. the group's mean in one-shot units.
    """
    out = {}
    for g, names in group_of(kinds).items():
        k = len(loo_normalised[names[0]]) if names and names[0] in loo_normalised else 0
        if k == 0:
            out[g] = float(len(names))
            continue
        worst = max(sum(loo_normalised[n][i] for n in names) for i in range(k))
        out[g] = max(float(worst), floor * len(names))
    return out


def combine(groups: dict[str, float], mode: str) -> float:
    """One image score from the self-normalised group scores."""
    values = np.array(list(groups.values()), np.float64)
    if mode == "group-max":
        return float(values.max())
    if mode == "group-sum":
        return float(values.sum())
    if mode == "group-l2":
        return float(np.sqrt((values**2).sum()))
    raise ConfigError(f"fusion must be one of {MODES}, got {mode!r}")
