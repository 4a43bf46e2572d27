"""``defectlab click-eval``: ADClick and baselines under the simulated-click protocol."""

from __future__ import annotations

import sys
import time

from ..evaluation.interactive import CLICK_METHODS, evaluate, markdown_table, write_results
from . import arguments
from .click_common import add_dataset_arguments, add_run_arguments, comma_list, set_threads


def register(subparsers) -> None:
    e = subparsers.add_parser(
        "click-eval",
        help="evaluate ADClick and baselines with the simulated-click protocol",
        description="NoC@80/85/90, mIoU@1/3/5 and pixel AP@3/5 per defect class for ADClick and baselines "
        "(GrabCut, random walker, residual map, SAM when local weights are given).",
    )
    add_dataset_arguments(e)
    e.add_argument("--types", type=comma_list, default=None, help="defect types to evaluate, comma separated (default: all)")
    e.add_argument("--methods", type=comma_list, default="adclick,grabcut,random-walker,residual,sam",
                   help="comma-separated, from: " + ", ".join(CLICK_METHODS.names()) + " (default: %(default)s; "
                        "adclick-noprompt is the prompt ablation, adclick-nofill the one without fill between clicks, adclick-noobey the one without click obedience)")
    e.add_argument("--checkpoint", default=None, help="ADClick .safetensors (default: the shipped one)")
    e.add_argument("--sam-model", default=None, help="local SAM directory (or cached hub id) for the SAM baseline")
    e.add_argument("--prompt", default="type", help="'type' (the defect type name, default), 'none', or a fixed text")
    e.add_argument("--normals", type=arguments.positive_int, default=64, help="normal reference size, from the train split (default: %(default)s)")
    e.add_argument("--max-clicks", type=arguments.positive_int, default=20, help="simulated clicks per image (default: %(default)s)")
    e.add_argument("--limit", type=arguments.positive_int, default=None, help="at most this many images per defect type (quick runs)")
    e.add_argument("--keep-rejected", action="store_true", help="ablation: ADClick without dropping regions that only negative clicks touch")
    e.add_argument("--out", default="bench/results", help="folder for click_eval.csv and click_eval.md (default: %(default)s)")
    add_run_arguments(e, 0, "seed of the normal-reference draw")
    e.set_defaults(func=run_eval)


def run_eval(args) -> int:
    set_threads(args.threads)
    start = time.perf_counter()
    rows = evaluate(
        args.dataset, args.root, args.category, types=args.types, methods=args.methods, checkpoint=args.checkpoint,
        sam_model=args.sam_model, n_normals=args.normals, seed=args.seed, prompt=args.prompt,
        max_clicks=args.max_clicks, limit=args.limit, progress=not args.no_progress, drop_rejected=not args.keep_rejected,
    )  # fmt: skip
    header = (
        f"click-eval: {args.dataset} {args.category or ''} types={','.join(args.types) if args.types else 'all'} "
        f"prompt={args.prompt} normals={args.normals} max_clicks={args.max_clicks}{' keep-rejected' if args.keep_rejected else ''} "
        f"checkpoint={args.checkpoint or 'default'} ({time.perf_counter() - start:.0f} s)"
    )
    table = markdown_table(rows)
    print(header)
    print(table)
    csv_path, md_path = write_results(rows, args.out, header)
    print(f"wrote {csv_path} and {md_path}", file=sys.stderr)
    return 0
