"""ADClick-Seg training (``defectlab seg-train``): the click head as a supervised defect segmenter.

The same network that turns clicks into masks scores an image with no click
at all (:meth:`ClickSession.segment`); this module fine-tunes it for one
product on that product's labelled defects, with no clicks:

- **positives**: the labelled defective images and their masks (ground truth
  or masks made with clicks in ``defectlab label``), prompted with the defect
  type's name (``PROMPT_TEMPLATES``), half of the time with no prompt, which
  is how the detector scores (it does not know the type of a new defect);
- **negatives**: normal images of the product (all-zero targets), compared
  with the normal reference without themselves (leave-one-out), as a new
  normal image would be;
- **extra positives**: synthetic defects pasted on normal images
  (:func:`defectlab.synthetic.defects.synthesize`), so a few labelled images
  do not teach the head that only their shapes are defects.

Features come from the frozen backbone and are cached on disk exactly as
``click-train`` caches them (:func:`defectlab.click.train.build_items`), so a
second run on the same folder costs only the head's steps. It starts from the
shipped ADClick head (or ``init``) and writes a checkpoint in the same
format (``.safetensors`` + ``.json``; the JSON records the feature settings
the normal reference must be built with, and ``training.mode =
"adclick-seg"``). :class:`defectlab.click.seg_detector.AdClickSegDetector`
scores with it.

Default settings and why: 400 steps of 6 crops of 256 px (fits the
15-minute budget on a 2-core CPU with room to spare: about 0.7 s a step,
measured); learning rate 5e-4, half the rate the head was trained from
scratch with, because it starts trained; half of each batch real defects,
a quarter synthetic, a quarter normal (the label set is small, and the
normals keep false alarms down); 200 synthetic images and up to 64 normal
negatives (their features cost ~0.15-0.3 s each, once).
"""

from __future__ import annotations

import hashlib
import os
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Sequence

import cv2
import numpy as np
import torch

from ..data import load_image, sample_support
from ..data.datasets.folder import FolderDataset
from ..data.io import image_size, load_mask
from ..data.listing import list_images
from ..errors import ConfigError, DataError
from ..synthetic.defects import PROMPTS, synthesize
from .checkpoint import load_checkpoint, save_checkpoint
from .model import with_feature_input
from .residual import NormalReference
from .train import (
    PROMPT_TEMPLATES,
    SYNTH_VERSION,
    Item,
    _file_id,
    _prompt_table,
    _signature,
    _synth_kind,
    build_items,
    encode_batch,
    optimise,
)

SEG_MODE = "adclick-seg"


@dataclass
class Labelled:
    """One labelled defective image: its path, its bool HxW mask (or mask file) and defect type."""

    image: Path
    mask: np.ndarray | Path | tuple[Path, ...]  # several files (one per defect) are OR-ed
    defect_type: str = "defect"

    def load_mask(self) -> np.ndarray:
        if isinstance(self.mask, np.ndarray):
            return np.asarray(self.mask, bool)
        if isinstance(self.mask, tuple):
            return np.logical_or.reduce([load_mask(p) for p in self.mask])
        return load_mask(self.mask)


@dataclass
class SegTrainConfig:
    init: str | None = None  # checkpoint to start from; None = the shipped ADClick head
    # The click head sees only residuals so as not to learn its training products; a model trained
    # on one product's labels should see that product, so a residual-only head is grown to see the
    # backbone features too (model.with_feature_input; starts from the same output).
    features: bool = True
    n_normals: int = 64  # normal reference size (sampled from the normal images)
    n_negatives: int = 64  # normal images used as negatives (reference ones leave themselves out)
    n_synthetic: int = 200
    iterations: int = 400
    batch_size: int = 6
    crop: int = 256
    lr: float = 5e-4
    weight_decay: float = 1e-4
    real_fraction: float = 0.5
    synthetic_fraction: float = 0.25  # the rest of each batch: normal images
    no_prompt_fraction: float = 0.5
    # Labelled pixels within this many model px of a label's boundary are left out of the loss
    # (0: none): a label, drawn with clicks or by hand, is least sure at its boundary (boundary_weight).
    ignore_band: int = 0
    seed: int = 0
    cache_dir: str | None = None
    progress: bool = True
    extra: dict = field(default_factory=dict)  # recorded in the JSON (e.g. where the labels came from)


@dataclass
class SegTrainingSet:
    normals: list[Path]  # train/good: the normal reference and negatives
    labelled: list[Labelled]
    extra_negatives: list[Path]  # test/good: more negatives, never in the reference
    folder: Path


def read_label_folder(root: str | os.PathLike, category: str | None = None) -> SegTrainingSet:
    """The training set in a folder as ``defectlab label`` writes it (MVTec AD layout of one product).

    ``ROOT/train/good`` normal images (copied there by the user), ``ROOT/test/<type>/NAME.ext``
    defective images with ``ROOT/ground_truth/<type>/NAME_mask.png``, and optionally
    ``ROOT/test/good`` (images marked "no defect"). With ``category``, the product is ``ROOT/<category>``.
    """
    folder = Path(root) / category if category else Path(root)
    if not folder.is_dir():
        raise ConfigError(f"{folder} is not a folder; --root is the labelled product's folder "
                          "(what `defectlab label` writes, with train/good added)")
    good = folder / "train" / "good"
    normals = list_images(good) if good.is_dir() and any(good.iterdir()) else []
    if len(normals) < 2:
        raise DataError(f"{good}: {len(normals)} normal images; seg-train needs at least 2 (10-30 recommended). "
                        f"Copy defect-free images of the product into {good}")
    labelled: list[Labelled] = []
    extra: list[Path] = []
    # The label app writes the folder dataset's split layout; its scan finds the masks
    # (ground_truth/<type>/NAME_mask.png, and the other spellings `evaluate --dataset folder` accepts).
    samples = FolderDataset(folder).test_samples() if (folder / "test").is_dir() else []
    for sample in samples:
        if sample.label == 0:
            extra.append(sample.image_path)
        elif not sample.mask_paths:
            mask = folder / "ground_truth" / sample.anomaly_type / f"{sample.image_path.stem}_mask.png"
            raise DataError(f"defective image {sample.image_path} has no mask {mask}; label it (defectlab label) "
                            "or move it out of test/")
        else:
            paths = sample.mask_paths
            labelled.append(Labelled(sample.image_path, paths[0] if len(paths) == 1 else paths, sample.anomaly_type))
    if not labelled:
        raise DataError(f"no labelled defects in {folder}: expected test/<type>/NAME.png with "
                        "ground_truth/<type>/NAME_mask.png (what `defectlab label` writes); label some images first")
    return SegTrainingSet(normals, labelled, extra, folder)


def check_labels(labelled: Sequence[Labelled]) -> list[np.ndarray]:
    """The masks, after checking each has its image's size; raises on the first that does not."""
    masks = []
    for item in labelled:
        mask = item.load_mask()
        shape = image_size(item.image) if not isinstance(item.image, np.ndarray) else item.image.shape[:2]
        if mask.shape != tuple(shape):
            where = item.mask if not isinstance(item.mask, np.ndarray) else "the mask"
            raise DataError(f"mask {where} is {mask.shape[1]}x{mask.shape[0]} (WxH) but image {item.image} is "
                            f"{shape[1]}x{shape[0]}; a mask must have its image's size (masks are not resized)")
        masks.append(mask)
    if not any(m.any() for m in masks):
        raise DataError(f"all {len(masks)} masks are empty; seg-train needs labelled defect pixels")
    return masks


def train_seg(
    cfg: SegTrainConfig,
    normals: Sequence[Path],
    labelled: Sequence[Labelled],
    out: str | os.PathLike,
    extra_negatives: Sequence[Path] = (),
) -> Path:
    """Fine-tune the head on ``labelled`` defects of one product without clicks; writes ``out`` (+ .json)."""
    start = time.perf_counter()
    if len(normals) < 2:
        raise DataError(f"seg-train needs at least 2 normal images, got {len(normals)}")
    if not labelled:
        raise DataError("seg-train needs at least one labelled defective image")
    if cfg.crop % 8:
        raise ConfigError(f"crop must be a multiple of 8, got {cfg.crop}")
    masks = check_labels(labelled)
    torch.manual_seed(cfg.seed)
    rng = np.random.default_rng(cfg.seed)
    head, config = load_checkpoint(cfg.init)
    if cfg.features:
        head = with_feature_input(head)
        config = replace(config, head=head.config)
    head.train().requires_grad_(True)
    settings = config.features

    normals = sorted(Path(p) for p in normals)
    ref_paths = sample_support(normals, min(cfg.n_normals, len(normals)), seed=cfg.seed)
    reference = NormalReference(ref_paths, settings, progress=cfg.progress)
    ref_index = {p: i for i, p in enumerate(ref_paths)}
    ref_sig = _signature(settings.head_inputs(), settings.image_size, settings.max_side, settings.top_k,
                         [_file_id(p) for p in ref_paths])
    types = sorted({item.defect_type for item in labelled})
    type_prompts = tuple(t.format(name) for name in types for t in PROMPT_TEMPLATES)

    real_src = []
    for item, mask in zip(labelled, masks):
        digest = hashlib.sha1(np.packbits(mask).tobytes() + str(mask.shape).encode()).hexdigest()[:16]
        make = lambda item=item, mask=mask: (load_image(item.image), mask)
        prompts = tuple(t.format(item.defect_type) for t in PROMPT_TEMPLATES)
        real_src.append((_signature("seg-real", ref_sig, _file_id(Path(item.image)), digest), make, prompts, "real"))

    negatives = sample_support(normals, min(cfg.n_negatives, len(normals)), seed=cfg.seed + 1)
    neg_src = []
    for p in list(negatives) + [Path(x) for x in extra_negatives]:
        exclude = [ref_index[p]] if p in ref_index else []
        make = lambda p=p: (lambda im: (im, np.zeros(im.shape[:2], bool)))(load_image(p))
        neg_src.append((_signature("seg-normal", ref_sig, _file_id(p), exclude), make, type_prompts, "normal", exclude))

    synth_src = []
    for i in range(cfg.n_synthetic):
        base, donor = normals[i % len(normals)], normals[(7 * i + 3) % len(normals)]
        kind = _synth_kind(cfg.seed, i)
        exclude = [ref_index[base]] if base in ref_index else []

        def make(i=i, base=base, donor=donor, kind=kind):
            image, mask, _ = synthesize(load_image(base), np.random.default_rng([cfg.seed, i]), kind=kind,
                                        donor=load_image(donor))
            return image, mask

        key = _signature("seg-synth", ref_sig, cfg.seed, i, _file_id(base), _file_id(donor), SYNTH_VERSION, exclude)
        synth_src.append((key, make, PROMPTS[kind], kind, exclude))

    real = build_items(cfg, reference, real_src, "features: labelled defects")
    if cfg.ignore_band:
        real = [replace(it, weight=boundary_weight(it.target.float().numpy() > 0.5, cfg.ignore_band)) for it in real]
    neg = build_items(cfg, reference, neg_src, "features: normal images")
    synth = build_items(cfg, reference, synth_src, "features: synthetic defects") if synth_src else []
    feature_seconds = time.perf_counter() - start

    table = _prompt_table(config.text_encoder, config.head, real + neg + synth)

    def step():
        items = [_pick3(real, synth, neg, cfg, rng) for _ in range(cfg.batch_size)]
        return *encode_batch(head, items, table, cfg, rng), None  # no clicks: the head segments on its own

    final_loss, train_seconds = optimise(head, cfg, step, "seg-train", warmup=0.1)

    head.eval()
    config.training = {
        "mode": SEG_MODE,
        "init": str(cfg.init) if cfg.init else "shipped ADClick head",
        "init_training": config.training,
        "features": cfg.features,
        "types": types,
        "n_labelled": len(real),
        "n_normals": len(ref_paths),
        "n_negatives": len(neg),
        "n_synthetic": len(synth),
        "iterations": cfg.iterations,
        "batch_size": cfg.batch_size,
        "crop": cfg.crop,
        "lr": cfg.lr,
        "fractions": {"real": cfg.real_fraction, "synthetic": cfg.synthetic_fraction,
                      "normal": round(1 - cfg.real_fraction - cfg.synthetic_fraction, 4)},
        "no_prompt_fraction": cfg.no_prompt_fraction,
        "ignore_band": cfg.ignore_band,
        "seed": cfg.seed,
        "feature_seconds": round(feature_seconds, 1),
        "train_seconds": round(train_seconds, 1),
        "final_loss": round(final_loss, 4),
        "threads": torch.get_num_threads(),
        "torch": torch.__version__,
        **cfg.extra,
    }
    return save_checkpoint(head, config, out)


def boundary_weight(mask: np.ndarray, band: int) -> torch.Tensor:
    """Loss weight (H, W) that is 0 within ``band`` px of the mask's boundary, on both sides, else 1.

    A component the band would swallow keeps its pixels (only its outer ring is
    left out), so no labelled defect drops out of the loss, however small.
    """
    disk = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * band + 1, 2 * band + 1))
    m = mask.astype(np.uint8)
    ignore = (cv2.dilate(m, disk) > 0) & ~mask
    core = cv2.erode(m, disk) > 0
    n, labels = cv2.connectedComponents(m, connectivity=8)
    kept = np.zeros(n, bool)
    kept[np.unique(labels[core])] = True  # components with a core lose their inner ring
    ignore |= mask & ~core & kept[labels]
    return torch.from_numpy((~ignore).astype(np.float32))


def _pick3(real: list[Item], synth: list[Item], neg: list[Item], cfg: SegTrainConfig, rng) -> Item:
    u = rng.random()
    if u < cfg.real_fraction or not (synth or neg):
        pool = real
    elif u < cfg.real_fraction + cfg.synthetic_fraction and synth:
        pool = synth
    else:
        pool = neg or synth
    return pool[int(rng.integers(len(pool)))]
