"""The real-photo LOCO-layout generator, on a tiny stand-in of the shared photo folders."""

import hashlib

import cv2
import numpy as np
import pytest

from defectlab.data.datasets.mvtec_loco import MVTecLOCO
from defectlab.errors import DefectlabError
from defectlab.synthetic.real_scenes import CATEGORY, write_benchmark


def _png(path, image):
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), image)


def _photo(rng, h, w, kind):
    img = rng.integers(90, 160, (h, w, 3)).astype(np.uint8)
    if kind == "plate":  # a blue plate on a grey wall
        img[:] = 200
        img[h // 4 : 3 * h // 4, w // 4 : 3 * w // 4] = (200, 60, 20)  # BGR blue
    if kind == "weld":
        img[:, : w // 4] = 0
    return img


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    root = tmp_path_factory.mktemp("shared")
    rng = np.random.default_rng(0)
    shapes = {"metal_plate": (64, 64, "plate"), "commutator": (200, 60, ""), "ball_screw": (180, 180, ""),
              "battery_weld": (220, 200, "weld")}
    for product, (h, w, kind) in shapes.items():
        base = root / "industrial" / product
        for split in ("train/good", "test/good", "test/defect"):
            for i in range(3):
                _png(base / split / f"{i}.png", _photo(rng, h, w, kind))
        for i in range(3):
            mask = np.zeros((h, w), np.uint8)
            # big enough to keep rules 3's MIN_DEFECT_PX once the part is scaled into its slot
            mask[h // 2 - h // 8 : h // 2 + h // 8, w // 2 - w // 8 : w // 2 + w // 8] = 255
            _png(base / "ground_truth" / "defect" / f"{i}_mask.png", mask)
    for folder in ("MT_Free", "MT_Crack", "MT_Blowhole", "MT_Break", "MT_Fray"):
        for i in range(4):
            img = rng.integers(30, 90, (50, 40, 3)).astype(np.uint8)
            path = root / "magnetic_tile" / folder / "Imgs" / f"t{i}.jpg"
            _png(path, img)
            if folder != "MT_Free":
                mask = np.zeros((50, 40), np.uint8)
                mask[20:30, 10:30] = 255
                _png(path.with_suffix(".png"), mask)
    return root


def _digest(folder):
    h = hashlib.sha256()
    for p in sorted(folder.rglob("*.png")):
        h.update(p.relative_to(folder).as_posix().encode() + p.read_bytes())
    return h.hexdigest()


def test_writes_a_loco_layout_the_dataset_reads_deterministically(data, tmp_path):
    kw = dict(n_train=3, n_val=1, n_good=2, per_logical=1, per_structural=1)
    root = write_benchmark(data, tmp_path / "a", seed=5, **kw)
    ds = MVTecLOCO(tmp_path / "a", CATEGORY)
    test = ds.test_samples()
    assert len(ds.train_normals()) == 3
    assert sum(s.anomaly_kind == "logical" for s in test) == 6  # one per logical rule
    assert sum(s.anomaly_kind == "structural" for s in test) == 5  # one per part class
    for s in test:
        if s.label:
            assert len(s.mask_paths) == 1 and (cv2.imread(str(s.mask_paths[0]), 0) > 0).any()
    assert (root / "rules.json").is_file()
    write_benchmark(data, tmp_path / "b", seed=5, **kw)
    assert _digest(tmp_path / "a") == _digest(tmp_path / "b")


def test_missing_photo_folder_is_named(tmp_path):
    with pytest.raises(DefectlabError, match="industrial"):
        write_benchmark(tmp_path / "nowhere", tmp_path / "out", seed=0)


def test_rules_2_cut_normal_windows_where_the_defects_sit(data):
    from defectlab.synthetic.real_scenes import Builder, cut

    b = Builder(data, seed=0)
    # the stand-in masks sit mid-photo: every normal window must cover the photo's centre row
    assert np.allclose(b.defect_places["commutator"], 0.5, atol=0.02) and len(b.defect_places["commutator"]) == 3
    src = b.sources["commutator"]["train"][0]
    for _ in range(10):
        rgb, _, _ = cut("commutator", src, b.rng, at=(0.5, 0.5))
        photo = cv2.cvtColor(cv2.imread(str(src.path)), cv2.COLOR_BGR2RGB)
        rows = [y for y in range(photo.shape[0] - rgb.shape[0] + 1) if np.array_equal(photo[y:y + rgb.shape[0]], rgb)]
        assert rows and rows[0] <= 100 < rows[0] + rgb.shape[0]
    assert Builder(data, seed=0, rules=1).defect_places == {}
    with pytest.raises(DefectlabError, match="rules must be one of"):
        Builder(data, seed=0, rules=4)


def test_rules_3_structural_defects_cover_a_patch(data, monkeypatch):
    from defectlab.synthetic import real_scenes
    from defectlab.synthetic.real_scenes import Builder

    b = Builder(data, seed=0, rules=3)
    for cls in real_scenes.CLASSES:
        _, gt, _ = b.scene("test", "structural", cls)
        assert gt.sum() >= real_scenes.MIN_DEFECT_PX
    # a bound no defect can meet is reported, naming the part, instead of looping
    monkeypatch.setattr(real_scenes, "MIN_DEFECT_PX", real_scenes.SIZE**2 + 1)
    with pytest.raises(DefectlabError, match="no defective tile photo keeps"):
        Builder(data, seed=0, rules=3).scene("test", "structural", "tile")
    # rules 2 keeps what it drew, however small
    Builder(data, seed=0, rules=2).scene("test", "structural", "tile")
