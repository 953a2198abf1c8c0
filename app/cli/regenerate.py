"""`splatforge regenerate LAYOUT_OR_PROJECT --photo PHOTO --camera CAM.json -o OUT.ply`:
new splats for a layout, fitted to a photo (the appearance pass).

Seeds splats on the layout's surfaces that the camera sees (and on the
splats of ``--init SCENE`` or of the project's layers), then optimises them
against the photo with the differentiable rasterizer; see
`inference.appearance`. The photo is used at its own resolution capped at
``--max-side`` (512) pixels; the camera (JSON contract of
`editor.model.camera`) must have the photo's aspect ratio. Prints the PSNR of
the result against the photo (at the working resolution).
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from app.cli.common import CliError, ProgressBar, add_read_options, load_scene
from editor.formats import FormatError, write_splats
from editor.model.camera import Camera, CameraError
from editor.model.layout import Layout, LayoutError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "regenerate",
        help="fit new splats on a layout to a photo (appearance pass) and write them",
        description="Seed splats on the layout surfaces the camera sees (and on existing splats), optimise them "
        "against the photo (L1 + SSIM, a prior keeping them on the layout, densify and prune) and write them.",
    )
    p.add_argument("input", help="LAYOUT.json or a .sforge project (its layout, and its splats as seeds)")
    p.add_argument("--photo", required=True, help="the photo (PNG, JPEG, ...; EXIF rotation applied)")
    p.add_argument("--camera", required=True,
                   help="camera JSON file of the photo's view; with a project, also the name of one of its camera bookmarks")
    p.add_argument("-o", "--output", required=True, help="the splat file to write (.ply, .spz, .splat, ...)")
    p.add_argument("--steps", type=int, default=300, help="most optimisation steps (default 300; stops early on a plateau)")
    p.add_argument("--time-limit", type=float, default=30.0,
                   help="stop optimising after this many seconds in all (default 30; 0: no limit, then the "
                   "result depends only on --seed, not on the machine's speed)")
    p.add_argument("--init", metavar="SCENE", help="also seed from this splat file's splats the camera sees")
    p.add_argument("--layout-only", action="store_true", help="with a project, do not seed from its splat layers")
    p.add_argument("--max-splats", type=int, default=100_000, help="splat budget (default 100000)")
    p.add_argument("--max-side", type=int, default=512, help="working resolution: longest photo side in pixels (default 512)")
    p.add_argument("--sh-degree", type=int, choices=(0, 1), default=0, help="SH degree of the fitted colours (default 0)")
    p.add_argument("--threads", type=int, default=1, help="torch threads (default 1: more threads are slower, often much slower, whenever other processes share the cores)")
    p.add_argument("--seed", type=int, default=0, help="random seed (deterministic per seed)")
    p.add_argument("--json", action="store_true", help="print the statistics as JSON")
    add_read_options(p)
    p.set_defaults(func=run)


def _load_input(path: str, layout_only: bool):
    """(layout, init cloud or None, project cameras) of LAYOUT.json or a .sforge."""
    if Path(path).suffix.lower() == ".sforge":
        from editor.project import load_project

        try:
            doc = load_project(path)
        except FormatError as e:
            raise CliError(e.path or path, e.message) from None
        init = None if layout_only else doc.merged_cloud()
        return doc.layout, (init if init is not None and len(init) else None), doc.cameras
    try:
        return Layout.load(path), None, {}
    except LayoutError as e:
        raise CliError(path, str(e)) from None


def _load_camera(arg: str, cameras: dict) -> Camera:
    if not Path(arg).exists() and arg in cameras:
        return cameras[arg]
    try:
        return Camera.load(arg)
    except CameraError as e:
        raise CliError(arg, str(e)) from None


def run(args: argparse.Namespace) -> int:
    from inference.appearance import AppearanceError, RegenerateOptions, regenerate
    from inference.image_io import PhotoError, load_photo

    if args.steps < 0:
        raise CliError(None, f"--steps must be >= 0, got {args.steps}")
    if args.max_splats < 1:
        raise CliError(None, f"--max-splats must be >= 1, got {args.max_splats}")
    if not args.time_limit >= 0:
        raise CliError(None, f"--time-limit must be >= 0, got {args.time_limit}")
    if not 1 <= args.threads <= 256:
        raise CliError(None, f"--threads must be between 1 and 256, got {args.threads}")
    if not 16 <= args.max_side <= 8192:
        raise CliError(None, f"--max-side must be between 16 and 8192, got {args.max_side}")
    out = Path(args.output)
    if not (out.parent if str(out.parent) else Path(".")).is_dir():
        raise CliError(out, f"folder {out.parent} does not exist")
    layout, init, cameras = _load_input(args.input, args.layout_only)
    camera = _load_camera(args.camera, cameras)
    try:
        photo, mask = load_photo(args.photo, max_side=args.max_side)
    except PhotoError as e:
        raise CliError(e.path or args.photo, e.message) from None
    if args.init:
        extra = load_scene(args.init, spz_frame=args.spz_frame).cloud
        if init is None:
            init = extra
        else:
            from editor.model.splat_cloud import SplatCloud

            init = SplatCloud.concatenate([init, extra.with_sh_degree(init.sh_degree)])
    options = RegenerateOptions(max_splats=args.max_splats, max_side=args.max_side, sh_degree=args.sh_degree,
                                threads=args.threads, time_limit=args.time_limit or None)
    bar = ProgressBar(f"regenerating {out.name}")
    try:
        cloud, stats = regenerate(layout, photo, camera, steps=args.steps, init=init, progress=bar,
                                  seed=args.seed, mask=mask, options=options)
    except AppearanceError as e:
        raise CliError(args.input, str(e)) from None
    finally:
        bar.close()
    try:
        write_splats(cloud, out)
    except FormatError as e:
        raise CliError(e.path or out, e.message) from None
    except OSError as e:
        raise CliError(out, f"cannot write: {e.strerror or e}") from None
    if args.json:
        print(json.dumps({"output": str(out), **stats}, indent=2))
    else:
        print(
            f"{out}: {stats['splats']} splats; PSNR vs the photo {stats['psnr_initial']:.2f} -> {stats['psnr']:.2f} dB "
            f"at {stats['width']}x{stats['height']} ({stats['steps']} steps, {stats['seconds']:.1f} s)"
        )
    return 0
