"""Result tables: mean ± std over seeds, as markdown and CSV; one cell formatter for every table."""

from __future__ import annotations

import csv
import io
from collections import defaultdict

import numpy as np

from .engine import RunResult


def mean_std(values, scale: float = 100.0, digits: int = 1) -> str:
    """"mean ± std" of ``values`` x ``scale`` (percent by default); the mean alone for one value, – for none."""
    values = [float(v) for v in values]
    if not values:
        return "–"
    mean = f"{scale * np.mean(values):.{digits}f}"
    return mean if len(values) == 1 else f"{mean} ± {scale * np.std(values):.{digits}f}"


def summarise(results: list[RunResult]) -> list[dict]:
    """One row per (category, shots, metric key): mean and std over seeds."""
    groups: dict[tuple[str, int, str], list[float]] = defaultdict(list)
    for r in results:
        for key, value in r.metrics.items():
            groups[(r.category, r.shots, key)].append(value)
    return [
        {"category": c, "shots": k, "metric": m, "mean": float(np.mean(v)), "std": float(np.std(v)), "runs": len(v),
         "values": v}
        for (c, k, m), v in sorted(groups.items())
    ]


def markdown_table(results: list[RunResult], keys: list[str] | None = None) -> str:
    """Rows = metric/group, columns = shots; cells "mean ± std" in percent."""
    rows = summarise(results)
    shots = sorted({r["shots"] for r in rows})
    categories = sorted({r["category"] for r in rows})
    keys = keys or _ordered_keys({r["metric"] for r in rows})
    cell = {(r["category"], r["shots"], r["metric"]): r for r in rows}
    lines = []
    for cat in categories:
        lines += [f"\n**{cat}**\n" if len(categories) > 1 else "",
                  "| metric | " + " | ".join(f"{k}-shot" for k in shots) + " |",
                  "|---|" + "---|" * len(shots)]
        for key in keys:
            vals = [cell.get((cat, k, key)) for k in shots]
            if not any(vals):
                continue
            lines.append(f"| {key} | " + " | ".join(mean_std(v["values"]) if v else "–" for v in vals) + " |")
    return "\n".join(line for line in lines if line != "")


def csv_text(results: list[RunResult]) -> str:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=["category", "shots", "seed", "metric", "value", "seconds"])
    writer.writeheader()
    for r in results:
        for key, value in sorted(r.metrics.items()):
            writer.writerow({"category": r.category, "shots": r.shots, "seed": r.seed, "metric": key,
                             "value": f"{value:.6f}", "seconds": f"{r.seconds:.2f}"})
    return buf.getvalue()


def _ordered_keys(keys: set[str]) -> list[str]:
    order = ["image_auroc", "f1_max", "f1_floor", "image_ap", "pixel_auroc", "pixel_ap", "pixel_aupro", "pixel_spro"]

    def rank(key: str):
        metric, _, group = key.partition("/")
        return (order.index(metric) if metric in order else len(order), group != "all", group)

    return sorted(keys, key=rank)
