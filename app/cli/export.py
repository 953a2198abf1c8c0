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
from editor import exporting
from editor.export_presets import PRESETS, ExportPreset
from editor.formats import FormatError
from editor.formats.registry import codec_for_output, codecs


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
    try:
        return exporting.pick_codec(preset)
    except FormatError as e:
        raise CliError(None, e.message) from None


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
    bar = ProgressBar(f"writing {out.name}")
    try:
        result = exporting.export_scene(cloud, out, preset, max_splats, args.sh_degree, args.reduce, bar,
                                        collider=not args.no_collider, layout=layout)
    except FormatError as e:
        raise CliError(e.path or out, e.message) from None
    finally:
        bar.close()

    kept = f"{result.count} splats" + (f" (of {result.full_count})" if result.count != result.full_count else "")
    print(f"{out}: {kept}, SH {result.sh_degree}, {result.size / 2**20:.2f} MiB, {codec.name}, "
          f"preset {preset.name} (axes {preset.frame}, {preset.up})")
    if result.collider is not None:
        print(f"{result.collider}: collider, {result.collider_meshes} closed meshes")
    elif layout is not None and not args.no_collider:
        print("no collider: the project's layout has no visible solid primitives")
    return 0

