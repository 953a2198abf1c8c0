"""`History`: the Qt-free undo/redo stack of one `Document`.

    history = History(doc)
    history.push(TransformPrimitive(["p1"], translation=(0, 0, 1), merge_id=drag))
    history.undo(); history.redo()
    history.is_clean          # False: the app asks before discarding changes
    history.set_clean()       # after a successful save

`push` runs the command (inside `Document.batch`, so observers hear one merged
`Change` per step) and drops the redo branch. Consecutive commands with the
same non-None ``merge_id`` merge into one undo step (one step per drag). The
clean state is the position in the stack at the last `set_clean`; merging into
the clean command makes the document dirty for good (until the next save).

Observers: ``history.changed.append(callback)``; the callback gets the history
after every push, undo, redo, clean change or clear (to update menus/titles).
"""
from __future__ import annotations

import contextlib
from typing import Callable, Iterator

from editor.commands.base import Command, Compound
from editor.model.document import Document


class History:
    def __init__(self, document: Document, limit: int | None = None):
        """``limit``: keep at most this many undo steps (None: unlimited)."""
        self.document = document
        self.limit = limit
        self._stack: list[Command] = []
        self._index = 0  # number of applied commands in _stack
        self._clean: int | None = 0
        self._revision = 0
        self._macro: list[list[Command]] = []
        self.changed: list[Callable[["History"], None]] = []

    # ---------------------------------------------------------------- state
    @property
    def can_undo(self) -> bool:
        return self._index > 0

    @property
    def can_redo(self) -> bool:
        return self._index < len(self._stack)

    @property
    def undo_text(self) -> str:
        return self._stack[self._index - 1].text if self.can_undo else ""

    @property
    def redo_text(self) -> str:
        return self._stack[self._index].text if self.can_redo else ""

    @property
    def index(self) -> int:
        """Number of commands currently applied."""
        return self._index

    def __len__(self) -> int:
        return len(self._stack)

    @property
    def is_clean(self) -> bool:
        """True when the document equals what was last saved (or loaded)."""
        return self._clean == self._index

    @property
    def revision(self) -> int:
        """Grows on every change to the document (push, merge, undo, redo);
        autosave compares it with the revision it last wrote."""
        return self._revision

    def set_clean(self) -> None:
        self._clean = self._index
        self._notify()

    # ---------------------------------------------------------------- edits
    def push(self, command: Command) -> Command:
        """Run ``command`` and record it. Returns the command (so callers can
        read ids it assigned). If the command raises, nothing is recorded and
        the document is unchanged."""
        if self._macro:
            with self.document.batch():
                command.do(self.document)
            self._macro[-1].append(command)
            self._revision += 1
            return command
        with self.document.batch():
            command.do(self.document)
        self._revision += 1
        top = self._stack[self._index - 1] if self._index > 0 else None
        if (
            top is not None
            and command.merge_id is not None
            and top.merge_id == command.merge_id
            and self._index == len(self._stack)
            and top.merge_with(command)
        ):
            if self._clean == self._index:
                self._clean = None
            self._notify()
            return top
        del self._stack[self._index:]
        if self._clean is not None and self._clean > self._index:
            self._clean = None  # the saved state was in the dropped redo branch
        self._stack.append(command)
        self._index += 1
        if self.limit is not None and len(self._stack) > self.limit:
            drop = len(self._stack) - self.limit
            del self._stack[:drop]
            self._index -= drop
            if self._clean is not None:
                self._clean = self._clean - drop if self._clean >= drop else None
        self._notify()
        return command

    def undo(self) -> bool:
        if not self.can_undo or self._macro:
            return False
        command = self._stack[self._index - 1]
        with self.document.batch():
            command.undo(self.document)
        self._index -= 1
        self._revision += 1
        self._notify()
        return True

    def redo(self) -> bool:
        if not self.can_redo or self._macro:
            return False
        command = self._stack[self._index]
        with self.document.batch():
            command.do(self.document)
        self._index += 1
        self._revision += 1
        self._notify()
        return True

    def rollback(self, index: int) -> bool:
        """Undo back to ``index`` applied commands and forget the undone
        steps, so there is nothing to redo: an interaction cancelled with Esc
        never happened. False (and nothing changes) inside a macro or when
        ``index`` is not between 0 and `index`."""
        if self._macro or not 0 <= index <= self._index:
            return False
        while self._index > index:
            self.undo()
        del self._stack[self._index:]
        if self._clean is not None and self._clean > self._index:
            self._clean = None  # the saved state was in the dropped steps
        self._notify()
        return True

    def undo_all(self) -> None:
        while self.undo():
            pass

    def redo_all(self) -> None:
        while self.redo():
            pass

    def clear(self) -> None:
        """Forget every step (e.g. after loading a new document); clean."""
        self._stack.clear()
        self._index = 0
        self._clean = 0
        self._notify()

    @contextlib.contextmanager
    def macro(self, text: str = "Edit") -> Iterator[None]:
        """Group the commands pushed inside the block into one undo step. If
        the block raises, its commands are undone and nothing is recorded."""
        self._macro.append([])
        try:
            yield
        except BaseException:
            done = self._macro.pop()
            with self.document.batch():
                for c in reversed(done):
                    c.undo(self.document)
            raise
        done = self._macro.pop()
        if not done:
            return
        compound = Compound(done, text)
        if self._macro:
            self._macro[-1].append(compound)
            return
        # Already applied: record without running it again.
        del self._stack[self._index:]
        if self._clean is not None and self._clean > self._index:
            self._clean = None
        self._stack.append(compound)
        self._index += 1
        self._notify()

    def _notify(self) -> None:
        for callback in list(self.changed):
            callback(self)
