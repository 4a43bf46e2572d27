"""Which files make up a model (the driver's early check, --ship-model), and which addresses are loopback (no Ray session)."""

import pytest

pytest.importorskip("ray")

from defectlab.errors import ConfigError  # noqa: E402
from defectlab.jobs.ray_scoring import (  # noqa: E402
    _check_model_exists,
    _is_loopback,
    _read_model_files,
    _write_model_files,
)


@pytest.mark.parametrize("given", ["tiles", "tiles.json", "tiles.safetensors"])
def test_a_model_is_the_files_named_after_it_however_it_is_given(tmp_path, given):
    for name in ("tiles.json", "tiles.safetensors", "other.json"):
        (tmp_path / name).write_text(name)
    shipped = _read_model_files(str(tmp_path / given))
    assert sorted(shipped["files"]) == ["tiles.json", "tiles.safetensors"]
    where = tmp_path / "actor"
    assert _write_model_files(shipped, where) == str(where / given)
    assert (where / "tiles.json").read_text() == "tiles.json"


def test_a_folder_model_is_shipped_as_a_folder(tmp_path):
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "weights.bin").write_bytes(b"w")
    loaded = _write_model_files(_read_model_files(str(tmp_path / "m")), tmp_path / "actor")
    assert open(f"{loaded}/weights.bin", "rb").read() == b"w"


def test_a_missing_model_fails_before_any_worker_starts(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        _check_model_exists(str(tmp_path / "nope"))


@pytest.mark.parametrize("address, loopback", [("127.0.0.1:6379", True), ("localhost:6379", True),
                                                ("[::1]:6379", True), ("10.0.0.5:6379", False), ("auto", False)])
def test_a_head_on_loopback_is_joined_on_loopback(address, loopback):
    assert _is_loopback(address) is loopback
