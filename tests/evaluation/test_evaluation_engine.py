"""The evaluation engine on a tiny MVTec LOCO layout: sPRO comes from defects_config.json."""

import json

import numpy as np

from defectlab.data import get_dataset
from defectlab.data.io import save_png_atomic
from defectlab.detect import PatchKNNDetector
from defectlab.evaluation.engine import evaluate
from defectlab.synthetic.surfaces import add_defect, surface


def test_loco_layout_gets_spro_per_defect(tmp_path):
    rng = np.random.default_rng(0)
    base = tmp_path / "box"
    for i in range(3):
        save_png_atomic(base / "train" / "good" / f"{i:03d}.png", surface(rng, 96))
        save_png_atomic(base / "validation" / "good" / f"{i:03d}.png", surface(rng, 96))
        save_png_atomic(base / "test" / "good" / f"{i:03d}.png", surface(rng, 96))
    for kind, folder, value in (("stain", "structural_anomalies", 255), ("hole", "logical_anomalies", 254)):
        for i in range(2):
            image, mask = add_defect(surface(rng, 96), kind, rng)
            save_png_atomic(base / "test" / folder / f"{i:03d}.png", image)
            save_png_atomic(base / "ground_truth" / folder / f"{i:03d}" / "000.png",
                            np.where(mask > 0, value, 0).astype(np.uint8))
    config = [
        {"defect_name": "stain", "pixel_value": 255, "saturation_threshold": 0.5, "relative_saturation": True},
        {"defect_name": "hole", "pixel_value": 254, "saturation_threshold": 20, "relative_saturation": False},
    ]
    (base / "defects_config.json").write_text(json.dumps(config))

    dataset = get_dataset("mvtec-loco", tmp_path, "box")
    [run] = evaluate(dataset, PatchKNNDetector(image_size=96, progress=False), [2], [0], progress=False)
    assert 0 <= run.metrics["pixel_spro/all"] <= 1
    assert {"image_auroc/logical", "image_auroc/structural"} <= set(run.metrics)
