"""Property tests of the command/undo machinery on random edit sequences.

Every step pushes a random command (valid or not), or undoes, or redoes. The
test keeps the document digest expected at each position of the history; at
the end, stepping back through every undo and forward through every redo
must reproduce each recorded state byte for byte, undo-all must give the
starting document and redo-all the final one. A command that raises must
leave the document untouched and the history unchanged.
"""
import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from editor_docgen import EXPECTED_ERRORS, make_document, random_command, run_sequence
from editor.history import History

steps = st.lists(
    st.tuples(st.integers(0, 50), st.integers(0, 2), st.integers(0, 2**32 - 1)),
    min_size=1,
    max_size=30,
)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(steps)
def test_undo_redo_reproduce_every_state(seq):
    doc, history, states = run_sequence(seq)
    end = doc.digest()
    assert end == states[history.index]
    top = history.index
    while history.can_undo:
        history.undo()
        assert doc.digest() == states[history.index]
    assert doc.digest() == states[0] == make_document().digest()
    while history.can_redo:
        history.redo()
        assert doc.digest() == states[history.index]
    # redo-all goes to the end of the stack, which is at or beyond where we stopped
    if history.index == top:
        assert doc.digest() == end
    history.undo_all()
    assert doc.digest() == make_document().digest()
    history.redo_all()
    assert doc.digest() == states[-1]


def test_sequences_exercise_merging_and_failures():
    """The generator is meaningful: merges and refused commands do occur."""
    rng = np.random.default_rng(5)
    merged = refused = 0
    for _ in range(30):
        doc = make_document()
        history = History(doc)
        for _ in range(30):
            if rng.random() < 0.5 or not merged + refused:
                kind, merge = int(rng.integers(0, 37)), int(rng.integers(0, 3))
            n = len(history)
            try:
                history.push(random_command(doc, rng, kind, merge))
            except EXPECTED_ERRORS:
                refused += 1
                continue
            merged += len(history) == n
    assert merged > 10 and refused > 10
