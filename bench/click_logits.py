"""Where a checkpoint's logits sit: the check behind fill's ``sure`` threshold.

    python bench/click_logits.py --checkpoint A.safetensors --checkpoint B.safetensors

Fill (``click/fill.py``) pins every cell whose head logit is beyond
``sure`` = 11.5 and lets the walk decide the rest, so a retrained head must
put background near a click well below -11.5 and the defect pixels it
missed above it, as the head ``sure`` was read from did. This runs the
simulated user for 5 clicks (fill off, prompt = defect type) on the
validation images of the training classes (the slice ``click-train
--val-every 8`` holds back) and prints percentiles of the head's logits on
background within 20 model pixels of a click and on the defect pixels it
missed.
"""

from __future__ import annotations

import argparse

import cv2
import numpy as np
import torch


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--root", default="../shared/data/magnetic_tile")
    ap.add_argument("--dataset", default="magnetic-tile")
    ap.add_argument("--checkpoint", action="append", default=None, help="repeatable; default: the shipped checkpoint")
    ap.add_argument("--val-every", type=int, default=8)
    ap.add_argument("--clicks", type=int, default=5)
    ap.add_argument("--normals", type=int, default=64)
    ap.add_argument("--sure", type=float, default=11.5)
    args = ap.parse_args()
    torch.set_num_threads(1)

    from defectlab.click.session import ClickModel
    from defectlab.click.train import split_real
    from defectlab.data import get_dataset, load_gt_mask, load_image, sample_support
    from defectlab.evaluation.click_baselines import ImageContext
    from defectlab.evaluation.interactive import ADClickMethod, simulate

    ds = get_dataset(args.dataset, args.root)
    val = split_real(ds, val_every=args.val_every)[1]
    for checkpoint in args.checkpoint or [None]:
        model = ClickModel(checkpoint)
        reference = model.reference(sample_support(ds.train_normals(), args.normals, seed=0))
        background, missed = [], []

        class Recording(ADClickMethod):
            def predict(self, clicks):
                out = super().predict(clicks)
                logits = self.session._state.logits
                h, w = logits.shape
                gt = cv2.resize(self.gt.astype(np.uint8), (w, h), interpolation=cv2.INTER_NEAREST) > 0
                near = np.zeros((h, w), np.uint8)
                sy, sx = h / self.gt.shape[0], w / self.gt.shape[1]
                for c in clicks:
                    cv2.circle(near, (int(c.x * sx), int(c.y * sy)), 20, 1, -1)
                background.append(logits[(near > 0) & ~gt])
                missed.append(logits[gt & (logits < 0)])
                return out

        method = Recording(model, use_prompt=True, fill=False)
        method.reference = reference
        for sample in val:
            method.gt = load_gt_mask(sample)
            method.start(ImageContext(load_image(sample.image_path), prompt=sample.anomaly_type))
            simulate(method, method.gt, max_clicks=args.clicks)
        bg, miss = np.concatenate(background), np.concatenate(missed)
        print(f"{checkpoint or 'shipped'} ({len(val)} images, {args.clicks} clicks)")
        print(f"  background near clicks, percentiles 5/25/50/75: {np.percentile(bg, [5, 25, 50, 75]).round(1)}")
        print(f"  missed defect pixels, percentiles 5/25/50/75/95: {np.percentile(miss, [5, 25, 50, 75, 95]).round(1)}")
        print(f"  beyond sure={args.sure}: background {(bg < -args.sure).mean():.3f} (pinned), "
              f"missed defect {(miss < -args.sure).mean():.3f} (pinned wrongly)")


if __name__ == "__main__":
    main()
