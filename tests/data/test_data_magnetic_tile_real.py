"""The real Magnetic Tile Defect dataset, where the shared data folder has it."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from defectlab.data import MagneticTile, image_size, load_gt_mask

ROOT = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "magnetic_tile"

pytestmark = pytest.mark.skipif(not (ROOT / "MT_Free").is_dir(), reason=f"Magnetic Tile dataset not at {ROOT}")


def test_counts_and_masks():
    ds = MagneticTile(ROOT)
    samples = ds.samples("train") + ds.test_samples()
    labels = Counter(s.label for s in samples)
    assert labels == {0: 952, 1: 392}
    assert Counter(s.anomaly_type for s in samples if s.label) == {
        "blowhole": 115, "break": 85, "crack": 57, "fray": 32, "uneven": 103,
    }  # fmt: skip
    assert len(ds.train_normals()) == 476

    empty = []
    for sample in samples:
        if sample.label:
            truth = load_gt_mask(sample)
            assert truth.shape == image_size(sample.image_path), sample.image_path
            if not truth.any():
                empty.append(sample)
    # The published data has four MT_Uneven images whose masks are entirely black.
    assert len(empty) <= 4 and all(s.anomaly_type == "uneven" for s in empty)
