"""Safety: no path traversal, token on every API call, size limits, 4xx for malformed requests."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from defectlab.app.names import InvalidName, defect_type_slug
from defectlab.app.security import TOKEN_COOKIE

TOKEN = "s3cret-token-for-tests"


def first_id(client, **kw) -> str:
    return client.get("/api/state", **kw).json()["images"][0]["id"]


@pytest.mark.parametrize(
    "raw, slug",
    [("crack", "crack"), ("Hair crack", "hair_crack"), ("  Scratch-Deep ", "scratch_deep"), ("é-dent 2", "e_dent_2"), ("Éraflure", "eraflure")],
)
def test_defect_types_become_slugs(raw, slug):
    assert defect_type_slug(raw) == slug


@pytest.mark.parametrize(
    "raw", ["../etc", "a/b", "a\\b", "..", "x\x00y", "", "   ", "!!!", "good", "ground_truth", "a" * 65, None, 3]
)
def test_unsafe_or_empty_defect_types_are_refused(raw):
    with pytest.raises(InvalidName):
        defect_type_slug(raw)


@pytest.mark.parametrize("raw", ["../../evil", "a/b", "..\\x", "good"])
def test_unsafe_defect_type_is_a_4xx_and_writes_nothing(client, raw):
    id_ = first_id(client)
    client.post(f"/api/images/{id_}/click", json={"x": 60, "y": 32})
    response = client.post(f"/api/images/{id_}/save", json={"defect_type": raw})
    assert response.status_code == 422
    out = client.app.state.labeller.store.out_dir
    assert not (out / "ground_truth").exists() and not (out / "test").exists()
    assert not (out.parent / "evil").exists()


@pytest.mark.parametrize(
    "path",
    [
        "/api/images/..%2F..%2Fetc%2Fpasswd/image",
        "/api/images/%2e%2e/image",
        "/api/images/../../etc/passwd",
        "/api/images/part_00.jpg/image",
        "/api/images/0123456789ABCDEF/image",
        "/static/..%2Fserver.py",
        "/static/../server.py",
    ],
)
def test_ids_and_asset_names_cannot_reach_other_files(client, path):
    response = client.get(path)
    assert response.status_code in (404, 422)
    assert b"import" not in response.content and b"root:" not in response.content


@pytest.mark.parametrize(
    "body",
    [
        {"x": "left", "y": 1},
        {"x": 1},
        {"x": -1, "y": 5},
        {"x": 5, "y": 96},
        {"x": 1e308, "y": 1},
        [],
        "x",
    ],
)
def test_malformed_clicks_are_4xx(client, body):
    id_ = first_id(client)
    response = client.post(f"/api/images/{id_}/click", json=body)
    assert response.status_code == 422
    assert isinstance(response.json()["detail"], str)


def test_nan_and_broken_json_are_4xx(client):
    id_ = first_id(client)
    headers = {"content-type": "application/json"}
    response = client.post(f"/api/images/{id_}/click", content=b'{"x": NaN, "y": 1}', headers=headers)
    assert response.status_code == 422
    response = client.post(f"/api/images/{id_}/click", content=b'{"x": 1, ', headers=headers)
    assert response.status_code == 422


@pytest.mark.parametrize(
    "body",
    [
        {"size": [96, 128], "counts": [1, 2, 3]},
        {"size": [95, 128], "counts": [95 * 128]},
        {"size": [96, 128], "counts": [-5, 96 * 128 + 5]},
        {"size": [96, 128], "counts": "abc"},
        {"size": [96], "counts": [96]},
        # Add up to 96 x 128 only modulo 2**64: this used to segfault the server.
        {"size": [96, 128], "counts": [2**62, 2**62, 2**62, 2**62 + 96 * 128]},
        {"size": [96, 128], "counts": [0, 2**64 + 96 * 128]},
        {"size": [96, 128], "counts": [2**63 - 1, 2**63 - 1, 96 * 128 + 2]},
    ],
)
def test_malformed_masks_are_4xx_and_leave_the_mask_alone(client, body):
    id_ = first_id(client)
    before = client.post(f"/api/images/{id_}/click", json={"x": 60, "y": 32}).json()
    response = client.put(f"/api/images/{id_}/mask", json=body)
    assert response.status_code == 422
    after = client.get(f"/api/images/{id_}").json()
    assert after["mask"] == before["mask"] and after["can_undo"] == before["can_undo"]


def test_wrong_content_type_is_415(client):
    id_ = first_id(client)
    response = client.post(f"/api/images/{id_}/click", content=b"x=1&y=2",
                           headers={"content-type": "application/x-www-form-urlencoded"})
    assert response.status_code == 415
    # Even without a body: a cross-site form cannot trigger an action.
    response = client.post(f"/api/images/{id_}/skip", headers={"content-type": "text/plain"})
    assert response.status_code == 415
    assert client.get("/api/state").json()["images"][0]["status"] == "unlabelled"


def test_oversized_bodies_are_413(client):
    id_ = first_id(client)
    big = b'{"x": 1, "y": 1, "pad": "' + b"a" * (70 * 1024) + b'"}'
    response = client.post(f"/api/images/{id_}/click", content=big, headers={"content-type": "application/json"})
    assert response.status_code == 413
    # Declared length is checked before reading anything.
    response = client.put(
        f"/api/images/{id_}/mask", content=b"{}",
        headers={"content-type": "application/json", "content-length": str(64 * 1024 * 1024)},
    )
    assert response.status_code == 413


def test_oversized_chunked_body_is_413(client):
    id_ = first_id(client)

    def chunks():
        for _ in range(40):
            yield b" " * 4096

    response = client.post(f"/api/images/{id_}/click", content=chunks(), headers={"content-type": "application/json"})
    assert response.status_code == 413


def test_token_is_required_on_every_api_request(make_app):
    with TestClient(make_app(token=TOKEN)) as client:
        assert client.get("/api/state").status_code == 401
        assert client.get("/api/state", headers={"x-defectlab-token": "wrong"}).status_code == 401
        id_ = first_id(client, headers={"x-defectlab-token": TOKEN})
        assert client.get(f"/api/images/{id_}/image").status_code == 401
        assert client.post(f"/api/images/{id_}/click", json={"x": 1, "y": 1}).status_code == 401
        assert client.get(f"/api/images/{id_}/image?token={TOKEN}").status_code == 200
        assert client.get("/api/export/coco").status_code == 401


def test_page_with_the_token_sets_a_cookie_that_authorises_images(make_app):
    with TestClient(make_app(token=TOKEN)) as client:
        assert TOKEN_COOKIE not in client.get("/?token=wrong").cookies
        page = client.get(f"/?token={TOKEN}")
        assert page.status_code == 200
        set_cookie = page.headers["set-cookie"].lower()
        assert "httponly" in set_cookie and "samesite=strict" in set_cookie
        client.cookies.set(TOKEN_COOKIE, TOKEN)
        assert client.get("/api/state").status_code == 200


def test_untrusted_host_header_is_refused(make_app):
    with TestClient(make_app(trusted_hosts={"127.0.0.1", "localhost"}), base_url="http://127.0.0.1:8765") as client:
        assert client.get("/api/state").status_code == 200
        assert client.get("/api/state", headers={"host": "localhost:8765"}).status_code == 200
        response = client.get("/api/state", headers={"host": "evil.example:8765"})
        assert response.status_code == 400
        assert client.get("/", headers={"host": "evil.example"}).status_code == 400


def test_security_headers_are_set(client):
    page = client.get("/")
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert page.headers["x-frame-options"] == "DENY"
    assert client.get("/api/state").headers["x-content-type-options"] == "nosniff"


def test_internal_errors_are_reported_not_crashing(make_app):
    def broken_factory(image, reference, prompt):
        raise RuntimeError("model exploded")

    with TestClient(make_app(session_factory=broken_factory), raise_server_exceptions=False) as client:
        id_ = first_id(client)
        response = client.post(f"/api/images/{id_}/click", json={"x": 1, "y": 1})
        assert response.status_code == 500
        assert "model exploded" in response.json()["detail"]
        assert client.get("/api/state").status_code == 200  # still serving


def test_corrupt_image_is_a_4xx(make_app, folders):
    images_dir, _ = folders
    (images_dir / "part_00.jpg").write_bytes(b"not a jpeg at all")
    with TestClient(make_app()) as client:
        id_ = first_id(client)
        response = client.post(f"/api/images/{id_}/click", json={"x": 1, "y": 1})
        assert response.status_code == 422
        assert "part_00.jpg" in response.json()["detail"]
