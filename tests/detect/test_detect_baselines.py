"""The comparison baselines: ComAD-style k-means components, and WinCLIP from a tiny random local CLIP."""

import numpy as np
import pytest

from defectlab.backbones.knn import kmeans
from defectlab.detect.comad import ComADDetector
from defectlab.synthetic.scenes import make_scenes

SIZE = 96


@pytest.fixture(scope="module")
def scenes():
    return make_scenes("pushpins", 4, {"missing": 1, "scratch": 1}, size=SIZE, seed=3)


def test_kmeans_is_deterministic_and_unit():
    x = np.random.default_rng(0).normal(size=(200, 8)).astype(np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    a, b = kmeans(x, 4, seed=1), kmeans(x, 4, seed=1)
    assert a.shape == (4, 8) and np.allclose(a, b) and np.allclose(np.linalg.norm(a, axis=1), 1, atol=1e-5)


def test_comad_scores_components_and_sets_a_threshold(scenes):
    det = ComADDetector(image_size=SIZE, n_components=3, progress=False).fit([s.image for s in scenes[:3]])
    assert det.threshold_ is not None and len(det.normal_scores()) == 3
    preds = det.predict([s.image for s in scenes[3:]])
    assert len(preds) == 3 and all(p.anomaly_map.shape == (SIZE, SIZE) for p in preds)
    assert set(preds[0].details["scores"]) == {"histogram", "component", "patch"}
    assert preds[0].score == pytest.approx(sum(preds[0].details["scores"].values()))


@pytest.fixture(scope="module")
def tiny_clip(tmp_path_factory):
    """A random tiny CLIPModel saved as a user would, with the MiniLM (BERT) tokenizer beside it."""
    from transformers import AutoTokenizer, CLIPConfig, CLIPModel

    from defectlab.backbones.text import minilm_path

    folder = tmp_path_factory.mktemp("tiny-clip-full")
    tok = AutoTokenizer.from_pretrained(str(minilm_path()))
    text = dict(vocab_size=tok.vocab_size, hidden_size=32, intermediate_size=37, num_hidden_layers=1,
                num_attention_heads=2, max_position_embeddings=32, pad_token_id=tok.pad_token_id,
                bos_token_id=tok.cls_token_id, eos_token_id=tok.sep_token_id)
    vision = dict(hidden_size=32, intermediate_size=37, num_hidden_layers=1, num_attention_heads=2,
                  image_size=32, patch_size=8)
    CLIPModel(CLIPConfig(text_config=text, vision_config=vision, projection_dim=12)).save_pretrained(folder)
    tok.save_pretrained(folder)
    return folder


def test_winclip_runs_from_a_local_checkpoint(tiny_clip, scenes):
    from defectlab.detect.winclip import WinCLIPDetector, windows

    assert len(windows(90, 90, (2, 3))) == 1 + 9 + 25
    det = WinCLIPDetector(model=str(tiny_clip), progress=False).fit([s.image for s in scenes[:2]])
    assert len(det.normal_scores()) == 2 and det.text_.shape == (2, 12)
    preds = det.predict([s.image for s in scenes[3:5]])
    assert all(np.isfinite(p.score) and p.anomaly_map.shape == (SIZE, SIZE) for p in preds)


def test_winclip_without_weights_says_so(tmp_path, scenes):
    from defectlab.backbones import ModelNotFoundError
    from defectlab.detect.winclip import WinCLIPDetector

    with pytest.raises(ModelNotFoundError):
        WinCLIPDetector(model=str(tmp_path / "absent")).fit([scenes[0].image])
