"""History: undo/redo, merging per drag, clean state, observers, macros."""
import numpy as np
import pytest

from editor_docgen import make_document
from editor.commands.base import Command
from editor.commands.layers import AddLayer, RenameLayer
from editor.commands.layout_edits import AddPrimitive, TransformPrimitive
from editor.commands.splat_edits import SetSelection
from editor.history import History
from editor.model.document import Change, DocumentError
from editor.model.layout import Box, LayoutError


def test_push_undo_redo_and_texts():
    doc = make_document()
    h = History(doc)
    assert not h.can_undo and not h.can_redo and h.is_clean
    h.push(RenameLayer("L1", "walls"))
    assert doc.layer("L1").name == "walls" and h.undo_text == "Rename layer"
    assert h.undo() and doc.layer("L1").name == "scan"
    assert h.redo_text == "Rename layer"
    assert h.redo() and doc.layer("L1").name == "walls"
    assert not h.redo()


def test_one_undo_step_per_drag():
    doc = make_document()
    h = History(doc)
    start = doc.layout.get("p3").position
    for i in range(10):  # one drag: ten mouse moves
        h.push(TransformPrimitive(["p3"], translation=(0.1, 0, 0), merge_id="drag-1"))
    h.push(TransformPrimitive(["p3"], translation=(0, 0, 1), merge_id="drag-2"))
    assert len(h) == 2
    assert np.allclose(doc.layout.get("p3").position, np.add(start, (1.0, 0, 1)))
    h.undo()
    assert np.allclose(doc.layout.get("p3").position, np.add(start, (1.0, 0, 0)))
    h.undo()
    assert doc.layout.get("p3").position == start


def test_no_merge_without_merge_id_or_after_undo():
    doc = make_document()
    h = History(doc)
    h.push(TransformPrimitive(["p3"], translation=(1, 0, 0)))
    h.push(TransformPrimitive(["p3"], translation=(1, 0, 0)))
    assert len(h) == 2
    h.push(TransformPrimitive(["p3"], translation=(1, 0, 0), merge_id=7))
    h.undo()
    h.push(TransformPrimitive(["p3"], translation=(1, 0, 0), merge_id=7))
    assert len(h) == 3 and h.index == 3


def test_clean_state_tracks_saves_and_merges():
    doc = make_document()
    h = History(doc)
    seen = []
    h.changed.append(lambda hist: seen.append(hist.is_clean))
    h.push(RenameLayer("L1", "a"))
    assert not h.is_clean
    h.set_clean()
    assert h.is_clean
    h.undo()
    assert not h.is_clean
    h.redo()
    assert h.is_clean
    # merging into the saved step changes the saved state: dirty for good
    h.push(TransformPrimitive(["p3"], translation=(1, 0, 0), merge_id=1))
    h.set_clean()
    h.push(TransformPrimitive(["p3"], translation=(1, 0, 0), merge_id=1))
    assert not h.is_clean
    h.undo()
    assert not h.is_clean
    assert seen and seen[-1] is False


def test_clean_state_lost_when_its_branch_is_dropped():
    doc = make_document()
    h = History(doc)
    h.push(RenameLayer("L1", "a"))
    h.push(RenameLayer("L1", "b"))
    h.set_clean()
    h.undo()
    h.push(RenameLayer("L1", "c"))
    assert not h.is_clean
    h.undo()
    assert not h.is_clean


def test_document_observers_get_one_merged_change_per_step():
    doc = make_document()
    h = History(doc)
    changes: list[Change] = []
    doc.changed.append(changes.append)
    h.push(SetSelection({"L1": np.arange(5), "L2": np.arange(3)}))
    assert changes == [Change("flags", ("L1", "L2"))]
    changes.clear()
    h.push(AddPrimitive(Box("", size=(1, 1, 1))))
    assert changes == [Change("layout", ("p6",))]
    changes.clear()
    h.undo()
    assert changes == [Change("layout", ("p6",))]


def test_failed_command_records_nothing():
    doc = make_document()
    h = History(doc)
    before = doc.digest()
    with pytest.raises(DocumentError):
        h.push(RenameLayer("nope", "x"))
    with pytest.raises(LayoutError):
        h.push(TransformPrimitive(["nope"], translation=(1, 0, 0)))
    assert len(h) == 0 and doc.digest() == before and h.is_clean


def test_macro_is_one_step_and_rolls_back_on_error():
    doc = make_document()
    h = History(doc)
    start = doc.digest()
    with h.macro("Add two boxes"):
        h.push(AddPrimitive(Box("", size=(1, 1, 1))))
        h.push(AddPrimitive(Box("", size=(2, 2, 2))))
    assert len(h) == 1 and h.undo_text == "Add two boxes" and len(doc.layout) == 8
    h.undo()
    assert doc.digest() == start
    h.redo()
    assert len(doc.layout) == 8
    end = doc.digest()
    with pytest.raises(LayoutError):
        with h.macro():
            h.push(AddPrimitive(Box("", size=(1, 1, 1))))
            h.push(TransformPrimitive(["missing"]))
    assert doc.digest() == end and len(h) == 1


def test_limit_drops_oldest_steps():
    doc = make_document()
    h = History(doc, limit=3)
    for i in range(5):
        h.push(RenameLayer("L1", f"n{i}"))
    assert len(h) == 3
    h.undo_all()
    assert doc.layer("L1").name == "n1"


def test_added_ids_are_readable_and_stable_across_redo():
    doc = make_document()
    h = History(doc)
    cmd = h.push(AddLayer(doc.layers[0].cloud.copy(), "copy"))
    assert cmd.layer_id == "L3"
    h.undo()
    h.redo()
    assert doc.layers[-1].id == "L3"


class _Broken(Command):
    def do(self, doc):
        raise DocumentError("refused")

    def undo(self, doc):
        raise AssertionError("never")


def test_command_contract_is_abstract():
    with pytest.raises(TypeError):
        Command()  # type: ignore[abstract]
    doc = make_document()
    with pytest.raises(DocumentError):
        History(doc).push(_Broken())


def test_rollback_forgets_the_cancelled_steps():
    from editor.commands.document_edits import SetMetadata
    from editor.history import History
    from editor.model.document import Document

    doc = Document()
    h = History(doc)
    h.push(SetMetadata("a", 1))
    h.set_clean()
    start = h.index
    h.push(SetMetadata("b", 2))
    h.push(SetMetadata("c", 3))
    assert h.rollback(start)
    assert h.index == start and not h.can_redo and len(h) == start
    assert doc.metadata.get("b") is None and doc.metadata.get("c") is None and h.is_clean
    assert not h.rollback(start + 1)  # cannot roll forward
