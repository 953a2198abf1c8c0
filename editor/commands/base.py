"""The `Command` contract: every change to a `Document` is one of these.

A command is created with its parameters, then `History.push` calls `do`.
`do` may compute what it needs from the document the first time it runs, and
must store enough to make `undo` restore the document **exactly** (byte for
byte) and a later `do` (redo) reproduce the same result exactly. Commands
check their inputs before changing anything: a command that raises leaves the
document untouched.

Merging: when two consecutive commands have the same non-None ``merge_id``
(e.g. one id per mouse drag), `History` asks the older one to absorb the newer
with `merge_with`; a True answer means "one undo step for both".
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Hashable, Sequence

from editor.model.document import Document


class Command(ABC):
    #: Shown in menus as "Undo <text>".
    text: str = ""

    def __init__(self, merge_id: Hashable | None = None):
        self.merge_id = merge_id

    @abstractmethod
    def do(self, doc: Document) -> None:
        """Apply (or re-apply) the change."""

    @abstractmethod
    def undo(self, doc: Document) -> None:
        """Put the document back exactly as it was before `do`."""

    def merge_with(self, other: "Command") -> bool:
        """Absorb ``other`` (already applied) into self; True when merged."""
        return False

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.text!r}>"


class Compound(Command):
    """Several commands as one undo step (run in order, undone in reverse)."""

    def __init__(self, commands: Sequence[Command], text: str = ""):
        super().__init__()
        self.commands = list(commands)
        self.text = text or (self.commands[0].text if len(self.commands) == 1 else "Edit")

    def do(self, doc: Document) -> None:
        done: list[Command] = []
        try:
            for c in self.commands:
                c.do(doc)
                done.append(c)
        except BaseException:
            for c in reversed(done):
                c.undo(doc)
            raise

    def undo(self, doc: Document) -> None:
        for c in reversed(self.commands):
            c.undo(doc)
