"""Run-length masks and the COCO export: what is written decodes back to the saved masks."""

from __future__ import annotations

import json

import numpy as np
import pytest

from defectlab.app import coco, rle
from defectlab.data.io import load_mask

# Produced with pycocotools 2.0 (mask.encode on a Fortran-ordered uint8 array),
# so the encoder is checked against the reference implementation, not itself.
SMALL_ROWS = ["000000000", "001111000", "001111000", "001111000", "000000000", "100000000", "000000001"]
SMALL_RLE = "5192K00000c0N"
FULL_4x5_RLE = "0d0"
LONG_RLE = "ej`1?S100000Sb9S1g3_N"  # 50x1400: runs above 2**15 and negative deltas


def small_mask() -> np.ndarray:
    return np.array([[c == "1" for c in row] for row in SMALL_ROWS])


def long_mask() -> np.ndarray:
    m = np.zeros((50, 1400), bool)
    m[5:20, 1000:1004] = True
    m[0:50, 1200] = True
    m[49, 1399] = True
    return m


@pytest.mark.parametrize("order", ["C", "F"])
def test_encode_decode_round_trip(order):
    rng = np.random.default_rng(0)
    for shape in [(1, 1), (3, 7), (40, 33)]:
        for density in (0.0, 0.3, 1.0):
            mask = rng.random(shape) < density
            counts = rle.encode(mask, order)
            assert sum(counts) == mask.size
            assert np.array_equal(rle.decode(counts, *shape, order=order), mask)


def test_counts_start_with_a_zero_run():
    mask = np.ones((2, 2), bool)
    assert rle.encode(mask) == [0, 4]
    assert rle.encode(~mask) == [4]


@pytest.mark.parametrize(
    "mask, expected",
    [(small_mask(), SMALL_RLE), (np.ones((4, 5), bool), FULL_4x5_RLE), (long_mask(), LONG_RLE)],
)
def test_compressed_rle_matches_pycocotools(mask, expected):
    counts = rle.encode(mask, order="F")
    assert rle.to_coco_string(counts) == expected
    assert rle.from_coco_string(expected) == counts


def test_pycocotools_decodes_our_strings_when_installed():
    mask_api = pytest.importorskip("pycocotools.mask")
    mask = long_mask()
    ours = {"size": list(mask.shape), "counts": rle.to_coco_string(rle.encode(mask, order="F"))}
    assert np.array_equal(mask_api.decode(ours).astype(bool), mask)


@pytest.mark.parametrize(
    "counts, message",
    [
        ([1, 2], "add up to 3"),
        ([-1, 13], "negative"),
        ([[1], [2]], "flat"),
        (["a"], "integers"),
        ([1.5, 10.5], "integers"),
        ([True] * 12, "integers"),
        ("12", "flat"),
        # int64 sums wrap: these add up to 12 modulo 2**64 (np.repeat used to write out of bounds)
        ([2**62, 2**62, 2**62, 2**62 + 12], "more than 12"),
        ([2**63 - 1, 2**63 - 1, 14], "more than 12"),
        ([2**64 + 12], "more than 12"),
    ],
)
def test_decode_rejects_counts_that_do_not_fit(counts, message):
    with pytest.raises(rle.MaskFormatError, match=message):
        rle.decode(counts, 3, 4)


def test_decode_rejects_bad_compressed_strings():
    with pytest.raises(rle.MaskFormatError):
        rle.from_coco_string("5\x7f")
    with pytest.raises(rle.MaskFormatError, match="middle"):
        rle.from_coco_string("5192K0000c")  # ends after a continuation character


def test_mask_annotations_one_per_region():
    mask = np.zeros((30, 40), bool)
    mask[2:6, 3:9] = True
    mask[20:25, 30:33] = True
    found = coco.mask_annotations(mask)
    assert [a["bbox"] for a in found] == [[3, 2, 6, 4], [30, 20, 3, 5]]
    assert [a["area"] for a in found] == [24, 15]
    union = np.zeros_like(mask)
    for ann in found:
        union |= coco.decode_segmentation(ann["segmentation"])
    assert np.array_equal(union, mask)


def test_export_decodes_back_to_the_saved_masks(client):
    ids = [im["id"] for im in client.get("/api/state").json()["images"]]
    clicks = {ids[0]: [(60, 32)], ids[1]: [(20, 20), (100, 70)]}
    for id_, points in clicks.items():
        for x, y in points:
            assert client.post(f"/api/images/{id_}/click", json={"x": x, "y": y}).status_code == 200
        assert client.post(f"/api/images/{id_}/save", json={"defect_type": "scratch" if id_ == ids[0] else "dent"}).status_code == 200
    assert client.post(f"/api/images/{ids[2]}/no-defect", json={}).status_code == 200

    path = client.post("/api/export/coco", json={}).json()["path"]
    data = json.loads(open(path, encoding="utf-8").read())
    out = client.app.state.labeller.store.out_dir
    assert [c["name"] for c in data["categories"]] == ["scratch", "dent"]
    by_file = {im["file_name"]: im for im in data["images"]}
    assert set(by_file) == {"test/scratch/part_00.jpg", "test/dent/part_01.png", "test/good/part_02.jpg"}
    for image in data["images"]:
        assert (out / image["file_name"]).is_file()
        anns = [a for a in data["annotations"] if a["image_id"] == image["id"]]
        if image["file_name"].startswith("test/good/"):
            assert anns == []
            continue
        defect = image["file_name"].split("/")[1]
        stem = image["file_name"].rsplit("/", 1)[1].rsplit(".", 1)[0]
        saved = load_mask(out / "ground_truth" / defect / f"{stem}_mask.png")
        decoded = np.zeros_like(saved)
        for ann in anns:
            assert ann["iscrowd"] == 0 and isinstance(ann["segmentation"]["counts"], str)
            assert ann["category_id"] == [c["id"] for c in data["categories"] if c["name"] == defect][0]
            decoded |= coco.decode_segmentation(ann["segmentation"])
        assert np.array_equal(decoded, saved)
    assert len([a for a in data["annotations"] if a["image_id"] == by_file["test/dent/part_01.png"]["id"]]) == 2


def test_export_is_downloadable(client):
    response = client.get("/api/export/coco")
    assert response.status_code == 200
    assert response.json()["images"] == []
