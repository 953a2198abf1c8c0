"""`splatforge layout SCENE -o LAYOUT.json`: propose an editable layout.

Fits a floor, walls, a ceiling (when there is one) and boxes to a splat scene
(robust RANSAC weighted by opacity, see `editor.geometry.layout_fit`) and
writes LAYOUT.json (schema in docs/layout_schema.md). SCENE is any splat file
the registry reads, or a .sforge project (its visible, undeleted splats).
The layout records itself as a proposal (``metadata.proposed``, see
`editor.geometry.layout_proposal`): ``splatforge regenerate`` then lets only
the primitives changed since override the splats they were fitted to.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from app.cli.common import CliError, load_scene
from editor.formats import FormatError
from editor.geometry.layout_fit import FitOptions, LayoutFitError, fit_layout
from editor.geometry.layout_proposal import record_proposal

_AXES = {"+x": (1, 0, 0), "-x": (-1, 0, 0), "+y": (0, 1, 0), "-y": (0, -1, 0), "+z": (0, 0, 1), "-z": (0, 0, -1)}


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "layout",
        help="fit an editable layout (floor, walls, boxes) to a splat scene and write LAYOUT.json",
        description="Fit a floor plane, walls, a ceiling and boxes to a splat scene (opacity-weighted RANSAC) "
        "and write them as an editable LAYOUT.json.",
    )
    p.add_argument("scene", help="a splat file (.ply, .spz, .splat, ...) or a .sforge project")
    p.add_argument("-o", "--output", required=True, help="the LAYOUT.json file to write")
    p.add_argument(
        "--up-hint", default="-y",
        help="roughly which way is up in the scene: -y (default; 3DGS scenes are y-down), +y, +z, -z, +x, -x, "
        "or three numbers 'x,y,z'; the floor's normal must be within --max-tilt of it",
    )
    p.add_argument("--max-tilt", type=float, default=30.0, help="largest angle (degrees) between the floor normal and the up hint (default 30)")
    p.add_argument("--threshold", type=float, help="inlier distance in scene units (default 0.5%% of the scene diagonal)")
    p.add_argument("--wall-thickness", type=float, help="wall thickness in scene units (default 1.5%% of the scene diagonal)")
    p.add_argument("--max-walls", type=int, default=12, help="at most this many walls (default 12)")
    p.add_argument("--no-boxes", action="store_true", help="fit only floor, ceiling and walls")
    p.add_argument("--min-opacity", type=float, default=0.2, help="ignore splats fainter than this (default 0.2)")
    p.add_argument("--seed", type=int, default=0, help="random seed (the fit is deterministic per seed)")
    p.add_argument("--json", action="store_true", help="print a JSON summary instead of text")
    p.set_defaults(func=run)


def parse_up(text: str) -> tuple[float, float, float]:
    t = text.strip().lower()
    if t in _AXES:
        return tuple(float(v) for v in _AXES[t])  # type: ignore[return-value]
    try:
        v = tuple(float(x) for x in t.split(","))
    except ValueError:
        v = ()
    if len(v) != 3 or not all(abs(x) < float("inf") for x in v) or sum(x * x for x in v) < 1e-12:
        raise CliError(None, f"--up-hint must be one of {', '.join(_AXES)} or three numbers 'x,y,z', got {text!r}")
    return v  # type: ignore[return-value]


def load_cloud(path: str):
    """The splats of a splat file or of a .sforge project (live, visible)."""
    if Path(path).suffix.lower() == ".sforge":
        from editor.project import load_project

        try:
            return load_project(path).merged_cloud()
        except FormatError as e:
            raise CliError(e.path or path, e.message) from None
    return load_scene(path).cloud


def run(args: argparse.Namespace) -> int:
    up = parse_up(args.up_hint)
    for name in ("threshold", "wall_thickness"):
        v = getattr(args, name)
        if v is not None and not v > 0:
            raise CliError(None, f"--{name.replace('_', '-')} must be positive")
    if args.max_walls < 0 or not 0 < args.max_tilt < 90 or not 0 <= args.min_opacity < 1:
        raise CliError(None, "--max-walls must be >= 0, --max-tilt in (0, 90), --min-opacity in [0, 1)")
    out = Path(args.output)
    if not (out.parent if str(out.parent) else Path(".")).is_dir():
        raise CliError(out, f"folder {out.parent} does not exist")
    cloud = load_cloud(args.scene)
    options = FitOptions(
        up_hint=up, max_tilt_deg=args.max_tilt, min_opacity=args.min_opacity, threshold=args.threshold,
        wall_thickness=args.wall_thickness, max_walls=args.max_walls, boxes=not args.no_boxes, seed=args.seed,
    )
    try:
        layout = record_proposal(fit_layout(cloud, options))
    except LayoutFitError as e:
        raise CliError(args.scene, str(e)) from None
    try:
        layout.save(out)
    except FormatError as e:
        raise CliError(e.path or out, e.message) from None
    except OSError as e:
        raise CliError(out, f"cannot write: {e.strerror or e}") from None
    counts: dict[str, int] = {}
    for p in layout:
        kind = getattr(p, "role", "") or p.TYPE
        counts[kind] = counts.get(kind, 0) + 1
    fit = layout.metadata.get("fit", {})
    summary = {"output": str(out), "up": list(layout.up), "counts": counts, "threshold": fit.get("threshold"),
               "primitives": [{"id": p.id, "type": p.TYPE, "name": p.name} for p in layout]}
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        parts = ", ".join(f"{n} {k}{'s' if n > 1 and not k.endswith('s') else ''}" for k, n in counts.items())
        print(f"{out}: {parts} (up {', '.join(f'{v:.3f}' for v in layout.up)}; inlier threshold {fit.get('threshold', 0):.4g})")
    return 0
