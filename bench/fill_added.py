"""Where fill between clicks switches pixels on, and whether they are right.

    python bench/fill_added.py                    # the default fill
    python bench/fill_added.py --min-radius 0     # without the rim rule

On the selection images only (the development set of ``click_dev.py`` and
the validation images of ``click_val.py``; never the held-out classes), the
simulated user clicks with fill on; after each of the first ``--clicks``
clicks the head's logits before and after fill are compared. Reported: the
pixels fill switched on that are inside the ground truth (right) and
outside it (wrong), how far the wrong ones lie from the head's own mask in
fill's grid cells, and how unsure the head was there (its logit). This is the measurement behind fill's ``min_radius``.
"""

from __future__ import annotations

import argparse

import cv2
import numpy as np
import torch

from click_dev import dev_cases


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--root", default="../shared/data/magnetic_tile")
    ap.add_argument("--dataset", default="magnetic-tile")
    ap.add_argument("--checkpoint", default=None, help="default: the shipped checkpoint")
    ap.add_argument("--min-radius", type=float, default=None, help="Fill's min_radius in grid cells (default: its own)")
    ap.add_argument("--clicks", type=int, default=5)
    ap.add_argument("--val-every", type=int, default=8)
    ap.add_argument("--normals", type=int, default=64)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)

    from defectlab.click.fill import Fill
    from defectlab.click.residual import NormalReference
    from defectlab.click.session import ClickModel
    from defectlab.click.train import split_real
    from defectlab.data import get_dataset, load_gt_mask, load_image, sample_support
    from defectlab.evaluation.click_baselines import ImageContext
    from defectlab.evaluation.interactive import ADClickMethod, simulate

    class RecordingFill(Fill):
        """Fill that keeps the head's logits before and after each call."""

        def __call__(self, logits, *rest):
            out = super().__call__(logits, *rest)
            self.calls.append((logits.copy(), out.copy()))
            return out

    ds = get_dataset(args.dataset, args.root)
    reference = NormalReference(sample_support(ds.train_normals(), args.normals, seed=0), progress=False)
    cases = [(None, image, mask) for _, image, mask, _ in dev_cases(ds, reference, 48, f"{args.dataset} at {args.root}")]
    val = split_real(ds, val_every=args.val_every)[1]
    cases += [(s.anomaly_type, load_image(s.image_path), load_gt_mask(s)) for s in val]

    model = ClickModel(args.checkpoint)
    options = {} if args.min_radius is None else {"min_radius": args.min_radius}
    right = wrong = 0
    distances, logits = [], []  # of each wrong pixel: distance from the head's mask in grid cells, the head's logit
    for prompt, image, gt in cases:
        method = ADClickMethod(model, use_prompt=prompt is not None)  # dev images have no prompt, as in click_dev.py
        method.reference = reference
        method.start(ImageContext(image, prompt=prompt, features=reference.features(image)))
        session = method.session
        walk = RecordingFill(session.features.rgb.permute(1, 2, 0).numpy(), **options)
        walk.calls = []
        session._walk = walk  # the session's own fill, recording
        simulate(method, gt, max_clicks=args.clicks)
        h, w = session.features.size
        g = cv2.resize(gt.astype(np.float32), (w, h), interpolation=cv2.INTER_AREA) >= 0.5
        cell = max(h, w) / max(walk.shape)
        for before, after in walk.calls:
            head = before > 0
            added = (after > 0) & ~head
            right += int((added & g).sum())
            wrong += int((added & ~g).sum())
            far = cv2.distanceTransform((~head).astype(np.uint8), cv2.DIST_L2, 3)
            distances.append(far[added & ~g] / cell)
            logits.append(before[added & ~g])
    d = np.concatenate(distances) if distances else np.zeros(0)
    print(f"{len(cases)} images, clicks 1-{args.clicks}, min_radius {walk.min_radius}")
    print(f"pixels fill switched on: right {right}, wrong {wrong}")
    if d.size:
        print(f"wrong ones within 1.5 cells of the head's mask: {100 * (d <= 1.5).mean():.0f} %, median {np.median(d):.2f} cells; "
              f"the head's median logit there {np.median(np.concatenate(logits)):.1f}")


if __name__ == "__main__":
    main()
