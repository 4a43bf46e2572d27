"""What a plain ``detect`` run has scored so far, kept on disk so that a run stopped midway resumes.

``OUT/.detect-partial/`` holds ``job.json`` (what the scores depend on: the
model file, or the normal images, method and options), ``scored.jsonl`` (one
line per scored image, appended and flushed after each chunk) and, unless
``--save-maps`` writes them to ``OUT/maps/``, ``maps/<stem>.npy``. A rerun
of the same job into the same ``OUT`` reads it back and scores only what is
missing; a line cut short by a crash, or one whose map is missing, is scored
again. A finished run removes the folder. Another job into the same ``OUT``
is refused rather than mixed in or thrown away.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path

from ..data.io import write_text_atomic
from ..data.names import path_text
from ..detect import persist
from ..errors import ConfigError

FOLDER = ".detect-partial"


@dataclass
class Scored:
    """What the scoring pass keeps of one image (its map is on disk under ``stem``)."""

    path: str
    stem: str
    score: float
    explanation: str
    columns: dict


def job_key(model: Path | None, normal_files: list[Path], method: str, detector_kwargs: dict) -> dict:
    """What a run's scores depend on, with each file's size and modification time to notice a changed file."""

    def stamp(p: Path) -> list:
        st = os.stat(p)
        return [path_text(Path(p).resolve()), st.st_size, st.st_mtime_ns]

    if model is not None:
        files = [Path(model)] if Path(model).suffix == ".onnx" else persist.model_paths(model)
        return {"model": [stamp(f) for f in files]}
    return {"normal": [stamp(p) for p in normal_files], "method": method, "options": repr(sorted(detector_kwargs.items()))}


class PartialRun:
    def __init__(self, out: Path, key: dict, save_maps: bool):
        self.folder = out / FOLDER
        self.maps_dir = out / "maps" if save_maps else self.folder / "maps"
        self.folder.mkdir(parents=True, exist_ok=True)
        self.maps_dir.mkdir(parents=True, exist_ok=True)
        digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()
        job = self.folder / "job.json"
        if job.is_file():
            if json.loads(job.read_text(encoding="utf-8")).get("digest") != digest:
                raise ConfigError(
                    f"{path_text(self.folder)} holds the unfinished scores of another detect run (another model, "
                    f"normal images or options); rerun that job to finish it, or choose another --out, or delete "
                    f"that folder to drop its scores")
        else:
            write_text_atomic(job, json.dumps({"digest": digest, "job": key}, indent=1))
        self._log = self.folder / "scored.jsonl"

    def done(self) -> dict[str, Scored]:
        """The images already scored, by path, whose maps are on disk (a torn last line is skipped)."""
        found: dict[str, Scored] = {}
        if not self._log.is_file():
            return found
        for line in self._log.read_text(encoding="utf-8").splitlines():
            try:
                record = Scored(**json.loads(line))
            except (ValueError, TypeError):
                continue
            if self.map_path(record.stem).is_file():
                found[record.path] = record
        return found

    def map_path(self, stem: str) -> Path:
        return self.maps_dir / f"{stem}.npy"

    def add(self, records: list[Scored]) -> None:
        """Append records whose maps are already written, and make them durable."""
        with open(self._log, "a", encoding="utf-8") as handle:
            for r in records:
                handle.write(json.dumps(asdict(r)) + "\n")  # ensure_ascii: odd bytes in names survive as escapes
            handle.flush()
            os.fsync(handle.fileno())

    def finish(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)
