"""report.html: self-contained, one row per image, and it renders and sorts in a real browser."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from defectlab.detect.html_report import ReportRow, html_report


def rows() -> list[ReportRow]:
    rng = np.random.default_rng(0)
    out = []
    for i, (h, w) in enumerate([(120, 300), (400, 90), (64, 64)]):
        image = rng.integers(0, 255, (h, w, 3), dtype=np.uint8)
        amap = np.zeros((h, w), np.float32)
        amap[h // 3 : h // 2, w // 3 : w // 2] = 0.2 + 0.1 * i
        out.append(ReportRow(f"part_{i}<&>.png", image, amap, score=0.1 * (i + 1), flagged=i == 2,
                             explanation="class 1: missing part" if i == 1 else ""))
    return out


def test_page_is_self_contained_and_escapes_names():
    page = html_report(rows(), vmin=0.0, vmax=0.4, threshold=0.25, title="defectlab detect")
    assert page.count("<tr>") == 4  # header + 3 images
    assert page.count('src="data:image/jpeg;base64,') == 3 * 2  # thumbnail + heat map each
    assert page.count('src="data:image/png;base64,') == 1  # the colour bar
    assert not re.search(r"(src|href)=\"(https?:)?//", page)  # nothing fetched from elsewhere
    assert "part_0&lt;&amp;&gt;.png" in page and "<&>" not in page
    assert "threshold 0.2500" in page and 'class="mark"' in page and "missing part" in page


def test_without_threshold_or_reasons_the_page_says_so():
    plain = [ReportRow(r.name, r.image, r.anomaly_map, r.score, None) for r in rows()]
    page = html_report(plain, 0.0, 0.4, None, "run")
    assert "no threshold" in page and "why</th>" not in page and 'class="mark"' not in page


def test_report_renders_and_sorts_in_chromium(tmp_path):
    from defectlab.app.testing import browser_page, require_browser

    chromium = require_browser()
    path = tmp_path / "report.html"
    path.write_text(html_report(rows(), 0.0, 0.4, 0.25, "defectlab detect"), encoding="utf-8")
    with browser_page(chromium, tmp_path / "profile") as page:
        page.goto(path.as_uri())
        assert page.locator("#results tbody tr").count() == 3
        assert page.evaluate("Array.from(document.images).every(i => i.complete && i.naturalWidth > 0)")
        page.click("th:has-text('score')")  # ascending
        first = page.locator("#results tbody tr td").first.inner_text()
        page.click("th:has-text('score')")  # descending
        assert page.locator("#results tbody tr td").first.inner_text() != first
        assert page.locator("#results tbody tr td").first.inner_text() == "part_2<&>.png"
        artefacts = Path("test-artifacts")
        artefacts.mkdir(exist_ok=True)
        page.screenshot(path=str(artefacts / "report_html.png"), full_page=True)
