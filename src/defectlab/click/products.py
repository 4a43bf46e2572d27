"""The products ADClick trains and is measured on, and each product's fixed split.

A *product* is one dataset folder (a layout, a root and a category). The
five real products of ``../shared/data`` are listed by
:func:`shared_products`; ``click-train --products`` trains across several of
them and ``--exclude`` leaves one out (leave-one-product-out).

Every product's images are split once, the same way for training, the
leave-one-product-out benchmark and the shipped head (:func:`product_split`):

- the normal reference: ``sample_support(train_normals, n_normals, seed)``,
  never a synthetic-defect base;
- the evaluation images: a fixed-seed draw of ``n_eval`` defective images,
  never trained on by any head, whether or not the product is held out;
- training real defects: the other defective images (at most ``max_real``,
  a fixed-seed draw), and synthetic defects pasted on the normal training
  images that are not in the reference.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from ..data import get_dataset
from ..errors import ConfigError

SHARED_PRODUCTS = ("magnetic_tile", "metal_plate", "ball_screw", "commutator", "battery_weld")
N_EVAL = 30  # evaluation images per product (fixed seed), the same for every head
EVAL_SEED = 0


@dataclass(frozen=True)
class Product:
    name: str
    dataset: str
    root: str
    category: str | None = None

    def load(self):
        return get_dataset(self.dataset, self.root, self.category)


def shared_products(data_root: str | Path, names: Sequence[str] | None = None) -> list[Product]:
    """The shared products under ``data_root`` (``magnetic_tile/`` and ``industrial/<category>``)."""
    root = Path(data_root)
    names = list(SHARED_PRODUCTS if not names or list(names) == ["all"] else names)
    unknown = sorted(set(names) - set(SHARED_PRODUCTS))
    if unknown:
        raise ConfigError(f"unknown products {unknown}; the shared data has {list(SHARED_PRODUCTS)} (or 'all')")
    out = []
    for name in names:
        if name == "magnetic_tile":
            p = Product(name, "magnetic-tile", str(root / "magnetic_tile"))
        else:
            p = Product(name, "mvtec-ad", str(root / "industrial"), name)
        folder = Path(p.root) / (p.category or "")
        if not folder.is_dir():
            raise ConfigError(f"product {name}: folder {folder} not found; --data-root must hold magnetic_tile/ and industrial/")
        out.append(p)
    return out


def select_products(products: Sequence[Product], exclude: Sequence[str] = ()) -> list[Product]:
    """``products`` without the ``exclude`` names (each must be one of them)."""
    names = {p.name for p in products}
    unknown = sorted(set(exclude) - names)
    if unknown:
        raise ConfigError(f"--exclude {unknown} is not among the products {sorted(names)}")
    kept = [p for p in products if p.name not in set(exclude)]
    if not kept:
        raise ConfigError("--exclude leaves no product to train on")
    return kept


def product_split(ds, n_eval: int = N_EVAL, max_real: int | None = None, seed: int = EVAL_SEED) -> tuple[list, list]:
    """(training, evaluation) defective samples of one product; the evaluation draw is fixed by ``seed``.

    At most half of a product's defective images go to evaluation, so a
    small product still has some to train on.
    """
    defective = sorted((s for s in ds.test_samples() if s.label == 1 and s.mask_paths), key=lambda s: str(s.image_path))
    k = min(n_eval, len(defective) // 2)
    order = np.random.default_rng(seed).permutation(len(defective))
    eval_idx = set(order[:k].tolist())
    evaluation = [defective[i] for i in sorted(eval_idx)]
    train = [defective[i] for i in order[k:].tolist()]
    if max_real is not None:
        train = train[:max_real]
    return sorted(train, key=lambda s: str(s.image_path)), evaluation
