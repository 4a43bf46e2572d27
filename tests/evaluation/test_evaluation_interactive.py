"""click-eval end to end on a tiny generated MVTec-layout folder, through the real CLI."""

import csv

import pytest
from click_testutil import make_mvtec, one_thread, tiny_checkpoint  # noqa: F401 (one_thread: a fixture)

from defectlab.cli import main

pytestmark = pytest.mark.usefixtures("one_thread")


def test_click_eval_cli_on_an_mvtec_layout(tmp_path, capsys):
    root = make_mvtec(tmp_path / "data")
    ck = tiny_checkpoint(tmp_path / "ck.safetensors")
    out = tmp_path / "results"
    code = main([
        "click-eval", "--dataset", "mvtec-ad", "--root", str(root), "--category", "tile",
        "--checkpoint", str(ck), "--methods", "adclick,adclick-noprompt,adclick-nofill,adclick-walk,grabcut,random-walker,residual,sam",
        "--max-clicks", "6", "--normals", "3", "--out", str(out), "--no-progress",
    ])  # fmt: skip
    printed = capsys.readouterr()
    assert code == 0, printed.err
    assert "| method |" in printed.out and "SAM: skipped" in printed.out
    rows = list(csv.DictReader(open(out / "click_eval.csv")))
    methods = {r["method"] for r in rows}
    assert methods == {"ADClick", "ADClick (no prompt)", "ADClick (no fill)", "ADClick + random walker", "GrabCut",
                       "RandomWalker", "ResidualMap"}
    assert {r["class"] for r in rows} == {"blob", "all"}
    for r in rows:
        assert r["images"] == "2"
        assert 1 <= float(r["NoC@85"]) <= 6 and 0 <= float(r["mIoU@5"]) <= 1 and 0 <= float(r["AP@5"]) <= 1
    assert (out / "click_eval.md").read_text().count("\n") >= 12
    assert (out / "click_eval_curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_click_eval_reports_bad_input_as_a_message(tmp_path, capsys):
    root = make_mvtec(tmp_path / "data")
    code = main(["click-eval", "--dataset", "mvtec-ad", "--root", str(root), "--category", "tile", "--types", "crack", "--no-progress"])
    assert code == 2 and "crack" in capsys.readouterr().err
    code = main(["click-eval", "--dataset", "mvtec-ad", "--root", str(tmp_path / "missing"), "--no-progress"])
    assert code == 2


def test_miou_after_clicks_scores_a_model_on_held_back_images(tmp_path):
    from defectlab.click import ClickModel, FeatureSettings, NormalReference
    from defectlab.data import get_dataset
    from defectlab.evaluation.interactive import miou_after_clicks

    dataset = get_dataset("mvtec-ad", make_mvtec(tmp_path / "data"), "tile")
    model = ClickModel(tiny_checkpoint(tmp_path / "ck.safetensors"))
    reference = NormalReference(dataset.train_normals()[:2], FeatureSettings(image_size=96, max_side=128, top_k=2),
                                progress=False)
    scores = miou_after_clicks(model, reference, [s for s in dataset.test_samples() if s.label == 1])
    assert set(scores) == {"mIoU@1", "mIoU@3", "mIoU@5"} and all(0 <= v <= 1 for v in scores.values())
