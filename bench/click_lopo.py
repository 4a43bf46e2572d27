"""ADClick leave-one-product-out: train without each product, evaluate on it, beside the baselines.

    python bench/click_lopo.py --data-root ../shared/data            # all five folds, resumable
    python bench/click_lopo.py --products commutator --phase train   # one fold's head only

For each product P of the shared data (``defectlab.click.products``):

1. train: ``click-train --products all --exclude P`` with ``--iterations``
   (fewer than the shipped head's, to fit five folds on a 2-core CPU), the
   other settings at click-train's defaults, ``--val-per-product`` of each
   training product's evaluation images scored after training (the inner
   hold-out; the held-out product plays no part in it);
2. evaluate: click-eval's protocol (``defectlab.evaluation.interactive``:
   the simulated user, 20 clicks, NoC@80/85/90, mIoU@1/3/5, AP@3/5) on the
   first ``--images`` of P's fixed evaluation draw (``product_split``, seed
   0: images no head ever trains on), ADClick with the fold's head and the
   baselines (GrabCut, random walker, residual map; SAM when --sam-model
   points at local weights). The normal reference is click-eval's: 64 normal
   training images of P (all when it has fewer), seed 0.

``--inner`` runs the nested hold-out instead, for choosing between variants
(a ``--train-args`` change, each in its own ``--work``) without looking at
the held-out figures: fold P's inner head is trained without P *and* the
next product Q (``SHARED_PRODUCTS`` order, cyclic) and evaluated on Q. The
variant for the outer fold P is then the one that does better on Q.

Every fold's head and every (product, method) result is written atomically
under ``--work``; a rerun skips what is there, so an interrupted run resumes.
``--phase report`` only rebuilds the table from what is there.

Pooled rows: NoC and mIoU over all held-out images (each product
contributes ``--images`` images), AP as the mean of the per-product APs
(pixels are not comparable across products of different image sizes).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

ADCLICK = "adclick"
BASELINES = ("grabcut", "random-walker", "residual")


def fold(args, product: str) -> tuple[str, list[str], str]:
    """(name, products left out of training, product evaluated) of the fold for held-out ``product``."""
    if not args.inner:
        return product, [product], product
    q = args.products_all[(args.products_all.index(product) + 1) % len(args.products_all)]
    return f"{product}-inner-{q}", [product, q], q


def fold_head(work: Path, product: str) -> Path:
    return work / f"fold_{product}.safetensors"


def result_file(work: Path, product: str, method: str) -> Path:
    return work / f"result_{product}_{method}.json"


def train_fold(args, product: str, work: Path) -> None:
    from defectlab.cli import main as cli

    product, excluded, _ = fold(args, product)
    out = fold_head(work, product)
    if out.is_file() and out.with_suffix(".json").is_file():
        print(f"[{product}] head exists: {out}")
        return
    cmd = ["click-train", "--products", ",".join(args.products_all), "--data-root", str(args.data_root), "--exclude", ",".join(excluded),
           "--iterations", str(args.iterations), "--val-per-product", str(args.val_per_product), "--seed", str(args.seed),
           "--out", str(out)] + args.train_args.split()  # fmt: skip
    print(f"[{product}] training: defectlab " + " ".join(cmd), flush=True)
    start = time.perf_counter()
    rc = cli(cmd)
    if rc:
        raise SystemExit(rc)
    print(f"[{product}] trained in {time.perf_counter() - start:.0f} s", flush=True)


def evaluate_product(args, product: str, work: Path, methods: list[str], gray: bool = False) -> None:
    """Run the protocol on ``product``'s evaluation images; ``gray``: query and normals as grey images (ablation)."""
    import torch

    from defectlab.click.products import product_split, shared_products
    from defectlab.click.session import ClickModel
    from defectlab.data import load_gt_mask, load_image, sample_support
    from defectlab.data.io import write_text_atomic
    from defectlab.evaluation.click_baselines import ImageContext
    from defectlab.evaluation.interactive import ADClickMethod, build_methods, simulate, summarize

    suffix = "-gray" if gray else ""
    product, _, evaluated = fold(args, product)
    todo = [m for m in methods if not result_file(work, product, m + suffix).is_file()]
    heads = [m for m in todo if m.startswith(ADCLICK)]  # ADClick and its ablations run with the fold's head
    if heads and not fold_head(work, product).is_file():
        print(f"[{product}] no fold head yet; ADClick left for a later run")
        todo = [m for m in todo if m not in heads]
    if not todo:
        return
    torch.set_num_threads(1)
    (p,) = shared_products(args.data_root, [evaluated])
    ds = p.load()
    samples = product_split(ds)[1][: args.images]
    checkpoint = str(fold_head(work, product)) if heads else None
    built = {}
    for name in todo:
        (m,) = build_methods([name], checkpoint=checkpoint, sam_model=args.sam_model, log=print)
        built[name] = m
    model = next((m.model for m in built.values() if isinstance(m, ADClickMethod)), None) or ClickModel(None)
    normals = ds.train_normals()
    def load(path):
        return np.repeat(load_image(path, "L")[..., None], 3, axis=2) if gray else load_image(path)

    reference = model.reference([load(q) for q in sample_support(normals, min(64, len(normals)), seed=0)])
    for m in built.values():
        if isinstance(m, ADClickMethod):
            m.reference = reference
    records = {name: [] for name in built}
    start = time.perf_counter()
    for i, s in enumerate(samples):
        image = load(s.image_path)
        gt = load_gt_mask(s)
        text = s.anomaly_type.replace("_", " ")
        context = ImageContext(image=image, prompt=text, features=reference.features(image))
        for name, m in built.items():
            m.start(context)
            records[name].append((s.anomaly_type, simulate(m, gt, 20), gt))
        print(f"[{product}] image {i + 1}/{len(samples)} ({time.perf_counter() - start:.0f} s)", flush=True)
    for name, recs in records.items():
        row = summarize(recs, 20)
        row.pop("curve", None)
        out = {"product": product, "method": name + suffix, "label": built[name].name + (" (grey input)" if gray else ""), "row": row,
               "ious": [r.ious for _, r, _ in recs], "images": [str(s.image_path) for s in samples],
               "checkpoint": checkpoint if name.startswith(ADCLICK) else None, "seconds": round(time.perf_counter() - start, 1)}
        write_text_atomic(result_file(work, product, name + suffix), json.dumps(out, indent=1) + "\n")
        print(f"[{product}] {name}: NoC@85 {row['NoC@85']:.2f} mIoU@5 {row['mIoU@5']:.3f} AP@5 {row['AP@5']:.3f}", flush=True)


def report(args, work: Path, methods: list[str]) -> str:
    from defectlab.evaluation.interactive import THRESHOLDS
    from defectlab.metrics import miou_at_clicks, noc_at

    cols = ("NoC@80", "NoC@85", "NoC@90", "mIoU@1", "mIoU@3", "mIoU@5", "AP@3", "AP@5")
    lines = ["| product | method | images | first-click IoU | " + " | ".join(cols) + " |", "|" + "---|" * (len(cols) + 4)]
    pooled = {}
    missing = []
    for product in args.products:
        product = fold(args, product)[0]
        for method in methods:
            f = result_file(work, product, method)
            if method.endswith("-gray") and product not in args.gray:
                continue
            if not f.is_file():
                missing.append(f"{product}/{method}")
                continue
            r = json.loads(f.read_text())
            row = r["row"]
            lines.append(f"| {product} | {r['label']} | {row['images']} | {row['mIoU@1']:.3f} | " + " | ".join(_fmt(row[c]) for c in cols) + " |")
            pooled.setdefault(method, {"label": r["label"], "ious": [], "ap3": [], "ap5": [], "products": []})
            pooled[method]["ious"] += r["ious"]
            pooled[method]["ap3"].append(row["AP@3"])
            pooled[method]["ap5"].append(row["AP@5"])
            pooled[method]["products"].append(product)
    for method, p in pooled.items():
        noc = noc_at(p["ious"], THRESHOLDS, 20)
        miou = miou_at_clicks(p["ious"], [1, 3, 5])
        row = {**noc, **miou, "AP@3": float(np.mean(p["ap3"])), "AP@5": float(np.mean(p["ap5"]))}
        tag = "pooled" if len(p["products"]) == len(args.products) else f"pooled ({len(p['products'])} of {len(args.products)})"
        lines.append(f"| **{tag}** | {p['label']} | {len(p['ious'])} | {row['mIoU@1']:.3f} | " + " | ".join(_fmt(row[c]) for c in cols) + " |")
    if missing:
        lines.append("")
        lines.append("not yet run: " + ", ".join(missing))
    return "\n".join(lines)


def _fmt(v) -> str:
    return f"{v:.2f}" if abs(v) >= 1 else f"{v:.3f}"


def main(argv=None) -> int:
    from defectlab.click.products import SHARED_PRODUCTS

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-root", type=Path, default=Path("../shared/data"))
    ap.add_argument("--products", default="all", help="held-out folds to run, comma separated (default: all five)")
    ap.add_argument("--iterations", type=int, default=250, help="training steps per fold (default: %(default)s)")
    ap.add_argument("--val-per-product", type=int, default=6, help="inner hold-out: evaluation images per training product scored after training")
    ap.add_argument("--images", type=int, default=12, help="evaluation images per held-out product (default: %(default)s)")
    ap.add_argument("--methods", default=",".join((ADCLICK,) + BASELINES))
    ap.add_argument("--sam-model", default=None)
    ap.add_argument("--gray", type=lambda t: t.split(","), default=[],
                    help="products (comma separated) on which ADClick also runs on grey copies of query and normals: what colour adds")
    ap.add_argument("--phase", choices=("all", "train", "eval", "report"), default="all")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--train-args", default="", help="more click-train options for every fold's head, e.g. --with-features")
    ap.add_argument("--inner", action="store_true", help="the nested hold-out: fold P trains without P and Q, evaluates on Q")
    ap.add_argument("--work", type=Path, default=Path("runs/click_lopo"), help="fold heads and per-fold results (default: %(default)s)")
    ap.add_argument("--out", type=Path, default=Path("bench/results/click_lopo.md"))
    args = ap.parse_args(argv)
    args.products_all = list(SHARED_PRODUCTS)
    args.products = list(SHARED_PRODUCTS) if args.products == "all" else args.products.split(",")
    methods = args.methods.split(",")
    work = args.work
    work.mkdir(parents=True, exist_ok=True)
    for product in args.products:
        if args.phase in ("all", "train") and ADCLICK in methods:
            train_fold(args, product, work)
        if args.phase in ("all", "eval"):
            evaluate_product(args, product, work, methods)
            if product in args.gray and ADCLICK in methods:
                evaluate_product(args, product, work, [ADCLICK], gray=True)
    table = report(args, work, methods + ([ADCLICK + "-gray"] if args.gray else []))
    print(table)
    if args.phase != "train":
        from defectlab.data.io import write_text_atomic

        header = args.out.read_text().split("<!-- table -->")[0] if args.out.is_file() else ""
        write_text_atomic(args.out, (header or "# ADClick leave-one-product-out\n\n") + "<!-- table -->\n" + table + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
