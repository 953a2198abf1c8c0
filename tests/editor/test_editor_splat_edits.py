"""Splat edit commands: what each one does, and that undo restores it exactly."""
import numpy as np
import pytest

from editor_docgen import make_document, small_cloud
from editor.commands.layers import AddLayer, MoveLayer, RemoveLayer, ReplaceLayer, SetLayerVisible
from editor.commands.splat_edits import (
    CropToBox,
    DeleteSelection,
    FlagDelta,
    HideSelection,
    LockSelection,
    PurgeDeleted,
    Recolour,
    SeparateToLayer,
    SetSelection,
    TransformSelection,
    UnhideAll,
    UnlockAll,
)
from editor.history import History
from editor.model.document import DELETED, HIDDEN, LOCKED, SELECTED, DocumentError
from editor.model.sh import eval_sh
from editor.model.splat_cloud import quaternion_to_matrix


def setup():
    doc = make_document()
    return doc, History(doc)


def mask(n, idx):
    m = np.zeros(n, bool)
    m[list(idx)] = True
    return m


def test_selection_modes():
    doc, h = setup()
    h.push(SetSelection({"L1": mask(40, range(0, 10))}))
    h.push(SetSelection({"L1": mask(40, range(5, 15))}, "add"))
    assert list(np.flatnonzero(doc.layer("L1").selected)) == list(range(15))
    h.push(SetSelection({"L1": mask(40, range(0, 3))}, "subtract"))
    assert list(np.flatnonzero(doc.layer("L1").selected)) == list(range(3, 15))
    h.push(SetSelection({"L1": np.arange(10, 40)}, "intersect"))  # index arrays work too
    assert list(np.flatnonzero(doc.layer("L1").selected)) == list(range(10, 15))
    h.push(SetSelection({"L2": np.ones(25, bool)}))  # replace: L1 cleared
    assert not doc.layer("L1").selected.any()
    # L2 has locked splats at every 7th index: never selected
    assert list(np.flatnonzero(~doc.layer("L2").selected)) == [0, 7, 14, 21]
    h.push(SetSelection.inverted(doc))
    assert doc.layer("L1").selected.all() and not doc.layer("L2").selected.any()
    h.push(SetSelection.none())
    assert not doc.has_selection()
    with pytest.raises(DocumentError):
        SetSelection({}, "xor")
    with pytest.raises(DocumentError):
        h.push(SetSelection({"L1": np.ones(3, bool)}))
    with pytest.raises(DocumentError):
        h.push(SetSelection({"L1": np.array([40])}))


def test_delete_hide_lock_and_undo():
    doc, h = setup()
    start = doc.digest()
    h.push(SetSelection({"L1": mask(40, [1, 2, 3])}))
    h.push(DeleteSelection())
    l1 = doc.layer("L1")
    assert (l1.flags[[1, 2, 3]] == DELETED).all() and not l1.selected.any()
    assert len(l1.live_cloud()) == 37 and len(doc.merged_cloud()) == 37 + 25
    h.push(SetSelection({"L1": mask(40, [1, 4, 5])}))  # 1 is deleted: not selectable
    assert list(np.flatnonzero(l1.selected)) == [4, 5]
    h.push(HideSelection())
    assert (l1.flags[[4, 5]] == HIDDEN).all()
    assert len(l1.live_cloud(include_hidden=False)) == 35
    h.push(SetSelection({"L1": mask(40, [6])}))
    h.push(LockSelection())
    assert l1.flags[6] == LOCKED
    h.push(UnhideAll())
    h.push(UnlockAll())
    assert l1.flags[4] == 0 and l1.flags[6] == 0 and (l1.flags[[1, 2, 3]] == DELETED).all()
    h.undo_all()
    assert doc.digest() == start


def test_separate_to_layer():
    doc, h = setup()
    h.push(SetSelection({"L1": mask(40, [0, 5]), "L2": mask(25, [1, 2])}))
    expected = [doc.layer("L1").cloud.subset(np.array([0, 5])), doc.layer("L2").cloud.subset(np.array([1, 2]))]
    cmd = h.push(SeparateToLayer("piece"))
    new = doc.layer(cmd.layer_id)
    assert [l.id for l in doc.layers] == ["L1", "L2", "L3"] and new.name == "piece"
    assert len(new) == 4 and new.selected.all()
    assert new.cloud.subset(np.arange(2)).equals(expected[0].with_sh_degree(1))
    assert np.array_equal(new.cloud.positions[2:], expected[1].positions)
    assert doc.layer("L1").flags[0] == DELETED and doc.layer("L2").flags[2] == DELETED
    assert len(doc.merged_cloud()) == 65  # nothing lost, nothing doubled
    h.undo()
    assert len(doc.layers) == 2 and doc.layer("L1").flags[0] == SELECTED
    h.push(SetSelection.none())
    with pytest.raises(DocumentError):
        h.push(SeparateToLayer())


def test_crop_to_box_spares_locked_splats():
    doc, h = setup()
    h.push(CropToBox((0, 0, 0), (1, 1, 1)))
    for layer in doc.layers:
        p = layer.cloud.positions
        inside = (np.abs(p) <= 1).all(1)
        locked = (layer.flags & LOCKED) != 0
        assert np.array_equal(layer.alive, inside | locked)


def test_transform_selection_is_a_similarity_about_the_pivot():
    doc, h = setup()
    l1 = doc.layer("L1")
    before = l1.cloud.copy()
    idx = np.array([2, 3, 9])
    h.push(SetSelection({"L1": idx}))
    t = np.radians(40)
    q = (np.cos(t / 2), 0.0, 0.0, np.sin(t / 2))
    r = quaternion_to_matrix(np.array(q))
    h.push(TransformSelection((1, 2, 3), q, 2.0, pivot=(0.5, 0, 0)))
    want = (0.5, 0, 0) + 2.0 * (before.positions[idx] - (0.5, 0, 0)) @ r.T + (1, 2, 3)
    assert np.allclose(l1.cloud.positions[idx], want, atol=1e-5)
    assert np.allclose(l1.cloud.log_scales[idx], before.log_scales[idx] + np.log(2), atol=1e-6)
    others = np.setdiff1d(np.arange(40), idx)
    assert np.array_equal(l1.cloud.positions[others], before.positions[others])
    # view-dependent colour turns with the splat: colour seen along R d equals the old along d
    d = np.tile([[0.0, 0.6, 0.8]], (3, 1))
    assert np.allclose(eval_sh(l1.cloud.sh[idx], d @ r.T), eval_sh(before.sh[idx], d), atol=1e-4)
    h.undo()
    assert l1.cloud.equals(before)


def test_transform_drag_merges_into_one_step():
    doc, h = setup()
    h.push(SetSelection({"L2": np.arange(5)}))
    l2 = doc.layer("L2")
    start = l2.cloud.positions.copy()
    for _ in range(5):
        h.push(TransformSelection((0.1, 0, 0), merge_id="drag"))
    assert len(h) == 2
    sel = l2.selected
    assert np.allclose(l2.cloud.positions[sel], start[sel] + (0.5, 0, 0), atol=1e-5)
    h.undo()
    assert np.array_equal(l2.cloud.positions, start)
    h.redo()
    assert np.allclose(l2.cloud.positions[sel], start[sel] + (0.5, 0, 0), atol=1e-5)


def test_recolour_brightness_saturation_tint_exact_on_view_dependent_colour():
    doc, h = setup()
    l1 = doc.layer("L1")
    before = l1.cloud.copy()
    h.push(SetSelection({"L1": np.arange(40)}))
    cmd = Recolour(tint=(1.0, 0.8, 0.5), brightness=1.3, saturation=0.4)
    h.push(cmd)
    m = cmd.matrix()
    dirs = np.random.default_rng(0).normal(size=(40, 3))
    dirs /= np.linalg.norm(dirs, axis=1, keepdims=True)
    old = 0.5 + eval_sh(before.sh, dirs)
    new = 0.5 + eval_sh(l1.cloud.sh, dirs)
    assert np.allclose(new, old @ m.T, atol=1e-4)
    h.push(Recolour(saturation=0.0))
    base = l1.cloud.base_colors
    assert np.allclose(base[:, 0], base[:, 1], atol=1e-5) and np.allclose(base[:, 1], base[:, 2], atol=1e-5)
    h.undo_all()
    assert l1.cloud.equals(before)


def test_purge_deleted_and_layer_commands():
    doc, h = setup()
    start = doc.digest()
    h.push(SetSelection({"L1": np.arange(10)}))
    h.push(DeleteSelection())
    h.push(PurgeDeleted())
    assert len(doc.layer("L1")) == 30 and doc.layer("L1").alive.all()
    h.push(AddLayer(small_cloud(5, 0, 3), "extra", index=0))
    assert [l.id for l in doc.layers] == ["L3", "L1", "L2"]
    h.push(MoveLayer("L3", 2))
    assert [l.id for l in doc.layers] == ["L1", "L2", "L3"]
    h.push(SetLayerVisible("L2", False))
    assert len(doc.merged_cloud()) == 35
    flags = doc.layer("L1").flags.copy()
    h.push(ReplaceLayer("L1", small_cloud(30, 2, 4)))
    assert np.array_equal(doc.layer("L1").flags, flags)  # same count: flags kept
    h.push(ReplaceLayer("L1", small_cloud(7, 2, 4), name="regenerated"))
    assert doc.layer("L1").name == "regenerated" and not doc.layer("L1").flags.any()
    h.push(RemoveLayer("L2"))
    h.undo_all()
    assert doc.digest() == start


def test_flag_delta_sparse_and_dense_agree():
    rng = np.random.default_rng(0)
    a = rng.integers(0, 16, 1000).astype(np.uint8)
    for frac in (0.001, 0.5):
        b = a.copy()
        hit = rng.random(1000) < frac
        b[hit] ^= 1
        d = FlagDelta(a, b)
        assert (d.index is not None) == (frac < 0.1)
        x = a.copy()
        d.apply(x)
        assert np.array_equal(x, b)
        d.apply(x)
        assert np.array_equal(x, a)
