"""Splat file formats. Use `read_splats` / `write_splats`; see `registry`."""
from editor.formats.base import Cancelled, FormatError, LoadedSplats
from editor.formats.registry import codecs, read_splats, write_splats

__all__ = ["Cancelled", "FormatError", "LoadedSplats", "codecs", "read_splats", "write_splats"]
