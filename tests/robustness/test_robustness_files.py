"""Corpus: what can be odd about files and folders themselves, through ``defectlab detect``.

Names (shared stems, 255 bytes, bytes that are not UTF-8, control
characters), links, pipes, hidden and stray files, and output folders that
cannot be written. A name that is not UTF-8 once crashed OpenCV inside the
process, so those cases run in a child process.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from robustness_util import SIZE, assert_clean_error, assert_scored, save, scored

from defectlab.data.names import path_text

ODD_NAMES = [
    "accent_é.png", "日本語.png", "emoji_🙂.png", "space name.png", "-starts-with-dash.png", "new\nline.png",
    "tab\there.png", 'quote"and,comma.png', "back\\slash.png", "percent%s{0}.png", "bidi\u202eoverride.png",
    "zero\u200bwidth.png", "many.dots.in.name.png", "UPPER.PNG", "a" * 251 + ".png", "日" * 83 + ".png",
]

STRAY_FILES = {
    "notes.txt": "not an image extension",
    "README": "not an image extension",
    "drawing.svg": "vector",
    "photo.heic": "HEIF",
    "scan.pdf": "vector",
    "raw.dng": "camera raw",
    "x.png.bak": "not an image extension",
    "trailing.png ": "not an image extension",
    ".DS_Store": "hidden",
    ".hidden.png": "hidden",
    "._companion.png": "hidden",
}


def _images_with(tmp_path: Path, *names: str) -> Path:
    images = tmp_path / "images"
    for name in names:
        save(images / name)
    return images


@pytest.mark.parametrize("name", ODD_NAMES, ids=lambda n: path_text(n)[:24])
def test_odd_names_are_scored_and_written_as_text(name, detect, tmp_path):
    images = _images_with(tmp_path, name)
    run = detect(images)
    assert_scored(run, tmp_path / "out", path_text(name))
    assert len(list((tmp_path / "out" / "overlays").iterdir())) == 1


def test_same_stem_gets_one_overlay_each(detect, tmp_path):
    images = _images_with(tmp_path, "same.png", "same.jpg", "other.png")
    assert_scored(detect(images), tmp_path / "out", "same.png", "same.jpg", "other.png")
    overlays = sorted(p.name for p in (tmp_path / "out" / "overlays").iterdir())
    assert overlays == ["other.png", "same_jpg.png", "same_png.png"]


def test_stems_that_differ_only_in_case_get_distinct_overlays(detect, tmp_path):
    images = _images_with(tmp_path, "Part.png", "part.png")
    assert_scored(detect(images), tmp_path / "out", "Part.png", "part.png")
    overlays = [p.name.casefold() for p in (tmp_path / "out" / "overlays").iterdir()]
    assert len(set(overlays)) == 2


def test_255_byte_names_that_share_a_stem_fit_the_limit(detect, tmp_path):
    stem = "b" * 250
    images = _images_with(tmp_path, f"{stem}.jpeg", f"{stem}.png")
    assert_scored(detect(images), tmp_path / "out", f"{stem}.jpeg", f"{stem}.png")
    overlays = list((tmp_path / "out" / "overlays").iterdir())
    assert len(overlays) == 2 and all(len(os.fsencode(p.name)) <= 255 for p in overlays)


@pytest.mark.parametrize("name", sorted(STRAY_FILES))
def test_every_file_left_out_is_named_in_a_warning(name, detect, tmp_path):
    images = _images_with(tmp_path, "fine.png")
    (images / name).write_bytes(b"not an image")
    with pytest.warns(UserWarning, match="left out 1 file") as caught:
        run = detect(images)
    assert_scored(run, tmp_path / "out", "fine.png")
    message = str(caught[0].message)
    assert path_text(name) in message and STRAY_FILES[name] in message


def test_a_folder_of_only_stray_files_is_a_clean_error(detect, tmp_path):
    images = tmp_path / "images"
    images.mkdir()
    (images / "notes.txt").write_text("no images here")
    with pytest.warns(UserWarning, match="notes.txt"):
        run = detect(images)
    assert_clean_error(run, "no images found", str(images))


def test_links_pipes_and_subfolders(detect, tmp_path):
    images = _images_with(tmp_path, "fine.png")
    (images / "dangling.png").symlink_to(tmp_path / "nowhere.png")
    (images / "loop_a.png").symlink_to(images / "loop_b.png")
    (images / "loop_b.png").symlink_to(images / "loop_a.png")
    (images / "linked.png").symlink_to(images / "fine.png")
    (images / "folder.png").mkdir()
    (images / "link_to_folder").symlink_to(images / "folder.png")
    os.mkfifo(images / "pipe.png")  # reading it would block forever
    with pytest.warns(UserWarning, match="left out 4 file") as caught:
        run = detect(images)
    assert_scored(run, tmp_path / "out", "fine.png", "linked.png")
    message = str(caught[0].message)
    assert "dangling.png (a symbolic link to nothing)" in message
    assert "loop_a.png (a symbolic link that loops)" in message
    assert "pipe.png (not a regular file" in message
    assert "folder.png" not in message and "link_to_folder" not in message


def test_empty_folder_is_a_clean_error(detect, tmp_path):
    (tmp_path / "images").mkdir()
    assert_clean_error(detect(tmp_path / "images"), "no images found", "images")


@pytest.mark.parametrize("flag", ["--normal", "--images"])
def test_a_missing_folder_names_its_flag(flag, cli, normal_dir, tmp_path):
    paths = {"--normal": normal_dir, "--images": normal_dir, flag: tmp_path / "missing"}
    run = cli("detect", *[x for f, p in paths.items() for x in (f, p)], "--out", tmp_path / "o")
    assert_clean_error(run, f"argument {flag}: folder not found", "missing")


def test_a_file_given_as_a_folder_names_its_flag(cli, normal_dir, tmp_path):
    file = save(tmp_path / "one.png")
    run = cli("detect", "--normal", normal_dir, "--images", file, "--out", tmp_path / "o")
    assert_clean_error(run, "argument --images", "is a file, not a folder")


UNWRITABLE = {
    "a-file": lambda tmp: tmp / "existing_file",
    "not-a-folder": lambda tmp: Path("/proc/version/out"),
    "no-permission": lambda tmp: Path("/sys/defectlab_out"),
    "name-too-long": lambda tmp: tmp / ("x" * 300),
}


@pytest.mark.parametrize("kind", sorted(UNWRITABLE))
def test_an_output_folder_that_cannot_be_written_is_a_clean_error(kind, cli, normal_dir, tmp_path):
    out = UNWRITABLE[kind](tmp_path)
    if kind == "a-file":
        out.write_text("in the way")
    run = cli("detect", "--normal", normal_dir, "--images", normal_dir, "--out", out, "--image-size", SIZE)
    assert_clean_error(run, str(out))


def test_normal_folder_as_images_and_output_inside_images(cli, normal_dir, tmp_path):
    images = _images_with(tmp_path, "a.png", "b.png")
    out = images / "results"
    for _ in range(2):  # the second run must not pick up the first run's overlays
        run = cli("detect", "--normal", images, "--images", images, "--out", out, "--image-size", SIZE)
        assert_scored(run, out, "a.png", "b.png")
        assert len(scored(out)) == 2


def test_one_normal_image_scores_without_a_threshold(detect, tmp_path):
    normal = _images_with(tmp_path / "n", "only.png")
    images = _images_with(tmp_path, "x.png")
    run = detect(images, normal=normal)
    assert_scored(run, tmp_path / "out", "x.png")
    assert scored(tmp_path / "out")["x.png"]["anomalous"] == ""
    assert "threshold: none" in run.out


def test_a_broken_normal_image_is_named(detect, tmp_path):
    normal = _images_with(tmp_path / "n", "good.png")
    (normal / "broken.png").write_bytes(b"junk")
    assert_clean_error(detect(_images_with(tmp_path, "x.png"), normal=normal), "broken.png", "--skip-bad")


def test_no_readable_normal_image_names_the_folder(detect, tmp_path):
    normal = tmp_path / "n"
    normal.mkdir()
    (normal / "broken.png").write_bytes(b"junk")
    with pytest.warns(UserWarning, match="broken.png"):
        run = detect(_images_with(tmp_path, "x.png"), "--skip-bad", normal=normal)
    assert_clean_error(run, "none of the normal images", str(normal))


def test_no_readable_image_to_score_names_the_folder(detect, tmp_path):
    images = tmp_path / "images"
    images.mkdir()
    (images / "broken.jpg").write_bytes(b"junk")
    with pytest.warns(UserWarning, match="broken.jpg"):
        run = detect(images, "--skip-bad")
    assert_clean_error(run, "none of the images", str(images))


def test_names_that_are_not_utf8_are_scored_in_a_child_process(normal_dir, tmp_path):
    # cv2.putText segfaulted on the title of such a name: a crash here must not take pytest down.
    folder = os.fsencode(tmp_path) + b"/imag\xe9s"
    os.mkdir(folder)
    save(Path(os.fsdecode(folder + b"/bad\xff\xfename.png")))
    save(Path(os.fsdecode(folder + b"/fine.png")))
    out = tmp_path / "out"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": os.pathsep.join(sys.path)}
    proc = subprocess.run([sys.executable, "-m", "defectlab.cli", "detect", "--normal", str(normal_dir),
                           "--images", os.fsdecode(folder), "--out", str(out), "--image-size", SIZE],
                          capture_output=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr.decode(errors="replace")
    text = (out / "scores.csv").read_bytes().decode("utf-8")  # valid UTF-8 even so
    assert "imag\\xe9s/bad\\xff\\xfename.png" in text and "fine.png" in text
    assert (out / "summary.md").read_bytes().decode("utf-8").count("\\xff\\xfe") >= 1
    assert len(os.listdir(out / "overlays")) == 2
