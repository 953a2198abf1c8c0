"""`splatforge predict PHOTO -o OUT.ply`: one photo -> splats (feed-forward).

Runs the predictor of `inference.predictor` (weights in
assets/predictor.safetensors, see assets/MODEL_CARD.md) on PHOTO and writes:

* OUT (any writable splat format, by extension): one Gaussian per photo
  pixel (the photo is first downscaled to ``--max-side``, default 256),
  in the input camera's frame (3DGS axes: x right, y down, z forward);
  pixels whose alpha is below 0.5 (RGBA photos) get none, so the background
  stays empty; the scale is the weights' convention (the median depth of
  what the photo shows is 3 units for the shipped weights, see
  `inference.predictor`);
* ``--camera-out CAM.json``: that camera (eye at the origin looking along +z,
  up -y, ``--fov`` degrees vertically, the photo's size) in the camera JSON
  contract, so ``splatforge render OUT.ply --camera CAM.json`` shows the photo;
* ``--layout-out LAYOUT.json``: a coarse layout proposal (floor, walls,
  boxes) fitted to the predicted splats by
  `editor.geometry.layout_proposal.propose_layout` (up hint -y: the camera
  frame is y-down; the floor may tilt up to 30 degrees for a camera looking
  down). When no floor can be found the layout
  is still written, with no primitives, up -y, and the reason in
  ``metadata["fit"]["error"]`` (a note goes to stderr): an editor can open
  it and the user can block out the scene by hand.

The model time (network + lifting, without loading the weights) is printed.
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from app.cli.common import CliError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "predict",
        help="predict splats (and a camera and a layout) from one photo",
        description="Predict 3D Gaussian splats from a single photo with the feed-forward predictor, "
        "and optionally write the input camera and a coarse layout proposal.",
    )
    p.add_argument("photo", help="an image file (PNG, JPEG, ...; RGBA alpha masks the object)")
    p.add_argument("-o", "--output", required=True, help="the splat file to write (.ply, .spz, .splat, ...)")
    p.add_argument("--camera-out", help="write the input camera as camera JSON here")
    p.add_argument("--layout-out", help="write a coarse layout proposal (LAYOUT.json) here")
    p.add_argument("--fov", type=float, default=50.0, help="vertical field of view of the photo in degrees (default 50)")
    p.add_argument("--max-side", type=int, default=256,
                   help="downscale the photo so its longest side is at most this many pixels (default 256)")
    p.add_argument("--weights", help="predictor weights (.safetensors; default assets/predictor.safetensors)")
    p.add_argument("--json", action="store_true", help="print a JSON summary instead of text")
    p.set_defaults(func=run)


def _check_folder(path: str | None) -> Path | None:
    if path is None:
        return None
    out = Path(path)
    if not (out.parent if str(out.parent) else Path(".")).is_dir():
        raise CliError(out, f"folder {out.parent} does not exist")
    return out


def _load_photo(path: str, max_side: int):
    """(rgb (H, W, 3) float32 in [0, 1], alpha (H, W) or None) via
    `inference.image_io` (EXIF orientation, any Pillow mode, bounded size);
    CliError on failure."""
    from inference.image_io import PhotoError, load_photo

    try:
        return load_photo(path, max_side)
    except PhotoError as e:
        raise CliError(e.path or path, e.message) from None


def run(args: argparse.Namespace) -> int:
    if not 1.0 <= args.fov <= 170.0:
        raise CliError(None, f"--fov must be between 1 and 170 degrees, got {args.fov}")
    if not 8 <= args.max_side <= 4096:
        raise CliError(None, f"--max-side must be between 8 and 4096, got {args.max_side}")
    out = _check_folder(args.output)
    cam_out = _check_folder(args.camera_out)
    layout_out = _check_folder(args.layout_out)
    rgb, mask = _load_photo(args.photo, args.max_side)

    from inference.predictor import PredictorError, load_model, predict

    t0 = time.perf_counter()
    try:
        model = load_model(args.weights)
    except PredictorError as e:
        raise CliError(None, str(e)) from None
    t1 = time.perf_counter()
    cloud, camera = predict(rgb, mask, args.fov, model=model)
    t2 = time.perf_counter()

    from editor.formats import FormatError, write_splats

    try:
        write_splats(cloud, out)
        if cam_out is not None:
            camera.save(cam_out)
    except FormatError as e:
        raise CliError(e.path or out, e.message) from None
    except OSError as e:
        raise CliError(getattr(e, "filename", None) or out, f"cannot write: {e.strerror or e}") from None

    layout_note = None
    primitives = None
    if layout_out is not None:
        from editor.geometry.layout_proposal import propose_layout

        layout, layout_note = propose_layout(cloud)
        primitives = len(layout)
        try:
            layout.save(layout_out)
        except FormatError as e:
            raise CliError(e.path or layout_out, e.message) from None
        except OSError as e:
            raise CliError(layout_out, f"cannot write: {e.strerror or e}") from None
        if layout_note:
            import sys

            print(f"splatforge: note: {layout_out}: no layout found ({layout_note}); wrote an empty layout",
                  file=sys.stderr)

    summary = {
        "output": str(out), "splats": len(cloud), "width": camera.width, "height": camera.height,
        "fov_y_deg": camera.fov_y_deg, "model_ms": round(1000 * (t2 - t1), 1), "load_ms": round(1000 * (t1 - t0), 1),
        "camera": str(cam_out) if cam_out else None, "layout": str(layout_out) if layout_out else None,
        "layout_primitives": primitives,
    }
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        extra = "".join(f", {k} {summary[k]}" for k in ("camera", "layout") if summary[k])
        print(f"{out}: {len(cloud)} splats from a {camera.width}x{camera.height} photo "
              f"(model time {summary['model_ms']:.0f} ms, weights load {summary['load_ms']:.0f} ms{extra})")
    return 0

