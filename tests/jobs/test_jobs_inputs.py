"""Listing what a job scores: folder, glob and list file, lazily and in independent pieces (no Ray)."""

import os

import pytest

from defectlab.data.io import list_images
from defectlab.errors import ConfigError
from defectlab.jobs.inputs import open_path, parse_inputs


def listed(inputs, piece_bytes=2**20):
    return [p for piece in inputs.pieces(piece_bytes) for p in piece.paths()]


@pytest.fixture
def folder(tmp_path):
    images = tmp_path / "images"
    images.mkdir()
    for name in ("b.png", "a.JPG", ".hidden.png", "notes.txt"):
        (images / name).write_bytes(b"x")
    (images / "sub").mkdir()
    (images / "sub" / "c.png").write_bytes(b"x")
    return images


def test_a_folder_lists_its_images_named_as_plain_detect_names_them(folder):
    inputs = parse_inputs(str(folder))
    assert inputs.kind == "dir"
    assert sorted(listed(inputs)) == [str(p) for p in list_images(folder)]


def test_a_relative_glob_is_relative_to_the_working_directory_not_the_reader(folder, tmp_path):
    inputs = parse_inputs("images/**/*.png", cwd=str(tmp_path))
    assert inputs.kind == "glob"
    assert sorted(listed(inputs)) == ["images/b.png", "images/sub/c.png"]
    assert os.path.isfile(open_path("images/b.png", inputs.cwd))


@pytest.mark.parametrize("piece_bytes", [1, 7, 64, 2**20])
def test_a_list_read_in_pieces_gives_every_line_once(tmp_path, piece_bytes):
    lines = [f"/data/{'x' * (i % 13)}{i}.png" for i in range(200)]
    listing = tmp_path / "list.txt"
    listing.write_text("\n".join(lines[:100]) + "\n\n  " + "\r\n".join(lines[100:]) + "\n", encoding="utf-8")
    inputs = parse_inputs(str(listing))
    assert inputs.kind == "list"
    assert len(inputs.pieces(piece_bytes)) == -(-listing.stat().st_size // piece_bytes)
    assert listed(inputs, piece_bytes) == lines  # in order, blank lines and whitespace dropped


def test_an_empty_list_lists_nothing(tmp_path):
    (tmp_path / "empty.txt").write_bytes(b"")
    assert listed(parse_inputs(str(tmp_path / "empty.txt"))) == []


def test_missing_input_and_a_single_image_are_refused(tmp_path, folder):
    with pytest.raises(ConfigError, match="no such folder"):
        parse_inputs(str(tmp_path / "nope"))
    with pytest.raises(ConfigError, match="one image"):
        parse_inputs(str(folder / "b.png"))


def test_a_name_that_is_not_utf8_comes_through_as_the_file_systems_own(tmp_path):
    (tmp_path / "list.txt").write_bytes(b"/data/caf\xe9.png\n")
    assert [os.fsencode(p) for p in listed(parse_inputs(str(tmp_path / "list.txt")))] == [b"/data/caf\xe9.png"]


def test_the_images_flag_is_checked_while_parsing(tmp_path, folder):
    import argparse

    from defectlab.cli.detect_ray import image_source

    assert image_source(str(folder)) == folder
    with pytest.raises(argparse.ArgumentTypeError, match="folder not found"):
        image_source(str(tmp_path / "nope"))
