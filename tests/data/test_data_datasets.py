"""Each dataset class on a tiny fake copy of its real on-disk layout, plus the errors a wrong layout gives."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from defectlab.data import (
    DATASETS,
    KSDD2,
    DatasetLayoutError,
    FolderDataset,
    MagneticTile,
    MVTecAD,
    MVTecLOCO,
    VisA,
    get_dataset,
    load_gt_mask,
    load_gt_masks_separate,
    sample_support,
)


def image(path: Path, value: int = 128, shape=(6, 8)) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.full((*shape, 3), value, dtype=np.uint8)).save(path)
    return path


def mask(path: Path, value: int = 255, shape=(6, 8), on=True) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    pixels = np.zeros(shape, dtype=np.uint8)
    if on:
        pixels[1:3, 2:4] = value
    Image.fromarray(pixels).save(path)
    return path


# --------------------------------------------------------------------------- MVTec AD


@pytest.fixture
def mvtec_root(tmp_path):
    for category in ("bottle", "screw"):
        base = tmp_path / category
        for i in range(3):
            image(base / "train" / "good" / f"{i:03d}.png")
        image(base / "test" / "good" / "000.png")
        for defect in ("crack", "broken_large"):
            for i in range(2):
                image(base / "test" / defect / f"{i:03d}.png")
                mask(base / "ground_truth" / defect / f"{i:03d}_mask.png")
    (tmp_path / "license.txt").write_text("")
    return tmp_path


def test_mvtec_ad(mvtec_root):
    assert MVTecAD.categories(mvtec_root) == ["bottle", "screw"]
    assert "metal_nut" in MVTecAD.categories()
    ds = MVTecAD(mvtec_root, "bottle")
    assert [p.name for p in ds.train_normals()] == ["000.png", "001.png", "002.png"]
    test = ds.test_samples()
    assert len(ds) == len(test) == 5
    assert [s.anomaly_type for s in test] == ["good", "broken_large", "broken_large", "crack", "crack"]
    crack = test[3]
    assert crack.label == 1 and crack.split == "test" and crack.category == "bottle"
    assert crack.mask_paths == (mvtec_root / "bottle" / "ground_truth" / "crack" / "000_mask.png",)
    assert load_gt_mask(crack).sum() == 4
    assert test[0].mask_paths == () and not load_gt_mask(test[0]).any()
    assert all(s.split == "train" and s.label == 0 for s in ds.samples("train"))
    with pytest.raises(ValueError, match="splits"):
        ds.samples("validation")


def test_mvtec_ad_errors(mvtec_root):
    with pytest.raises(ValueError, match="bottle, screw"):
        MVTecAD(mvtec_root)  # several categories, none chosen
    with pytest.raises(DatasetLayoutError, match="'capsule' not found.*available: bottle, screw"):
        MVTecAD(mvtec_root, "capsule")
    with pytest.raises(DatasetLayoutError, match="root folder not found"):
        MVTecAD(mvtec_root / "nope", "bottle")
    (mvtec_root / "screw" / "ground_truth" / "crack" / "001_mask.png").unlink()
    with pytest.raises(DatasetLayoutError, match="001_mask.png"):
        MVTecAD(mvtec_root, "screw")
    for path in (mvtec_root / "bottle" / "train" / "good").iterdir():
        path.unlink()
    with pytest.raises(DatasetLayoutError, match=r"no images found in .*bottle/train/good"):
        MVTecAD(mvtec_root, "bottle")


# --------------------------------------------------------------------------- MVTec LOCO


def test_mvtec_loco(tmp_path):
    base = tmp_path / "juice_bottle"
    for split in ("train", "validation"):
        image(base / split / "good" / "000.png")
    image(base / "test" / "good" / "000.png")
    image(base / "test" / "logical_anomalies" / "000.png")
    mask(base / "ground_truth" / "logical_anomalies" / "000" / "000.png", value=255)
    mask(base / "ground_truth" / "logical_anomalies" / "000" / "001.png", value=254)
    image(base / "test" / "structural_anomalies" / "000.png")
    mask(base / "ground_truth" / "structural_anomalies" / "000" / "000.png", value=251)
    config = [{"defect_name": "missing_juice", "pixel_value": 255}, {"defect_name": "wrong_fill", "pixel_value": 254}]
    (base / "defects_config.json").write_text(json.dumps(config))

    ds = get_dataset("mvtec-loco", tmp_path)  # the only category present is picked
    assert ds.category == "juice_bottle" and ds.splits == ("train", "validation", "test")
    assert len(ds.samples("validation")) == 1 and ds.samples("validation")[0].split == "validation"
    assert ds.defects_config == config
    assert ds.defects_by_pixel_value[254]["defect_name"] == "wrong_fill"
    good, logical, structural = ds.test_samples()
    assert (good.anomaly_type, good.anomaly_kind) == ("good", "")
    assert (logical.anomaly_type, logical.anomaly_kind) == ("logical_anomalies", "logical")
    assert (structural.anomaly_type, structural.anomaly_kind) == ("structural_anomalies", "structural")
    assert len(logical.mask_paths) == 2
    assert [value for _, value in load_gt_masks_separate(logical)] == [255, 254]
    assert load_gt_mask(logical).sum() == 4  # both masks cover the same pixels here

    (base / "defects_config.json").write_text("{broken")
    with pytest.raises(DatasetLayoutError, match="defects_config.json"):
        MVTecLOCO(tmp_path, "juice_bottle")


def test_mvtec_loco_missing_mask_folder(tmp_path):
    base = tmp_path / "pushpins"
    for split in ("train", "validation"):
        image(base / split / "good" / "000.png")
    image(base / "test" / "logical_anomalies" / "007.png")
    with pytest.raises(DatasetLayoutError, match=r"logical_anomalies/007"):
        MVTecLOCO(tmp_path, "pushpins")


# --------------------------------------------------------------------------- VisA


@pytest.fixture
def visa_root(tmp_path):
    rows = ["object,split,label,image,mask"]
    for obj in ("candle", "pcb1"):
        for i in range(3):
            rel = f"{obj}/Data/Images/Normal/{i:04d}.JPG"
            image(tmp_path / rel)
            rows.append(f"{obj},{'train' if i < 2 else 'test'},normal,{rel},")
        rel, rel_mask = f"{obj}/Data/Images/Anomaly/000.JPG", f"{obj}/Data/Masks/Anomaly/000.png"
        image(tmp_path / rel)
        mask(tmp_path / rel_mask, value=1)  # VisA masks are label maps, not 0/255
        rows.append(f"{obj},test,anomaly,{rel},{rel_mask}")
    (tmp_path / "split_csv").mkdir()
    (tmp_path / "split_csv" / "1cls.csv").write_text("\n".join(rows) + "\n")
    (tmp_path / "candle" / "image_anno.csv").write_text(
        'image,label,mask\ncandle/Data/Images/Anomaly/000.JPG,"melt, scratch",candle/Data/Masks/Anomaly/000.png\n'
    )
    return tmp_path


def test_visa(visa_root):
    assert VisA.categories(visa_root) == ["candle", "pcb1"]
    ds = VisA(visa_root, "candle")
    assert [p.name for p in ds.train_normals()] == ["0000.JPG", "0001.JPG"]
    normal, anomaly = ds.test_samples()
    assert normal.label == 0 and normal.mask_paths == ()
    assert anomaly.label == 1 and anomaly.anomaly_type == "melt, scratch"
    assert load_gt_mask(anomaly).sum() == 4  # value-1 pixels count
    assert VisA(visa_root, "pcb1").test_samples()[1].anomaly_type == "anomaly"  # no image_anno.csv


def test_visa_errors(visa_root):
    csv = visa_root / "split_csv" / "1cls.csv"
    (visa_root / "candle" / "Data" / "Images" / "Normal" / "0002.JPG").unlink()
    with pytest.raises(DatasetLayoutError, match="1 files listed .* missing, e.g. .*0002.JPG"):
        VisA(visa_root, "candle")
    csv.write_text(csv.read_text().replace(",normal,", ",good,", 1))
    with pytest.raises(DatasetLayoutError, match="line 2: label 'good'"):
        VisA(visa_root, "candle")
    csv.unlink()
    with pytest.raises(DatasetLayoutError, match=r"split_csv/1cls.csv"):
        VisA(visa_root, "candle")


# --------------------------------------------------------------------------- KSDD2


def test_ksdd2_labels_come_from_the_masks(tmp_path):
    for split, start in (("train", 10000), ("test", 20000)):
        image(tmp_path / split / f"{start}.png")
        mask(tmp_path / split / f"{start}_GT.png", on=False)
        image(tmp_path / split / f"{start + 1}.png")
        mask(tmp_path / split / f"{start + 1}_GT.png", value=1)  # any positive pixel is a defect
    ds = get_dataset("KSDD2", tmp_path)
    assert ds.category == "ksdd2"
    assert [s.label for s in ds.samples("train")] == [0, 1]
    assert [p.name for p in ds.train_normals()] == ["10000.png"]  # defective train images stay out
    good, bad = ds.test_samples()
    assert (good.anomaly_type, good.mask_paths) == ("good", ())
    assert bad.anomaly_type == "defect" and load_gt_mask(bad).sum() == 4

    (tmp_path / "test" / "20001_GT.png").unlink()
    with pytest.raises(DatasetLayoutError, match="20001_GT.png"):
        KSDD2(tmp_path)


def test_ksdd2_missing_split(tmp_path):
    image(tmp_path / "train" / "10000.png")
    mask(tmp_path / "train" / "10000_GT.png", on=False)
    with pytest.raises(DatasetLayoutError, match=r"folder not found: .*test"):
        KSDD2(tmp_path)


# --------------------------------------------------------------------------- Magnetic Tile


@pytest.fixture
def tile_root(tmp_path):
    for i in range(10):
        stem = f"exp1_num_{i}"
        image(tmp_path / "MT_Free" / "Imgs" / f"{stem}.jpg")
        mask(tmp_path / "MT_Free" / "Imgs" / f"{stem}.png", on=False)
    for kind in ("Blowhole", "Crack"):
        for i in range(2):
            image(tmp_path / f"MT_{kind}" / "Imgs" / f"exp2_{kind}_{i}.jpg")
            noisy = mask(tmp_path / f"MT_{kind}" / "Imgs" / f"exp2_{kind}_{i}.png")
            pixels = np.asarray(Image.open(noisy)).copy()
            pixels[5, 7] = 20  # the real masks carry faint noise
            Image.fromarray(pixels).save(noisy)
    (tmp_path / "README.md").write_text("")
    return tmp_path


def test_magnetic_tile_split_is_deterministic(tile_root):
    ds = MagneticTile(tile_root)
    assert ds.category == "magnetic_tile"
    assert len(ds.train_normals()) == 5
    test = ds.test_samples()
    assert Counter(s.anomaly_type for s in test) == {"good": 5, "blowhole": 2, "crack": 2}
    assert not set(ds.train_normals()) & {s.image_path for s in test}
    assert all(s.image_path.suffix == ".jpg" for s in test)
    crack = next(s for s in test if s.anomaly_type == "crack")
    assert crack.mask_paths == (crack.image_path.with_suffix(".png"),)
    assert load_gt_mask(crack).sum() == 4  # the noise pixel stays out

    assert MagneticTile(tile_root).train_normals() == ds.train_normals()
    assert MagneticTile(tile_root, seed=1).train_normals() != ds.train_normals()
    assert len(MagneticTile(tile_root, n_train=8).train_normals()) == 8
    with pytest.raises(ValueError, match="n_train"):
        MagneticTile(tile_root, n_train=10)


def test_magnetic_tile_needs_the_normal_folder(tmp_path):
    image(tmp_path / "MT_Crack" / "Imgs" / "a.jpg")
    with pytest.raises(DatasetLayoutError, match="MT_Free"):
        MagneticTile(tmp_path)


# --------------------------------------------------------------------------- folder


def test_flat_folder_layout(tmp_path):
    root = tmp_path / "widgets"
    for i in range(3):
        image(root / "good" / f"{i}.png")
    image(root / "scratch" / "s1.png")
    image(root / "scratch" / "s10.png")
    mask(root / "ground_truth" / "scratch" / "s1_mask.png")
    image(root / "dent" / "d.jpg")
    mask(root / "masks" / "dent" / "d" / "0.png")
    mask(root / "masks" / "dent" / "d" / "1.png")
    ds = FolderDataset(root)
    assert ds.category == "widgets" and ds.disjoint_splits is False
    assert len(ds.train_normals()) == 3
    types = [(s.anomaly_type, s.image_path.name, len(s.mask_paths)) for s in ds.test_samples()]
    assert types == [
        ("good", "0.png", 0), ("good", "1.png", 0), ("good", "2.png", 0),
        ("dent", "d.jpg", 2), ("scratch", "s1.png", 1), ("scratch", "s10.png", 0),
    ]  # fmt: skip
    support = sample_support(ds.train_normals(), 2, seed=42)
    assert all(path.parent.name == "good" for path in support)


def test_split_folder_layout_and_exclude(tmp_path):
    image(tmp_path / "train" / "good" / "a.png")
    image(tmp_path / "test" / "good" / "b.png")
    image(tmp_path / "test" / "bad" / "c.png")
    mask(tmp_path / "test" / "bad" / "c_mask.png")
    ds = get_dataset("folder", tmp_path, category="mine", exclude="*_mask.png")
    assert ds.disjoint_splits is True and ds.category == "mine"
    assert [s.image_path.name for s in ds.test_samples()] == ["b.png", "c.png"]
    assert ds.train_normals() == [tmp_path / "train" / "good" / "a.png"]


def test_folder_errors(tmp_path):
    image(tmp_path / "scratch" / "a.png")
    with pytest.raises(DatasetLayoutError, match=r"folder not found: .*good; expected .*ROOT/good"):
        FolderDataset(tmp_path)
    (tmp_path / "good").mkdir()
    with pytest.raises(DatasetLayoutError, match=r"no images found in .*good"):
        FolderDataset(tmp_path)


# --------------------------------------------------------------------------- registry


def test_registry(mvtec_root):
    assert set(DATASETS) == {"mvtec-ad", "mvtec-loco", "visa", "ksdd2", "magnetic-tile", "folder"}
    assert isinstance(get_dataset("MVTec_AD", mvtec_root, "screw"), MVTecAD)
    with pytest.raises(ValueError, match="unknown dataset 'mvtec'.*mvtec-ad"):
        get_dataset("mvtec", mvtec_root)
