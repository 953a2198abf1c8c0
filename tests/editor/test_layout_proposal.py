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
    # One photo's proposal stays coarse: at most 4 walls and 6 boxes.
    assert kinds.count(Wall) <= 4 and sum(p.TYPE == "box" for p in layout) <= 6
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


def test_the_proposal_records_itself_and_edits_are_told_apart(tmp_path):
    from editor.geometry.layout_proposal import PROPOSED_KEY, edited_solid_ids

    cloud, _ = make_room(seed=3, density=120.0)
    layout, note = propose_layout(cloud)
    assert note is None and set(layout.metadata[PROPOSED_KEY]) == set(layout.primitives)
    assert edited_solid_ids(layout) == set()
    # The record survives LAYOUT.json.
    path = tmp_path / "layout.json"
    layout.save(path)
    again = Layout.load(path)
    assert edited_solid_ids(again) == set()
    # Moving one primitive and adding one make exactly those two "edited".
    first = next(p for p in layout.solids() if isinstance(p, Wall))
    moved = first.replace(position=tuple(np.asarray(first.position) + [0.0, 0.0, -0.5]))
    added = Plane(layout.new_id(), "Ramp", position=(0.0, 1.0, 2.0))
    edited = layout.with_primitive(moved).with_primitive(added)
    assert edited_solid_ids(edited) == {first.id, added.id}
    # A layout nobody proposed counts as edited throughout.
    plain = Layout(layout.primitives, layout.up, {})
    assert edited_solid_ids(plain) == {p.id for p in layout.solids()}
