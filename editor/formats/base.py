"""What every splat codec shares: the error type, the codec record, atomic writes
and the guards that keep hostile files from costing unbounded memory."""
from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional

import numpy as np

from editor.model.splat_cloud import SplatCloud

#: Largest splat count any reader accepts. Real scenes top out around 10-20M;
#: the guard exists so a lying header cannot make us allocate terabytes.
MAX_SPLATS = 100_000_000

#: Progress callback: called with a fraction in [0, 1]. It may raise
#: `Cancelled` to stop a long read or write.
Progress = Optional[Callable[[float], None]]


class FormatError(Exception):
    """A file cannot be read or written. ``str(err)`` is one line: what is wrong.

    ``path`` names the file; the CLI prints ``splatforge: error: PATH: message``
    and the app shows the same text in a dialog.
    """

    def __init__(self, path: os.PathLike | str | None, message: str):
        self.path = None if path is None else str(path)
        self.message = " ".join(str(message).split())  # always one line
        super().__init__(self.message)

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message


class Cancelled(Exception):
    """Raised from a progress callback to stop a long job."""


@dataclass
class LoadedSplats:
    """What a reader returns: the cloud plus what it learned about the file."""

    cloud: SplatCloud
    format: str  # codec name, e.g. "ply", "spz"
    version: str = ""  # format version, e.g. "3" for SPZ v3, "binary_little_endian 1.0"
    details: dict = field(default_factory=dict)  # anything else worth showing in `info`


@dataclass(frozen=True)
class Codec:
    """One file format.

    sniff(head, path) -> bool  looks at the first 4 KiB (``head``) and the path;
    read(path, progress) -> LoadedSplats;
    write(cloud, path, progress, **options) writes to ``path`` (already a temp
    file chosen by `write_atomic`; the codec just writes there).
    ``extensions`` are lower-case with the dot; the longest match wins, so
    ``.compressed.ply`` beats ``.ply``.
    """

    name: str
    description: str
    extensions: tuple[str, ...]
    sniff: Callable[[bytes, Path], bool]
    read: Callable[..., LoadedSplats] | None = None
    write: Callable[..., None] | None = None
    lossy: str = ""  # one line on what writing this format loses; "" = lossless


def check_count(path, count: int, available_bytes: int, min_bytes_per_splat: float) -> int:
    """Refuse counts that the file cannot back: ``count * min_bytes_per_splat``
    must fit in ``available_bytes`` (the (decompressed) payload), and count must
    be within `MAX_SPLATS`. Returns ``count`` as int."""
    if count < 0:
        raise FormatError(path, f"negative splat count {count}")
    if count > MAX_SPLATS:
        raise FormatError(path, f"header claims {count} splats, more than the {MAX_SPLATS} this program accepts")
    if count * min_bytes_per_splat > available_bytes:
        raise FormatError(
            path,
            f"header claims {count} splats but the data holds only {available_bytes} bytes "
            f"(need at least {int(count * min_bytes_per_splat)}); the file is truncated or corrupt",
        )
    return int(count)


def check_finite(path, cloud: SplatCloud) -> SplatCloud:
    """Drop nothing, but refuse a cloud whose core arrays hold NaN or inf in
    positions (where they make bounds and sorting meaningless). Non-finite
    scales/opacities/SH are clamped to finite values with a documented rule:
    NaN -> 0, +-inf -> +-1e4 (log-scale/logit space), so one bad splat never
    poisons a render."""
    if len(cloud) and not np.isfinite(cloud.positions).all():
        bad = int((~np.isfinite(cloud.positions).all(axis=1)).sum())
        raise FormatError(path, f"{bad} splat(s) have non-finite (NaN or infinite) positions")
    for name in ("log_scales", "opacity_logits", "sh", "rotations"):
        arr = getattr(cloud, name)
        if arr.size and not np.isfinite(arr).all():
            np.nan_to_num(arr, copy=False, nan=0.0, posinf=1e4, neginf=-1e4)
    return cloud


def write_atomic(path: os.PathLike | str, writer: Callable[[Path], None]) -> None:
    """Call ``writer(tmp_path)`` with a temp file in the destination's folder,
    then rename it over ``path``. On any exception the temp file is removed and
    ``path`` is untouched (no partial output is ever left behind)."""
    path = Path(path)
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise FormatError(path, f"folder {folder} does not exist")
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)
    except OSError as e:
        raise FormatError(path, f"cannot write here: {e.strerror or e}") from None
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        # mkstemp creates 0600 files; give the result the usual umask-based mode.
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp_path, 0o666 & ~umask)
        writer(tmp_path)
        os.replace(tmp_path, path)
    except BaseException:
        try:
            tmp_path.unlink()
        except FileNotFoundError:
            pass
        raise


def report(progress: Progress, fraction: float) -> None:
    if progress is not None:
        progress(min(1.0, max(0.0, float(fraction))))
