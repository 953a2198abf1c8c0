"""Export presets: what each engine or viewer expects of a splat file.

A `SplatCloud` is in the 3DGS frame "RDF" (x right, y down, z forward, the
trainer's units). A preset names the file format its target reads and the
frame the data must be in for the scene to stand upright, unmirrored, with an
identity transform once imported there, plus a default budget (splat count
and SH degree) sized for that target. ``matrix`` is applied to the cloud
before the codec writes it (the codec may convert further: SPZ stores RUB and
glTF stores its own frame, see `editor.formats.spz` and `editor.formats.gltf`);
``frame`` names the axes of the numbers that end up on disk, in the SPZ
library's letters (R/L right/left, U/D up/down, F/B front/back, seen from the
first training camera: RDF is the camera's own view).

Each target's glTF importer converts glTF's frame into the engine's own, so a
layout collider (.glb) is written with ``collider_matrix`` (RDF -> glTF
vertex coordinates) chosen so that after that import it lines up with the
splats as the target's splat importer places them.

Sources of each convention are in `ExportPreset.source`; the table in the
README is generated from `PRESETS` (`preset_table`).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

IDENTITY = np.eye(3)
#: RDF -> RUB (x, -y, -z): a 180 degree turn about x. SPZ's frame, three.js/OpenGL
#: y-up with the training camera looking down -z.
TO_RUB = np.diag([1.0, -1.0, -1.0])
#: RDF -> LUF (-x, -y, z): a 180 degree turn about z. The glTF frame as the SPZ
#: library and PlayCanvas splat-transform write .glb.
TO_LUF = np.diag([-1.0, -1.0, 1.0])
#: RDF -> RUF (x, -y, z): a mirror of y. Unity's left-handed y-up frame.
TO_RUF = np.diag([1.0, -1.0, 1.0])
#: RDF -> Blender's z-up (x, z, -y): a 90 degree turn about x; the training
#: camera looks along +y, Blender's front view.
TO_Z_UP = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, -1.0, 0.0]])


@dataclass(frozen=True)
class ExportPreset:
    name: str
    target: str  # the engine or viewer, in words
    formats: tuple[str, ...]  # codec names, preferred first (the first one registered and writable is used)
    frame: str  # axes of the numbers on disk (see the module docstring)
    up: str  # the target's up axis and handedness, in words
    matrix: np.ndarray = field(repr=False)  # (3, 3) RDF -> what the codec is given
    collider_matrix: np.ndarray = field(repr=False)  # (3, 3) RDF -> collider .glb vertices
    units_scale: float  # positions and scales are multiplied by this
    max_splats: int  # default budget (--max-splats overrides)
    sh_degree: int  # default SH degree (--sh-degree overrides); never pads
    reader: str  # what reads the file there
    source: str  # where the convention comes from
    notes: str = ""
    options: dict = field(default_factory=dict)  # codec write options


PRESETS: dict[str, ExportPreset] = {
    p.name: p
    for p in (
        ExportPreset(
            name="unity",
            target="Unity (aras-p/UnityGaussianSplatting)",
            formats=("ply",),
            frame="RUF",
            up="+Y up, left-handed",
            matrix=TO_RUF,
            collider_matrix=TO_LUF,  # glTFast / UnityGLTF negate x on import: LUF -> RUF
            units_scale=1.0,
            max_splats=2_000_000,
            sh_degree=3,
            reader="UnityGaussianSplatting's asset creator reads 3DGS PLY (and SPZ v2) coordinates as Unity "
            "coordinates, unconverted",
            source="aras-p/UnityGaussianSplatting readme (trained PLYs need a ~180 degree X turn plus a Z mirror "
            "on the GameObject); nianticlabs/spz CoordinateSystem: RUF = Unity",
            notes="mirrored into Unity's left-handed frame, so the GameObject needs no transform",
        ),
        ExportPreset(
            name="unreal",
            target="Unreal Engine 5 (XVERSE XV3DGS, Akiya 3D Gaussians plugins)",
            formats=("ply",),
            frame="RDF",
            up="+Z up, left-handed, centimetres (converted by the plugin)",
            matrix=IDENTITY,
            collider_matrix=TO_RUB,
            units_scale=1.0,
            max_splats=2_000_000,
            sh_degree=3,
            reader="the plugins import the trainer's point_cloud.ply as is and convert it themselves",
            source="xverse-engine/XScene-UEPlugin README (imports the original 3DGS .ply; Niagara LOD limit of "
            "2 million points); Akiya-Research-Institute/3dGaussiansPlugin-Manual (imports point_cloud.ply)",
            notes="the plugins do not document their axis mapping: check the collider's alignment once",
        ),
        ExportPreset(
            name="godot",
            target="Godot 4 (haztro/godot-gaussian-splatting and similar)",
            formats=("ply",),
            frame="RUB",
            up="+Y up, right-handed, -Z forward",
            matrix=TO_RUB,
            collider_matrix=TO_RUB,  # Godot imports glTF without axis conversion
            units_scale=1.0,
            max_splats=1_000_000,
            sh_degree=3,
            reader="the Godot splat renderers load 3DGS PLY properties as stored (no axis conversion)",
            source="haztro/godot-gaussian-splatting (happly PLY loader; loads over 1M splats slowly); Godot "
            "docs: right-handed, +Y up, -Z forward, glTF imported as is",
        ),
        ExportPreset(
            name="blender",
            target="Blender (KIRI Engine 3DGS Render add-on, ReshotAI add-on)",
            formats=("ply",),
            frame="RFU",
            up="+Z up, right-handed",
            matrix=TO_Z_UP,
            collider_matrix=TO_RUB,  # Blender's glTF importer maps (x, y, z) -> (x, -z, y)
            units_scale=1.0,
            max_splats=1_000_000,
            sh_degree=3,
            reader="the add-ons import INRIA 3DGS PLY as stored; KIRI offers a 'Rotate for Blender Axes' "
            "button instead of converting",
            source="Kiri-Innovation/3dgs-render-blender-addon (PLY import, rotate-to-Blender-axes operator); "
            "ReshotAI/gaussian-splatting-blender-addon README (slow on large scenes)",
            notes="already turned z-up: do not press the add-on's rotate button",
        ),
        ExportPreset(
            name="playcanvas",
            target="PlayCanvas engine / SuperSplat",
            formats=("sog", "compressed-ply"),
            frame="RDF",
            up="+Y up, right-handed (splat entity turned 180 degrees about X)",
            matrix=IDENTITY,
            collider_matrix=TO_RUB,
            units_scale=1.0,
            max_splats=2_000_000,
            sh_degree=3,
            reader="PlayCanvas reads SOG (compressed PLY before SOG existed) in the PLY frame",
            source="SuperSplat docs (.sog 'recommended for runtime applications'); playcanvas/splat-transform "
            "(SOG and compressed PLY keep PLY axes); PlayCanvas examples put the gsplat entity under "
            "setLocalEulerAngles(180, 0, 0)",
            notes="give the gsplat entity the examples' 180 degree X turn; the collider is written to match",
        ),
        ExportPreset(
            name="web",
            target="web viewers (Spark, GaussianSplats3D, Babylon.js, PlayCanvas)",
            formats=("spz",),
            frame="RUB",
            up="+Y up, right-handed",
            matrix=IDENTITY,  # the SPZ codec writes RUB itself
            collider_matrix=TO_RUB,
            units_scale=1.0,
            max_splats=1_000_000,
            sh_degree=1,
            reader="SPZ v3 (gzip): read by all four; RUB is three.js's frame, so the scene stands upright",
            source="nianticlabs/spz (SPZ stores RUB, its 'Three.js coordinate system'); .spz is read by "
            "Spark (sparkjsdev/spark README), Babylon.js (Gaussian Splatting loader docs), "
            "mkkellogg/GaussianSplats3D (SceneFormat.Spz) and PlayCanvas",
            notes="SH above degree 1 costs download size for little gain on small screens",
            options={"version": 3},
        ),
        ExportPreset(
            name="gltf",
            target="glTF 2.0 viewers with KHR_gaussian_splatting (CesiumJS, Khronos sample renderer)",
            formats=("gltf",),
            frame="LUF",
            up="+Y up, right-handed, metres",
            matrix=IDENTITY,  # the glTF codec converts to its frame
            collider_matrix=TO_LUF,
            units_scale=1.0,
            max_splats=2_000_000,
            sh_degree=3,
            reader="any reader of KHR_gaussian_splatting (.glb)",
            source="KhronosGroup/glTF KHR_gaussian_splatting (Release Candidate); frame as PlayCanvas "
            "splat-transform's .glb, nianticlabs/spz ('LUF = GLB coordinate system') and "
            "KHR_gaussian_splatting_compression_spz_2 (pack with LUF)",
        ),
    )
}


def frame_cloud(cloud, preset: ExportPreset):
    """The cloud in the frame and units the preset's codec is given."""
    from editor.formats.spz import change_frame

    out = cloud if np.array_equal(preset.matrix, IDENTITY) else change_frame(cloud, preset.matrix)
    if preset.units_scale != 1.0:
        out = out.transformed(scale=preset.units_scale)
    return out


def preset_table() -> str:
    """The README's Markdown table of presets."""
    rows = [
        "| preset | target | format | axes on disk | up, handedness | default budget | convention from |",
        "|---|---|---|---|---|---|---|",
    ]
    for p in PRESETS.values():
        fmt = " (else ".join(p.formats) + ")" * (len(p.formats) - 1)
        rows.append(
            f"| `{p.name}` | {p.target} | {fmt} | {p.frame} | {p.up} | "
            f"{p.max_splats:,} splats, SH {p.sh_degree} | {p.source} |"
        )
    return "\n".join(rows)
