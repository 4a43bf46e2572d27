"""Fixtures for the labelling app: a tiny image folder, a normal folder, an app on fakes."""

from __future__ import annotations

import pytest
from app_testutil import make_folders

from defectlab.app.fake import FakeClickSession, FakeReference


def fake_session_factory(image, reference, prompt):
    return FakeClickSession(image, normal_images=reference, prompt=prompt, radius=10)


def fake_reference_factory(normal_images):
    return FakeReference(normal_images)


@pytest.fixture
def folders(tmp_path):
    return make_folders(tmp_path)


@pytest.fixture
def make_app(folders, tmp_path):
    from defectlab.app.server import create_app

    def make(**kwargs):
        images, normal = folders
        kwargs.setdefault("session_factory", fake_session_factory)
        kwargs.setdefault("reference_factory", fake_reference_factory)
        kwargs.setdefault("wait_timeout", 20.0)
        return create_app(images, normal, kwargs.pop("out_dir", tmp_path / "out"), **kwargs)

    return make


@pytest.fixture
def client(make_app):
    from fastapi.testclient import TestClient

    with TestClient(make_app()) as c:
        yield c
