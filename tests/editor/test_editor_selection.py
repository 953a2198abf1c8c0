"""Selection functions: screen shapes through a Camera, volumes, attribute
ranges, grow/shrink (checked against brute force)."""
import numpy as np
import pytest

from editor_docgen import small_cloud
from editor import selection as sel
from editor.model.camera import Camera
from editor.model.splat_cloud import SplatCloud

# Camera at the origin looking along +z with -y up: camera space == world space.
CAM = Camera((0, 0, 0), (0, 0, 1), (0, -1, 0), fov_y_deg=60, width=200, height=100)


def at_pixels(uv, depth):
    uv = np.asarray(uv, float)
    z = np.broadcast_to(np.asarray(depth, float), (len(uv),))
    x = (uv[:, 0] - CAM.cx) * z / CAM.fx
    y = (uv[:, 1] - CAM.cy) * z / CAM.fy
    return np.stack([x, y, z], 1)


def test_camera_frame_assumption():
    uv, z = CAM.project(at_pixels([[10, 20], [150.5, 99]], [2, 7]))
    assert np.allclose(uv, [[10, 20], [150.5, 99]]) and np.allclose(z, [2, 7])


def test_rectangle_picks_projected_centres_in_front_only():
    rng = np.random.default_rng(0)
    uv = rng.uniform(-20, 220, (500, 2))
    depth = rng.uniform(0.5, 10, 500)
    pts = at_pixels(uv, depth)
    behind = pts.copy()
    behind[:, 2] *= -1  # mirror behind the camera: same pixel maths, must never be picked
    mask = sel.in_screen_rect(np.concatenate([pts, behind]), CAM, (120, 80, 30, 10))  # corners in any order
    want = (uv[:, 0] >= 30) & (uv[:, 0] <= 120) & (uv[:, 1] >= 10) & (uv[:, 1] <= 80)
    assert np.array_equal(mask[:500], want) and not mask[500:].any()
    limited = sel.in_screen_rect(pts, CAM, (30, 10, 120, 80), max_depth=5.0)
    assert np.array_equal(limited, want & (depth <= 5))


def test_lasso_concave_polygon():
    # An L-shape: union of [20,60]x[20,80] and [20,140]x[60,80].
    poly = np.array([[20, 20], [60, 20], [60, 60], [140, 60], [140, 80], [20, 80]], float)
    rng = np.random.default_rng(1)
    uv = rng.uniform(0, 200, (3000, 2))
    mask = sel.in_screen_polygon(at_pixels(uv, 3.0), CAM, poly)
    x, y = uv[:, 0], uv[:, 1]
    want = ((x > 20) & (x < 60) & (y > 20) & (y < 80)) | ((x > 20) & (x < 140) & (y > 60) & (y < 80))
    assert np.array_equal(mask, want)
    assert np.array_equal(sel.points_in_polygon(uv, poly[::-1]), want)  # winding does not matter
    with pytest.raises(ValueError):
        sel.points_in_polygon(uv, poly[:2])


def test_brush_dab_and_stroke():
    rng = np.random.default_rng(2)
    uv = rng.uniform(0, 200, (2000, 2))
    pts = at_pixels(uv, 2.0)
    dab = sel.in_screen_circle(pts, CAM, (100, 50), 15)
    assert np.array_equal(dab, np.hypot(uv[:, 0] - 100, uv[:, 1] - 50) <= 15)
    stroke = sel.brush_stroke(pts, CAM, np.array([[20, 50], [180, 50]]), 10)
    x, y = uv[:, 0], uv[:, 1]
    capsule = ((x >= 20) & (x <= 180) & (np.abs(y - 50) <= 10)) | (np.hypot(x - 20, y - 50) <= 10) | (np.hypot(x - 180, y - 50) <= 10)
    assert np.array_equal(stroke, capsule)
    assert np.array_equal(sel.brush_stroke(pts, CAM, np.array([[100, 50]]), 15), dab)


def test_sphere_and_oriented_box():
    rng = np.random.default_rng(3)
    p = rng.uniform(-3, 3, (4000, 3))
    assert np.array_equal(sel.in_sphere(p, (1, 0, 0), 1.5), np.linalg.norm(p - (1, 0, 0), axis=1) <= 1.5)
    t = np.radians(30)
    q = (np.cos(t / 2), 0.0, np.sin(t / 2), 0.0)  # 30 degrees about y
    r = np.array([[np.cos(t), 0, np.sin(t)], [0, 1, 0], [-np.sin(t), 0, np.cos(t)]])
    local = (p - (0.5, 0, 0)) @ r
    want = (np.abs(local) <= (2, 0.5, 1)).all(1)
    assert np.array_equal(sel.in_box(p, (0.5, 0, 0), (2, 0.5, 1), q), want)
    assert 0 < want.sum() < len(p)


def test_attribute_ranges():
    n = 6
    cloud = SplatCloud.from_activated(
        np.zeros((n, 3)), np.array([[0.01] * 3, [0.1] * 3, [1.0] * 3] * 2), np.tile([1.0, 0, 0, 0], (n, 1)),
        np.array([0.05, 0.5, 0.95, 0.2, 0.7, 0.99]),
        colors=np.array([[1, 0, 0], [0, 1, 0], [0, 0, 1], [0.5, 0.5, 0.5], [0.9, 0.1, 0.1], [0.2, 0.2, 0.2]]),
    )
    assert list(np.flatnonzero(sel.by_opacity(cloud, 0.4, 0.9))) == [1, 4]
    assert list(np.flatnonzero(sel.by_scale(cloud, 0.5))) == [2, 5]
    assert list(np.flatnonzero(sel.by_colour(cloud, (0.8, 0, 0), (1, 0.2, 0.2)))) == [0, 4]
    assert list(np.flatnonzero(sel.by_colour_distance(cloud, (0.5, 0.5, 0.5), 0.05))) == [3]


def brute_grow(p, mask, r, cand=None):
    cand = np.ones(len(p), bool) if cand is None else cand
    d = np.linalg.norm(p[:, None] - p[None, mask], axis=2)
    return mask | (cand & (d <= r).any(1)) if mask.any() else mask.copy()


@pytest.mark.parametrize("radius", [0.05, 0.3, 1.0, 5.0])
def test_grow_matches_brute_force(radius):
    rng = np.random.default_rng(4)
    p = np.concatenate([rng.normal(size=(600, 3)), rng.normal(size=(50, 3)) * 50])
    mask = rng.random(len(p)) < 0.05
    cand = rng.random(len(p)) < 0.8
    assert np.array_equal(sel.grow(p, mask, radius), brute_grow(p, mask, radius))
    assert np.array_equal(sel.grow(p, mask, radius, candidates=cand), brute_grow(p, mask, radius, cand))
    # small chunks: same answer
    assert np.array_equal(sel.grow(p, mask, radius, chunk=7), brute_grow(p, mask, radius))


def test_grow_edge_cases_and_shrink():
    rng = np.random.default_rng(5)
    p = rng.normal(size=(300, 3))
    none = np.zeros(300, bool)
    assert not sel.grow(p, none, 1.0).any()
    allm = np.ones(300, bool)
    assert sel.grow(p, allm, 1.0).all()
    mask = np.linalg.norm(p, axis=1) < 1.0
    shrunk = sel.shrink(p, mask, 0.2)
    d = np.linalg.norm(p[:, None] - p[None, ~mask], axis=2).min(1)
    assert np.array_equal(shrunk, mask & (d > 0.2))
    # huge spread with a tiny radius still works (cell size adapts)
    q = np.array([[0, 0, 0], [1e-4, 0, 0], [1e7, 0, 0]], float)
    assert list(sel.grow(q, np.array([True, False, False]), 2e-4)) == [True, True, False]


def test_selection_on_real_document_clouds():
    cloud = small_cloud(200, 0, 9)
    cam = Camera((0, 0, -6), (0, 0, 0), (0, -1, 0), 50, 64, 64)
    mask = sel.in_screen_rect(cloud.positions, cam, (0, 0, 64, 64))
    uv, z = cam.project(cloud.positions)
    inside = (uv >= 0).all(1) & (uv <= 64).all(1) & (z > 0)
    assert np.array_equal(mask, inside) and mask.sum() > 100
