"""``report.html``: one self-contained page a person reads to judge a detection run.

One row per image: a thumbnail, its heat map on the run's shared colour scale,
the score, the flag and (for methods that say why) the reason. The table
sorts by any column with a click; images are embedded as PNG data URIs and
the little script is inline, so the file opens anywhere, offline, and can be
mailed or archived as one file (no CDN, no folder of assets).
"""

from __future__ import annotations

import base64
import html
from dataclasses import dataclass

import cv2
import numpy as np

from .visualize import normalise_map, overlay

THUMB_HEIGHT = 160  # px: big enough to see a scratch, small enough for hundreds of rows


@dataclass
class ReportRow:
    name: str  # shown as is; make it printable before (file names may hold odd bytes)
    image: np.ndarray  # RGB uint8 (H, W, 3)
    anomaly_map: np.ndarray  # (H, W) float, same size as the image
    score: float
    flagged: bool | None  # None: no threshold
    explanation: str = ""


def html_report(rows: list[ReportRow], vmin: float, vmax: float, threshold: float | None, title: str) -> str:
    """The whole page as text; ``vmin``/``vmax`` is the colour range every heat map shares."""
    page = HtmlReport(vmin, vmax, threshold, title, has_reason=any(r.explanation for r in rows))
    for r in rows:
        page.add(r)
    return page.text()


class HtmlReport:
    """The page built a row at a time: each row's pixels become its thumbnails' PNG text at ``add``,
    so a run over many images holds that text, not their images and maps.

    ``has_reason``: whether the table has a "why" column (known before the rows are, from the scores).
    """

    def __init__(self, vmin: float, vmax: float, threshold: float | None, title: str, has_reason: bool):
        self.vmin, self.vmax, self.threshold, self.title, self.has_reason = vmin, vmax, threshold, title, has_reason
        self._rows: list[str] = []
        self._flagged = 0

    def add(self, row: ReportRow) -> None:
        self.add_rendered(self.render(row), row.flagged)

    def render(self, row: ReportRow) -> str:
        """The row's HTML (thumbnails encoded); reads nothing that ``add`` changes, so threads may share it."""
        return _row(row, self.vmin, self.vmax, self.has_reason)

    def add_rendered(self, row_html: str, flagged: bool | None) -> None:
        """Append a row from :meth:`render`; rows appear in the order they are added."""
        self._rows.append(row_html)
        self._flagged += bool(flagged)

    def text(self) -> str:
        head = ["image", "heat map", "score", "flag"] + (["why"] if self.has_reason else [])
        kinds = ["text", "none", "number", "text"] + (["text"] if self.has_reason else [])
        header = "".join(
            f'<th data-kind="{k}"{" class=sortable" if k != "none" else ""}>{h}</th>' for h, k in zip(head, kinds)
        )
        limit = "no threshold (one normal image)" if self.threshold is None else f"threshold {self.threshold:.4f}"
        return _PAGE.format(
            title=html.escape(self.title),
            summary=html.escape(f"{len(self._rows)} images, {self._flagged} flagged; {limit}"),
            colourbar=_colourbar(self.vmin, self.vmax, self.threshold),
            header=header,
            body="\n".join(self._rows),
        )


def _row(r: ReportRow, vmin: float, vmax: float, has_reason: bool) -> str:
    thumb = _thumbnail(r.image)
    heat = _thumbnail(overlay(r.image, r.anomaly_map, vmin, vmax))
    flag = "" if r.flagged is None else ("ANOMALOUS" if r.flagged else "ok")
    cells = [
        f"<td>{html.escape(r.name)}</td>",
        f'<td><img src="{thumb}" alt="{html.escape(r.name)}"><img src="{heat}" alt="heat map"></td>',
        f'<td data-value="{r.score:.6f}">{r.score:.4f}</td>',
        f'<td class="{"bad" if r.flagged else "good"}">{flag}</td>',
    ]
    if has_reason:
        cells.append(f"<td>{html.escape(r.explanation)}</td>")
    return "<tr>" + "".join(cells) + "</tr>"


def _thumbnail(image: np.ndarray) -> str:
    h, w = image.shape[:2]
    # At most four heights wide: a 1 x 10000 strip scaled to the row height would be a million pixels wide.
    scale = min(THUMB_HEIGHT / h, 4 * THUMB_HEIGHT / w)
    small = cv2.resize(image, (max(1, round(w * scale)), max(1, round(h * scale))),
                       interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
    # JPEG: a photo's thumbnail as PNG was ~130 KB, a report of 434 photos 116 MB; JPEG at 90 is a
    # sixth of that and looks the same at this size (the colour bar, flat colours, stays PNG).
    return _data_uri(small, ".jpg")


def _colourbar(vmin: float, vmax: float, threshold: float | None, width: int = 320, height: int = 14) -> str:
    """The shared scale as an image, with its ends labelled and the threshold marked."""
    ramp = np.tile(np.linspace(vmin, vmax, width, dtype=np.float32), (height, 1))
    heat = (normalise_map(ramp, vmin, vmax) * 255).astype(np.uint8)
    bar = cv2.cvtColor(cv2.applyColorMap(heat, cv2.COLORMAP_JET), cv2.COLOR_BGR2RGB)
    mark = ""
    if threshold is not None and vmin < threshold < vmax:
        left = 100 * (threshold - vmin) / (vmax - vmin)
        mark = f'<div class="mark" style="left:{left:.1f}%" title="threshold {threshold:.4f}"></div>'
    return (f'<span>{vmin:.3f}</span><span class="bar"><img src="{_data_uri(bar)}" alt="colour scale">{mark}</span>'
            f"<span>{vmax:.3f}</span>")


def _data_uri(rgb: np.ndarray, ext: str = ".png") -> str:
    params = [cv2.IMWRITE_JPEG_QUALITY, 90] if ext == ".jpg" else []
    ok, data = cv2.imencode(ext, cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2BGR), params)
    if not ok:
        raise ValueError(f"could not encode a thumbnail as {ext}")
    kind = "jpeg" if ext == ".jpg" else "png"
    return f"data:image/{kind};base64," + base64.b64encode(data.tobytes()).decode("ascii")


_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<style>
body {{ font: 14px system-ui, sans-serif; margin: 1.5em; color: #222; }}
h1 {{ font-size: 1.3em; margin: 0 0 .3em; }}
.scale {{ display: flex; align-items: center; gap: .5em; margin: .6em 0 1em; }}
.bar {{ position: relative; display: inline-block; line-height: 0; }}
.bar img {{ width: 320px; height: 14px; }}
.mark {{ position: absolute; top: -4px; bottom: -4px; width: 2px; background: #000; }}
table {{ border-collapse: collapse; }}
th, td {{ border-bottom: 1px solid #ddd; padding: 4px 10px; text-align: left; vertical-align: middle; }}
th.sortable {{ cursor: pointer; user-select: none; }}
th.sortable:after {{ content: " \\2195"; color: #999; }}
td img {{ max-height: 160px; margin-right: 4px; }}
td.bad {{ color: #b00; font-weight: 600; }}
td.good {{ color: #070; }}
</style></head>
<body>
<h1>{title}</h1>
<div>{summary}</div>
<div class="scale">heat map scale (all images): {colourbar}</div>
<table id="results"><thead><tr>{header}</tr></thead>
<tbody>
{body}
</tbody></table>
<script>
// Sort by a clicked column; a second click reverses. Scores sort as numbers.
document.querySelectorAll("th.sortable").forEach((th, col) => {{
  let ascending = false;
  th.addEventListener("click", () => {{
    const index = Array.from(th.parentNode.children).indexOf(th);
    const tbody = document.querySelector("#results tbody");
    const key = (tr) => {{
      const td = tr.children[index];
      return th.dataset.kind === "number" ? parseFloat(td.dataset.value) : td.textContent.toLowerCase();
    }};
    ascending = !ascending;
    const rows = Array.from(tbody.rows).sort((a, b) => (key(a) > key(b) ? 1 : key(a) < key(b) ? -1 : 0));
    if (!ascending) rows.reverse();
    rows.forEach((tr) => tbody.appendChild(tr));
  }});
}});
</script>
</body></html>
"""
