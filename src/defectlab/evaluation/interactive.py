"""The click-segmentation evaluation (``defectlab click-eval``).

Protocol (RITM / SimpleClick standard, applied to every method alike): the
simulated user starts from an empty mask and clicks, up to ``max_clicks``
(20) times, at the point farthest from the boundary of the largest error
region, positive in a missed defect, negative in a false alarm
(:func:`defectlab.click.clicks.next_click`). IoU is taken after every click,
at the image's full size, against the image's whole defect mask (all its
regions are one object, which is what a labeller wants from the image).

Reported per defect class and overall: NoC@80/85/90 (mean clicks to reach
that IoU, 20 when never reached) with failures (NoF), mIoU after 1, 3 and 5
clicks, and pixel AP of the soft masks after 3 and 5 clicks (all pixels of
the class pooled, the MVTec convention). Once a run has reached the highest
IoU threshold and made at least 5 clicks, it stops: no reported number
depends on later clicks, and bad methods still run all 20.
"""

from __future__ import annotations

import csv
import io
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
from tqdm.auto import tqdm

from ..click.clicks import Click, next_click
from ..data import get_dataset, load_gt_mask, load_image, sample_support
from ..data.io import atomic_write, write_text_atomic
from ..errors import ConfigError, DataError
from ..metrics import iou, miou_at_clicks, noc_at, pixel_ap
from ..registry import Registry
from .click_baselines import GrabCut, ImageContext, RandomWalker, ResidualMap

THRESHOLDS = (0.8, 0.85, 0.9)
AP_CLICKS = (3, 5)
MIOU_CLICKS = (1, 3, 5)


@dataclass
class Record:
    ious: list[float] = field(default_factory=list)
    soft: dict[int, np.ndarray] = field(default_factory=dict)  # click count -> soft mask
    seconds: list[float] = field(default_factory=list)  # per click


def simulate(
    method,
    gt: np.ndarray,
    max_clicks: int = 20,
    stop_iou: float = max(THRESHOLDS),
    keep_soft: Sequence[int] = AP_CLICKS,
) -> Record:
    """Run the simulated user against ``method`` (already started on the image)."""
    gt = np.asarray(gt, bool)
    record = Record()
    pred = np.zeros_like(gt)
    soft = np.zeros(gt.shape, np.float32)
    clicks: list[Click] = []
    min_clicks = max(max(keep_soft, default=1), max(MIOU_CLICKS))
    for k in range(1, max_clicks + 1):
        click = next_click(gt, pred)
        if click is None:
            # A perfect mask: the user stops; the values it would keep are the final ones.
            while len(record.ious) < min(min_clicks, max_clicks):
                record.ious.append(1.0)
                kk = len(record.ious)
                if kk in keep_soft:
                    record.soft[kk] = soft
            break
        clicks.append(click)
        start = time.perf_counter()
        pred, soft = method.predict(list(clicks))
        record.seconds.append(time.perf_counter() - start)
        pred = np.asarray(pred, bool)
        if pred.shape != gt.shape:
            raise ConfigError(f"{getattr(method, 'name', method)} returned a mask of shape {pred.shape}, expected {gt.shape}")
        record.ious.append(iou(pred, gt))
        if k in keep_soft:
            record.soft[k] = soft
        if k >= min_clicks and record.ious[-1] >= stop_iou:
            break
    return record


class ADClickMethod:
    """ADClick under the protocol: one ClickSession per image, one add_click per click."""

    def __init__(self, model, use_prompt: bool = True, name: str = "ADClick", **session_options):
        self.model = model
        self.use_prompt = use_prompt
        self.name = name
        self.session_options = session_options  # ClickSession keywords: drop_rejected, fill, obey, gate, disk, grabcut

    def start(self, context: ImageContext) -> None:
        from ..click.session import ClickSession

        prompt = context.prompt if self.use_prompt else None
        self.session = ClickSession(
            context.image, self.reference, prompt=prompt, model=self.model, features=context.features, **self.session_options
        )

    def predict(self, clicks: list[Click]) -> tuple[np.ndarray, np.ndarray]:
        c = clicks[-1]
        if len(clicks) != len(self.session.clicks) + 1:
            raise ConfigError("ADClickMethod.predict expects one new click per call")
        self.session.add_click(c.x, c.y, c.positive)
        return self.session.mask, self.session.probability


class ADClickWalk(ADClickMethod):
    """The random-walker baseline walking on the image and ADClick's probability together (issue #14 diagnosis).

    Every click goes to the ClickSession as in :class:`ADClickMethod`; the mask
    is then the random walker's from the same click seeds (and border
    background), with the session's probability as one more channel beside
    the image's colours, on the same [0, 1] scale: the walk follows colour edges
    and the head's edges both. Not ClickSession's behaviour: a protocol method
    to measure whether the two are complementary.
    """

    def start(self, context: ImageContext) -> None:
        super().start(context)
        self.walker = RandomWalker()
        self.walker.start(context)

    def predict(self, clicks: list[Click]) -> tuple[np.ndarray, np.ndarray]:
        _, probability = super().predict(clicks)
        return self.walker.predict(clicks, extra=probability)


@torch.no_grad()
def miou_after_clicks(model, reference, samples, clicks: Sequence[int] = (1, 3, 5)) -> dict:
    """Mean IoU of ``model`` after 1/3/5 simulated clicks on ``samples``: click-train's validation score."""
    method = ADClickMethod(model, use_prompt=model.config.text_encoder is not None)
    method.reference = reference
    ious = {k: [] for k in clicks}
    for s in samples:
        image = load_image(s.image_path)
        method.start(ImageContext(image, prompt=s.anomaly_type, features=reference.features(image)))
        record = simulate(method, load_gt_mask(s), max_clicks=max(clicks), stop_iou=1.1)
        for k in clicks:
            ious[k].append(record.ious[k - 1])
    return {f"mIoU@{k}": round(float(np.mean(v)), 4) for k, v in ious.items()}


def summarize(records: list[tuple[str, Record, np.ndarray]], max_clicks: int) -> dict[str, float]:
    """Metrics for (class, record, gt) triples."""
    seqs = [r.ious for _, r, _ in records]
    row: dict[str, float] = {"images": len(records)}
    noc = noc_at(seqs, THRESHOLDS, max_clicks)
    for t in THRESHOLDS:
        name = f"{t * 100:g}"
        row[f"NoC@{name}"] = noc[f"NoC@{name}"]
    row[f"NoF@{max(THRESHOLDS) * 100:g}"] = noc[f"NoF@{max(THRESHOLDS) * 100:g}"]
    row.update(miou_at_clicks(seqs, [k for k in MIOU_CLICKS if k <= max_clicks]))
    for k in AP_CLICKS:
        if k > max_clicks:
            continue
        gts = np.concatenate([gt.ravel() for _, _, gt in records])
        softs = np.concatenate([r.soft[k].ravel() for _, r, _ in records])
        row[f"AP@{k}"] = pixel_ap(gts[None], softs[None])
    # mIoU after k clicks for the curve plot; a run the user ended early keeps its final IoU
    row["curve"] = [float(np.mean([ious[min(k, len(ious)) - 1] for ious in seqs])) for k in range(1, max_clicks + 1)]
    secs = [s for _, r, _ in records for s in r.seconds]
    row["ms/click"] = 1000 * float(np.mean(secs)) if secs else float("nan")
    return row


class MethodOptions:
    """What the click methods' constructors may need; the ADClick model is loaded once, when first asked for."""

    def __init__(self, checkpoint=None, sam_model: str | None = None, log=print, drop_rejected: bool = True):
        self.checkpoint, self.sam_model, self.log, self.drop_rejected = checkpoint, sam_model, log, drop_rejected
        self._model = None

    def model(self):
        from ..click.session import ClickModel

        self._model = self._model or ClickModel(self.checkpoint)
        return self._model


# name -> constructor(MethodOptions) -> Method, or None when the method cannot run here (SAM without weights)
CLICK_METHODS: Registry = Registry("click method")


def _adclick(label: str, prompt: bool = True, **session_options):
    return lambda o: ADClickMethod(o.model(), prompt, label, drop_rejected=o.drop_rejected, **session_options)


def _sam(o: MethodOptions):
    if not o.sam_model:
        o.log("SAM: skipped (no --sam-model given; pass a local SamModel directory or cached hub id)")
        return None
    from .click_baselines import SAM

    try:
        return SAM(o.sam_model)
    except OSError as err:
        o.log(f"SAM: skipped, weights not available locally ({str(err).splitlines()[0]})")
        return None


CLICK_METHODS.register("adclick", _adclick("ADClick"))
CLICK_METHODS.register("adclick-noprompt", _adclick("ADClick (no prompt)", prompt=False))
CLICK_METHODS.register("adclick-nofill", _adclick("ADClick (no fill)", fill=False))
CLICK_METHODS.register("adclick-noobey", _adclick("ADClick (clicks not enforced)", obey=False))
CLICK_METHODS.register("adclick-gate", _adclick("ADClick (residual gate)", gate=True))
CLICK_METHODS.register("adclick-nograbcut", _adclick("ADClick (no GrabCut refinement)", grabcut=False))
CLICK_METHODS.register("adclick-nokeephead", _adclick("ADClick (GrabCut never falls back to the head: before session 17)",
                                                       grabcut_keeps_head=False))
CLICK_METHODS.register("adclick-modeldisk-nograbcut", _adclick("ADClick (model-resolution disks, no GrabCut: before session 13)",
                                                                disk=None, grabcut=False))
CLICK_METHODS.register("adclick-walk", lambda o: ADClickWalk(o.model(), True, "ADClick + random walker",
                                                             drop_rejected=o.drop_rejected))
CLICK_METHODS.register("grabcut", lambda o: GrabCut())
CLICK_METHODS.register("random-walker", lambda o: RandomWalker())
CLICK_METHODS.register("residual", lambda o: ResidualMap())
CLICK_METHODS.register("sam", _sam)


def build_methods(names: Sequence[str], checkpoint=None, sam_model: str | None = None, log=print,
                  drop_rejected: bool = True) -> list:
    constructors = [CLICK_METHODS.get(name) for name in names]  # every name checked before any model loads
    options = MethodOptions(checkpoint, sam_model, log, drop_rejected)
    return [m for m in (c(options) for c in constructors) if m is not None]


def evaluate(
    dataset: str,
    root: str | os.PathLike,
    category: str | None = None,
    types: Sequence[str] | None = None,
    methods: Sequence[str] = ("adclick", "grabcut", "random-walker", "residual", "sam"),
    checkpoint=None,
    sam_model: str | None = None,
    n_normals: int = 64,
    seed: int = 0,
    prompt: str = "type",
    max_clicks: int = 20,
    limit: int | None = None,
    progress: bool = True,
    log=print,
    samples: Sequence | None = None,
    drop_rejected: bool = True,
) -> list[dict]:
    """Run the protocol; returns table rows (one per method and class, plus "all").

    ``samples`` overrides the dataset's defective test images (e.g. a
    validation subset of the training classes, for development).
    """
    from ..click.session import ClickModel

    ds = get_dataset(dataset, root, category)
    defective = [s for s in (ds.test_samples() if samples is None else samples) if s.label == 1]
    available = sorted({s.anomaly_type for s in defective})
    if types:
        unknown = sorted(set(types) - set(available))
        if unknown:
            raise ConfigError(f"defect types {unknown} not in {dataset} at {root}; it has {available}")
        defective = [s for s in defective if s.anomaly_type in set(types)]
    if not defective:
        raise DataError(f"no defective test images with masks in {dataset} at {root}")
    if limit:
        # an even spread over classes, for quick runs
        by_type: dict[str, list] = {}
        for s in defective:
            by_type.setdefault(s.anomaly_type, []).append(s)
        defective = [s for group in by_type.values() for s in group[:limit]]

    built = build_methods(methods, checkpoint, sam_model, log, drop_rejected)
    if not built:
        raise ConfigError("no method left to evaluate")
    model = next((m.model for m in built if isinstance(m, ADClickMethod)), None) or ClickModel(checkpoint)
    train_normals = ds.train_normals()
    if not train_normals:
        raise DataError(f"{dataset} at {root} has no normal training images to build the normal reference from")
    normals = sample_support(train_normals, min(n_normals, len(train_normals)), seed=seed)
    reference = model.reference(normals, progress=progress)
    for m in built:
        if isinstance(m, ADClickMethod):
            m.reference = reference

    results: dict[str, list] = {m.name: [] for m in built}
    bar = tqdm(defective, desc="click-eval", unit="img", disable=not progress)
    for sample in bar:
        image = load_image(sample.image_path)
        gt = load_gt_mask(sample)
        if gt.shape != image.shape[:2]:
            raise DataError(f"mask of {sample.image_path} has shape {gt.shape}, image {image.shape[:2]}")
        if not gt.any():
            log(f"skipping {sample.image_path}: its mask is empty")
            continue
        text = {"type": sample.anomaly_type.replace("_", " "), "none": None}.get(prompt, prompt)
        context = ImageContext(image=image, prompt=text, features=reference.features(image))
        for m in built:
            m.start(context)
            results[m.name].append((sample.anomaly_type, simulate(m, gt, max_clicks), gt))
    return [row for name, recs in results.items() for row in class_rows(name, recs, max_clicks)]


def class_rows(method: str, records: list[tuple[str, Record, np.ndarray]], max_clicks: int) -> list[dict]:
    """Table rows of one method: one per class of ``records``, then "all"."""
    rows = []
    for cls in sorted({c for c, _, _ in records}) + ["all"]:
        sel = [r for r in records if cls == "all" or r[0] == cls]
        rows.append({"method": method, "class": cls, **summarize(sel, max_clicks)})
    return rows


COLUMNS = ("method", "class", "images", "NoC@80", "NoC@85", "NoC@90", "NoF@90", "mIoU@1", "mIoU@3", "mIoU@5", "AP@3", "AP@5", "ms/click")


def _fmt(v) -> str:
    if isinstance(v, float):
        return "nan" if np.isnan(v) else (f"{v:.1f}" if abs(v) >= 10 else f"{v:.3f}" if abs(v) < 1 else f"{v:.2f}")
    return str(v)


def markdown_table(rows: list[dict]) -> str:
    cols = [c for c in COLUMNS if any(c in r for r in rows)]
    lines = ["| " + " | ".join(cols) + " |", "|" + "|".join("---" for _ in cols) + "|"]
    for r in sorted(rows, key=lambda r: (r["class"] == "all", r["class"])):
        lines.append("| " + " | ".join(_fmt(r.get(c, "")) for c in cols) + " |")
    return "\n".join(lines)


def write_results(rows: list[dict], out_dir: str | os.PathLike, header: str = "") -> tuple[Path, Path]:
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    cols = [c for c in COLUMNS + ("curve",) if any(c in r for r in rows)]
    csv_path, md_path = out / "click_eval.csv", out / "click_eval.md"
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=cols, extrasaction="ignore")
    writer.writeheader()
    for r in rows:  # the curve as one space-separated cell, so merged runs can redraw the plot
        writer.writerow({**r, "curve": " ".join(f"{v:.4f}" for v in r["curve"])} if "curve" in r else r)
    write_text_atomic(csv_path, buf.getvalue())
    write_text_atomic(md_path, (header + "\n\n" if header else "") + markdown_table(rows) + "\n")
    if any("curve" in r for r in rows):
        plot_curves(rows, out / "click_eval_curves.png")
    return csv_path, md_path


def plot_curves(rows: list[dict], path: str | os.PathLike) -> Path:
    """mIoU against the number of clicks, one panel per defect class (and "all"), one line per method."""
    import matplotlib

    matplotlib.use("Agg")  # files only; never needs a display
    import matplotlib.pyplot as plt
    import matplotlib.ticker

    rows = [r for r in rows if "curve" in r]
    classes = sorted({r["class"] for r in rows}, key=lambda c: (c == "all", c))
    fig, axes = plt.subplots(1, len(classes), figsize=(4.2 * len(classes), 3.6), squeeze=False, sharey=True)
    for ax, cls in zip(axes[0], classes):
        for r in (r for r in rows if r["class"] == cls):
            ax.plot(range(1, len(r["curve"]) + 1), r["curve"], marker=".", label=r["method"])
        for t in THRESHOLDS:
            ax.axhline(t, color="0.8", lw=0.8, ls="--", zorder=0)
        images = next(r["images"] for r in rows if r["class"] == cls)
        ax.set(title=f"{cls} ({images} images)", xlabel="clicks", ylim=(0, 1), xlim=(1, None))
        ax.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel("mean IoU")
    axes[0][-1].legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    atomic_write(path, lambda f: fig.savefig(f, format="png", dpi=110))
    plt.close(fig)
    return Path(path)
