"""The Qt binding itself: PySide6 6.12.0 drops a reference to ``True`` every
time a slot returns True (e.g. ``triggered.connect(self.save_project)``), so
the interpreter aborts ("bool_dealloc") after a few hundred such calls.
pyproject.toml excludes that release; this test catches any release with the
same bug."""
from __future__ import annotations

import sys

from PySide6.QtCore import QObject, Signal


class _Emitter(QObject):
    bare = Signal()
    number = Signal(float)


class _Receiver(QObject):
    def method(self, value: float) -> bool:
        return True


def test_slots_returning_true_keep_the_reference_count_of_true(qapp):
    emitter, receiver = _Emitter(), _Receiver()
    emitter.bare.connect(lambda: True)
    emitter.number.connect(receiver.method)
    before = sys.getrefcount(True)
    for _ in range(20):
        emitter.bare.emit()
        emitter.number.emit(1.0)
    assert sys.getrefcount(True) >= before - 2  # a few refs may come and go; the bug loses 40
