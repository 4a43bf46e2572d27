"""kill -9 in the middle of saving, over and over: the output folder must always read as one consistent state.

A real ``defectlab label`` process is killed with SIGKILL at random points
(most of them while a save request is being handled) during 100 saves, and
restarted on the same ``--out`` after each kill. After every restart the
folder must agree with itself: the manifest names exactly the files under
test/ and ground_truth/, every mask PNG has the size and area the manifest
records, annotations_coco.json decodes to the same masks, there is no
temporary file and no empty folder, the project's MVTec reader loads it, and
no save that was answered 200 is lost.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import threading
import time

import httpx
import numpy as np
from app_testutil import SCRATCH, label_server, make_folders

from defectlab.app import coco
from defectlab.app.store import LAYOUT_DIRS
from defectlab.data.io import load_mask

SAVES = 100
TYPES = ("crack", "scratch", "dent")


class Saver(threading.Thread):
    """Sends clicks and saves one after another, and notes what the server acknowledged."""

    def __init__(self, url: str, ids: dict[str, str], rng: random.Random, budget: int):
        super().__init__(daemon=True)
        self.url, self.ids, self.rng, self.budget = url, ids, rng, budget
        self.sent = 0  # save, no-defect or skip requests sent
        self.acked: list[tuple[str, dict]] = []  # (image name, expected entry) for each 200
        self.pending: tuple[str, dict] | None = None  # sent, no answer yet
        self.save_sent = threading.Event()

    def run(self):
        with httpx.Client(base_url=self.url, timeout=30) as http:
            try:
                while self.sent < self.budget:
                    name = self.rng.choice(sorted(self.ids))
                    id_ = self.ids[name]
                    kind = self.rng.choices(["save", "no-defect", "skip"], weights=[8, 2, 1])[0]
                    body = {}
                    if kind == "save":
                        # The fake session paints a disk per click: a mask of varying shape.
                        x = self.rng.randrange(SCRATCH[1].start, SCRATCH[1].stop)
                        http.post(f"/api/images/{id_}/click", json={"x": x, "y": 32}).raise_for_status()
                        body = {"defect_type": self.rng.choice(TYPES)}
                    expected = {"status": {"save": "labelled", "no-defect": "no_defect", "skip": "skipped"}[kind],
                                "defect_type": body.get("defect_type")}
                    self.pending = (name, expected)
                    self.sent += 1
                    self.save_sent.set()
                    response = http.post(f"/api/images/{id_}/{kind}", json=body)
                    response.raise_for_status()
                    if kind == "save":
                        expected["area"] = response.json()["entry"]["area"]
                    self.acked.append((name, expected))
                    self.pending = None
            except httpx.TransportError:
                pass  # killed


def entry_matches(entry: dict, expected: dict) -> bool:
    return (entry.get("status") == expected["status"] and entry.get("defect_type") == expected["defect_type"]
            and ("area" not in expected or entry.get("area") == expected["area"]))


def check_folder(out, images_dir, normal_dir, last: dict[str, dict], maybe: dict[str, dict]) -> None:
    manifest = json.loads((out / "manifest.json").read_text())
    entries = manifest["images"]

    leftovers = [p for p in out.rglob("*") if p.name.endswith((".tmp", ".lnk")) and "stray" not in p.parts]
    assert not leftovers, leftovers
    for top in LAYOUT_DIRS:
        for folder in (out / top).rglob("*"):
            if folder.is_dir():
                assert any(folder.iterdir()), f"empty folder {folder}"

    named = {rel for e in entries.values() for rel in (e.get("image"), e.get("mask")) if rel}
    on_disk = {p.relative_to(out).as_posix() for top in LAYOUT_DIRS for p in (out / top).rglob("*") if p.is_file()}
    assert on_disk == named, (on_disk - named, named - on_disk)

    for name, entry in entries.items():
        if entry["status"] in ("labelled", "no_defect"):
            assert (out / entry["image"]).read_bytes() == (images_dir / name).read_bytes()
        if entry["status"] == "labelled":
            mask = load_mask(out / entry["mask"])
            assert mask.shape == (entry["height"], entry["width"]) and int(mask.sum()) == entry["area"], name
        # No acknowledged save is lost; one in flight at the kill may or may not have happened.
        if name in last:
            assert entry_matches(entry, last[name]) or (name in maybe and entry_matches(entry, maybe[name])), (
                name, entry, last[name], maybe.get(name))

    data = json.loads((out / "annotations_coco.json").read_text())
    exported = {e["image"]: e for e in entries.values() if e["status"] in ("labelled", "no_defect")}
    assert {im["file_name"] for im in data["images"]} == set(exported)
    used = {e["defect_type"] for e in exported.values() if e["status"] == "labelled"}
    assert {c["name"] for c in data["categories"]} == used
    names = {c["id"]: c["name"] for c in data["categories"]}
    for image in data["images"]:
        entry = exported[image["file_name"]]
        union = np.zeros((image["height"], image["width"]), bool)
        for ann in (a for a in data["annotations"] if a["image_id"] == image["id"]):
            assert names[ann["category_id"]] == entry["defect_type"]
            union |= coco.decode_segmentation(ann["segmentation"])
        expected = load_mask(out / entry["mask"]) if entry["status"] == "labelled" else np.zeros_like(union)
        assert np.array_equal(union, expected), image["file_name"]

    if exported:
        from defectlab.data.datasets.mvtec_ad import MVTecAD

        (out / "train" / "good").mkdir(parents=True, exist_ok=True)  # as the README tells the user to
        for path in sorted(normal_dir.iterdir())[:1]:
            shutil.copyfile(path, out / "train" / "good" / path.name)
        dataset = MVTecAD(out.parent, out.name)
        assert len(dataset.test_samples()) == len(exported)


def settle(out, last: dict[str, dict], maybe: dict[str, dict]) -> None:
    """The request in flight at the kill either happened or not; from now on, what the folder shows is expected."""
    entries = json.loads((out / "manifest.json").read_text())["images"]
    for name, expected in maybe.items():
        if entry_matches(entries.get(name, {}), expected):
            last[name] = {**expected, **({"area": entries[name]["area"]} if "area" in entries[name] else {})}


def test_sigkill_during_saves_never_leaves_an_inconsistent_folder(tmp_path):
    images, normal = make_folders(tmp_path, n_images=6)
    out = tmp_path / "out"
    rng = random.Random(18)
    last: dict[str, dict] = {}
    maybe: dict[str, dict] = {}
    rounds = sent = 0
    started = time.monotonic()
    while sent < SAVES:
        with label_server(images, normal, out) as (proc, url):
            state = httpx.get(url + "/api/state").json()
            if rounds:
                # The restart repaired the folder before answering: check it as it is now.
                check_folder(out, images, normal, last, maybe)
                settle(out, last, maybe)
            ids = {im["name"]: im["id"] for im in state["images"]}
            saver = Saver(url, ids, rng, min(SAVES - sent, rng.randint(3, 20)))
            saver.start()
            # Most kills land while a save is being handled: just after one was sent, within its time.
            for _ in range(rng.randint(1, saver.budget)):
                saver.save_sent.wait(30)
                saver.save_sent.clear()
            time.sleep(rng.uniform(0, 0.03))
            os.kill(proc.pid, 9)
            proc.wait(10)
            saver.join(30)
        for name, expected in saver.acked:
            last[name] = expected
        maybe = dict([saver.pending]) if saver.pending else {}
        sent += saver.sent
        rounds += 1
    with label_server(images, normal, out) as (proc, url):
        check_folder(out, images, normal, last, maybe)
    print(f"kill -9: {rounds} kills during {sent} saves, {time.monotonic() - started:.0f} s")
    assert rounds >= 5
