"""`splatforge collider PROJECT_OR_LAYOUT -o OUT.glb|OUT.obj [--up y|z]`.

Writes the layout's solids as closed, consistently oriented triangle meshes
(one per primitive; door and window openings cut through walls) for physics
engines. Axes: the layout is in the 3DGS frame (y down); ``--up y`` writes
glTF's y-up frame ``(x, -y, -z)``, ``--up z`` a z-up frame ``(x, z, -y)``;
``--level`` also turns the layout's fitted up vector exactly onto that axis.
"""
from __future__ import annotations

import argparse
from pathlib import Path

from app.cli.common import CliError
from editor.formats import FormatError
from editor.geometry.mesh_export import export_rotation, write_glb, write_obj
from editor.geometry.meshing import layout_meshes
from editor.model.layout import Layout, LayoutError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "collider",
        help="write a layout's primitives as watertight collision meshes (.glb or .obj)",
        description="Mesh the layout of a .sforge project or LAYOUT.json into closed triangle meshes "
        "(openings cut) for physics engines.",
    )
    p.add_argument("input", help="a .sforge project or a LAYOUT.json file")
    p.add_argument("-o", "--output", required=True, help="OUT.glb (binary glTF 2.0) or OUT.obj")
    p.add_argument(
        "--up", choices=("y", "z"), default="y",
        help="up axis of the output: y (glTF, Unity, Godot: (x, -y, -z) from the 3DGS frame) or "
        "z (Blender, Unreal: (x, z, -y)); default y",
    )
    p.add_argument("--level", action="store_true", help="also rotate so the layout's fitted up vector is exactly the output's up axis")
    p.add_argument("--include-hidden", action="store_true", help="mesh hidden primitives too")
    p.set_defaults(func=run)


def load_layout(path: str) -> Layout:
    if Path(path).suffix.lower() == ".sforge":
        from editor.project import load_project

        try:
            return load_project(path).layout
        except FormatError as e:
            raise CliError(e.path or path, e.message) from None
    try:
        return Layout.load(path)
    except LayoutError as e:
        raise CliError(path, str(e)) from None


def run(args: argparse.Namespace) -> int:
    out = Path(args.output)
    suffix = out.suffix.lower()
    if suffix not in (".glb", ".obj"):
        raise CliError(out, "the output must end in .glb or .obj")
    if not (out.parent if str(out.parent) else Path(".")).is_dir():
        raise CliError(out, f"folder {out.parent} does not exist")
    layout = load_layout(args.input)
    meshes = layout_meshes(layout, include_hidden=args.include_hidden)
    if not meshes:
        raise CliError(args.input, "the layout has no (visible) solid primitives to mesh")
    leaky = [m.name for m in meshes if not m.is_watertight()]
    if leaky:  # a bug, not bad input: the mesher guarantees closed meshes
        raise RuntimeError(f"mesh of {', '.join(leaky)} is not closed")
    rotation = export_rotation(args.up, layout.up, args.level)
    try:
        (write_glb if suffix == ".glb" else write_obj)(meshes, out, rotation)
    except FormatError as e:
        raise CliError(e.path or out, e.message) from None
    except OSError as e:
        raise CliError(out, f"cannot write: {e.strerror or e}") from None
    tris = sum(len(m.faces) for m in meshes)
    print(f"{out}: {len(meshes)} closed meshes, {tris} triangles, up {args.up}{' (levelled)' if args.level else ''}")
    return 0
