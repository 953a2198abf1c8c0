"""`splatforge render SCENE [--camera CAM.json] -o OUT.png`: headless renders.

One frame, a turntable of PNG frames (``--orbit N -o DIR/``), or a turntable
video (``--video OUT.mp4``, H.264 through imageio-ffmpeg). Rendering runs on
a headless EGL OpenGL context with the real-time renderer
(`app.render.offscreen`) at full quality.

Camera: the JSON contract of `editor.model.camera.Camera`. Without
``--camera`` the scene is framed by ``Camera.framing(bounds)`` (looking from
the -z side towards +z with -y up, 50 degrees vertical field of view,
1280x720); ``--width`` / ``--height`` override either camera's size (the
other side keeps the camera's value). ``--orbit`` turns the eye around the
camera target about the camera's up axis, N frames over 360 degrees, frame 0
being the camera itself.
"""
from __future__ import annotations

import argparse
import math
import os
from pathlib import Path

import numpy as np

from app.cli.common import CliError, ProgressBar, add_read_options, load_scene
from editor.formats import FormatError
from editor.formats.base import write_atomic
from editor.model.camera import Camera, CameraError

IMAGE_FORMATS = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG", ".bmp": "BMP", ".tif": "TIFF", ".tiff": "TIFF"}
DEFAULT_VIDEO_FRAMES = 120


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "render",
        help="render a splat scene to an image, a turntable of images, or a turntable video (headless)",
        description="Render SCENE headless (EGL) with the real-time renderer. Without --camera the "
        "scene's bounding box is framed from its -z side.",
    )
    p.add_argument("scene", help="a splat file (.ply, .spz, .splat, ...)")
    p.add_argument("--camera", metavar="CAM.json", help="camera JSON: eye, target, up, fov_y_deg, width, height")
    p.add_argument("-o", "--output", metavar="OUT",
                   help="output image (.png), or with --orbit/--video a folder for the frames (frame_0000.png, ...)")
    p.add_argument("--width", type=int, metavar="W", help="image width in pixels (overrides the camera's)")
    p.add_argument("--height", type=int, metavar="H", help="image height in pixels (overrides the camera's)")
    p.add_argument(
        "--background",
        metavar="R,G,B",
        default="0,0,0",
        help="background colour, three numbers in 0..1 (or 0..255 integers when any is above 1); default black",
    )
    p.add_argument("--orbit", type=int, metavar="N", help="render a turntable of N frames around the camera target")
    p.add_argument(
        "--video",
        metavar="OUT.mp4",
        help=f"encode the turntable as an H.264 video ({DEFAULT_VIDEO_FRAMES} frames unless --orbit N)",
    )
    p.add_argument("--fps", type=float, default=30.0, help="video frame rate (default 30)")
    p.add_argument("--sh-degree", type=int, choices=range(4), metavar="D", help="evaluate SH bands up to D only")
    p.add_argument("--splat-scale", type=float, default=1.0, metavar="S", help="multiply every splat's size by S")
    add_read_options(p)
    p.set_defaults(func=run)


def parse_background(text: str) -> tuple[float, float, float]:
    """``"R,G,B"`` -> RGB in [0, 1]. Values in 0..1 are taken as they are;
    if any is above 1, all must be integers 0..255 and are divided by 255."""
    parts = [p.strip() for p in str(text).split(",")]
    try:
        values = [float(p) for p in parts]
    except ValueError:
        values = []
    if len(values) != 3 or not all(math.isfinite(v) for v in values):
        raise CliError(None, f"--background must be three numbers R,G,B, got {text!r}")
    if any(v < 0 for v in values):
        raise CliError(None, f"--background values must not be negative, got {text!r}")
    if all(v <= 1.0 for v in values):
        return (values[0], values[1], values[2])
    if all(v <= 255 and float(v).is_integer() for v in values):
        return (values[0] / 255.0, values[1] / 255.0, values[2] / 255.0)
    raise CliError(None, f"--background takes 0..1 values or 0..255 integers, got {text!r}")


def orbit_cameras(camera: Camera, count: int) -> list[Camera]:
    """``count`` cameras turning the eye about ``camera.up`` through the
    target, evenly over 360 degrees; the first is ``camera`` itself."""
    axis = camera.up / np.linalg.norm(camera.up)
    offset = camera.eye - camera.target
    cams = []
    for i in range(count):
        a = 2.0 * math.pi * i / count
        # Rodrigues' rotation of the eye offset about the up axis
        rotated = (
            offset * math.cos(a)
            + np.cross(axis, offset) * math.sin(a)
            + axis * float(np.dot(axis, offset)) * (1.0 - math.cos(a))
        )
        cams.append(Camera(camera.target + rotated, camera.target, camera.up, camera.fov_y_deg, camera.width, camera.height))
    return cams


def _camera(args, cloud, from_file: Camera | None) -> Camera:
    for name in ("width", "height"):
        v = getattr(args, name)
        if v is not None and not 1 <= v <= 16384:
            raise CliError(None, f"--{name} must be 1..16384 pixels, got {v}")
    if from_file is not None:
        cam = from_file
    else:
        lo, hi = cloud.bounds()
        try:
            cam = Camera.framing(lo, hi)
        except CameraError as e:
            raise CliError(args.scene, f"cannot frame the scene: {e}") from None
    if args.width or args.height:
        cam = cam.with_size(args.width, args.height)
    return cam


def _check_outputs(args) -> None:
    if args.orbit is not None and args.orbit < 1:
        raise CliError(None, f"--orbit must be at least 1, got {args.orbit}")
    if not args.splat_scale > 0 or not math.isfinite(args.splat_scale):
        raise CliError(None, f"--splat-scale must be a positive number, got {args.splat_scale}")
    if not args.fps > 0 or not math.isfinite(args.fps):
        raise CliError(None, f"--fps must be positive, got {args.fps}")
    if args.output is None and args.video is None:
        raise CliError(None, "give an output: -o OUT.png (or -o DIR/ with --orbit, or --video OUT.mp4)")
    if args.video is not None:
        video = Path(args.video)
        if video.suffix.lower() not in (".mp4", ".m4v", ".mov", ".mkv"):
            raise CliError(video, "the video must be .mp4 (or .m4v, .mov, .mkv)")
        if not (video.parent if str(video.parent) else Path(".")).is_dir():
            raise CliError(video, f"folder {video.parent} does not exist")
    if args.output is None:
        return
    out = Path(args.output)
    if args.orbit is not None or args.video is not None:  # a turntable: -o is the frames' folder
        if out.exists() and not out.is_dir():
            raise CliError(out, "a turntable writes one image per frame: -o must be a folder")
        if out.suffix.lower() in IMAGE_FORMATS and not out.exists():
            raise CliError(out, "a turntable writes one image per frame: -o must be a folder, not an image name")
    else:
        if out.is_dir():
            raise CliError(out, "is a folder; give an image file name (or use --orbit N for frames)")
        if out.suffix.lower() not in IMAGE_FORMATS:
            raise CliError(out, f"unknown image type {out.suffix!r} (use .png)")
        if not (out.parent if str(out.parent) else Path(".")).is_dir():
            raise CliError(out, f"folder {out.parent} does not exist")


def save_image(image: np.ndarray, path: os.PathLike | str) -> None:
    """Write an (H, W, 3) uint8 image atomically (temp file + rename)."""
    from PIL import Image

    path = Path(path)
    fmt = IMAGE_FORMATS.get(path.suffix.lower(), "PNG")
    try:
        write_atomic(path, lambda tmp: Image.fromarray(image, "RGB").save(tmp, format=fmt))
    except FormatError as e:
        raise CliError(e.path or path, e.message) from None
    except OSError as e:
        raise CliError(path, f"cannot write: {e.strerror or e}") from None


def _write_video(frames, count: int, size: tuple[int, int], path: Path, fps: float, bar: ProgressBar) -> None:
    import imageio_ffmpeg

    w, h = size
    # yuv420p needs even sizes: pad the last row/column by repeating it
    pw, ph = w + (w % 2), h + (h % 2)

    def writer(tmp: Path) -> None:
        # ffmpeg picks the container from the extension, so give it one
        target = tmp.with_name(tmp.name + path.suffix)
        try:
            gen = imageio_ffmpeg.write_frames(
                str(target), (pw, ph), fps=fps, codec="libx264", macro_block_size=1, quality=8,
                ffmpeg_log_level="error",
            )
            gen.send(None)
            for i, frame in enumerate(frames):
                if (pw, ph) != (w, h):
                    frame = np.pad(frame, ((0, ph - h), (0, pw - w), (0, 0)), mode="edge")
                gen.send(np.ascontiguousarray(frame))
                bar((i + 1) / count)
            gen.close()
            os.replace(target, tmp)
        finally:
            if target.exists():
                target.unlink()

    try:
        write_atomic(path, writer)
    except FormatError as e:
        raise CliError(e.path or path, e.message) from None
    except (OSError, RuntimeError) as e:
        raise CliError(path, f"cannot encode the video: {' '.join(str(e).split())}") from None


def run(args: argparse.Namespace) -> int:
    background = parse_background(args.background)
    _check_outputs(args)
    from_file = None
    if args.camera:  # a bad camera fails before a long scene load
        try:
            from_file = Camera.load(args.camera)
        except CameraError as e:
            raise CliError(args.camera, str(e)) from None
    cloud = load_scene(args.scene, spz_frame=args.spz_frame).cloud
    camera = _camera(args, cloud, from_file)

    from app.render.gl_context import HeadlessContextError
    from app.render.offscreen import OffscreenRenderer

    try:
        off = OffscreenRenderer()
    except HeadlessContextError as e:
        raise CliError(None, str(e)) from None
    with off:
        off.set_cloud(cloud)

        def render(cam: Camera) -> np.ndarray:
            return off.render(cam, background, args.sh_degree, args.splat_scale)

        if args.orbit is None and args.video is None:
            save_image(render(camera), args.output)
            return 0
        count = args.orbit if args.orbit is not None else DEFAULT_VIDEO_FRAMES
        cams = orbit_cameras(camera, count)
        if args.output is not None:
            folder = Path(args.output)
            try:
                folder.mkdir(parents=True, exist_ok=True)
            except OSError as e:
                raise CliError(folder, f"cannot create the folder: {e.strerror or e}") from None
        digits = max(4, len(str(count - 1)))

        def frames():
            for i, cam in enumerate(cams):
                image = render(cam)
                if args.output is not None:
                    save_image(image, Path(args.output) / f"frame_{i:0{digits}d}.png")
                yield image

        bar = ProgressBar("rendering turntable")
        try:
            if args.video is not None:
                _write_video(frames(), count, (camera.width, camera.height), Path(args.video), args.fps, bar)
            else:
                for i, _ in enumerate(frames()):
                    bar((i + 1) / count)
        finally:
            bar.close()
    return 0
