"""Export a fitted patch-kNN detector to ONNX, and check the export against torch.

The graph: normalised image (B, 3, H, W) -> backbone layers -> pooled patch
features -> cosine distance to the nearest bank row (unit rows, a matrix
product and a max; foreground masking when fitted with it) -> the (B, h, w)
distance grid, and the grid bilinearly upsampled to ``output_size`` (the
image's own size). H and W are free (multiples of the backbone's); the
resize before and the score and smoothing after are shared with the torch
path (:mod:`.onnx_runtime`). The detector's settings, threshold and leave-one-out
scores travel in the model's metadata, in the saved-model header format.
"""

from __future__ import annotations

import io
import json
import os
import warnings
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
import torch.nn.functional as F

from ..backbones.onnx_forward import OPSET, example_input
from ..data.io import load_image, write_bytes_atomic
from ..errors import ConfigError
from . import persist
from .onnx_runtime import INPUTS, METADATA_KEY, OUTPUTS, OnnxDetector
from .patch_knn import PatchKNNDetector


class PatchKNNGraph(torch.nn.Module):
    """The torch module that is exported: everything between the model input and the upsampled map.

    Layers are pooled and brought to the finest stride as
    :func:`~defectlab.backbones.base.patch_features` does, with the stride
    ratio as a scale factor rather than a size computed from the input, so
    the traced graph keeps H and W free.
    """

    def __init__(self, detector: PatchKNNDetector):
        super().__init__()
        embedder = detector.embedder_
        if embedder.stride is not None:
            raise ConfigError("export supports features at the layers' finest stride only")
        self.backbone = embedder.model.traceable()
        self.layers = embedder.feature_layers
        self.pool = embedder.pool
        self.register_buffer("bank", torch.from_numpy(detector.index_.bank))
        self.masked = detector.foreground_axis_ is not None
        if self.masked:
            mean, axis = detector.foreground_axis_
            self.register_buffer("fg_mean", torch.from_numpy(np.asarray(mean, np.float32)))
            self.register_buffer("fg_axis", torch.from_numpy(np.asarray(axis, np.float32)))

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        fmaps = self.backbone.forward_layers(image, self.layers)
        finest = min(fmaps.strides[name] for name in self.layers)
        parts = []
        for name in self.layers:
            fmap = fmaps.maps[name]
            if self.pool > 1:
                fmap = F.avg_pool2d(fmap, self.pool, stride=1, padding=self.pool // 2, count_include_pad=False)
            ratio = fmaps.strides[name] // finest
            if ratio > 1:
                fmap = F.interpolate(fmap, scale_factor=float(ratio), mode="bilinear", align_corners=False)
            parts.append(fmap)
        feats = torch.cat(parts, dim=1).float()
        flat = feats.flatten(2).transpose(1, 2)  # (B, h*w, D)
        unit = flat / flat.norm(dim=-1, keepdim=True).clamp_min(1e-8)
        dist = 1.0 - (unit @ self.bank.T).amax(-1)
        if self.masked:
            dist = torch.where((flat - self.fg_mean) @ self.fg_axis > 0, dist, torch.zeros_like(dist))
        return dist.reshape_as(feats[:, 0])


def export_onnx(detector: PatchKNNDetector, path: str | os.PathLike) -> Path:
    """Write ``detector`` (fitted patch kNN) as an ONNX model that :class:`OnnxDetector` scores with."""
    import onnx

    if not isinstance(detector, PatchKNNDetector):
        raise ConfigError(f"ONNX export is for patch kNN; this is a {type(detector).__name__}")
    detector._check_fitted("index_", "export")
    graph = PatchKNNGraph(detector).eval()
    multiple = graph.backbone.size_multiple
    example = example_input(multiple)
    buffer = io.BytesIO()
    with warnings.catch_warnings(), torch.inference_mode():
        warnings.simplefilter("ignore")  # the tracer's notes on shapes; the check below is what counts
        torch.onnx.export(graph, (example,), buffer, dynamo=False, opset_version=OPSET,
                          input_names=[INPUTS[0]], output_names=[OUTPUTS[0]],
                          dynamic_axes={INPUTS[0]: {0: "batch", 2: "height", 3: "width"},
                                        OUTPUTS[0]: {0: "batch", 1: "rows", 2: "cols"}})
    model = onnx.load_from_string(buffer.getvalue())
    _append_upsampling(model)
    state, _ = detector._state()
    meta = persist.header(detector._method_name(), detector._saved_params(), {**state, "threshold": detector.threshold_})
    meta["input"] = {"mean": list(graph.backbone.mean), "std": list(graph.backbone.std), "size_multiple": multiple}
    onnx.helper.set_model_props(model, {METADATA_KEY: json.dumps(meta)})
    onnx.checker.check_model(model)
    return write_bytes_atomic(Path(path), model.SerializeToString())


def _append_upsampling(model) -> None:
    """(B, h, w) distances -> (B, H, W) at ``output_size``: bilinear with half-pixel centres, as cv2.resize."""
    from onnx import TensorProto, helper

    g = model.graph
    g.input.append(helper.make_tensor_value_info(INPUTS[1], TensorProto.INT64, [2]))
    g.initializer.extend([helper.make_tensor("axis1", TensorProto.INT64, [1], [1]),
                          helper.make_tensor("batch_end", TensorProto.INT64, [1], [1]),
                          helper.make_tensor("zero", TensorProto.INT64, [1], [0])])
    g.node.extend([
        helper.make_node("Unsqueeze", [OUTPUTS[0], "axis1"], ["grid4"]),
        helper.make_node("Shape", ["grid4"], ["grid_shape"]),
        helper.make_node("Slice", ["grid_shape", "zero", "batch_end"], ["batch"]),
        helper.make_node("Concat", ["batch", "axis1", INPUTS[1]], ["sizes"], axis=0),
        helper.make_node("Resize", ["grid4", "", "", "sizes"], ["full4"], mode="linear",
                         coordinate_transformation_mode="half_pixel"),
        helper.make_node("Squeeze", ["full4", "axis1"], [OUTPUTS[1]]),
    ])
    g.output.append(helper.make_tensor_value_info(OUTPUTS[1], TensorProto.FLOAT, ["batch", "height_out", "width_out"]))


def check_export(detector: PatchKNNDetector, onnx_path: str | os.PathLike, images: Sequence) -> dict[str, float]:
    """Largest differences between torch and the exported model on ``images``.

    ``score_rel``: |score_onnx - score_torch| / |score_torch|; ``map_abs``:
    the largest absolute pixel difference of the anomaly maps.
    """
    exported = OnnxDetector(onnx_path, progress=False)
    score_rel, map_abs = 0.0, 0.0
    for item in images:
        image = load_image(item)
        ref, got = detector.predict([image])[0], exported.predict([image])[0]
        score_rel = max(score_rel, abs(got.score - ref.score) / max(abs(ref.score), 1e-12))
        map_abs = max(map_abs, float(np.abs(got.anomaly_map - ref.anomaly_map).max()))
    return {"images": len(images), "score_rel": score_rel, "map_abs": map_abs}
