"""`editor.geometry.layout_proposal.propose_layout`: the layout proposal for
predicted splats (camera frame, up -y) never fails; it finds a room's floor
and walls, and without a floor returns an empty layout with the reason."""
import numpy as np

from editor_scenes import make_room
from editor.geometry.layout_proposal import PREDICTED_UP, propose_layout
from editor.model.layout import Layout, Plane, Wall
from editor.model.splat_cloud import SplatCloud


def test_a_room_gets_a_floor_and_walls_with_up_minus_y():
    cloud, truth = make_room(seed=3, density=120.0)
    layout, note = propose_layout(cloud)
    assert note is None
    kinds = [type(p) for p in layout]
    assert Plane in kinds and kinds.count(Wall) >= 3
    # The fitted up is the room's up (which is within 8 degrees of -y).
    assert np.dot(np.asarray(layout.up, float), truth["up"]) > np.cos(np.radians(0.5))


def test_no_floor_gives_an_empty_layout_with_the_reason():
    rng = np.random.default_rng(0)
    n = 2000
    # A sphere of splats: nothing plane-like, no floor.
    d = rng.normal(size=(n, 3))
    pos = d / np.linalg.norm(d, axis=1, keepdims=True) + [0.0, 0.0, 3.0]
    cloud = SplatCloud.from_activated(pos, np.full((n, 3), 0.02), np.tile([1.0, 0, 0, 0], (n, 1)),
                                      np.full(n, 0.9), colors=np.full((n, 3), 0.5))
    layout, note = propose_layout(cloud, source="a test")
    assert isinstance(layout, Layout) and len(layout) == 0
    assert isinstance(note, str) and note and "\n" not in note
    assert tuple(layout.up) == PREDICTED_UP
    assert layout.metadata["fit"] == {"error": note, "source": "a test"}
    # The default source is the predict command's, as it was before the move.
    assert propose_layout(cloud)[0].metadata["fit"]["source"] == "splatforge predict"
