"""``defectlab detect --engine ray``: score a folder, glob or list of images with a saved model on Ray.

``detect`` adds these options with :func:`add_ray_arguments` and hands over
to :func:`run_ray` when ``--engine ray`` is given; the job itself is
:func:`defectlab.jobs.ray_scoring.score_images`. Ray is imported only here,
so plain ``detect`` works without the ``scale`` extra.
"""

from __future__ import annotations

import argparse
import glob
import importlib.util
import sys
from pathlib import Path

from ..data.formats import IMAGE_EXTENSIONS
from ..errors import ConfigError
from ..jobs.inputs import parse_inputs
from . import arguments


def add_ray_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--engine", choices=("single", "ray"), default="single",
                   help="single: this process (default); ray: a pool of Ray workers, streaming and resumable "
                        "(needs --model; --images may then be a folder, a glob or a text file of paths)")
    p.add_argument("--save-maps", action="store_true",
                   help="also save each image's anomaly map, float32 at the image's size, as OUT/maps/<stem>.npy "
                        "(--engine ray: OUT/maps/<name>-<hash>.npy); every method")
    g = p.add_argument_group("scale out (--engine ray)")
    g.add_argument("--ray-address", default=None, metavar="auto|HOST:PORT",
                   help="join this Ray cluster (auto: the one `ray start` runs here); default: start a local "
                        "Ray on 127.0.0.1 for the job and stop it after")
    g.add_argument("--workers", type=arguments.positive_int, default=None,
                   help="scoring actors, each holding the model (default: one per --worker-threads CPUs)")
    g.add_argument("--worker-threads", type=arguments.positive_int, default=1,
                   help="CPUs and torch/faiss threads per worker (default: %(default)s)")
    g.add_argument("--batch-size", type=arguments.positive_int, default=16,
                   help="images per call to a worker (default: %(default)s)")
    g.add_argument("--ship-model", action="store_true",
                   help="send the model's files to the workers through Ray's object store (default: the workers "
                        "read --model themselves, so it must be on storage they all see)")


def image_source(text: str) -> Path:
    """``--images`` of detect, checked while parsing: a folder, a glob or a text file of paths.
    (The single-process engine takes a folder only and says so when given another.)"""
    path = Path(text)
    if not glob.has_magic(text) and (not path.exists() or path.suffix.lower() in IMAGE_EXTENSIONS):
        return arguments.folder(text)  # what a folder flag says: not found, or a file where a folder belongs
    try:
        parse_inputs(text)
    except ConfigError as err:
        raise argparse.ArgumentTypeError(str(err)) from None
    return path


def run_ray(args: argparse.Namespace, model_path, loader=None) -> int:
    """Run the job the parsed ``args`` describe with the model at ``model_path``; ``loader`` defaults
    to ``defectlab.detect.load_detector``."""
    if importlib.util.find_spec("ray") is None:
        raise ConfigError('--engine ray needs Ray: pip install "defectlab[scale]"')
    from ..jobs import ray_scoring

    def progress(part: Path, rows: int) -> None:
        print(f"committed {rows} rows ({part.name})", file=sys.stderr, flush=True)

    extra = {} if loader is None else {"loader": loader}
    result = ray_scoring.score_images(
        model_path, args.images, args.out, threshold=getattr(args, "threshold", None), workers=args.workers,
        worker_threads=args.worker_threads, batch_size=args.batch_size, save_maps=args.save_maps,
        ship_model=args.ship_model, ray_address=args.ray_address, on_part=progress, **extra)
    print(result.summary)
    return 0
