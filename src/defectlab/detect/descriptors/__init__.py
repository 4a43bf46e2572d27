"""The seven descriptors of the compositional detector, and presets of them.

Structural (local appearance): ``patch``, ``class-patch``,
``foreground-patch`` (:mod:`.patch`). Logical (composition):
``class-embedding``, ``class-histogram``, ``class-colour``,
``class-location`` (:mod:`.logical`).

Presets: ``default`` (all but ``class-patch``; why: at :data:`DEFAULT`),
``full`` (all seven), ``vand`` (patch + foreground-patch + class-histogram: the
reference's final competition choice). Any subset can be named: a list, or a
comma-separated string.
"""

from __future__ import annotations

from typing import Sequence

from ...errors import ConfigError

# importing the definitions registers them, structural first: the order DESCRIPTORS.names() lists
from . import patch, logical  # noqa: F401  isort: skip
from .base import DESCRIPTORS, Descriptor, DescriptorScore, Parse, top_percent_mean

STRUCTURAL = ("patch", "class-patch", "foreground-patch")
LOGICAL = ("class-embedding", "class-histogram", "class-colour", "class-location")
# The default leaves out class-patch. With the codebook aligner a patch's kind
# is its nearest feature centroid, so "unlike the normal patches of its own
# kind" mostly repeats ``patch`` for patches that keep their kind and the
# histogram for those that change it, while adding its own noise to the
# structural group. Alone it was the weakest descriptor on every real-photo
# benchmark (image AUROC 53-62); without it the group-sum fusion kept the
# structural anomalies within a point of patch kNN on the rules-3 development
# benchmark (59.5 / 66.4 vs 59.3 / 65.4 at 4 / 8 shots; with it 59.0 / 63.7)
# and logical rose (83.5 / 90.8 vs 82.2 / 89.0), by a rule declared before
# those figures (bench/results/compositional_real.md records the order). On the
# held-out rules-3 benchmarks it tied with all seven (logical +0.5 to +0.9,
# structural -1.1 to +0.8) and both trailed patch kNN on structural by 3-9
# points. The method's reference also found a reduced set beat the full seven.
DEFAULT = ("patch", "foreground-patch") + LOGICAL
PRESETS: dict[str, tuple[str, ...]] = {
    "default": DEFAULT,
    "full": STRUCTURAL + LOGICAL,
    "vand": ("patch", "foreground-patch", "class-histogram"),
    "structural": STRUCTURAL,
    "logical": LOGICAL,
}
_ALIASES = {
    "class-agnostic": "patch", "agnostic": "patch", "class-aware": "class-patch", "foreground": "foreground-patch",
    "fg": "foreground-patch", "embedding": "class-embedding", "histogram": "class-histogram",
    "colour": "class-colour", "color": "class-colour", "class-color": "class-colour", "location": "class-location",
}


def resolve(spec: str | Sequence[str]) -> tuple[str, ...]:
    """Descriptor names from a preset name, a comma-separated string or a list."""
    if isinstance(spec, str):
        if spec in PRESETS:
            return PRESETS[spec]
        spec = [s.strip() for s in spec.split(",") if s.strip()]
    names: list[str] = []
    for item in spec:
        if item in PRESETS:
            names += [n for n in PRESETS[item] if n not in names]
            continue
        name = _ALIASES.get(item, item)
        if name not in DESCRIPTORS:
            raise ConfigError(
                f"unknown descriptor {item!r}; choose from {DESCRIPTORS.names()} or a preset {list(PRESETS)}"
            )
        if name not in names:
            names.append(name)
    if not names:
        raise ConfigError("no descriptors selected; name a preset (full, vand) or at least one descriptor")
    return tuple(names)


def create_descriptors(spec: str | Sequence[str] = "default", options: dict[str, dict] | None = None) -> list[Descriptor]:
    """Fresh, unfitted descriptors; ``options[name]`` are constructor arguments for one of them."""
    options = options or {}
    return [DESCRIPTORS.create(name, **options.get(name, {})) for name in resolve(spec)]


__all__ = [
    "DESCRIPTORS", "LOGICAL", "PRESETS", "STRUCTURAL", "Descriptor", "DescriptorScore", "Parse",
    "create_descriptors", "resolve", "top_percent_mean",
]
