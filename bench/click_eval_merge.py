"""Merge click-eval CSVs of the same images run as separate processes into one table.

``defectlab click-eval --methods a,b,c`` runs the methods one after the
other; on a 2-core machine the held-out set finishes sooner when the slow
baselines run in a second process. The protocol is deterministic, so the
rows are exactly those a single run would give.

    python bench/click_eval_merge.py OUT_DIR RUN_DIR1 RUN_DIR2 ... [--header TEXT]
"""

from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out")
    ap.add_argument("runs", nargs="+")
    ap.add_argument("--header", default="")
    args = ap.parse_args()
    from defectlab.evaluation.interactive import markdown_table, write_results

    rows = []
    for run in args.runs:
        for row in csv.DictReader(open(Path(run) / "click_eval.csv")):
            rows.append({k: _value(k, v) for k, v in row.items() if v != ""})
    write_results(rows, args.out, args.header)
    print(markdown_table(rows))


def _value(key: str, text: str):
    if key in ("method", "class"):
        return text
    if key == "curve":
        return [float(v) for v in text.split()]
    return int(text) if key in ("images", "NoF@90") else float(text)


if __name__ == "__main__":
    sys.exit(main())
