"""``defectlab label``: start the labelling web app on a folder of images."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..app.listen import bind_socket, resolve_token
from ..app.security import LOOPBACK_HOSTS, is_loopback, page_urls
from ..data.errors import ImageLoadError
from ..data.io import load_image
from ..data.names import path_text
from ..errors import DataError
from . import arguments


def register(sub) -> None:
    p = sub.add_parser(
        "label",
        help="label defects with clicks in the browser; writes MVTec-style masks and COCO",
        description="Start a local web app to label the defects in IMAGES_DIR with a few clicks each. "
        "Masks go to OUT/ground_truth/<defect_type>/, images to OUT/test/<defect_type>/, "
        "'no defect' images to OUT/test/good/; see src/defectlab/app/README.md.",
    )
    p.add_argument("images_dir", type=arguments.folder, metavar="IMAGES_DIR", help="folder of images to label")
    p.add_argument("--normal", required=True, type=arguments.folder, metavar="NORMAL_DIR",
                   help="folder of defect-free images of the same part (the model compares against them)")
    p.add_argument("--out", type=Path, default=None, metavar="DIR",
                   help="output folder (default: IMAGES_DIR_labels next to IMAGES_DIR); "
                        "running again with the same folder resumes")
    p.add_argument("--host", default="127.0.0.1",
                   help="address to listen on (default: %(default)s, this computer only); "
                        "any other address requires an access token")
    p.add_argument("--port", type=arguments.port, default=8765, help="port (default: %(default)s; 0 picks a free one)")
    p.add_argument("--token", default=None,
                   help="access token for every request (default: none on 127.0.0.1, "
                        "generated and printed for any other --host)")
    placement = p.add_mutually_exclusive_group()
    placement.add_argument("--copy", dest="placement", action="store_const", const="copy",
                           help="copy each labelled image under OUT/test/ (default; OUT stays valid if "
                                "the originals move)")
    placement.add_argument("--link", dest="placement", action="store_const", const="link",
                           help="symlink each labelled image under OUT/test/ instead of copying it")
    p.set_defaults(placement="copy")
    p.add_argument("--user", default=None, help="name recorded in the manifest (default: your login name)")
    p.add_argument("--exclude", action="append", default=None, metavar="GLOB",
                   help="leave out files matching GLOB, e.g. '*.png' when masks sit next to .jpg images "
                        "(repeatable)")
    p.add_argument("--max-normal", type=arguments.non_negative_int, default=32, metavar="N",
                   help="use at most N normal images, evenly spaced (default: %(default)s; 0 = all)")
    p.add_argument("--checkpoint", type=Path, default=None, metavar="FILE",
                   help="ADClick weights (.safetensors) from `defectlab click-train` (default: the shipped ones)")
    p.add_argument("--no-fill", dest="fill", action="store_false",
                   help="do not fill between clicks (by default a random walker over the model's mask fills the "
                        "space between positive clicks that no image edge separates: large, faint defects)")
    p.add_argument("--no-grabcut", dest="grabcut", action="store_false",
                   help="leave the mask to the model (by default GrabCut, started from the model's mask, relabels a "
                        "window around it so that the mask follows the pixels that look like the clicked ones)")
    p.add_argument("--engine", choices=("adclick", "fake"), default="adclick",
                   help="adclick: the model (default); fake: paints a disk per click, to try the app without it")
    p.set_defaults(func=run_label)


def build_app(args: argparse.Namespace, token: str | None):
    from ..app.server import create_app

    check_names(args.images_dir)  # before the model loads, so a name to fix costs no wait
    if args.engine == "fake":
        from ..app.fake import fake_reference_factory, fake_session_factory

        factories = {"session_factory": fake_session_factory, "reference_factory": fake_reference_factory}
    else:
        from ..app.labeller import ADClickEngine

        engine = ADClickEngine(args.checkpoint, fill=args.fill, grabcut=args.grabcut)
        # Load now: a missing or broken checkpoint is one line at startup, not
        # an error on the first image in the browser.
        print("defectlab label: loading the ADClick model…", flush=True)
        engine.model()
        # The text encoder loads in the background from here on: the first
        # prompt waits for it (the page says so), clicks never do.
        factories = {"session_factory": engine.session, "reference_factory": engine.reference,
                     "warm_up": engine.warm_up}
    trusted = (LOOPBACK_HOSTS | {args.host}) if is_loopback(args.host) else None
    app = create_app(
        args.images_dir, args.normal, args.out, token=token, user=args.user, placement=args.placement,
        trusted_hosts=trusted, exclude=args.exclude, max_normal=args.max_normal or None, **factories,
    )
    check_normals(app.state.labeller.normal_paths, args.normal)
    return app


def check_names(folder: Path) -> None:
    """Refuse file names that are not valid UTF-8: the app's image ids and pages are UTF-8 text.

    Python carries such a name's bytes as lone surrogates, which cannot be
    encoded, so the app would fail on the folder as a whole; saying which
    file to rename is the useful answer until it can show them.
    """
    undecodable = [path for path in folder.iterdir() if not _is_utf8(path.name)]
    if undecodable:
        names = ", ".join(path_text(path.name) for path in sorted(undecodable))
        raise DataError(f"{path_text(folder)} holds file names that are not valid UTF-8 text: {names}; "
                        "the labelling app cannot show them, rename those files")


def _is_utf8(name: str) -> bool:
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def check_normals(paths: list[Path], folder: Path) -> None:
    """Every normal image the model will compare against must decode, or no image can be labelled.

    The model reads them all on the first image; one unreadable file would
    fail every image in the browser, so it is refused here, by name, before
    the server starts.
    """
    bad = []
    for path in paths:
        try:
            load_image(path)
        except ImageLoadError as err:
            bad.append((path, err))
    if bad:
        names = ", ".join(path_text(path.name) for path, _ in bad)
        raise DataError(f"{len(bad)} of the {len(paths)} normal images in {path_text(folder)} cannot be read: "
                        f"{names}; remove them or pass --normal a folder of readable images ({bad[0][1]})")


def run_label(args: argparse.Namespace) -> int:
    import uvicorn

    token, generated = resolve_token(args.host, args.token)
    app = build_app(args, token)
    sock = bind_socket(args.host, args.port)
    port = sock.getsockname()[1]
    store = app.state.labeller.store
    progress = store.progress()
    print(f"defectlab label: {progress['total']} images, {progress['done']} done; writing to {store.out_dir}")
    if not is_loopback(args.host):
        print("defectlab label: listening beyond this computer; anyone with the token below can label")
    if generated:
        print(f"defectlab label: access token {token}")
    first, *others = page_urls(args.host, port, token)
    print(f"defectlab label: open {first} in your browser (Ctrl+C to stop)", flush=True)
    for url in others:
        print(f"defectlab label:   or {url}", flush=True)
    config = uvicorn.Config(app, log_level="warning", access_log=False)
    uvicorn.Server(config).run(sockets=[sock])
    return 0
