"""``defectlab export``: a saved patch-kNN model as an ONNX file that ``detect --model`` scores with."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..data.io import list_images
from ..detect import load_detector
from ..detect.onnx_export import check_export, export_onnx


def register(sub) -> None:
    p = sub.add_parser("export", help="export a saved patch-knn model to ONNX (scored by ONNX Runtime)",
                       description="Export MODEL (from defectlab fit) to ONNX: backbone, memory bank, nearest "
                                   "neighbour and map upsampling in one graph with free image size.")
    p.add_argument("model", type=Path, help="saved model (MODEL, MODEL.json or MODEL.safetensors)")
    p.add_argument("--format", default="onnx", choices=("onnx",), help="export format (default: %(default)s)")
    p.add_argument("--out", required=True, type=Path, help="file to write, e.g. model.onnx")
    p.add_argument("--check", type=Path, default=None, metavar="IMAGES",
                   help="folder of images: report the largest score and map difference against torch")
    p.set_defaults(func=run_export)


def run_export(args: argparse.Namespace) -> int:
    detector = load_detector(args.model, method="patch-knn", progress=False)
    written = export_onnx(detector, args.out)
    print(f"exported {args.model} to {written}")
    if detector.precision == "bf16":
        print("note: this model's backbone runs in bf16 and the ONNX graph in fp32, so their scores differ by "
              "bf16 rounding; fit with --precision fp32 for exact parity")
    if args.check is not None:
        diff = check_export(detector, written, list_images(args.check))
        print(f"check on {diff['images']} images from {args.check}: largest score difference "
              f"{diff['score_rel']:.2e} (relative), largest map difference {diff['map_abs']:.2e} (absolute)")
    return 0
