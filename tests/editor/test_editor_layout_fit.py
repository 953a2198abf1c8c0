"""The layout proposal recovers a known room (floor, walls, ceiling, a box)
from a generated splat scene, within stated tolerances.

Scene (see editor_scenes.make_room): a 6 x 5 m room, 2.6 m high, surfaces
sampled at 350 splats/m^2 with 1 cm position noise, a door and a window cut
out, a 1.2 x 0.8 x 0.75 m box, 10 % faint floaters (opacity < 0.15) and 0.5 %
opaque floaters, tilted 8 degrees and turned 27 degrees so nothing is axis
aligned. Tolerances (worst errors measured over 23 such rooms with random
tilt, turn and offset: 0.02 deg, 1.2 mm, 0.02 deg, 1 mm, 2 mm, 2 cm, 1 cm, 3.3 cm):

* floor normal within 0.2 degree, floor plane within 5 mm;
* all four walls found, normals within 0.2 degree, inner faces within 5 mm,
  corners within 2 cm (walls run past each corner by their thickness, to
  close it), heights within 4 cm;
* the box: centre within 3 cm, footprint and height within 6 cm.

A noisy case (3 cm noise, 150 splats/m^2) gets looser bounds (NOISY_TOL).
"""
import numpy as np
import pytest

from editor_scenes import make_room
from editor.geometry.layout_fit import FitOptions, LayoutFitError, fit_layout
from editor.model.layout import Box, Plane, Wall
from editor.model.splat_cloud import SplatCloud

TOL = {"floor_deg": 0.2, "floor_offset": 0.005, "wall_deg": 0.2, "wall_offset": 0.005, "wall_corner": 0.02,
       "wall_height": 0.04, "box_centre": 0.03, "box_size": 0.06}
NOISY_TOL = {"floor_deg": 0.3, "floor_offset": 0.01, "wall_deg": 0.3, "wall_offset": 0.01, "wall_corner": 0.03,
             "wall_height": 0.05, "box_centre": 0.05, "box_size": 0.12}


def _deg(a, b):
    return float(np.degrees(np.arccos(np.clip(abs(np.dot(a, b)) / np.linalg.norm(a) / np.linalg.norm(b), -1, 1))))


def measure(layout, truth):
    """Errors of a fitted layout against the ground truth, in degrees and metres."""
    fit = layout.metadata["fit"]
    n, d = np.array(fit["floor_normal"]), fit["floor_offset"]
    err = {"floor_deg": _deg(n, truth["up"]), "floor_offset": abs(n @ truth["floor_point"] + d)}
    walls = [p for p in layout if isinstance(p, Wall)]
    err["walls_found"] = len(walls)
    wall_err = {"wall_deg": 0.0, "wall_offset": 0.0, "wall_corner": 0.0, "wall_height": 0.0}
    for tw in truth["walls"]:
        cand = [w for w in walls if _deg(w.rotation_matrix()[:, 2], tw["normal"]) < 5]
        assert cand, "a wall was not found"
        def inner_offset(w):
            face = np.asarray(w.position) + w.rotation_matrix()[:, 2] * w.thickness / 2
            return abs((face - tw["start"]) @ tw["normal"])
        w = min(cand, key=inner_offset)
        z = w.rotation_matrix()[:, 2]
        assert z @ tw["normal"] > 0, "wall faces away from the room"
        wall_err["wall_deg"] = max(wall_err["wall_deg"], _deg(z, tw["normal"]))
        wall_err["wall_offset"] = max(wall_err["wall_offset"], inner_offset(w))
        t = (tw["end"] - tw["start"]) / np.linalg.norm(tw["end"] - tw["start"])
        want = [tw["start"] - t * w.thickness, tw["end"] + t * w.thickness]
        got = [s + z * w.thickness / 2 for s in (w.start, w.end)]
        corner = min(max(np.linalg.norm(got[0] - want[0]), np.linalg.norm(got[1] - want[1])),
                     max(np.linalg.norm(got[0] - want[1]), np.linalg.norm(got[1] - want[0])))
        wall_err["wall_corner"] = max(wall_err["wall_corner"], corner)
        wall_err["wall_height"] = max(wall_err["wall_height"], abs(w.height - truth["height"]))
    err.update(wall_err)
    boxes = [p for p in layout if isinstance(p, Box)]
    if boxes:
        tb = truth["box"]
        b = min(boxes, key=lambda b: np.linalg.norm(np.asarray(b.position) - tb["centre"]))
        err["box_centre"] = float(np.linalg.norm(np.asarray(b.position) - tb["centre"]))
        footprint = sorted([b.size[0], b.size[2]])
        err["box_size"] = float(max(abs(footprint[0] - 0.8), abs(footprint[1] - 1.2), abs(b.size[1] - 0.75)))
    return err


CASES = [
    dict(seed=0),
    dict(seed=1, ceiling=True),
    dict(seed=2, tilt_deg=15.0, yaw_deg=-50.0, offset=(-3.0, 0.5, 7.0)),
    dict(seed=5, noise=0.03, density=150.0),
]


@pytest.mark.parametrize("case", CASES, ids=["plain", "ceiling", "tilted", "noisy"])
def test_fit_recovers_the_room(case):
    cloud, truth = make_room(**case)
    layout = fit_layout(cloud)
    err = measure(layout, truth)
    for key, tol in (NOISY_TOL if "noise" in case else TOL).items():
        assert err[key] <= tol, f"{key}: {err[key]:.4g} > {tol}"
    assert err["walls_found"] == 4
    planes = [p for p in layout if isinstance(p, Plane)]
    assert [p.role for p in planes] == (["floor", "ceiling"] if case.get("ceiling") else ["floor"])
    floor = planes[0]
    assert np.allclose(floor.rotation_matrix()[:, 1], layout.up)
    # the floor reaches under every wall
    lo, hi = floor.world_bounds()
    for w in (p for p in layout if isinstance(p, Wall)):
        for end in (w.start, w.end):
            local = floor.to_local(end[None])[0]
            assert abs(local[0]) <= floor.size[0] / 2 + 1e-6 and abs(local[2]) <= floor.size[1] / 2 + 1e-6
    if case.get("ceiling"):
        assert planes[1].position == pytest.approx(np.asarray(floor.position) + np.asarray(layout.up) * 2.6, abs=0.05)


def test_fit_is_deterministic_and_scale_free():
    cloud, truth = make_room(seed=3)
    a, b = fit_layout(cloud), fit_layout(cloud)
    assert a == b
    # the same room in centimetres: same layout, scaled
    cm = cloud.transformed(scale=100.0)
    c = fit_layout(cm)
    walls_m = sorted(p.length for p in a if isinstance(p, Wall))
    walls_cm = sorted(p.length for p in c if isinstance(p, Wall))
    assert np.allclose(np.array(walls_cm) / 100, walls_m, atol=0.03)


def test_no_floor_is_a_clear_error():
    rng = np.random.default_rng(0)
    n = 3000
    blob = SplatCloud.from_activated(rng.normal(size=(n, 3)), np.full((n, 3), 0.01), np.tile([1.0, 0, 0, 0], (n, 1)),
                                     np.full(n, 0.9), colors=np.full((n, 3), 0.5))
    with pytest.raises(LayoutFitError, match="no floor"):
        fit_layout(blob)
    with pytest.raises(LayoutFitError, match="too few"):
        fit_layout(blob.subset(np.arange(10)))


def test_options_limit_what_is_fitted():
    cloud, _ = make_room(seed=4)
    layout = fit_layout(cloud, FitOptions(boxes=False, max_walls=2))
    kinds = [p.TYPE for p in layout]
    assert kinds.count("wall") == 2 and "box" not in kinds
