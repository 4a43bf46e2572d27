"""Fixtures for the command-line tests."""

import pytest
from app_testutil import make_folders


@pytest.fixture
def folders(tmp_path):
    """(images, normal): a tiny folder of images to label and one of normal images."""
    return make_folders(tmp_path)
