"""What the app writes: masks in the MVTec AD layout, the manifest, COCO, drafts.

Output folder::

    OUT/test/<defect_type>/<name>.<ext>               copy of (or link to) the image
    OUT/ground_truth/<defect_type>/<name>_mask.png    0/255 mask, same size as the image
    OUT/test/good/<name>.<ext>                        images marked "no defect"
    OUT/manifest.json                                 status, who, when, how many clicks
    OUT/annotations_coco.json                         COCO export of the same masks
    OUT/.defectlab/drafts/<id>.json                   unsaved clicks, for resuming

"No defect" images go to ``test/good``, not ``train/good``: they come from the
set being inspected, and MVTec's ``train/good`` means "used to fit the model".

The manifest is the source of truth, written atomically after the files it
names; the COCO export is derived from it and rewritten before a save
returns. Because a process can die between any two of those writes, opening
a folder reconciles it with the manifest (``LabelStore.repairs`` says what
was done): temporary files are removed, files the manifest does not name are
moved to ``stray/`` (never deleted), a mask rewritten by a save whose
manifest update never happened is taken as saved, and a COCO file that does
not match the manifest is rebuilt. No file the manifest names is removed.
Originals are only ever read; every output path is checked not to be one.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import hashlib
import json
import os
import re
import threading
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..data.io import load_mask, save_png_atomic
from . import coco
from .atomic import copy_atomic, read_json, symlink_atomic, write_json_atomic
from .names import image_id

STATUSES = ("unlabelled", "labelled", "no_defect", "skipped")
MANIFEST_NAME = "manifest.json"
COCO_NAME = "annotations_coco.json"
MANIFEST_FORMAT = "defectlab-label-manifest"
STRAY_DIR = "stray"
LAYOUT_DIRS = ("test", "ground_truth")  # what the app writes; train/ is the user's
# atomic_write's mkstemp names (.<name>.<random>.tmp) and symlink_atomic's (.<name>.<pid>.<hex>.lnk)
_TEMP_NAME = re.compile(r"^\..+\.([a-z0-9_]{8}\.tmp|\d+\.[0-9a-f]+\.lnk)$")


@dataclass(frozen=True)
class ImageRecord:
    id: str
    name: str  # file name inside the images folder
    path: Path
    stem: str  # output name without extension; unique even when a.png and a.jpg both exist


class LabelStore:
    def __init__(
        self,
        images_dir: str | os.PathLike,
        out_dir: str | os.PathLike,
        images: list[Path],
        user: str,
        placement: str = "copy",
    ):
        if placement not in ("copy", "link"):
            raise ValueError(f"placement must be 'copy' or 'link', got {placement!r}")
        self.images_dir = Path(images_dir)
        self.out_dir = Path(out_dir)
        self.user = user
        self.placement = placement
        self.records = _records(self.images_dir, images)
        self._by_id = {r.id: r for r in self.records}
        self._by_name = {r.name: r for r in self.records}
        self._originals = {os.path.realpath(r.path) for r in self.records}
        self._lock = threading.RLock()
        self._coco_cache: dict[str, tuple[str, tuple]] = {}  # image name -> (mask digest, annotations)
        self._draft_versions: dict[str, int] = {}
        self.warnings: list[str] = []
        self.repairs: list[str] = []  # what opening the folder had to fix, one sentence each
        self._lost_entries = False
        self.out_dir.mkdir(parents=True, exist_ok=True)
        self._manifest = self._load_manifest()
        self._reconcile()
        self.unsaved = self._scan_drafts()  # ids whose draft holds changes not saved

    # ----------------------------------------------------------------- lookup

    def record(self, id_: str) -> ImageRecord:
        """KeyError for an id this server did not hand out."""
        return self._by_id[id_]

    def entry(self, record: ImageRecord) -> dict:
        with self._lock:
            return dict(self._manifest["images"].get(record.name, {"status": "unlabelled"}))

    def status(self, record: ImageRecord) -> str:
        return self.entry(record)["status"]

    @property
    def defect_types(self) -> list[str]:
        with self._lock:
            return list(self._manifest["defect_types"])

    @property
    def current(self) -> ImageRecord | None:
        with self._lock:
            return self._by_name.get(self._manifest.get("current"))

    def set_current(self, record: ImageRecord) -> None:
        with self._lock:
            if self._manifest.get("current") != record.name:
                self._manifest["current"] = record.name
                self._write_manifest()

    def progress(self) -> dict:
        counts = dict.fromkeys(STATUSES, 0)
        with self._lock:
            for record in self.records:
                counts[self._manifest["images"].get(record.name, {}).get("status", "unlabelled")] += 1
        done = counts["labelled"] + counts["no_defect"]
        return {"total": len(self.records), "done": done, **counts}

    # ----------------------------------------------------------------- saving

    def save_labelled(self, record: ImageRecord, mask: np.ndarray, defect_type: str, stats: dict) -> dict:
        mask = np.asarray(mask, dtype=bool)
        if not mask.any():
            raise ValueError("the mask is empty: click on the defect first, or mark the image 'No defect'")
        mask_rel = f"ground_truth/{defect_type}/{record.stem}_mask.png"
        image_rel = f"test/{defect_type}/{record.stem}{record.path.suffix}"
        entry = {
            "status": "labelled",
            "defect_type": defect_type,
            "mask": mask_rel,
            "image": image_rel,
            "height": int(mask.shape[0]),
            "width": int(mask.shape[1]),
            "area": int(mask.sum()),
            **self._who(stats),
        }
        with self._lock:
            created = self._write_outputs(
                record, [image_rel, mask_rel], lambda: self._save_mask(mask_rel, mask)
            )
            entry["mask_sha256"] = _file_digest(self.out_dir / mask_rel)
            self._coco_cache[record.name] = (entry["mask_sha256"], coco.mask_annotations(mask))
            self._commit(record, entry, created, defect_type)
            self.unsaved.discard(record.id)
            return dict(entry)

    def save_no_defect(self, record: ImageRecord, size: tuple[int, int], stats: dict) -> dict:
        image_rel = f"test/good/{record.stem}{record.path.suffix}"
        entry = {
            "status": "no_defect",
            "image": image_rel,
            "height": int(size[0]),
            "width": int(size[1]),
            **self._who(stats),
        }
        with self._lock:
            created = self._write_outputs(record, [image_rel], lambda: None)
            self._commit(record, entry, created, None)
            self.unsaved.discard(record.id)
            return dict(entry)

    def skip(self, record: ImageRecord) -> dict:
        entry = {"status": "skipped", **self._who({})}
        with self._lock:
            self._commit(record, entry, [], None)
            return dict(entry)

    def saved_mask(self, record: ImageRecord) -> np.ndarray | None:
        entry = self.entry(record)
        if entry["status"] != "labelled":
            return None
        return load_mask(self.out_dir / entry["mask"])

    # ----------------------------------------------------------------- drafts

    def read_draft(self, record: ImageRecord) -> dict | None:
        try:
            draft = read_json(self._draft_path(record))
        except ValueError as err:
            # A draft is a convenience: a damaged one must not block the image.
            warnings.warn(f"ignoring damaged draft for {record.name}: {err}", stacklevel=2)
            return None
        return draft if isinstance(draft, dict) and "mask" in draft else None

    def write_draft(self, record: ImageRecord, draft: dict) -> None:
        """Keep the newest: writes arrive from background tasks in any order."""
        version = int(draft.get("version", 0))
        with self._lock:
            if version <= self._draft_versions.get(record.id, -1):
                return
            self._draft_versions[record.id] = version
            write_json_atomic(self._draft_path(record), draft, durable=False)
            if draft.get("dirty"):
                self.unsaved.add(record.id)
            else:
                self.unsaved.discard(record.id)

    # ------------------------------------------------------------------- COCO

    @property
    def coco_path(self) -> Path:
        return self.out_dir / COCO_NAME

    def write_coco(self) -> Path:
        """Rebuild the export from the manifest: its labelled and "no defect" images, the masks it names.

        Categories are the defect types that label at least one image, in the
        order they were first used: a type typed once and abandoned is no
        category. ``info.manifest_digest`` says which manifest state the file
        was built from, so a restart can tell a stale export.
        """
        with self._lock:
            images = []
            for name, entry in sorted(self._manifest["images"].items()):
                if entry.get("status") == "labelled":
                    images.append(
                        coco.ExportImage(
                            entry["image"], entry["width"], entry["height"], entry["defect_type"],
                            self._coco_annotations(name, entry),
                        )
                    )
                elif entry.get("status") == "no_defect":
                    images.append(coco.ExportImage(entry["image"], entry["width"], entry["height"], None))
            used = {image.defect_type for image in images}
            categories = [t for t in self._manifest["defect_types"] if t in used]
            data = coco.build_coco(images, categories, f"defectlab labels of {self.images_dir}")
            data["info"]["manifest_digest"] = self._manifest_digest()
            return write_json_atomic(self.coco_path, data)

    def _coco_annotations(self, name: str, entry: dict) -> tuple:
        digest = entry.get("mask_sha256")
        cached = self._coco_cache.get(name)
        if cached is None or cached[0] != digest:
            cached = (digest, coco.mask_annotations(load_mask(self.out_dir / entry["mask"])))
            self._coco_cache[name] = cached
        return cached[1]

    def _manifest_digest(self) -> str:
        """Of everything the export is built from (not ``current``, which changes on every navigation)."""
        exported = {
            name: {k: entry.get(k) for k in ("status", "image", "mask", "mask_sha256", "defect_type", "width", "height")}
            for name, entry in self._manifest["images"].items()
            if entry.get("status") in ("labelled", "no_defect")
        }
        text = json.dumps([exported, self._manifest["defect_types"]], sort_keys=True)
        return hashlib.sha256(text.encode("utf-8")).hexdigest()

    def _coco_is_current(self) -> bool:
        try:
            data = read_json(self.coco_path)
        except ValueError:
            return False
        return isinstance(data, dict) and (data.get("info") or {}).get("manifest_digest") == self._manifest_digest()

    # -------------------------------------------------------------- internals

    def _who(self, stats: dict) -> dict:
        return {
            "labelled_by": self.user,
            "labelled_at": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
            "clicks": int(stats.get("clicks", 0)),
            "clicks_total": int(stats.get("clicks_total", 0)),
            "brush_edits": int(stats.get("brush_edits", 0)),
            "seconds": round(float(stats.get("seconds", 0.0)), 1),
        }

    def _save_mask(self, mask_rel: str, mask: np.ndarray) -> None:
        path = self._output(mask_rel)
        save_png_atomic(path, mask.astype(np.uint8) * 255)

    def _write_outputs(self, record: ImageRecord, rels: list[str], write_mask) -> list[str]:
        """Write the image placement and mask; on failure remove what this call created."""
        created = [rel for rel in rels if not os.path.lexists(self.out_dir / rel)]
        try:
            self._place_image(record, rels[0])
            write_mask()
        except BaseException:
            for rel in created:
                self._remove_output(rel)
            raise
        return created

    def _commit(self, record: ImageRecord, entry: dict, created: list[str], new_type: str | None) -> None:
        images = self._manifest["images"]
        old = images.get(record.name, {})
        previous_types = list(self._manifest["defect_types"])
        images[record.name] = entry
        if new_type and new_type not in self._manifest["defect_types"]:
            self._manifest["defect_types"].append(new_type)
        try:
            self._write_manifest()
        except BaseException:
            # Back to the state on disk, without the files it would have referenced.
            if old:
                images[record.name] = old
            else:
                images.pop(record.name, None)
            self._manifest["defect_types"] = previous_types
            for rel in created:
                self._remove_output(rel)
            raise
        keep = {entry.get("image"), entry.get("mask")}
        for rel in (old.get("image"), old.get("mask")):
            if rel and rel not in keep:
                self._remove_output(rel)
        if self._exported(old) or self._exported(entry):
            try:
                self.write_coco()
            except OSError as err:
                # The save itself is committed; the export is rebuilt on the next save or start.
                raise OSError(
                    f"the labels were saved, but {COCO_NAME} could not be written ({err}); "
                    "it is rebuilt on the next save or when the app starts"
                ) from err

    @staticmethod
    def _exported(entry: dict) -> bool:
        return entry.get("status") in ("labelled", "no_defect")

    def _place_image(self, record: ImageRecord, rel: str) -> None:
        dest = self._output(rel)
        if self.placement == "link":
            target = os.path.realpath(record.path)
            if not (dest.is_symlink() and os.readlink(dest) == target):
                symlink_atomic(target, dest)
            return
        src_stat = record.path.stat()
        if dest.is_file() and not dest.is_symlink():
            dst_stat = dest.stat()
            if dst_stat.st_size == src_stat.st_size and dst_stat.st_mtime_ns >= src_stat.st_mtime_ns:
                return  # the copy from an earlier save is current
        copy_atomic(record.path, dest)

    def _output(self, rel: str) -> Path:
        """Absolute output path, refusing anything that would land on an original image."""
        path = self.out_dir / rel
        where = os.path.join(os.path.realpath(path.parent), path.name)
        if where in self._originals:
            raise RuntimeError(
                f"refusing to write {path}: it is one of the images being labelled; "
                "choose an --out folder outside the images folder"
            )
        return path

    def _remove_output(self, rel: str) -> None:
        with contextlib.suppress(FileNotFoundError, RuntimeError):
            path = self._output(rel)
            os.unlink(path)
            # An empty test/<type> folder would read as a defect class with no images.
            with contextlib.suppress(OSError):
                path.parent.rmdir()

    def _reconcile(self) -> None:
        """Bring the folder back to what the manifest says, after whatever stopped the last run."""
        changed = self._adopt_interrupted_saves() or self._lost_entries
        self._remove_temp_files()
        self._move_strays()
        self._remove_empty_folders()
        if changed:
            self._write_manifest()
        existed = self.coco_path.exists()
        if not self._coco_is_current():
            self.write_coco()
            if existed:
                self.repairs.append(f"rebuilt {COCO_NAME}: it did not match {MANIFEST_NAME}")
        self.warnings.extend(self.repairs)

    def ensure_coco(self) -> Path:
        """The export, rebuilt first if it does not match the manifest (after a failed write)."""
        with self._lock:
            if not self._coco_is_current():
                self.write_coco()
            return self.coco_path

    def _adopt_interrupted_saves(self) -> bool:
        """A labelled image's mask whose content is not the one recorded was rewritten by an unfinished save.

        The mask is written before the manifest, so the file is the newer
        state: the user pressed save, only the record is missing. The old mask
        is gone (it was replaced atomically), so the record follows the file.
        """
        changed = False
        for name, entry in self._manifest["images"].items():
            if entry.get("status") != "labelled":
                continue
            path = self.out_dir / entry["mask"]
            digest = _file_digest(path)
            if entry.get("mask_sha256") == digest:
                continue
            if "mask_sha256" in entry:  # written by this version: a real mismatch, not an older manifest
                mask = load_mask(path)
                entry.update(height=int(mask.shape[0]), width=int(mask.shape[1]), area=int(mask.sum()))
                self.repairs.append(f"{name}: kept the mask of a save that stopped before it was recorded")
            entry["mask_sha256"] = digest
            changed = True
        return changed

    def _remove_temp_files(self) -> None:
        folders = [self.out_dir, self.out_dir / ".defectlab"] + [self.out_dir / top for top in LAYOUT_DIRS]
        for folder in folders:
            walk = os.walk(folder) if folder != self.out_dir else [(str(folder), [], os.listdir(folder))]
            for where, _, names in walk:
                if self._inside_images_dir(where):
                    continue
                for file_name in names:
                    path = Path(where) / file_name
                    if _TEMP_NAME.match(file_name) and (path.is_symlink() or path.is_file()):
                        os.unlink(path)
                        self.repairs.append(
                            f"removed {path.relative_to(self.out_dir).as_posix()}, left by an interrupted write"
                        )

    def _move_strays(self) -> None:
        """Files under test/ and ground_truth/ that no manifest entry names go to stray/, keeping their paths."""
        referenced = {
            rel for entry in self._manifest["images"].values() for rel in (entry.get("image"), entry.get("mask")) if rel
        }
        moved = []
        for top in LAYOUT_DIRS:
            for where, dirs, files in os.walk(self.out_dir / top):
                if self._inside_images_dir(where):
                    continue  # an --out around the images folder: its files are the user's, never moved
                # A link to a folder is an entry like a file: moved, never walked into.
                links = [d for d in dirs if os.path.islink(os.path.join(where, d))]
                for entry_name in sorted(files + links):
                    path = Path(where) / entry_name
                    rel = path.relative_to(self.out_dir).as_posix()
                    if rel in referenced:
                        continue
                    dest = _free_path(self.out_dir / STRAY_DIR / rel)
                    dest.parent.mkdir(parents=True, exist_ok=True)
                    os.replace(path, dest)
                    moved.append(rel)
        if moved:
            shown = ", ".join(moved[:5]) + (f" and {len(moved) - 5} more" if len(moved) > 5 else "")
            self.repairs.append(f"moved {len(moved)} file(s) that {MANIFEST_NAME} does not list to {STRAY_DIR}/: {shown}")

    def _remove_empty_folders(self) -> None:
        """An empty test/<type>/ would read as a defect class without images."""
        for top in LAYOUT_DIRS:
            for where, _, _ in sorted(os.walk(self.out_dir / top), key=lambda w: len(w[0]), reverse=True):
                if not self._inside_images_dir(where):
                    with contextlib.suppress(OSError):  # not empty: kept
                        os.rmdir(where)

    def _inside_images_dir(self, folder: str) -> bool:
        where, images = os.path.realpath(folder), os.path.realpath(self.images_dir)
        return where == images or where.startswith(images + os.sep)

    def _scan_drafts(self) -> set[str]:
        unsaved = set()
        for record in self.records:
            path = self._draft_path(record)
            if path.exists():
                with contextlib.suppress(ValueError, OSError):
                    draft = read_json(path)
                    if isinstance(draft, dict) and draft.get("dirty"):
                        unsaved.add(record.id)
        return unsaved

    def _draft_path(self, record: ImageRecord) -> Path:
        return self.out_dir / ".defectlab" / "drafts" / f"{record.id}.json"

    def _write_manifest(self) -> None:
        write_json_atomic(self.out_dir / MANIFEST_NAME, self._manifest)

    def _load_manifest(self) -> dict:
        manifest = read_json(self.out_dir / MANIFEST_NAME)
        if manifest is None:
            return {
                "format": MANIFEST_FORMAT,
                "version": 1,
                "images_dir": str(self.images_dir.resolve()),
                "current": self.records[0].name if self.records else None,
                "defect_types": [],
                "images": {},
            }
        if not isinstance(manifest, dict) or manifest.get("format") != MANIFEST_FORMAT:
            raise ValueError(
                f"{self.out_dir / MANIFEST_NAME} was not written by defectlab label; "
                "choose another --out folder"
            )
        manifest.setdefault("defect_types", [])
        manifest.setdefault("images", {})
        for name, entry in manifest["images"].items():
            for key in ("mask", "image"):
                rel = entry.get(key)
                if rel and not os.path.lexists(self.out_dir / rel):
                    self.repairs.append(f"{name}: {rel} is missing from {self.out_dir}; marked unlabelled")
                    manifest["images"][name] = {"status": "unlabelled"}
                    self._lost_entries = True
                    break
        return manifest


def _file_digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _free_path(path: Path) -> Path:
    """``path``, or ``name.1.ext``, ``name.2.ext``, ... when taken: a stray never replaces another."""
    candidate, n = path, 0
    while os.path.lexists(candidate):
        n += 1
        candidate = path.with_name(f"{path.stem}.{n}{path.suffix}")
    return candidate


def _records(images_dir: Path, images: list[Path]) -> list[ImageRecord]:
    stems: dict[str, int] = {}
    for path in images:
        stems[path.stem] = stems.get(path.stem, 0) + 1
    records = []
    for path in images:
        try:
            name = path.relative_to(images_dir).as_posix()
        except ValueError:
            name = path.name
        stem = path.stem if stems[path.stem] == 1 else f"{path.stem}_{path.suffix.lstrip('.').lower()}"
        records.append(ImageRecord(image_id(name), name, path, stem))
    return records
