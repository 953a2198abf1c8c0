"""`splatforge export IN -o OUT --preset unity|unreal|godot|blender|playcanvas|web|gltf
[--max-splats N] [--reduce auto|merge|importance] [--sh-degree N] [--no-collider]`.

Writes a scene (any readable splat file, or a ``.sforge`` project: its visible,
live splats) in the format, axes, units and budget a target expects; the
presets and their sources are in `editor.export_presets`. For a project with
a layout, the layout's collider is written next to OUT as
``<OUT stem>_collider.glb``, turned to line up with the splats in the target.
Both files are written atomically: on any error neither is left behind.
"""
from __future__ import annotations

import argparse
from pathlib import Path

from app.cli.common import CliError, ProgressBar, add_read_options, load_scene
from editor.export_presets import PRESETS, ExportPreset, frame_cloud
from editor.formats import FormatError
from editor.formats.base import write_atomic
from editor.formats.registry import codec_for_output, codecs
from editor.rendering.budget_report import reduce_splats


def register(sub: argparse._SubParsersAction) -> None:
    names = "|".join(PRESETS)
    p = sub.add_parser(
        "export",
        help="write a scene for a game engine or viewer (format, axes and budget from a preset)",
        description="Export a splat file or a .sforge project for a target: " + "; ".join(
            f"{n}: {p.target}" for n, p in PRESETS.items()
        ) + ". A project's layout collider is written next to OUT as <stem>_collider.glb.",
    )
    p.add_argument("input", help="a splat file or a .sforge project")
    p.add_argument("-o", "--output", required=True, help="output file (its extension must be the preset's) or folder")
    p.add_argument("--preset", required=True, choices=tuple(PRESETS), metavar=names, help="target engine or viewer")
    p.add_argument("--max-splats", type=int, metavar="N",
                   help="keep at most N splats, the most important first (default: the preset's budget)")
    p.add_argument("--reduce", choices=("auto", "merge", "importance"), default="auto",
                   help="how the budget is met: keep the most important splats (opacity x area), merge "
                   "neighbours, or auto (default: importance when keeping 70%% or more, else merge; "
                   "measured, see the README)")
    p.add_argument("--sh-degree", type=int, choices=range(4), metavar="N",
                   help="drop SH bands above degree N (0-3; default: the preset's)")
    p.add_argument("--no-collider", action="store_true", help="do not write the layout collider of a project")
    add_read_options(p)
    p.set_defaults(func=run)


def pick_codec(preset: ExportPreset):
    """The first of the preset's formats that is registered and writable."""
    available = {c.name: c for c in codecs() if c.write is not None}
    for name in preset.formats:
        if name in available:
            return available[name]
    raise CliError(None, f"preset {preset.name}: no writer for {' or '.join(preset.formats)} in this build")


def _output_path(args, codec) -> Path:
    out = Path(args.output)
    ext = codec.extensions[0]
    if out.is_dir():
        stem = Path(args.input).name
        for e in sorted({e for c in codecs() for e in c.extensions} | {".sforge"}, key=len, reverse=True):
            if stem.lower().endswith(e):
                stem = stem[: -len(e)]
                break
        return out / f"{stem or 'scene'}{ext}"
    try:
        by_name = codec_for_output(out).name
    except FormatError:
        by_name = None
    if by_name != codec.name:
        raise CliError(out, f"the {args.preset} preset writes {codec.name} files: OUT must end in {ext}")
    folder = out.parent if str(out.parent) else Path(".")
    if not folder.is_dir():
        raise CliError(out, f"folder {folder} does not exist")
    return out


def _stem(out: Path, codec) -> str:
    name = out.name
    for e in sorted(codec.extensions, key=len, reverse=True):
        if name.lower().endswith(e):
            return name[: -len(e)]
    return out.stem


def _load(args):
    """(cloud, layout or None)."""
    if Path(args.input).suffix.lower() == ".sforge":
        from editor.project import load_project

        try:
            document = load_project(args.input)
        except FormatError as e:
            raise CliError(e.path or args.input, e.message) from None
        return document.merged_cloud(), document.layout
    return load_scene(args.input, spz_frame=args.spz_frame).cloud, None


def run(args: argparse.Namespace) -> int:
    preset = PRESETS.get(args.preset)
    if preset is None:
        raise CliError(None, f"unknown preset {args.preset!r} (choose from {', '.join(PRESETS)})")
    max_splats = preset.max_splats if args.max_splats is None else args.max_splats
    if max_splats < 1:
        raise CliError(None, f"--max-splats must be at least 1, got {max_splats}")
    codec = pick_codec(preset)
    out = _output_path(args, codec)  # fail before reading a big input

    cloud, layout = _load(args)
    if len(cloud) == 0:
        raise CliError(args.input, "the scene has no splats to export")
    full = len(cloud)
    cloud = reduce_splats(cloud, max_splats, args.reduce)
    degree = preset.sh_degree if args.sh_degree is None else args.sh_degree
    if cloud.sh_degree > degree:
        cloud = cloud.with_sh_degree(degree)
    cloud = frame_cloud(cloud, preset)

    meshes = []
    collider = None
    if layout is not None and not args.no_collider:
        from editor.geometry.meshing import layout_meshes

        meshes = layout_meshes(layout)
        if meshes:
            collider = out.with_name(f"{_stem(out, codec)}_collider.glb")

    def writer(tmp: Path) -> None:
        codec.write(cloud, tmp, bar, **preset.options)
        if collider is not None:  # inside the splat file's atomic write: both or neither
            from editor.geometry.mesh_export import write_glb

            write_glb(meshes, collider, preset.collider_matrix)

    bar = ProgressBar(f"writing {out.name}")
    try:
        write_atomic(out, writer)
    except FormatError as e:
        raise CliError(e.path or out, e.message) from None
    except OSError as e:
        raise CliError(out, f"cannot write: {e.strerror or e}") from None
    except (ValueError, OverflowError) as e:
        raise CliError(out, f"cannot write {codec.name}: {e}") from None
    finally:
        bar.close()

    size = out.stat().st_size
    kept = f"{len(cloud)} splats" + (f" (of {full})" if len(cloud) != full else "")
    print(f"{out}: {kept}, SH {cloud.sh_degree}, {size / 2**20:.2f} MiB, {codec.name}, "
          f"preset {preset.name} (axes {preset.frame}, {preset.up})")
    if collider is not None:
        print(f"{collider}: collider, {len(meshes)} closed meshes")
    elif layout is not None and not args.no_collider:
        print("no collider: the project's layout has no visible solid primitives")
    return 0
