"""The ``detect`` job: fit on a folder of normal images, score a folder of
images, write what a person needs to act on the result.

Outputs in ``out``: ``scores.csv`` (one row per image, most anomalous first;
the compositional method adds each descriptor's normalised score, its group
scores and the one-line explanation as columns: :func:`explanation_columns`),
``overlays/<stem>.png`` (image | heat map, one fixed colour range for all so
images are comparable; images that share a stem, ``a.png`` and ``a.jpg``, get
``a_png.png`` and ``a_jpg.png``), with ``save_maps`` ``maps/<stem>.npy`` (each
anomaly map, float32 at the image's size, the same stems), ``summary.png`` (the most anomalous images
at a glance, on one colour bar with the threshold marked), ``report.html``
(every image in a sortable table, one self-contained file) and ``summary.md``. Between scoring and
drawing, each map waits on disk (``maps/`` or ``out/.detect-partial/``, removed at the end: see
:mod:`~defectlab.cli.detect_partial`, from which a stopped run resumes), so the memory a run needs
does not grow with the number of images. File names are written as
:func:`~defectlab.data.names.path_text` shows them, so a name that is not
valid UTF-8 still gives a valid UTF-8 CSV.
"""

from __future__ import annotations

import csv
import io
import time
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from ..data.io import atomic_write, list_images, load_image, load_images, save_png_atomic, write_text_atomic
from ..data.names import output_names, path_text
from ..detect import chunk_size, create_detector, load_detector
from ..detect.base import Prediction
from ..detect.html_report import HtmlReport, ReportRow
from ..detect.parallel import map_in_order, workers_for
from ..detect.visualize import drawable, side_by_side
from ..errors import DataError
from .detect_partial import PartialRun, Scored, job_key

# Encoding the overlays took 90 % of a detect run at zlib's level 6 (434 ball_screw photos: 150 s of
# outputs after 16 s of scoring); level 1 encodes them 3.4x faster for files a third larger.
OVERLAY_PNG_LEVEL = 1
SUMMARY_IMAGES = 12  # the most anomalous, in summary.png


def detect_folder(
    normal_dir: Path | None,
    images_dir: Path,
    out: Path,
    detector_kwargs: dict,
    method: str = "patch-knn",
    threshold: float | None = None,
    skip_bad: bool = False,
    class_maps: bool = False,
    model: Path | None = None,
    save_maps: bool = False,
    progress: bool = True,
) -> str:
    """Score ``images_dir`` with a detector fitted on ``normal_dir``, or loaded from ``model`` (then fit is skipped)."""
    on_error = "skip" if skip_bad else "raise"
    image_paths = list_images(images_dir)
    out_names = dict(zip(image_paths, output_names(image_paths)))
    normal_files = [] if model is not None else list_images(normal_dir)
    start = time.perf_counter()
    # a model that cannot be loaded is said before anything is written
    detector = load_detector(model) if model is not None else None
    # before the fit, so that a clash with another job's unfinished run is said at once
    partial = PartialRun(out, job_key(model, normal_files, method, detector_kwargs), save_maps)
    if detector is not None:
        source = f"model {path_text(model)} ({type(detector).__name__})"
    else:
        normal_arrays, normal_paths = load_images(normal_files, on_error=on_error)
        if not normal_arrays:
            raise DataError(f"none of the normal images in {path_text(normal_dir)} can be read")
        detector = create_detector(method, progress=progress, **detector_kwargs).fit(normal_arrays)
        source = f"{len(normal_paths)} normal images from {path_text(normal_dir)}; method {method} {detector_kwargs}"
    fit_seconds = time.perf_counter() - start
    if threshold is None:
        # Leave-one-out over the normal images: the highest score a normal image
        # gets against the others. With one normal image there is no threshold.
        threshold = detector.threshold_

    if hasattr(detector, "progress"):
        detector.progress = False  # the bar below counts the images
    # Two passes, so that memory does not grow with the folder: scoring keeps each image's score and a
    # sample of its map and puts the map on disk (where a stopped run resumes from: detect_partial); the
    # outputs are drawn afterwards on the colour range of the whole run, each worker reading one image and
    # its map back at a time, and laid out most anomalous first.
    done = partial.done()
    scored = [done[str(p)] for p in image_paths if str(p) in done]
    resumed = len(scored)
    colour_range = MapRange()
    for r in scored:
        colour_range.add(np.load(partial.map_path(r.stem), mmap_mode="r"))
    todo = [p for p in image_paths if str(p) not in done]
    (out / "overlays").mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    with tqdm(total=len(image_paths), initial=len(scored), desc="scoring", unit="img", disable=not progress) as bar:
        # a chunk per call lets the detector score its images side by side (detect.parallel)
        size = chunk_size(detector)
        for first in range(0, len(todo), size):
            chunk = todo[first : first + size]
            arrays, kept = load_images(chunk, on_error=on_error)
            if arrays:
                preds = detector.predict(arrays)
                records = [Scored(str(p), Path(out_names[Path(p)]).stem, pred.score, pred.explanation,
                                  explanation_columns(pred)) for p, pred in zip(kept, preds)]
                for r, pred in zip(records, preds):
                    save_map(partial.map_path(r.stem), pred.anomaly_map)
                    colour_range.add(pred.anomaly_map)
                partial.add(records)
                scored += records
                if class_maps:
                    from ..detect.explain import save_class_maps

                    save_class_maps(preds, out / "class_maps", arrays, [r.stem for r in records])
            bar.update(len(chunk))
    predict_seconds = time.perf_counter() - start
    if not scored:
        raise DataError(f"none of the images in {path_text(images_dir)} can be read")

    vmin, vmax = colour_range.range()
    scored.sort(key=lambda r: -r.score)
    page = HtmlReport(vmin, vmax, threshold, f"defectlab detect: {path_text(images_dir)}",
                      has_reason=any(r.explanation for r in scored))

    def draw(item: tuple[int, Scored]):
        """One image's overlay (written) and report row (returned), in a worker: encoding is most of it."""
        rank, r = item
        path, flagged = Path(r.path), threshold is not None and r.score > threshold
        image, amap = load_image(path), np.load(partial.map_path(r.stem))
        title = f"{path_text(path.name)}  score {r.score:.4f}" + ("  ANOMALOUS" if flagged else "")
        save_png_atomic(out / "overlays" / out_names[path], side_by_side(image, amap, vmin, vmax, title),
                        compress_level=OVERLAY_PNG_LEVEL)
        row = ReportRow(path_text(path.name), image, amap, r.score, None if threshold is None else flagged,
                        r.explanation)
        sheet = (path_text(path.name), image, Prediction(r.score, amap)) if rank < SUMMARY_IMAGES else None
        csv_row = {"image": path_text(path), "score": f"{r.score:.6f}",
                   "anomalous": "" if threshold is None else int(flagged), **r.columns}
        return page.render(row), row.flagged, sheet, csv_row

    # PNG and JPEG encoders release the GIL, so threads draw side by side
    with tqdm(total=len(scored), desc="overlays and report", unit="img",
              disable=not progress or len(scored) < 32) as bar:
        drawn = map_in_order(draw, list(enumerate(scored)), workers_for(len(scored)), bar.update)
    rows, top = [], []
    for row_html, flagged, sheet, csv_row in drawn:
        page.add_rendered(row_html, flagged)
        top += [sheet] if sheet else []
        rows.append(csv_row)
    write_text_atomic(out / "scores.csv", _csv(rows))
    save_png_atomic(out / "summary.png", contact_sheet(top, vmin, vmax, threshold))
    write_text_atomic(out / "report.html", page.text())
    partial.finish()
    n_flagged = sum(1 for r in rows if r["anomalous"] == 1)
    summary = "\n".join([
        "# defectlab detect",
        "",
        f"- detector: {source}",
        f"- scored images: {len(scored)} from {path_text(images_dir)}"
        + (f" ({resumed} of them by an earlier, stopped run)" if resumed else ""),
        f"- threshold: {'none' if threshold is None else f'{threshold:.4f}'}; flagged {n_flagged} of {len(scored)}",
        f"- time: {'load' if model is not None else 'fit'} {fit_seconds:.1f} s, scoring {predict_seconds:.1f} s "
        f"({(len(scored) - resumed) / max(predict_seconds, 1e-9):.1f} images/s)",
        "",
        "Most anomalous:",
        *[f"  {float(r['score']):.4f}  {Path(r['image']).name}" for r in rows[:10]],
        *_explanations(scored[:10]),
        "",
        f"Written: {path_text(out / 'scores.csv')}, {path_text(out / 'report.html')}, "
        f"{path_text(out / 'overlays')}/, {path_text(out / 'summary.png')}",
    ])
    write_text_atomic(out / "summary.md", summary + "\n")
    return summary


def save_map(path: Path, anomaly_map: np.ndarray) -> Path:
    """One image's anomaly map as float32 .npy (``numpy.load`` reads it), written atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    return atomic_write(path, lambda handle: np.save(handle, np.asarray(anomaly_map, np.float32)))


class MapRange:
    """One colour range for all overlays: from the median pixel (typical normal surface) to the highest
    value seen. Keeps a sample of at most about 64 x 64 pixels a map, not the maps."""

    def __init__(self):
        self._samples: list[np.ndarray] = []
        self._top = -np.inf

    def add(self, m: np.ndarray) -> None:
        self._samples.append(np.array(m[:: max(1, m.shape[0] // 64), :: max(1, m.shape[1] // 64)], np.float32).ravel())
        self._top = max(self._top, float(m.max()))

    def range(self) -> tuple[float, float]:
        return float(np.median(np.concatenate(self._samples))), self._top


def contact_sheet(items: list[tuple[str, np.ndarray, object]], vmin: float, vmax: float,
                  threshold: float | None = None, tile: int = 256, cols: int = 3) -> np.ndarray:
    """Grid of equal cells (image | heat map, title above) and the shared colour bar with the threshold marked.

    Every cell has the same size whatever the photo's aspect: panels are scaled
    to fit the cell and centred, so a grid of mixed sizes has no ragged rows,
    and titles are shortened to fit their cell rather than cut off.
    """
    import cv2

    cell_w, strip = 2 * tile, 24
    cells = []
    for name, image, pred in items:
        panel = side_by_side(image, pred.anomaly_map, vmin, vmax)
        scale = min(tile / panel.shape[0], cell_w / panel.shape[1])
        size = (max(1, round(panel.shape[1] * scale)), max(1, round(panel.shape[0] * scale)))
        panel = cv2.resize(panel, size, interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
        cell = np.full((strip + tile, cell_w, 3), 255, np.uint8)
        top, left = strip + (tile - size[1]) // 2, (cell_w - size[0]) // 2
        cell[top : top + size[1], left : left + size[0]] = panel
        _put_fitted(cell, f"{name}  {pred.score:.3f}", cell_w - 8)
        cells.append(cell)
    cells += [np.full_like(cells[0], 255)] * (-len(cells) % cols)
    grid = np.concatenate([np.concatenate(cells[i : i + cols], axis=1) for i in range(0, len(cells), cols)])
    return np.concatenate([grid, _colour_bar(grid.shape[1], vmin, vmax, threshold)])


def _put_fitted(cell: np.ndarray, text: str, width: int) -> None:
    """Draw ``text`` at the top of ``cell``, shortened with '...' until it fits ``width`` pixels."""
    import cv2

    font, scale = cv2.FONT_HERSHEY_SIMPLEX, 0.5
    text = drawable(text)
    while len(text) > 4 and cv2.getTextSize(text, font, scale, 1)[0][0] > width:
        text = text[: len(text) // 2 - 2] + "..." + text[len(text) // 2 + 2 :]
    cv2.putText(cell, text, (4, 17), font, scale, (0, 0, 0), 1, cv2.LINE_AA)


def _colour_bar(width: int, vmin: float, vmax: float, threshold: float | None, height: int = 48) -> np.ndarray:
    """The heat maps' shared scale, its ends labelled, the flagging threshold as a black tick."""
    import cv2

    bar = np.full((height, width, 3), 255, np.uint8)
    left, right = 70, width - 70
    ramp = np.linspace(0, 255, right - left).astype(np.uint8)[None].repeat(14, 0)
    bar[8:22, left:right] = cv2.cvtColor(cv2.applyColorMap(ramp, cv2.COLORMAP_JET), cv2.COLOR_BGR2RGB)
    font = cv2.FONT_HERSHEY_SIMPLEX
    cv2.putText(bar, f"{vmin:.3f}", (4, 20), font, 0.45, (0, 0, 0), 1, cv2.LINE_AA)
    cv2.putText(bar, f"{vmax:.3f}", (right + 6, 20), font, 0.45, (0, 0, 0), 1, cv2.LINE_AA)
    caption = "heat map scale (all images)"
    if threshold is not None and vmin < threshold < vmax:
        x = left + round((threshold - vmin) / (vmax - vmin) * (right - left - 1))
        bar[4:26, max(0, x - 1) : x + 1] = 0
        caption += f"; black tick: threshold {threshold:.4f}"
    cv2.putText(bar, caption, (left, 40), font, 0.45, (0, 0, 0), 1, cv2.LINE_AA)
    return bar


def _explanations(scored: list[Scored]) -> list[str]:
    """The detector's own one-line reasons (compositional: which descriptor and class drove the score)."""
    lines = [f"  {path_text(Path(r.path).name)}: {r.explanation}" for r in scored if r.explanation]
    return ["", "Why:", *lines] if lines else []


def explanation_columns(pred) -> dict[str, str]:
    """Extra scores.csv columns of a method that explains itself (compositional).

    One column per descriptor, its normalised score (1.0 = as unusual as the
    most unusual normal shot), named ``<descriptor>``; one per descriptor
    group (``group:structural``, ``group:logical``: the group scores the fusion
    combines) when the detector reports them; and ``explanation``, the
    one-line reason. A user sorts the table by the column of what fired.
    Other methods add nothing.
    """
    details = pred.details
    per = getattr(details, "descriptors", None)
    if not per:
        return {}
    cols = {name: f"{d.score:.6f}" for name, d in per.items()}
    for group, value in (getattr(details, "groups", None) or {}).items():
        cols[f"group:{group}"] = f"{value:.6f}"
    cols["explanation"] = pred.explanation
    return cols


def _csv(rows: list[dict]) -> str:
    buf = io.StringIO()
    fields = ["image", "score", "anomalous"]
    for row in rows:  # every row of one run has the same columns; the union keeps mixed input honest
        fields += [k for k in row if k not in fields]
    writer = csv.DictWriter(buf, fieldnames=fields, restval="")
    writer.writeheader()
    writer.writerows(rows)
    return buf.getvalue()
