"""Plain numpy renderers: the obviously-correct twins of the fast GL and torch paths.

`render_reference` is the contract every other splat rasterizer in the project
is tested against (the GL renderer in ``app.render``, the differentiable one in
``inference``).
"""
from editor.rendering.reference import (
    ALPHA_MAX,
    ALPHA_MIN,
    LOW_PASS,
    MAX_POWER,
    NEAR_PLANE_MAX,
    ProjectedSplats,
    near_plane,
    project_splats,
    render_reference,
)

__all__ = [
    "ALPHA_MAX",
    "ALPHA_MIN",
    "LOW_PASS",
    "MAX_POWER",
    "NEAR_PLANE_MAX",
    "ProjectedSplats",
    "near_plane",
    "project_splats",
    "render_reference",
]
