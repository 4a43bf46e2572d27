"""Logical descriptors: one small vector per class, compared with the normal images.

Each describes the composition rather than the surface:

- ``class-embedding``: the mean backbone feature of each class (what the
  part is);
- ``class-histogram``: the share of the image each class covers (how much
  of it there is: missing, extra, half a part);
- ``class-colour``: the colour of each class with CIELAB lightness dropped,
  so lighting matters little: its mean chroma (a, b) (the reference averaged
  a / b per pixel, available as ``mode="ratio"``);
- ``class-location``: where each class is: its mean position (the
  reference used its distance from the image origin (0, 0), available as
  ``mode="origin"``).

Scoring, the same for all four: an image's vectors are compared with each
normal image's, class by class; the distance between two images is their
worst class (one wrong part is what a logical anomaly is); the score is the
distance to the nearest normal image, and the explanation names the class
that makes it. Comparing whole images, not each class with its own nearest
normal, keeps combinations honest: a cherry icon on an orange-juice bottle is
anomalous even when some normal bottle has a cherry icon and another is
orange. (``match="class"`` lets every class find its own nearest normal: fewer
false alarms with very few shots, blind to such combinations.)

A class present in one image of a pair but absent in the other is the
histogram's to judge; the other three skip it for that pair.

Each class is measured in its own normal units. Parts differ in how much
they vary between normal images (a pin wanders in its compartment, a label
sits still; a textured part's mean colour moves more than a flat one's), and
taking the worst class would otherwise always pick the noisiest one. So each
class's distances are divided by that class's largest leave-one-out distance
among the shots (the fusion's self-normalisation, applied per class), shrunk
towards the descriptor's ``class_unit`` as if that were one more shot (with
one shot ``class_unit`` is the scale). Scores are therefore already in normal
units, and the descriptor's fusion ``unit`` is 1.
"""

from __future__ import annotations

import cv2
import numpy as np

from ...errors import ConfigError
from .base import DESCRIPTORS, Descriptor, DescriptorScore, Parse, class_name

FLOOR = 0.25  # as in fusion: a scale is never below a quarter of the natural unit


class ClassVectorDescriptor(Descriptor):
    """Shared machinery: ``vectors(parse)`` -> {class: vector}; ``distance`` between two."""

    kind = "logical"
    unit = 1.0  # scores are already in per-class normal units (see the module docstring)
    class_unit = 1.0  # natural scale of one class's distance, used with one shot
    include_absent = False  # whether classes with zero area get a vector
    include_unknown = False  # whether the unknown class (a grab-bag of unmatched parts) gets one

    def __init__(self, match: str = "image"):
        if match not in ("image", "class"):
            raise ConfigError(f"match must be 'image' or 'class', got {match!r}")
        self.match = match
        self.bank: list[dict[int, np.ndarray]] | None = None
        self.normals: list[Parse] = []
        self.scales: dict[int, float] = {}

    def vectors(self, parse: Parse) -> dict[int, np.ndarray]:
        raise NotImplementedError

    def distance(self, a: np.ndarray, b: np.ndarray) -> float:
        return float(np.linalg.norm(a - b))

    def describe(self, parse: Parse, cls: int, value: np.ndarray, normal_values: list[np.ndarray]) -> str:
        return f"{class_name(parse, cls)} differs from every normal image"

    def classes(self, parse: Parse) -> list[int]:
        # what unmatched parts look like, or where they are, means nothing: only
        # how much of them there is (the histogram) does
        ids = range(1, parse.unknown + 1 if self.include_unknown else parse.unknown)
        if self.include_absent:
            return list(ids)
        return [c for c in ids if parse.areas[c] > 0]

    def fit(self, parses: list[Parse]) -> "ClassVectorDescriptor":
        self.bank = [self.vectors(p) for p in parses]
        self.normals = list(parses)
        self.scales = self._class_scales(self.bank)
        return self

    def _class_scales(self, bank: list[dict[int, np.ndarray]]) -> dict[int, float]:
        """Each class's spread among the shots: its leave-one-out distances, shrunk towards ``class_unit``.

        scale^2 = (m * max_loo^2 + class_unit^2) / (m + 1), m the number of
        leave-one-out distances: ``class_unit`` counts as one more, prior,
        observation. A few shots that happen to agree exactly (no shot has
        any unknown part) then do not make the first sliver at test time an
        alarm of a hundred units, and with many shots the data decide.
        """
        scales: dict[int, float] = {}
        for cls in sorted({c for b in bank for c in b}):
            loo = []
            for j, b in enumerate(bank):
                others = [o[cls] for i, o in enumerate(bank) if i != j and cls in o]
                if cls in b and others:
                    loo.append(min(self.distance(b[cls], o) for o in others))
            m = len(loo)
            worst = max(loo) if loo else 0.0
            scale = np.sqrt((m * worst**2 + self.class_unit**2) / (m + 1))
            scales[cls] = max(float(scale), FLOOR * self.class_unit)
        return scales

    def _per_class(self, test: dict[int, np.ndarray], normal: dict[int, np.ndarray]) -> dict[int, float]:
        scale = self.scales
        return {c: self.distance(v, normal[c]) / scale.get(c, self.class_unit) for c, v in test.items() if c in normal}

    def score(self, parse: Parse) -> DescriptorScore:
        self._check_fitted(self.bank)
        test = self.vectors(parse)
        per_normal = [self._per_class(test, normal) for normal in self.bank]
        if not any(per_normal):
            return DescriptorScore(0.0, reason="no class to compare")
        if self.match == "image":
            # distance to a normal image = its worst class; nearest normal image wins
            worst = [max(d.items(), key=lambda kv: kv[1]) if d else (None, np.inf) for d in per_normal]
            j = int(np.argmin([w[1] for w in worst]))
            cls, value = worst[j]
        else:
            best: dict[int, tuple[float, int]] = {}
            for j, d in enumerate(per_normal):
                for c, v in d.items():
                    if c not in best or v < best[c][0]:
                        best[c] = (v, j)
            cls = max(best, key=lambda c: best[c][0])
            value, j = best[cls]
        normal_values = [bank[cls] for bank in self.bank if cls in bank]
        reason = self.describe(parse, cls, test[cls], normal_values)
        return DescriptorScore(float(value), cls, reason, region=self._region(parse, cls, j))

    def _region(self, parse: Parse, cls: int, j: int | None) -> np.ndarray:
        """Where to draw it: the class in the test image and where the nearest normal has it."""
        region = parse.classes.labels == cls
        if j is not None:
            expected = self.normals[j].classes.labels == cls
            if expected.shape != region.shape:
                expected = cv2.resize(expected.astype(np.uint8), region.shape[::-1],
                                      interpolation=cv2.INTER_NEAREST) > 0
            region = region | expected
        return region


@DESCRIPTORS.register("class-embedding")
class ClassEmbeddingDescriptor(ClassVectorDescriptor):
    name = "class-embedding"
    # cosine distance between a part's mean feature and its normal mean feature:
    # 0.05 is about what an unchanged part drifts by between shots
    class_unit = 0.05

    def vectors(self, parse: Parse) -> dict[int, np.ndarray]:
        cov = parse.coverage
        out = {}
        for c in self.classes(parse):
            w = cov[c]
            if w.sum() <= 0:
                continue
            v = w @ parse.flat_features / w.sum()
            out[c] = v / max(float(np.linalg.norm(v)), 1e-8)
        return out

    def distance(self, a: np.ndarray, b: np.ndarray) -> float:
        return float(max(0.0, 1.0 - a @ b))

    def describe(self, parse, cls, value, normal_values) -> str:
        d = min(self.distance(value, v) for v in normal_values)
        return f"{class_name(parse, cls)} looks unlike its normal self (cosine distance {d:.3f} to the nearest normal)"


@DESCRIPTORS.register("class-histogram")
class ClassHistogramDescriptor(ClassVectorDescriptor):
    """|log((a + eps) / (b + eps))| of the class areas a, b (fractions of the image).

    A ratio, not a difference: losing a pin (1 % of the image) must weigh as
    much as losing a box (30 %). ``eps`` (0.5 % of the image) keeps an absent
    class finite and stops slivers far smaller than any part from counting.
    """

    name = "class-histogram"
    include_absent = True
    include_unknown = True
    class_unit = float(np.log(1.5))  # a part 50 % larger or a third smaller

    def __init__(self, eps: float = 0.005, match: str = "image"):
        super().__init__(match)
        self.eps = eps

    def vectors(self, parse: Parse) -> dict[int, np.ndarray]:
        return {c: np.array([parse.areas[c]]) for c in self.classes(parse)}

    def distance(self, a: np.ndarray, b: np.ndarray) -> float:
        return float(abs(np.log((a[0] + self.eps) / (b[0] + self.eps))))

    def describe(self, parse, cls, value, normal_values) -> str:
        area = float(value[0])
        lo, hi = min(v[0] for v in normal_values), max(v[0] for v in normal_values)
        name = class_name(parse, cls)
        if area == 0:
            verdict = "missing part"
        elif cls == parse.unknown and hi == 0:
            verdict = "unexpected part"
        elif area > hi:
            verdict = "extra or larger part"
        else:
            verdict = "smaller or partly missing part"
        expected = f"about {100 * lo:.1f} %" if abs(hi - lo) < 0.002 else f"{100 * lo:.1f}-{100 * hi:.1f} %"
        return f"{name}: area {100 * area:.1f} % of the image, expected {expected}: {verdict}"


@DESCRIPTORS.register("class-colour")
class ClassColourDescriptor(ClassVectorDescriptor):
    """A class's colour with lightness dropped: CIELAB a and b.

    ``mode="ratio"`` is the reference's definition: per pixel a / b, averaged
    over the class (b kept at least ``min_b`` from zero, sign kept). It is
    the cotangent of the hue angle, and explodes wherever b is near zero:
    greys, whites, and every red-purple-magenta part (b close to 0, a large).
    On composed scenes its per-image noise swamped the signal (image AUROC
    about 0.5 on wrong-colour parts, see bench/results/compositional.md).

    ``mode="ab"`` (default) averages the chroma vector (a, b) over the class
    and compares with Delta-E over a and b. Its direction is the
    chroma-weighted mean hue (the same cue as a / b, without the
    singularity, and grey pixels count little); its length is the
    saturation, so a part turning pale or grey is seen too. Dropping L keeps
    the reference's insensitivity to lighting.
    """

    name = "class-colour"

    def __init__(self, mode: str = "ab", min_b: float = 2.0, match: str = "image"):
        super().__init__(match)
        if mode not in ("ratio", "ab"):
            raise ConfigError(f"class-colour mode must be 'ratio' or 'ab', got {mode!r}")
        self.mode = mode
        self.min_b = min_b
        # one-shot units: ratio 0.25 (a/b of a saturated colour after a hue shift
        # of about 10 degrees); ab 10 Lab units of chroma, a clearly visible change
        self.class_unit = 0.25 if mode == "ratio" else 10.0

    def vectors(self, parse: Parse) -> dict[int, np.ndarray]:
        lab = parse.lab
        a, b = lab[..., 1].ravel().astype(np.float64), lab[..., 2].ravel().astype(np.float64)
        labels = parse.classes.labels.ravel()
        n = parse.unknown + 1
        counts = np.maximum(np.bincount(labels, minlength=n), 1)
        if self.mode == "ratio":
            safe_b = np.where(b >= 0, np.maximum(b, self.min_b), np.minimum(b, -self.min_b))
            values = (np.bincount(labels, a / safe_b, minlength=n) / counts)[:, None]
        else:
            values = np.stack([np.bincount(labels, a, minlength=n), np.bincount(labels, b, minlength=n)], 1)
            values = values / counts[:, None]
        return {c: values[c] for c in self.classes(parse)}

    def describe(self, parse, cls, value, normal_values) -> str:
        name = class_name(parse, cls)
        if self.mode == "ratio":
            lo, hi = min(v[0] for v in normal_values), max(v[0] for v in normal_values)
            return f"{name}: colour a/b {value[0]:.2f}, normally {lo:.2f} to {hi:.2f}: wrong colour"
        ref = min(normal_values, key=lambda v: float(np.linalg.norm(v - value)))
        return (f"{name}: chroma (a, b) = ({value[0]:.0f}, {value[1]:.0f}), "
                f"nearest normal ({ref[0]:.0f}, {ref[1]:.0f}): wrong colour")


@DESCRIPTORS.register("class-location")
class ClassLocationDescriptor(ClassVectorDescriptor):
    """Where each class is: its mean position, as fractions of width and height.

    ``mode="origin"`` is the reference's definition: one number, the distance
    of the mean position from the top-left corner over the diagonal. It
    cannot tell a move along a circle round the corner, and it mixes x and y,
    so a part that may wander sideways in its compartment hides a move to
    another compartment below. ``mode="centroid"`` (default) compares the
    mean position (x, y) itself: the same cue without losing a dimension.
    Fractions of the image make both independent of its size.
    """

    name = "class-location"
    class_unit = 0.03  # 3 % of the side (or diagonal): beyond the jitter of parts placed by a machine

    def __init__(self, mode: str = "centroid", match: str = "image"):
        super().__init__(match)
        if mode not in ("origin", "centroid"):
            raise ConfigError(f"class-location mode must be 'origin' or 'centroid', got {mode!r}")
        self.mode = mode

    def vectors(self, parse: Parse) -> dict[int, np.ndarray]:
        labels = parse.classes.labels
        h, w = labels.shape
        n = parse.unknown + 1
        flat = labels.ravel()
        counts = np.maximum(np.bincount(flat, minlength=n), 1)
        yy, xx = np.mgrid[0:h, 0:w]
        cx = np.bincount(flat, (xx.ravel() + 0.5) / w, minlength=n) / counts
        cy = np.bincount(flat, (yy.ravel() + 0.5) / h, minlength=n) / counts
        r = np.sqrt(cx**2 + cy**2) / np.sqrt(2.0)
        return {c: np.array([r[c], cx[c], cy[c]]) for c in self.classes(parse)}

    def distance(self, a: np.ndarray, b: np.ndarray) -> float:
        if self.mode == "origin":
            return float(abs(a[0] - b[0]))
        return float(np.hypot(a[1] - b[1], a[2] - b[2]))

    def describe(self, parse, cls, value, normal_values) -> str:
        name = class_name(parse, cls)
        if self.mode == "origin":
            lo, hi = min(v[0] for v in normal_values), max(v[0] for v in normal_values)
            return (f"{name}: centre at {value[0]:.2f} of the diagonal from the top-left corner "
                    f"(x {value[1]:.2f}, y {value[2]:.2f}), normally {lo:.2f} to {hi:.2f}: misplaced")
        ref = min(normal_values, key=lambda v: float(np.hypot(v[1] - value[1], v[2] - value[2])))
        return (f"{name}: centre at x {value[1]:.2f}, y {value[2]:.2f} of the image, "
                f"nearest normal x {ref[1]:.2f}, y {ref[2]:.2f}: misplaced")
