"""Images per second of defectlab patch kNN and anomalib's AnomalyDINO, same-size random DINOv2-S/14, same images.

    python bench/peer_anomalydino.py [--anomalib-python /path/to/anomalib-venv/bin/python] [--rounds 3]

Both sides score the same Magnetic Tile photos (8 normal shots from
MT_Free, then 24 test images, sorted names) at 252 px with a randomly
initialised ViT-S/14 (384 wide, 12 blocks, 6 heads): defectlab through a
transformers Dinov2Config saved with save_pretrained, anomalib through timm's
vit_small_patch14_dinov2 built without pretrained weights. Each side runs in
its own process (anomalib in its own virtual environment: it needs
torchvision, which does not install beside defectlab's torch 2.13), with the
same number of threads, alternating A B A B so both meet the same machine
load; the report gives each side's median images/s over the rounds.

defectlab: ``PatchKNNDetector(DIR, image_size=252).fit(normal)`` then
``predict(test)``, defaults otherwise. anomalib: ``AnomalyDINOModel`` (its
defaults: no masking, no coreset) fed by its own pre-processing (Resize
252x252 bicubic with antialiasing, ImageNet Normalize), one image per forward
or, with --anomalib-batch B, B images per forward (as its DataLoader would feed
them), in eval mode; Lightning's loop is left out, which only favours anomalib.
Without --anomalib-python only defectlab is measured.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

MT = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "magnetic_tile" / "MT_Free" / "Imgs"
DINO_DIR = Path("/tmp/defectlab-dinov2-s-random")


def image_paths(shots: int, n_test: int) -> tuple[list[Path], list[Path]]:
    paths = sorted(p for p in MT.iterdir() if p.suffix == ".jpg")
    return paths[:shots], paths[shots : shots + n_test]


def random_dinov2() -> str:
    """The directory of a DINOv2-S/14-sized model with random weights (seed 0), saved once with save_pretrained."""
    import torch
    from transformers import Dinov2Config, Dinov2Model

    if not (DINO_DIR / "config.json").is_file():
        torch.manual_seed(0)
        config = Dinov2Config(hidden_size=384, num_hidden_layers=12, num_attention_heads=6, intermediate_size=1536,
                              patch_size=14, image_size=518)
        Dinov2Model(config).save_pretrained(DINO_DIR)
    return str(DINO_DIR)


def run_defectlab(shots: int, n_test: int, threads: int, resize: str = "auto", precision: str = "fp32",
                  batch: int = 1) -> dict:
    """``batch`` is anomalib's option: defectlab's ``predict`` takes the whole list."""
    import torch

    from defectlab.data import load_image
    from defectlab.detect import PatchKNNDetector

    torch.set_num_threads(threads)
    normal, test = image_paths(shots, n_test)
    normal, test = [load_image(p) for p in normal], [load_image(p) for p in test]
    det = PatchKNNDetector(random_dinov2(), image_size=252, resize=resize, precision=precision, progress=False)
    start = time.perf_counter()
    det.fit(normal)
    fit_s = time.perf_counter() - start
    det.predict(test[:2])  # warm-up
    start = time.perf_counter()
    det.predict(test)
    return {"images_per_s": len(test) / (time.perf_counter() - start), "fit_s": fit_s}


def run_anomalib(shots: int, n_test: int, threads: int, resize: str = "", precision: str = "", batch: int = 1) -> dict:
    """``resize`` and ``precision`` are defectlab's options: anomalib squashes to 252 x 252 and computes in fp32."""
    import torch
    from anomalib.models.image.anomaly_dino import torch_model
    from PIL import Image
    from torchvision.transforms.v2 import Compose, InterpolationMode, Normalize, Resize, ToDtype, ToImage

    torch.set_num_threads(threads)
    # AnomalyDINOModel passes pre_trained=True itself (a download); the same-size random weights instead
    extractor = torch_model.TimmFeatureExtractor
    torch_model.TimmFeatureExtractor = lambda *a, **k: extractor(*a, **{**k, "pre_trained": False})
    model = torch_model.AnomalyDINOModel(encoder_name="vit_small_patch14_dinov2")
    transform = Compose([ToImage(), ToDtype(torch.float32, scale=True),
                         Resize((252, 252), antialias=True, interpolation=InterpolationMode.BICUBIC),
                         Normalize(mean=[0.485, 0.456, 0.406], std=[0.229, 0.224, 0.225])])
    normal, test = image_paths(shots, n_test)
    load = lambda p: transform(Image.open(p).convert("RGB"))[None]  # noqa: E731
    normal, test = [load(p) for p in normal], [Image.open(p).convert("RGB") for p in test]
    start = time.perf_counter()
    model.train()
    with torch.no_grad():
        for x in normal:
            model(x)
    model.fit()
    fit_s = time.perf_counter() - start
    model.eval()
    with torch.inference_mode():
        model(torch.stack([transform(image) for image in test[:batch]]))
        start = time.perf_counter()
        for first in range(0, len(test), batch):
            model(torch.stack([transform(image) for image in test[first : first + batch]]))
    return {"images_per_s": len(test) / (time.perf_counter() - start), "fit_s": fit_s}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--anomalib-python", default=None, help="python of a virtual environment with anomalib 2.7")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--shots", type=int, default=8)
    ap.add_argument("--images", type=int, default=24)
    ap.add_argument("--resize", default="auto",
                    help="defectlab's resize (default: %(default)s, its default; 'squash': 252 x 252 as anomalib)")
    ap.add_argument("--precision", default="fp32", choices=("fp32", "bf16"),
                    help="defectlab's precision (default: %(default)s, its default and anomalib's)")
    ap.add_argument("--anomalib-batch", type=int, default=1,
                    help="images per anomalib forward (default: %(default)s; its DataLoader batches)")
    ap.add_argument("--side", choices=("defectlab", "anomalib"), default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.side:
        run = run_defectlab if args.side == "defectlab" else run_anomalib
        print(json.dumps(run(args.shots, args.images, args.threads, args.resize, args.precision, args.anomalib_batch)))
        return
    sides = {"defectlab": sys.executable}
    if args.anomalib_python:
        sides["anomalib"] = args.anomalib_python
    results: dict[str, list[dict]] = {name: [] for name in sides}
    for _ in range(args.rounds):
        for name, python in sides.items():
            out = subprocess.run([python, __file__, "--side", name, "--threads", str(args.threads),
                                  "--shots", str(args.shots), "--images", str(args.images), "--resize", args.resize,
                                  "--precision", args.precision, "--anomalib-batch", str(args.anomalib_batch)],
                                 check=True, capture_output=True, text=True).stdout
            results[name].append(json.loads(out.strip().splitlines()[-1]))
    print(f"{args.shots} shots, {args.images} Magnetic Tile test images, 252 px, random DINOv2-S/14, "
          f"{args.threads} threads, {args.rounds} alternating rounds, defectlab resize {args.resize} "
          f"precision {args.precision}, anomalib batch {args.anomalib_batch}")
    medians = {}
    for name, runs in results.items():
        rates = [r["images_per_s"] for r in runs]
        medians[name] = statistics.median(rates)
        print(f"{name}: {medians[name]:.2f} images/s (median; rounds {', '.join(f'{r:.2f}' for r in rates)}), "
              f"fit {statistics.median(r['fit_s'] for r in runs):.1f} s")
    if "anomalib" in medians:
        print(f"defectlab / anomalib: {medians['defectlab'] / medians['anomalib']:.2f}x")


if __name__ == "__main__":
    main()
