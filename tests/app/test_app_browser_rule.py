"""The browser test's rule: skip without Chromium on a workstation, fail without it under CI."""

from __future__ import annotations

import pytest

from defectlab.app import testing


def test_missing_chromium_skips_outside_ci(monkeypatch):
    monkeypatch.setattr(testing, "find_chromium", lambda: None)
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="chromium is not installed"):
        testing.require_browser()


def test_missing_chromium_fails_under_ci(monkeypatch):
    monkeypatch.setattr(testing, "find_chromium", lambda: None)
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="cannot run under CI"):
        testing.require_browser()


def test_chromium_override_must_exist(monkeypatch, tmp_path):
    monkeypatch.setenv("DEFECTLAB_CHROMIUM", str(tmp_path / "nope"))
    found = testing.find_chromium()
    assert found != str(tmp_path / "nope")
