"""Synthetic composed scenes with logical and structural anomalies, and masks.

A stand-in for MVTec LOCO AD when no dataset is at hand (tests, the
compositional benchmark): several kinds of parts, each with its own shape,
colour and surface texture, are laid out on a textured background at
jittered positions, under varying light, with camera noise. Three layouts
echo LOCO's categories:

- ``breakfast``: a tray with two compartments whose contents lie anywhere
  in them (two oranges and a lime on top, a cereal bar and a cheese below);
- ``pushpins``: identical pins, one anywhere in each compartment of a grid;
- ``bottle``: a bottle with a cap, two labels and a fruit icon on the top
  label (parts inside parts), in three juice variants whose bottle and icon
  colours go together.

Normal scenes vary the way a production line does (arrangement, position,
rotation, size, colour, light, camera noise), so that a logical anomaly is
not just "a patch seen in an unusual place". Logical anomalies break the
composition: ``missing``, ``extra``, ``swapped`` (between compartments or
labels), ``wrong-colour`` (another part's colour, or for the bottle another
juice's icon: every colour occurs in normal scenes, the combination does not;
pins, all alike, get an unseen colour), ``misplaced`` (into another
compartment). Structural ones damage a surface: ``scratch``, ``stain``.
Every anomalous scene comes with a ground-truth mask (for a missing part,
where it should have been; for a misplaced one, both places).

Everything is drawn from one ``numpy`` generator, so a seed fixes a scene set.
"""

from __future__ import annotations

import colorsys
from dataclasses import dataclass, field, replace

import cv2
import numpy as np

from ..errors import ConfigError
from . import paint

LAYOUTS = ("breakfast", "pushpins", "bottle")
LOGICAL = ("missing", "extra", "swapped", "wrong-colour", "misplaced")
STRUCTURAL = ("scratch", "stain")
ANOMALIES = LOGICAL + STRUCTURAL


@dataclass
class Part:
    """One part as laid out in a normal scene (coordinates in [0, 1])."""

    name: str
    shape: str  # circle, ellipse, rect, triangle, hexagon, star
    size: tuple[float, float]  # half-extent (x, y) as a fraction of the image side
    colour: tuple[int, int, int]
    texture: str  # flat, stripes, dots, speckle, text
    centre: tuple[float, float]
    angle: float = 0.0  # degrees
    jitter: float = 0.015  # positional jitter (uniform, +-), fraction of the side
    spin: float = 8.0  # rotation jitter, degrees
    parent: str | None = None  # drawn after (on top of) this part
    zone: str | None = None  # parts of one zone trade places freely in normal scenes


@dataclass
class Scene:
    image: np.ndarray  # (S, S, 3) uint8
    mask: np.ndarray  # (S, S) bool, True on the anomaly
    label: int  # 0 normal, 1 anomalous
    kind: str  # "normal", "logical" or "structural"
    anomaly: str = ""  # one of ANOMALIES, "" when normal
    layout: str = ""
    parts: list[str] = field(default_factory=list)  # parts involved in the anomaly
    part_masks: dict[str, np.ndarray] = field(default_factory=dict)  # visible pixels of every part


# -- layouts --------------------------------------------------------------
def layout_parts(layout: str) -> tuple[list[Part], dict]:
    """The parts of a layout and its background style."""
    if layout == "breakfast":
        # as in LOCO's breakfast box, what lies in a compartment is arranged
        # differently every time: two oranges and a lime share the top, the
        # cereal bar and the cheese the bottom, in any order
        fruit, snack = "fruit", "snack"
        parts = [
            Part("orange-a", "circle", (0.10, 0.10), (235, 130, 30), "speckle", (0.18, 0.25), jitter=0.04, spin=180,
                 zone=fruit),
            Part("orange-b", "circle", (0.10, 0.10), (235, 130, 30), "speckle", (0.48, 0.25), jitter=0.04, spin=180,
                 zone=fruit),
            Part("lime", "ellipse", (0.12, 0.075), (120, 190, 60), "stripes", (0.80, 0.25), angle=20, jitter=0.04,
                 spin=30, zone=fruit),
            Part("cereal", "rect", (0.15, 0.09), (150, 95, 55), "dots", (0.27, 0.72), jitter=0.04, spin=10,
                 zone=snack),
            Part("cheese", "triangle", (0.11, 0.11), (240, 210, 70), "flat", (0.73, 0.72), jitter=0.04, spin=25,
                 zone=snack),
        ]
        zones = {fruit: (0.06, 0.08, 0.94, 0.42), snack: (0.06, 0.55, 0.94, 0.92)}
        return parts, {"colour": (205, 190, 160), "grain": "wood", "grid": 0, "zones": zones}
    if layout == "pushpins":
        parts = []
        for r in range(3):
            for c in range(4):
                centre = ((c + 0.5) / 4, (r + 0.5) / 3)
                # a pin lies anywhere in its compartment: only its compartment is fixed
                parts.append(Part(f"pin{r * 4 + c}", "circle", (0.05, 0.05), (230, 200, 40), "dots", centre,
                                  jitter=0.055, spin=180))
        return parts, {"colour": (70, 75, 85), "grain": "fine", "grid": (3, 4)}
    if layout == "bottle":
        parts = [
            Part("bottle", "rect", (0.17, 0.36), (200, 150, 40), "flat", (0.5, 0.56), jitter=0.02, spin=3),
            Part("cap", "rect", (0.07, 0.05), (30, 120, 60), "stripes", (0.5, 0.14), jitter=0.02, spin=3),
            Part("top-label", "rect", (0.13, 0.10), (240, 240, 230), "text", (0.5, 0.44), jitter=0.015, spin=3,
                 parent="bottle"),
            Part("fruit", "circle", (0.05, 0.05), (220, 40, 40), "speckle", (0.5, 0.44), jitter=0.01, spin=180,
                 parent="top-label"),
            Part("bottom-label", "rect", (0.11, 0.06), (60, 90, 170), "stripes", (0.5, 0.76), jitter=0.015,
                 spin=3, parent="bottle"),
        ]
        # three juices, as in LOCO's juice bottle: the juice and its fruit icon go together
        variants = [
            {"bottle": (200, 150, 40), "fruit": (235, 135, 30)},  # orange
            {"bottle": (120, 25, 40), "fruit": (200, 30, 50)},  # cherry
            {"bottle": (225, 205, 90), "fruit": (245, 225, 60)},  # banana
        ]
        return parts, {"colour": (60, 60, 70), "grain": "fine", "grid": 0, "variants": variants}
    raise ConfigError(f"unknown layout {layout!r}; choose one of {LAYOUTS}")


# -- public entry point -----------------------------------------------------
def make_scenes(
    layout: str,
    n_normal: int,
    anomalies: dict[str, int] | int = 0,
    size: int = 256,
    seed: int = 0,
) -> list[Scene]:
    """``n_normal`` normal scenes, then ``anomalies[name]`` scenes per anomaly.

    ``anomalies`` may be an int: that many of every anomaly the layout admits
    (a swap of identical pins changes nothing, so ``pushpins`` has no swap).
    """
    rng = np.random.default_rng(seed)
    parts, style = layout_parts(layout)
    if isinstance(anomalies, int):
        anomalies = {a: anomalies for a in ANOMALIES if admits(layout, a)}
    unknown = set(anomalies) - set(ANOMALIES)
    if unknown:
        raise ConfigError(f"unknown anomalies {sorted(unknown)}; choose from {ANOMALIES}")
    background = _background_texture(style, size, rng)
    scenes = [_render(layout, parts, style, background, size, rng) for _ in range(n_normal)]
    for name, count in anomalies.items():
        if count and not admits(layout, name):
            raise ConfigError(f"layout {layout!r} admits no {name!r} anomaly")
        for _ in range(count):
            scenes.append(_anomalous(layout, parts, style, background, size, rng, name))
    return scenes


def admits(layout: str, anomaly: str) -> bool:
    return not (layout == "pushpins" and anomaly == "swapped")


# -- anomalies --------------------------------------------------------------
def _anomalous(layout, parts, style, background, size, rng, name) -> Scene:
    variants = style.get("variants")
    variant = int(rng.integers(len(variants))) if variants else None
    placed = _jittered(parts, rng, style, variant)
    mask = np.zeros((size, size), bool)
    involved: list[str] = []
    if name in STRUCTURAL:
        image, part_masks = _draw(placed, style, background, size, rng)
        target = _pick_surface(placed, part_masks, rng)
        involved = [target]
        damage = _scratch(size, part_masks[target], rng) if name == "scratch" else _stain(size, part_masks[target], rng)
        image, mask = _apply_damage(image, damage, name, rng)
        return Scene(image, mask, 1, "structural", name, layout, involved, part_masks)

    # the object that holds the others (the bottle) is never removed or moved
    movable = [p for p in placed if p.parent is not None or not _has_children(p, placed)]
    leaves = [p for p in movable if not _has_children(p, placed)]
    if name == "missing":
        victim = movable[rng.integers(len(movable))]
        gone = {victim.name} | _descendants(victim.name, placed)
        _, before = _draw(placed, style, background, size, np.random.default_rng(0))
        for pname in gone:
            mask |= before[pname]
        placed = [p for p in placed if p.name not in gone]
        involved = sorted(gone)
    elif name == "extra":
        victim = leaves[rng.integers(len(leaves))]
        spot = _free_spot(victim, placed, layout, rng, "extra", style)
        copy = replace(victim, name=victim.name + "-extra", centre=spot)
        placed = placed + [copy]
        involved = [copy.name]
    elif name == "swapped":
        pairs = [(a, b) for i, a in enumerate(movable) for b in movable[i + 1:]
                 if a.parent == b.parent and _looks_different(a, b) and (a.zone is None or a.zone != b.zone)]
        pa, pb = pairs[rng.integers(len(pairs))]
        placed = _move(placed, pa.name, pb.centre)
        placed = _move(placed, pb.name, pa.centre)
        involved = [pa.name, pb.name]
    elif name == "wrong-colour" and variants:
        # every colour is a normal colour, the combination is not: another juice's icon
        other = variants[(variant + 1 + int(rng.integers(len(variants) - 1))) % len(variants)]
        placed = [replace(p, colour=other[p.name]) if p.name == "fruit" else p for p in placed]
        involved = ["fruit"]
    elif name == "wrong-colour":
        # the colour of another kind of part where there is one (every colour then
        # occurs in normal scenes, only not on this part), else an unseen colour
        victim = placed[rng.integers(len(placed))]
        donors = [p.colour for p in placed if _looks_different(p, victim) and p.colour != victim.colour]
        colour = donors[rng.integers(len(donors))] if donors else _other_colour(victim.colour, rng)
        placed = [replace(p, colour=colour) if p.name == victim.name else p for p in placed]
        involved = [victim.name]
    elif name == "misplaced":
        victim = movable[rng.integers(len(movable))]
        _, before = _draw(placed, style, background, size, np.random.default_rng(0))
        moved = {victim.name} | _descendants(victim.name, placed)
        for pname in moved:
            mask |= before[pname]
        placed = _move(placed, victim.name, _free_spot(victim, placed, layout, rng, "misplaced", style))
        involved = sorted(moved)
    image, part_masks = _draw(placed, style, background, size, rng)
    for pname in involved:
        if pname in part_masks:
            mask |= part_masks[pname]
    return Scene(image, mask, 1, "logical", name, layout, involved, part_masks)


def _has_children(part: Part, placed: list[Part]) -> bool:
    return any(p.parent == part.name for p in placed)


def _descendants(name: str, placed: list[Part]) -> set[str]:
    out: set[str] = set()
    for p in placed:
        if p.parent == name:
            out |= {p.name} | _descendants(p.name, placed)
    return out


def _move(placed: list[Part], name: str, centre: tuple[float, float]) -> list[Part]:
    """Move a part to ``centre``; what sits on it (a label's icon) moves along."""
    part = next(p for p in placed if p.name == name)
    dx, dy = centre[0] - part.centre[0], centre[1] - part.centre[1]
    moved = {name} | _descendants(name, placed)
    return [replace(p, centre=(p.centre[0] + dx, p.centre[1] + dy)) if p.name in moved else p for p in placed]


def _pick_surface(placed, part_masks, rng) -> str:
    """A part with enough visible surface to damage (largest two, by chance)."""
    areas = sorted(((m.sum(), n) for n, m in part_masks.items()), reverse=True)
    top = [n for _, n in areas[: max(1, min(len(areas), 3))]]
    return top[rng.integers(len(top))]


def _looks_different(a: Part, b: Part) -> bool:
    far = np.linalg.norm(np.subtract(a.colour, b.colour)) > 60
    return a.shape != b.shape or a.texture != b.texture or far


def _free_spot(part: Part, placed: list[Part], layout: str, rng, why: str, style: dict) -> tuple[float, float]:
    """A centre away from every other part, inside the parent if it has one."""
    parent = next((p for p in placed if p.name == part.parent), None)
    best, best_gap = part.centre, -1.0
    home = (int(part.centre[1] * 3), int(part.centre[0] * 4))  # pushpins: its compartment (row, col)
    for _ in range(200):
        if parent is not None:
            cx = parent.centre[0] + rng.uniform(-0.6, 0.6) * parent.size[0]
            cy = parent.centre[1] + rng.uniform(-0.7, 0.7) * parent.size[1]
        elif why == "misplaced" and style.get("zones") and part.zone:
            # out of its compartment: into another one
            others = [z for z in style["zones"] if z != part.zone]
            x0, y0, x1, y1 = style["zones"][others[rng.integers(len(others))]]
            cx = rng.uniform(x0 + part.size[0], x1 - part.size[0])
            cy = rng.uniform(y0 + part.size[1], y1 - part.size[1])
        elif layout == "pushpins":
            # a second pin in a compartment: an extra one anywhere, a misplaced one
            # in a compartment other than its own (which is left empty)
            r, c = rng.integers(3), rng.integers(4)
            if why == "misplaced" and (r, c) == home:
                continue
            cx = (c + 0.5) / 4 + rng.uniform(-0.07, 0.07)
            cy = (r + 0.5) / 3 + rng.uniform(-0.09, 0.09)
        else:
            cx, cy = rng.uniform(part.size[0] + 0.03, 1 - part.size[0] - 0.03), rng.uniform(
                part.size[1] + 0.03, 1 - part.size[1] - 0.03)
        gap = min(
            (np.hypot(cx - p.centre[0], cy - p.centre[1]) - max(p.size) - max(part.size)
             for p in placed if p.name != part.name and p.name != part.parent),
            default=1.0,
        )
        if layout != "pushpins":
            gap = min(gap, np.hypot(cx - part.centre[0], cy - part.centre[1]) - 1.5 * max(part.size))
        if gap > best_gap:
            best, best_gap = (cx, cy), gap
        if gap > 0.02:
            break
    return best


def _other_colour(colour, rng) -> tuple[int, int, int]:
    h, s, v = colorsys.rgb_to_hsv(*(c / 255 for c in colour))
    h = (h + rng.uniform(0.3, 0.7)) % 1.0  # far round the hue circle: a clearly different colour
    s = max(s, 0.5)
    return tuple(int(round(c * 255)) for c in colorsys.hsv_to_rgb(h, s, v))  # type: ignore[return-value]


def _scratch(size, surface, rng) -> np.ndarray:
    ys, xs = np.nonzero(surface)
    i = rng.integers(len(ys))
    x0, y0 = xs[i], ys[i]
    length = rng.uniform(0.12, 0.22) * size
    theta = rng.uniform(0, np.pi)
    pts = []
    for t in np.linspace(-0.5, 0.5, 6):
        bend = rng.normal(0, 0.02 * size)
        pts.append((x0 + t * length * np.cos(theta) - bend * np.sin(theta),
                    y0 + t * length * np.sin(theta) + bend * np.cos(theta)))
    return paint.stroke((size, size), pts, max(1, size // 128) + 1, antialias=True) * surface


def _stain(size, surface, rng) -> np.ndarray:
    ys, xs = np.nonzero(surface)
    i = rng.integers(len(ys))
    canvas = np.zeros((size, size), np.float32)
    radius = rng.uniform(0.035, 0.06) * size
    for _ in range(4):
        cx = xs[i] + rng.normal(0, radius / 2)
        cy = ys[i] + rng.normal(0, radius / 2)
        axes = (int(radius * rng.uniform(0.5, 1.0)), int(radius * rng.uniform(0.4, 0.9)))
        cv2.ellipse(canvas, (int(cx), int(cy)), axes, rng.uniform(0, 180), 0, 360, 1.0, -1, cv2.LINE_AA)
    canvas = cv2.GaussianBlur(canvas, (0, 0), radius / 5)
    return np.clip(canvas * 1.3, 0, 1) * surface


def _apply_damage(image, alpha, name, rng):
    if name == "scratch":
        tone = np.array([245.0, 245.0, 240.0]) if image[alpha > 0.5].mean() < 140 else np.array([35.0, 30.0, 30.0])
    else:
        tone = np.array(rng.choice([[70, 45, 25], [40, 40, 45], [110, 120, 60]]), np.float32)
    return paint.tint(image, alpha, tone, 0.9 if name == "scratch" else 0.75), alpha > 0.25


# -- rendering ----------------------------------------------------------------
def _jittered(parts: list[Part], rng, style: dict | None = None, variant: int | None = None) -> list[Part]:
    """One normal arrangement: zone members shuffled, every part jittered, a product variant chosen."""
    style = style or {}
    centres = {p.name: p.centre for p in parts}
    for zone in sorted({p.zone for p in parts if p.zone}):
        members = [p for p in parts if p.zone == zone]
        centres.update(_arrange(members, style["zones"][zone], rng))
    colours = {p.name: p.colour for p in parts}
    variants = style.get("variants")
    if variants:
        v = variants[rng.integers(len(variants)) if variant is None else variant]
        colours.update(v)
    out = []
    moved: dict[str, tuple[float, float]] = {}
    for p in parts:
        dx, dy = rng.uniform(-p.jitter, p.jitter, 2)
        if p.parent in moved:  # a label moves with its bottle
            px, py = moved[p.parent]
            dx, dy = dx + px, dy + py
        moved[p.name] = (dx, dy)
        scale = rng.uniform(0.95, 1.05)
        cx, cy = centres[p.name]
        out.append(replace(
            p,
            centre=(cx + dx, cy + dy),
            size=(p.size[0] * scale, p.size[1] * scale),
            angle=p.angle + rng.uniform(-p.spin, p.spin),
            colour=tuple(int(np.clip(c + rng.normal(0, 6), 0, 255)) for c in colours[p.name]),
        ))
    return out


def _arrange(members: list[Part], box, rng, tries: int = 300) -> dict[str, tuple[float, float]]:
    """Random non-overlapping centres for a compartment's contents (first fit that leaves a gap)."""
    x0, y0, x1, y1 = box
    for _ in range(tries):
        placed: dict[str, tuple[float, float]] = {}
        for p in rng.permutation(len(members)):
            part = members[p]
            r = max(part.size)
            for _ in range(50):
                c = (rng.uniform(x0 + r, x1 - r), rng.uniform(y0 + r, y1 - r))
                if all(np.hypot(c[0] - q[0], c[1] - q[1]) > r + max(members[[m.name for m in members].index(n)].size)
                       + 0.02 for n, q in placed.items()):
                    placed[part.name] = c
                    break
        if len(placed) == len(members):
            return placed
    return {p.name: p.centre for p in members}  # a compartment too full to shuffle keeps its layout


def _render(layout, parts, style, background, size, rng) -> Scene:
    image, part_masks = _draw(_jittered(parts, rng, style), style, background, size, rng)
    return Scene(image, np.zeros((size, size), bool), 0, "normal", "", layout, [], part_masks)


def _draw(placed: list[Part], style, background, size, rng) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    # camera: a small global shift, light level and colour temperature per shot
    shift = rng.normal(0, 0.006 * size, 2)
    gain = rng.uniform(0.9, 1.1)
    tint = 1 + rng.normal(0, 0.02, 3)
    canvas = background.copy()
    if style.get("grid"):
        _draw_grid(canvas, style["grid"], size)
    visible: dict[str, np.ndarray] = {}
    for p in placed:
        m = _shape_mask(p, size, shift)
        # drop shadow: parts sit on the background, which is what makes them parts
        shadow = cv2.GaussianBlur(np.roll(m, (int(0.012 * size), int(0.012 * size)), (0, 1)), (0, 0), size / 100)
        if p.parent is None:
            canvas *= 1 - 0.35 * shadow[..., None]
        surface = _surface(p, size, rng)
        shade = _shading(m, size)
        canvas = canvas * (1 - m[..., None]) + (surface * shade[..., None]) * m[..., None]
        hard = m > 0.5
        for other in visible.values():
            other &= ~hard
        visible[p.name] = hard
    canvas = canvas * gain * tint
    canvas += rng.normal(0, 3.0, canvas.shape)
    return np.clip(canvas, 0, 255).astype(np.uint8), visible


def _background_texture(style, size, rng) -> np.ndarray:
    base = np.array(style["colour"], np.float32)
    low = cv2.GaussianBlur(rng.normal(0, 1, (size, size)).astype(np.float32), (0, 0), size / 12)
    low /= low.std() + 1e-6
    if style["grain"] == "wood":
        y = np.arange(size, dtype=np.float32)[:, None]
        warp = cv2.GaussianBlur(rng.normal(0, 1, (size, size)).astype(np.float32), (0, 0), size / 20) * 25
        grain = np.sin((y + warp) * 2 * np.pi / (size / 18)) * 8
    else:
        grain = cv2.GaussianBlur(rng.normal(0, 1, (size, size)).astype(np.float32), (0, 0), 1.0) * 10
    tex = low * 6 + grain
    return base[None, None, :] + tex[..., None] * np.array([1.0, 0.95, 0.9], np.float32)


def _draw_grid(canvas, grid, size) -> None:
    rows, cols = grid
    wall = (40.0, 42.0, 48.0)
    t = max(2, size // 64)
    for c in range(1, cols):
        x = int(c * size / cols)
        cv2.line(canvas, (x, 0), (x, size), wall, t, cv2.LINE_AA)
    for r in range(1, rows):
        y = int(r * size / rows)
        cv2.line(canvas, (0, y), (size, y), wall, t, cv2.LINE_AA)


def _shape_mask(p: Part, size, shift) -> np.ndarray:
    """Anti-aliased coverage in [0, 1] of a part, drawn at 4x and downsampled."""
    ss = 4
    big = np.zeros((size * ss, size * ss), np.uint8)
    cx, cy = (p.centre[0] * size + shift[0]) * ss, (p.centre[1] * size + shift[1]) * ss
    rx, ry = p.size[0] * size * ss, p.size[1] * size * ss
    if p.shape in ("circle", "ellipse"):
        cv2.ellipse(big, (int(cx), int(cy)), (int(rx), int(ry)), p.angle, 0, 360, 255, -1)
    else:
        if p.shape == "rect":
            pts = np.array([[-1, -1], [1, -1], [1, 1], [-1, 1]], np.float32)
        elif p.shape == "triangle":
            pts = np.array([[0, -1], [0.95, 0.8], [-0.95, 0.8]], np.float32)
        elif p.shape == "hexagon":
            a = np.linspace(0, 2 * np.pi, 7)[:-1]
            pts = np.stack([np.cos(a), np.sin(a)], 1).astype(np.float32)
        elif p.shape == "star":
            a = np.linspace(0, 2 * np.pi, 11)[:-1]
            r = np.where(np.arange(10) % 2 == 0, 1.0, 0.45)
            pts = np.stack([r * np.cos(a), r * np.sin(a)], 1).astype(np.float32)
        else:
            raise ConfigError(f"unknown shape {p.shape!r}")
        t = np.deg2rad(p.angle)
        rot = np.array([[np.cos(t), -np.sin(t)], [np.sin(t), np.cos(t)]], np.float32)
        pts = (pts * [rx, ry]) @ rot.T + [cx, cy]
        cv2.fillPoly(big, [np.round(pts).astype(np.int32)], 255)
    return cv2.resize(big, (size, size), interpolation=cv2.INTER_AREA).astype(np.float32) / 255.0


def _surface(p: Part, size, rng) -> np.ndarray:
    col = np.array(p.colour, np.float32)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    t = np.deg2rad(p.angle)
    u = (xx - p.centre[0] * size) * np.cos(t) + (yy - p.centre[1] * size) * np.sin(t)
    v = -(xx - p.centre[0] * size) * np.sin(t) + (yy - p.centre[1] * size) * np.cos(t)
    if p.texture == "stripes":
        pattern = np.sin(u * 2 * np.pi / (size / 40)) * 0.12
    elif p.texture == "dots":
        pattern = -0.25 * ((np.sin(u * 2 * np.pi / (size / 30)) * np.sin(v * 2 * np.pi / (size / 30))) > 0.6)
    elif p.texture == "speckle":
        pattern = cv2.GaussianBlur(rng.normal(0, 1, (size, size)).astype(np.float32), (0, 0), 1.2) * 0.12
    elif p.texture == "text":
        rows = (np.abs(np.sin(v * 2 * np.pi / (size / 28))) > 0.7).astype(np.float32)
        words = (np.sin(u * 2 * np.pi / (size / 14) + np.floor(v / (size / 28)) * 1.7) > -0.2).astype(np.float32)
        pattern = -0.55 * rows * words
    else:
        pattern = np.zeros((size, size), np.float32)
    return col[None, None, :] * (1 + pattern[..., None])


def _shading(mask, size) -> np.ndarray:
    # lit from the top left: a soft gradient across each part
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / size
    return 1.08 - 0.16 * (xx + yy) / 2
