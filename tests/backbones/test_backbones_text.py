import numpy as np
import pytest

from defectlab.backbones.text import TEXT_ENCODERS, CLIPTextEncoder, create_text_encoder, minilm_path


@pytest.fixture(scope="module")
def tiny_clip_dir(tmp_path_factory):
    """A random tiny CLIP text tower saved as a user would, with the MiniLM (BERT) tokenizer beside it."""
    from transformers import AutoTokenizer, CLIPTextConfig, CLIPTextModelWithProjection

    folder = tmp_path_factory.mktemp("tiny-clip")
    tokenizer = AutoTokenizer.from_pretrained(str(minilm_path()))
    config = CLIPTextConfig(
        vocab_size=tokenizer.vocab_size, hidden_size=32, intermediate_size=37, num_hidden_layers=1,
        num_attention_heads=2, max_position_embeddings=32, projection_dim=12,
        pad_token_id=tokenizer.pad_token_id, bos_token_id=tokenizer.cls_token_id, eos_token_id=tokenizer.sep_token_id,
    )  # fmt: skip
    CLIPTextModelWithProjection(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def test_clip_loads_from_a_local_dir_through_the_registry(tiny_clip_dir):
    enc = create_text_encoder(f"clip:{tiny_clip_dir}")
    assert isinstance(enc, CLIPTextEncoder) and enc.dim == 12
    vec = enc.encode(["crack", "scratch on metal", "crack"])
    assert vec.shape == (3, 12) and vec.dtype == np.float32
    assert np.allclose(np.linalg.norm(vec, axis=1), 1, atol=1e-5)
    assert np.allclose(vec[0], vec[2]) and not np.allclose(vec[0], vec[1])


def test_missing_clip_dir_says_how_to_get_weights(tmp_path):
    from defectlab.backbones import ModelNotFoundError

    with pytest.raises(ModelNotFoundError, match="save_pretrained"):
        create_text_encoder(f"clip:{tmp_path / 'absent'}")


def test_unknown_name_lists_the_registered_encoders():
    assert "minilm" in TEXT_ENCODERS
    with pytest.raises(ValueError, match="unknown text encoder 'nope'; choose one of minilm"):
        create_text_encoder("nope")


def test_minilm_default_is_offline_and_384d():
    enc = create_text_encoder("minilm")
    vec = enc.encode(["blowhole", "hole"])
    assert vec.shape == (2, 384)
    assert float(vec[0] @ vec[1]) > 0.3
    with pytest.raises(ValueError, match="non-empty"):
        enc.encode([" "])
