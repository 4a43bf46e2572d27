"""The backbone forward alone: transformers' DINOv2-S vs defectlab's (oneDNN linears, ONNX Runtime, bf16), and EfficientNet-Lite0.

    python bench/backbone_forward.py [--threads 1] [--rounds 5] [--sam]

The same random DINOv2-S/14-sized model as bench/peer_anomalydino.py, one
image per forward at 252 x 252 (anomalib's input) and 252 x 322 (defectlab's
common-scale size for the Magnetic Tile photos), variants interleaved within
each round so that they meet the same machine load; medians over rounds of
three forwards. "transformers": ``Dinov2Model`` as loaded (its fp32 linear
layers go to MKL); "defectlab fp32": the backbone defectlab builds
(``create_backbone``: linear layers through oneDNN, GELU folded into the
layer before it); "defectlab ONNX Runtime": the same model exported and run
through ONNX Runtime (``backbones/onnx_forward.py``, what ``extract`` does on
the CPU); "defectlab bf16": the same under bf16 autocast
(``precision="bf16"``, not the default). Also the largest feature difference
from transformers' output. Then EfficientNet-Lite0 (ImageNet weights, the
default backbone) at 320 x 256, its two default layers, torch vs ONNX Runtime.

``--sam``: also SAM's image encoder at SAM ViT-B's size (transformers' default
``SamConfig``, random weights, 1024 x 1024, the compositional segmenter's
per-image cost), as loaded vs with defectlab's oneDNN linears (what
``SamPredictor`` loads), two rounds.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
from transformers import Dinov2Model

from defectlab.backbones import create_backbone, onnx_forward
from peer_anomalydino import random_dinov2


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--sam", action="store_true", help="also time SAM ViT-B's image encoder (about a minute)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    path = random_dinov2()
    plain, ours = Dinov2Model.from_pretrained(path).eval(), create_backbone(path)
    variants = {
        "transformers fp32": lambda x: plain(pixel_values=x).last_hidden_state[:, 1:],
        "defectlab fp32": lambda x: ours.model(pixel_values=x).last_hidden_state[:, 1:],
        "defectlab ONNX Runtime": lambda x: tokens(onnx_forward.forward(ours, x, ours.default_layers)),
    }

    def bf16(x):
        with torch.autocast("cpu", dtype=torch.bfloat16):
            return ours.model(pixel_values=x).last_hidden_state[:, 1:].float()

    variants["defectlab bf16"] = bf16
    print(f"random DINOv2-S/14, {args.threads} thread(s), {args.rounds} rounds, median ms per forward")
    print("| input | " + " | ".join(variants) + " | largest difference from transformers (fp32 / ONNX Runtime / bf16) |")
    print("|---|" + "---|" * (len(variants) + 1))
    with torch.inference_mode():
        for size in ((252, 252), (252, 322)):
            x = torch.randn(1, 3, *size, generator=torch.Generator().manual_seed(0))
            ref = variants["transformers fp32"](x)
            diffs = [float((variants[k](x) - ref).abs().max())
                     for k in ("defectlab fp32", "defectlab ONNX Runtime", "defectlab bf16")]
            times: dict[str, list[float]] = {k: [] for k in variants}
            for _ in range(args.rounds):
                for name, run in variants.items():
                    start = time.perf_counter()
                    for _ in range(3):
                        run(x)
                    times[name].append(1000 * (time.perf_counter() - start) / 3)
            base = statistics.median(times["transformers fp32"])
            cells = [f"{statistics.median(t):.0f} ({base / statistics.median(t):.2f}x)" for t in times.values()]
            print(f"| {size[0]} x {size[1]} | " + " | ".join(cells) + " | " + " / ".join(f"{d:.1e}" for d in diffs)
                  + " |", flush=True)
    efficientnet(args.rounds)
    if args.sam:
        sam_encoder()


def tokens(computed) -> torch.Tensor:
    """The (B, N, C) patch tokens of onnx_forward's single (B, C, h, w) map."""
    (fmap,) = computed[0].values()
    return fmap.flatten(2).transpose(1, 2)


def efficientnet(rounds: int) -> None:
    net = create_backbone("efficientnet-lite0")
    layers = net.default_layers
    x = torch.randn(1, 3, 320, 256, generator=torch.Generator().manual_seed(0))
    variants = {"torch": lambda: net.forward_layers(x, layers).maps,
                "ONNX Runtime": lambda: onnx_forward.forward(net, x, layers)[0]}
    times: dict[str, list[float]] = {k: [] for k in variants}
    with torch.inference_mode():
        ref, got = variants["torch"](), variants["ONNX Runtime"]()  # the second call exports
        diff = max(float((got[k] - ref[k]).abs().max() / ref[k].abs().max()) for k in layers)
        for _ in range(rounds):
            for name, run in variants.items():
                start = time.perf_counter()
                for _ in range(10):
                    run()
                times[name].append(1000 * (time.perf_counter() - start) / 10)
    a, b = statistics.median(times["torch"]), statistics.median(times["ONNX Runtime"])
    print(f"EfficientNet-Lite0, 320 x 256, {'+'.join(layers)}: torch {a:.1f} ms, ONNX Runtime {b:.1f} ms "
          f"({a / b:.2f}x); largest difference {diff:.1e} of each map's range")


def sam_encoder(rounds: int = 2) -> None:
    import copy

    from transformers import SamConfig, SamModel

    from defectlab.backbones.onednn import use_onednn_linears

    torch.manual_seed(0)
    plain = SamModel(SamConfig()).eval().vision_encoder
    ours = use_onednn_linears(copy.deepcopy(plain))
    x = torch.randn(1, 3, 1024, 1024, generator=torch.Generator().manual_seed(0))
    times: dict[str, list[float]] = {"transformers": [], "defectlab": []}
    with torch.inference_mode():
        ours(x)  # warm-up
        for _ in range(rounds):
            for name, model in (("transformers", plain), ("defectlab", ours)):
                start = time.perf_counter()
                model(x)
                times[name].append(time.perf_counter() - start)
    a, b = statistics.median(times["transformers"]), statistics.median(times["defectlab"])
    print(f"SAM ViT-B-size image encoder, 1024 x 1024: transformers {a:.1f} s, defectlab {b:.1f} s ({a / b:.2f}x) "
          "(equality with transformers: tests/segment/test_segment_sam.py; SAM's initialisation leaves this random "
          "encoder's output near zero, so it is not compared here)")


if __name__ == "__main__":
    main()
