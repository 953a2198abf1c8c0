"""Procedural training scenes for the feed-forward predictor (numpy, seeded).

A scene is built in a *room frame* (3DGS convention: y down, so the floor is
the plane y = 0 and "up" is -y), then moved into the frame of a randomly
placed input camera so that the input camera is always the canonical
``Camera(eye=(0,0,0), target=(0,0,1), up=(0,-1,0))`` the predictor lifts into.
Scenes contain a floor, usually a back wall and sometimes side walls,
textured boxes standing on the floor and spheres resting on it; every surface
is tiled with flat Gaussians (one per ``spacing`` metres, standard deviation
0.55 spacing in the plane, 0.08 spacing across it) whose colours come from a
procedural texture (checker, stripes, value noise, gradient, flat + grain).

`make_sample(seed, size)` renders the input view and target views orbiting a
pivot at the median input depth by 0-30 degrees with `inference.rasterizer`
(no gradients) and returns images, cameras, the input view's z-depth and
coverage, and per-target masks of what the input view could have seen
(splats whose centre projects inside the input image). Units: metres-like
scene units; depths are camera-space z; images float32 RGB in [0, 1].
Everything is a function of the seed (numpy ``default_rng``; torch only
renders, deterministically).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import torch

from editor.model.camera import Camera
from editor.model.splat_cloud import SH_C0, SplatCloud, logit, matrix_to_quaternion
from inference.rasterizer import rasterize

DEFAULT_FOV = 50.0
SURFACE_OPACITY = 0.96


# ------------------------------------------------------------------ textures
def _colour(rng) -> np.ndarray:
    return rng.uniform(0.04, 0.96, 3)


def texture(rng: np.random.Generator):
    """A random texture: a function (s (N,), t (N,)) metres -> RGB (N, 3) in [0, 1]."""
    kind = rng.integers(5)
    c1, c2 = _colour(rng), _colour(rng)
    if kind == 0:  # checker
        p = rng.uniform(0.15, 0.9)
        return lambda s, t: np.where(((np.floor(s / p) + np.floor(t / p)) % 2 == 0)[:, None], c1, c2)
    if kind == 1:  # stripes
        p, th = rng.uniform(0.1, 0.8), rng.uniform(0, math.pi)
        hard = rng.random() < 0.5

        def stripes(s, t):
            x = (s * math.cos(th) + t * math.sin(th)) / p
            m = (np.floor(x) % 2) if hard else 0.5 + 0.5 * np.sin(2 * math.pi * x)
            return c1 + m[:, None] * (c2 - c1)

        return stripes
    if kind == 2:  # value noise, bilinear on a random grid
        cell = rng.uniform(0.08, 0.6)
        grid = rng.random((64, 64))

        def noise(s, t):
            x, y = s / cell + 32.0, t / cell + 32.0
            x0 = np.clip(np.floor(x).astype(int), 0, 62)
            y0 = np.clip(np.floor(y).astype(int), 0, 62)
            fx, fy = np.clip(x - x0, 0, 1), np.clip(y - y0, 0, 1)
            v = (grid[y0, x0] * (1 - fx) * (1 - fy) + grid[y0, x0 + 1] * fx * (1 - fy)
                 + grid[y0 + 1, x0] * (1 - fx) * fy + grid[y0 + 1, x0 + 1] * fx * fy)
            return c1 + v[:, None] * (c2 - c1)

        return noise
    if kind == 3:  # linear gradient
        th, length = rng.uniform(0, 2 * math.pi), rng.uniform(1.0, 6.0)

        def gradient(s, t):
            x = np.clip(0.5 + (s * math.cos(th) + t * math.sin(th)) / length, 0, 1)
            return c1 + x[:, None] * (c2 - c1)

        return gradient
    seed = int(rng.integers(1 << 31))
    return lambda s, t: np.clip(c1 + np.random.default_rng(seed).normal(0, 0.03, (len(s), 3)), 0, 1)


# ------------------------------------------------------------------ surfaces
@dataclass
class _Parts:
    pos: list = field(default_factory=list)
    scale: list = field(default_factory=list)
    quat: list = field(default_factory=list)
    rgb: list = field(default_factory=list)

    def add(self, pos, frame, spacing, rgb):
        """pos (N, 3); frame (3, 3) columns u, v, normal (or (N, 3, 3))."""
        n = len(pos)
        frame = np.asarray(frame, float)
        if frame.ndim == 2:
            q = np.repeat(matrix_to_quaternion(frame)[None], n, 0)
        else:
            q = np.stack([matrix_to_quaternion(f) for f in frame]) if n else np.zeros((0, 4))
        self.pos.append(pos)
        self.scale.append(np.repeat([[0.55 * spacing, 0.55 * spacing, 0.08 * spacing]], n, 0))
        self.quat.append(q)
        self.rgb.append(rgb)

    def cloud(self) -> SplatCloud:
        pos = np.concatenate(self.pos)
        rgb = np.clip(np.concatenate(self.rgb), 0, 1)
        return SplatCloud(
            pos, np.log(np.concatenate(self.scale)), np.concatenate(self.quat),
            np.full(len(pos), logit(np.array(SURFACE_OPACITY))), ((rgb - 0.5) / SH_C0)[:, None, :],
        )


def _frame(u, v) -> np.ndarray:
    u = np.asarray(u, float) / np.linalg.norm(u)
    v = np.asarray(v, float) / np.linalg.norm(v)
    return np.stack([u, v, np.cross(u, v)], axis=1)


def _rect(parts: _Parts, centre, u, v, half_u, half_v, spacing, tex):
    """A textured rectangle ``centre + s u + t v``, |s| <= half_u, |t| <= half_v."""
    nu, nv = max(1, int(round(2 * half_u / spacing))), max(1, int(round(2 * half_v / spacing)))
    s = (np.arange(nu) + 0.5) / nu * 2 * half_u - half_u
    t = (np.arange(nv) + 0.5) / nv * 2 * half_v - half_v
    ss, tt = (a.reshape(-1) for a in np.meshgrid(s, t))
    f = _frame(u, v)
    pos = np.asarray(centre, float) + ss[:, None] * f[:, 0] + tt[:, None] * f[:, 1]
    parts.add(pos, f, spacing, tex(ss, tt))


def _box(parts: _Parts, centre_xz, yaw, size, spacing, rng):
    """A box standing on the floor (y = 0, up is -y): five textured faces."""
    sx, sy, sz = size
    c, s = math.cos(yaw), math.sin(yaw)
    ax = np.array([c, 0, -s])
    az = np.array([s, 0, c])
    up = np.array([0.0, -1.0, 0.0])
    base = np.array([centre_xz[0], 0.0, centre_xz[1]])
    mid = base + up * sy / 2
    tex = texture(rng)
    for sign in (-1, 1):
        _rect(parts, mid + sign * ax * sx / 2, az, up, sz / 2, sy / 2, spacing, tex)
        _rect(parts, mid + sign * az * sz / 2, ax, up, sx / 2, sy / 2, spacing, tex)
    _rect(parts, base + up * sy, ax, az, sx / 2, sz / 2, spacing, texture(rng))


def _sphere(parts: _Parts, centre, radius, spacing, rng):
    n = max(20, int(4 * math.pi * radius**2 / spacing**2))
    i = np.arange(n) + 0.5
    phi = np.arccos(1 - 2 * i / n)
    theta = math.pi * (1 + 5**0.5) * i
    nrm = np.stack([np.cos(theta) * np.sin(phi), np.cos(phi), np.sin(theta) * np.sin(phi)], 1)
    a = np.where(np.abs(nrm[:, 1:2]) < 0.9, [[0.0, 1.0, 0.0]], [[1.0, 0.0, 0.0]])
    u = np.cross(nrm, a)
    u /= np.linalg.norm(u, axis=1, keepdims=True)
    v = np.cross(nrm, u)
    frames = np.stack([u, v, nrm], axis=2)
    tex = texture(rng)
    parts.add(np.asarray(centre) + radius * nrm, frames, spacing, tex(theta % (2 * math.pi) * radius, phi * radius))


def random_room(rng: np.random.Generator, spacing: float = 0.06) -> SplatCloud:
    """A random scene in the room frame (floor y = 0, up -y): floor, walls,
    1-4 boxes and 0-2 spheres near the middle. ~10-40k splats."""
    parts = _Parts()
    half_x = rng.uniform(2.5, 4.0)
    depth = rng.uniform(4.0, 8.0)
    height = rng.uniform(2.4, 3.2)
    _rect(parts, (0, 0, (depth - 1.0) / 2), (1, 0, 0), (0, 0, 1), half_x, (depth + 1.0) / 2, spacing * 1.2, texture(rng))
    if rng.random() < 0.8:
        _rect(parts, (0, -height / 2, depth), (1, 0, 0), (0, 1, 0), half_x, height / 2, spacing * 1.3, texture(rng))
    for sign in (-1, 1):
        if rng.random() < 0.4:
            _rect(parts, (sign * half_x, -height / 2, (depth - 1.0) / 2), (0, 0, 1), (0, 1, 0),
                  (depth + 1.0) / 2, height / 2, spacing * 1.3, texture(rng))
    for _ in range(rng.integers(1, 5)):
        size = rng.uniform([0.3, 0.25, 0.3], [1.2, 1.3, 1.2])
        xz = (rng.uniform(-1.8, 1.8), rng.uniform(1.8, depth - 0.8))
        _box(parts, xz, rng.uniform(0, math.pi / 2), size, spacing * 0.8, rng)
    for _ in range(rng.integers(0, 3)):
        r = rng.uniform(0.15, 0.5)
        _sphere(parts, (rng.uniform(-1.5, 1.5), -r, rng.uniform(1.8, depth - 0.8)), r, spacing * 0.7, rng)
    return parts.cloud()


def input_camera(fov_deg: float, width: int, height: int) -> Camera:
    """The canonical input camera the predictor lifts into (3DGS frame, y down)."""
    return Camera((0, 0, 0), (0, 0, 1), (0, -1, 0), fov_deg, width, height)


def orbit_camera(base: Camera, pivot_depth: float, yaw_deg: float, pitch_deg: float = 0.0) -> Camera:
    """The canonical camera turned by ``yaw_deg`` about the camera's y axis and
    ``pitch_deg`` about its x axis around the point (0, 0, pivot_depth)."""
    pivot = np.array([0.0, 0.0, pivot_depth])
    a, b = math.radians(yaw_deg), math.radians(pitch_deg)
    ry = np.array([[math.cos(a), 0, math.sin(a)], [0, 1, 0], [-math.sin(a), 0, math.cos(a)]])
    rx = np.array([[1, 0, 0], [0, math.cos(b), -math.sin(b)], [0, math.sin(b), math.cos(b)]])
    r = ry @ rx
    eye = pivot + r @ (np.zeros(3) - pivot)
    return Camera(eye, pivot, r @ np.array([0.0, -1.0, 0.0]), base.fov_y_deg, base.width, base.height)


@dataclass
class Sample:
    """One training example.

    image (H, W, 3) float32: the input view; depth (H, W) float32 z-depth of
    the input view (0 where nothing was hit); coverage (H, W) accumulated
    alpha of the input view; camera: the canonical input camera;
    targets: list of (Camera, image (H, W, 3), mask (H, W)) where mask is the
    fraction of the pixel covered by splats the input view saw;
    angles: the targets' yaw angles in degrees; cloud: the scene in the
    input camera's frame.
    """

    image: np.ndarray
    depth: np.ndarray
    coverage: np.ndarray
    camera: Camera
    targets: list
    angles: list
    cloud: SplatCloud


def _render(t: dict, sh: torch.Tensor, cam: Camera) -> np.ndarray:
    with torch.no_grad():
        img = rasterize(t["means"], t["log_scales"], t["quats"], t["opacity_logits"], sh, cam)
    return img.numpy()


def make_sample(
    seed: int,
    size: int = 64,
    n_targets: int = 2,
    angles: list[float] | None = None,
    fov_deg: float = DEFAULT_FOV,
    spacing: float | None = None,
    scene_depth: float | None = None,
) -> Sample:
    """Generate scene ``seed`` and render it at ``size`` x ``size`` pixels.

    Targets orbit the median input depth by ``angles`` degrees of yaw (default:
    ``n_targets`` random angles of 0-30 degrees, random sign, with up to 5
    degrees of pitch). ``spacing`` (scene units between surface splats)
    defaults to about 1.5 pixels at 3 units of depth (before normalising).

    ``scene_depth``: normalise the scene's scale (the predictor's scale
    convention, `inference.predictor.SCENE_DEPTH`): the whole scene is scaled
    about the input camera so that the median depth of the covered input
    pixels is ``scene_depth``; the targets then orbit that depth. Images are
    unchanged by the scaling (a scene scaled about the camera, splat sizes
    included, renders the same); depths, the cloud and the target cameras
    are in the normalised units. None keeps the generated scale (camera 1-1.8
    units above the floor).
    """
    rng = np.random.default_rng(seed)
    cam = input_camera(fov_deg, size, size)
    if spacing is None:
        spacing = float(np.clip(1.5 * 3.0 / cam.fy, 0.03, 0.12))
    room = random_room(rng, spacing)
    # A random input camera in the room: 1-1.8 units high, looking down 5-30 degrees.
    eye = np.array([rng.uniform(-0.6, 0.6), -rng.uniform(1.0, 1.8), rng.uniform(-0.6, 0.4)])
    pitch, yaw = math.radians(rng.uniform(5, 30)), math.radians(rng.uniform(-20, 20))
    fwd = np.array([math.sin(yaw) * math.cos(pitch), math.sin(pitch), math.cos(yaw) * math.cos(pitch)])
    room_cam = Camera(eye, eye + fwd, (0, -1, 0), fov_deg, size, size)
    rot = room_cam.basis()  # world -> camera rotation
    cloud = room.transformed(rotation=rot, translation=-rot @ eye)

    t = {k: torch.tensor(v, dtype=torch.float32) for k, v in (
        ("means", cloud.positions), ("log_scales", cloud.log_scales), ("quats", cloud.rotations),
        ("opacity_logits", cloud.opacity_logits))}
    sh = torch.tensor(cloud.sh, dtype=torch.float32)
    image = _render(t, sh, cam)

    # Auxiliary render: channel 0 z / zmax, 1 coverage, 2 "seen by the input view".
    z = cloud.positions[:, 2].astype(np.float64)
    uv, _ = cam.project(cloud.positions)
    with np.errstate(invalid="ignore"):
        seen = (z > 0.05) & (uv[:, 0] >= 0) & (uv[:, 0] <= size) & (uv[:, 1] >= 0) & (uv[:, 1] <= size)
    zmax = 50.0
    aux = np.stack([np.clip(z / zmax, 0, 1), np.ones_like(z), seen.astype(float)], 1)
    aux_sh = torch.tensor(((aux - 0.5) / SH_C0)[:, None, :], dtype=torch.float32)
    a = _render(t, aux_sh, cam)
    coverage = a[..., 1]
    depth = np.where(coverage > 0.5, a[..., 0] * zmax / np.maximum(coverage, 1e-6), 0.0)
    valid = depth[coverage > 0.5]
    pivot = float(np.median(valid)) if valid.size else 3.0
    if scene_depth:
        c = float(scene_depth) / pivot
        cloud = SplatCloud(cloud.positions * c, cloud.log_scales + math.log(c), cloud.rotations,
                           cloud.opacity_logits, cloud.sh)
        t["means"] = t["means"] * c
        t["log_scales"] = t["log_scales"] + math.log(c)
        depth = depth * c
        pivot = float(scene_depth)

    if angles is None:
        angles = [float(rng.choice([-1, 1]) * rng.uniform(0, 30)) for _ in range(n_targets)]
        pitches = [float(rng.uniform(-5, 5)) for _ in angles]
    else:
        pitches = [0.0] * len(angles)
    targets = []
    for yaw_deg, pitch_deg in zip(angles, pitches):
        tc = orbit_camera(cam, pivot, yaw_deg, pitch_deg)
        img = _render(t, sh, tc)
        mask = _render(t, aux_sh, tc)[..., 2]
        targets.append((tc, img.astype(np.float32), mask.astype(np.float32)))
    return Sample(image.astype(np.float32), depth.astype(np.float32), coverage.astype(np.float32), cam,
                  targets, list(angles), cloud)
