"""Pick a codec for a file (magic bytes first, extension second) and run it.

`read_splats` and `write_splats` are the only entry points the rest of the
program uses; they turn every failure into a one-line `FormatError` and make
every write atomic.
"""
from __future__ import annotations

import importlib
import inspect
import os
from pathlib import Path

from editor.formats.base import Cancelled, Codec, FormatError, LoadedSplats, Progress, check_finite, write_atomic
from editor.model.splat_cloud import SplatCloud

# Order matters for sniffing: more specific formats first (a compressed PLY is
# also a PLY). Each module defines ``CODEC``.
_CODEC_MODULES = (
    "editor.formats.sog",
    "editor.formats.compressed_ply",
    "editor.formats.ply",
    "editor.formats.spz",
    "editor.formats.gltf",
    "editor.formats.ksplat",
    "editor.formats.splat",
)

_codecs: list[Codec] | None = None


def codecs() -> list[Codec]:
    """Every registered codec, in sniffing order."""
    global _codecs
    if _codecs is None:
        found = []
        for name in _CODEC_MODULES:
            try:
                module = importlib.import_module(name)
            except ModuleNotFoundError as e:  # a codec still being written
                if e.name != name:
                    raise
                continue
            found.append(module.CODEC)
        _codecs = found
    return _codecs


def codec_named(name: str) -> Codec:
    for c in codecs():
        if c.name == name:
            return c
    raise KeyError(name)


def _by_extension(path: Path) -> Codec | None:
    lower = path.name.lower()
    best, best_len = None, 0
    for c in codecs():
        for ext in c.extensions:
            if lower.endswith(ext) and len(ext) > best_len:
                best, best_len = c, len(ext)
    return best


def readable_extensions() -> list[str]:
    return sorted({e for c in codecs() if c.read for e in c.extensions})


def writable_extensions() -> list[str]:
    return sorted({e for c in codecs() if c.write for e in c.extensions})


def detect_codec(path: os.PathLike | str) -> Codec:
    """The codec for an existing file: by its first bytes, else by extension."""
    path = Path(path)
    if path.is_dir():
        raise FormatError(path, "is a folder, not a splat file (for an unbundled SOG, open its meta.json)")
    try:
        with open(path, "rb") as f:
            head = f.read(4096)
    except FileNotFoundError:
        raise FormatError(path, "no such file") from None
    except OSError as e:
        raise FormatError(path, f"cannot open: {e.strerror or e}") from None
    if not head:
        raise FormatError(path, "file is empty")
    for c in codecs():
        if c.read is not None and c.sniff(head, path):
            return c
    c = _by_extension(path)
    if c is not None and c.read is not None:
        return c
    raise FormatError(path, "not a splat file this program can read (unknown format)")


def read_splats(path: os.PathLike | str, progress: Progress = None, **options) -> LoadedSplats:
    """Read any supported splat file. Raises `FormatError` (one line) on any
    problem with the file, `Cancelled` if ``progress`` asked to stop.

    ``options`` are reader options; each codec takes the ones it knows and
    ignores the rest (today: ``spz_frame`` for SPZ, see `editor.formats.spz`).
    """
    path = Path(path)
    codec = detect_codec(path)
    params = inspect.signature(codec.read).parameters
    options = {k: v for k, v in options.items() if k in params and v is not None}
    try:
        loaded = codec.read(path, progress, **options)
    except (FormatError, Cancelled):
        raise
    except MemoryError:
        raise FormatError(path, "not enough memory to load this file") from None
    except OSError as e:
        raise FormatError(path, f"cannot read: {e.strerror or e}") from None
    except Exception as e:  # noqa: BLE001 - last line of defence for hostile files
        detail = str(e).strip() or type(e).__name__
        raise FormatError(path, f"corrupt {codec.name} file ({detail})") from None
    check_finite(path, loaded.cloud)
    return loaded


def codec_for_output(path: os.PathLike | str, format: str | None = None) -> Codec:
    path = Path(path)
    if format:
        try:
            c = codec_named(format)
        except KeyError:
            raise FormatError(path, f"unknown format {format!r}") from None
    else:
        c = _by_extension(path)
        if c is None:
            exts = ", ".join(writable_extensions())
            raise FormatError(path, f"cannot tell the output format from the extension (writable: {exts})")
    if c.write is None:
        raise FormatError(path, f"{c.name} files can be read but not written")
    return c


def write_splats(
    cloud: SplatCloud,
    path: os.PathLike | str,
    format: str | None = None,
    progress: Progress = None,
    **options,
) -> Codec:
    """Write ``cloud`` to ``path`` atomically in the format its extension (or
    ``format``) names. Returns the codec used."""
    path = Path(path)
    codec = codec_for_output(path, format)
    try:
        write_atomic(path, lambda tmp: codec.write(cloud, tmp, progress, **options))
    except (FormatError, Cancelled):
        raise
    except OSError as e:
        raise FormatError(path, f"cannot write: {e.strerror or e}") from None
    except (ValueError, OverflowError) as e:
        raise FormatError(path, f"cannot write {codec.name}: {e}") from None
    except TypeError as e:  # an option this codec does not take
        raise FormatError(path, f"bad option for {codec.name} output: {e}") from None
    return codec
