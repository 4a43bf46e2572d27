"""Corpus: folders handed to ``defectlab label``, started from the command line with the fake engine.

The server is not left running: ``uvicorn.Server.run`` is replaced by one
that keeps the app, so each case is a real startup (arguments, folders,
socket on 127.0.0.1) followed by requests through a test client.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from robustness_util import assert_clean_error, save, texture


@pytest.fixture
def label(cli, monkeypatch, tmp_path):
    """Run ``defectlab label IMAGES --normal NORMAL ...``; returns (run, app or None)."""
    import uvicorn

    served = {}

    def keep_app(self, sockets=None):
        served["app"] = self.config.app
        for sock in sockets:
            sock.close()

    monkeypatch.setattr(uvicorn.Server, "run", keep_app)

    def run(images: Path, normal: Path, *extra):
        served.clear()
        result = cli("label", images, "--normal", normal, "--out", tmp_path / "labels", "--port", "0",
                     "--engine", "fake", *extra)
        return result, served.get("app")

    return run


def _folder(root: Path, *names: str) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    for i, name in enumerate(names):
        save(root / name, texture(40, 56, seed=i))
    return root


@pytest.fixture
def folders(tmp_path):
    return _folder(tmp_path / "images", "a.png", "b.jpg"), _folder(tmp_path / "normal", "n0.png", "n1.png")


def _client(app) -> TestClient:
    return TestClient(app, base_url="http://127.0.0.1")  # the app trusts only loopback Host headers


def _names(app) -> list[str]:
    with _client(app) as client:
        return [image["name"] for image in client.get("/api/state").json()["images"]]


def test_a_normal_folder_of_corrupt_images_refuses_to_start(label, folders):
    images, normal = folders
    for path in normal.iterdir():
        path.write_bytes(b"corrupt")
    run, app = label(images, normal)
    assert_clean_error(run, "2 of the 2 normal images", "n0.png", "n1.png", "--normal")
    assert app is None


def test_one_corrupt_normal_image_is_named(label, folders):
    images, normal = folders
    (normal / "n1.png").write_bytes(b"corrupt")
    assert_clean_error(label(images, normal)[0], "1 of the 2 normal images", "n1.png")


def test_a_corrupt_normal_image_left_out_by_max_normal_does_not_matter(label, folders):
    images, normal = folders
    (normal / "n1.png").write_bytes(b"corrupt")
    run, app = label(images, normal, "--max-normal", "1")
    assert run.rc == 0, run.err
    assert sorted(_names(app)) == ["a.png", "b.jpg"]


@pytest.mark.parametrize("which", ["images", "normal"])
def test_an_empty_folder_is_named(which, label, folders):
    chosen = dict(zip(("images", "normal"), folders))
    for path in chosen[which].iterdir():
        path.unlink()
    assert_clean_error(label(*folders)[0], "no images found", str(chosen[which]))


def test_a_folder_of_stray_files_is_named_and_each_file_warned_about(label, folders):
    images, normal = folders
    for path in normal.iterdir():
        path.unlink()
    (normal / "notes.txt").write_text("x")
    (normal / "drawing.svg").write_text("<svg/>")
    with pytest.warns(UserWarning, match=r"drawing\.svg \(a vector.*notes\.txt"):
        run, _ = label(images, normal)
    assert_clean_error(run, "no images found", str(normal))


def test_a_corrupt_image_to_label_is_named_when_opened(label, folders):
    images, normal = folders
    (images / "broken.png").write_bytes(b"corrupt")
    run, app = label(images, normal)
    assert run.rc == 0, run.err
    with _client(app) as client:
        state = client.get("/api/state").json()
        broken = next(i for i in state["images"] if i["name"] == "broken.png")
        response = client.post(f"/api/images/{broken['id']}/open", json={})
    assert response.status_code == 422 and "broken.png" in response.json()["detail"]


def test_names_that_are_not_utf8_are_named(label, folders):
    images, normal = folders
    save(Path(os.fsdecode(os.fsencode(images) + b"/bad\xff.png")))
    assert_clean_error(label(images, normal)[0], "not valid UTF-8", "bad\\xff.png")


ODD = ["accent_é.png", "space name.png", "new\nline.png", "日本語.jpg", "a" * 251 + ".png", "strip.png"]


@pytest.mark.parametrize("name", ODD, ids=lambda n: n.encode("unicode_escape").decode()[:20])
def test_odd_names_and_sizes_are_listed_and_open(name, label, folders):
    images, normal = folders
    save(images / name, texture(1, 5000) if name == "strip.png" else None)
    run, app = label(images, normal)
    assert run.rc == 0, run.err
    with _client(app) as client:
        image = next(i for i in client.get("/api/state").json()["images"] if i["name"] == name)
        assert client.post(f"/api/images/{image['id']}/open", json={}).status_code == 200


def test_links_and_hidden_files_are_warned_about_and_the_rest_served(label, folders):
    images, normal = folders
    (images / "dangling.png").symlink_to(images / "nowhere.png")
    (images / "._a.png").write_bytes(b"macOS companion")
    with pytest.warns(UserWarning, match=r"\._a\.png \(a hidden file\), dangling\.png \(a symbolic link to nothing\)"):
        run, app = label(images, normal)
    assert run.rc == 0, run.err
    assert sorted(_names(app)) == ["a.png", "b.jpg"]


def test_the_same_folder_for_images_and_normals_starts(label, folders):
    images, _ = folders
    run, app = label(images, images)
    assert run.rc == 0 and sorted(_names(app)) == ["a.png", "b.jpg"]


def test_excluding_every_image_is_named(label, folders):
    assert_clean_error(label(*folders, "--exclude", "*")[0], "no images found", "after applying exclude")


def test_an_output_path_that_is_a_file_is_named(label, folders, tmp_path):
    (tmp_path / "labels").write_text("in the way")
    assert_clean_error(label(*folders)[0], "labels")


def test_a_short_token_is_named(label, folders):
    assert_clean_error(label(*folders, "--token", "short")[0], "--token must be at least 8")
