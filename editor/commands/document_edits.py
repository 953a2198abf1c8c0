"""Commands on camera bookmarks and document metadata."""
from __future__ import annotations

import json
from typing import Any

from editor.commands.base import Command
from editor.model.camera import Camera
from editor.model.document import Document, DocumentError


class SetCamera(Command):
    """Add, replace (``camera``) or remove (``None``) the bookmark ``name``."""

    text = "Set camera"

    def __init__(self, name: str, camera: Camera | None):
        super().__init__()
        if not isinstance(name, str) or not name:
            raise DocumentError("a camera bookmark needs a name")
        if camera is not None and not isinstance(camera, Camera):
            raise DocumentError("SetCamera needs a Camera or None")
        self.name, self.camera = name, camera
        self._old: Camera | None = None
        self._index: int | None = None

    def do(self, doc: Document) -> None:
        self._old = doc.cameras.get(self.name)
        self._index = list(doc.cameras).index(self.name) if self.name in doc.cameras else None
        doc.set_camera(self.name, self.camera)

    def undo(self, doc: Document) -> None:
        doc.set_camera(self.name, None)
        if self._old is not None:
            doc.set_camera(self.name, self._old, self._index)


class SetMetadata(Command):
    """Set (or with ``None`` remove) one metadata key; the value must be JSON."""

    text = "Set metadata"

    def __init__(self, key: str, value: Any):
        super().__init__()
        if not isinstance(key, str) or not key:
            raise DocumentError("a metadata key must be a non-empty string")
        try:
            self.value = None if value is None else json.loads(json.dumps(value, allow_nan=False))
        except (TypeError, ValueError):
            raise DocumentError(f"metadata {key!r} must be JSON (numbers, strings, lists, objects)") from None
        self.key = key
        self._old: Any = None
        self._index: int | None = None

    def do(self, doc: Document) -> None:
        self._old = doc.metadata.get(self.key)
        self._index = list(doc.metadata).index(self.key) if self.key in doc.metadata else None
        doc.set_metadata(self.key, self.value)

    def undo(self, doc: Document) -> None:
        doc.set_metadata(self.key, None)
        if self._old is not None:
            doc.set_metadata(self.key, self._old, self._index)
