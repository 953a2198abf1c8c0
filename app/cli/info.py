"""`splatforge info FILE [--json]`: what is in a splat file."""
from __future__ import annotations

import argparse
import json

from app.cli.common import add_read_options, load_scene


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("info", help="print format, splat count, SH degree, bounds and statistics of a splat file")
    p.add_argument("file", help="a splat file (.ply, .compressed.ply, .splat, .spz, .ksplat, ...)")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of text")
    add_read_options(p)
    p.set_defaults(func=run)


def scene_info(loaded) -> dict:
    """The dictionary `info --json` prints: keys format, version, count,
    sh_degree, bounds_min, bounds_max, opacity, scale_max_axis, ... ."""
    info = {"format": loaded.format, "version": loaded.version}
    info.update(loaded.cloud.statistics())
    if loaded.details:
        info["details"] = loaded.details
    return info


def run(args: argparse.Namespace) -> int:
    loaded = load_scene(args.file, spz_frame=args.spz_frame)
    info = scene_info(loaded)
    info["file"] = str(args.file)
    if args.json:
        print(json.dumps(info, indent=2, default=_json_default))
        return 0
    lines = [
        f"file:        {args.file}",
        f"format:      {info['format']}" + (f" ({info['version']})" if info["version"] else ""),
        f"splats:      {info['count']:,}",
        f"SH degree:   {info['sh_degree']}",
        f"bounds min:  {_vec(info['bounds_min'])}",
        f"bounds max:  {_vec(info['bounds_max'])}",
        f"memory:      {info['memory_bytes'] / 2**20:.1f} MiB decoded",
    ]
    for key, label in (("opacity", "opacity"), ("scale_max_axis", "scale (max axis)")):
        s = info.get(key)
        if s:
            lines.append(
                f"{label + ':':<13}min {s['min']:.4g}  median {s['median']:.4g}  "
                f"p95 {s['p95']:.4g}  max {s['max']:.4g}"
            )
    if info["extra_attributes"]:
        lines.append(f"extra attrs: {', '.join(info['extra_attributes'])}")
    print("\n".join(lines))
    return 0


def _vec(v) -> str:
    return "(" + ", ".join(f"{x:.4g}" for x in v) + ")"


def _json_default(o):
    try:
        return o.tolist()
    except AttributeError:
        return str(o)
