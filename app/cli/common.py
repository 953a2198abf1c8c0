"""What every CLI command shares: the one-line error, progress bars, loading."""
from __future__ import annotations

import os
import sys
import time
from pathlib import Path

from editor.formats import FormatError, LoadedSplats, read_splats


class CliError(Exception):
    """Ends the command with exit status 2 and one stderr line:
    ``splatforge: error: PATH: message`` (or without PATH when it is None)."""

    def __init__(self, path: os.PathLike | str | None, message: str):
        self.path = None if path is None else str(path)
        self.message = " ".join(str(message).split())
        super().__init__(self.message)

    def line(self) -> str:
        return f"splatforge: error: {self.path}: {self.message}" if self.path else f"splatforge: error: {self.message}"


class ProgressBar:
    """A text progress bar on stderr that appears only for jobs over half a
    second (so quick commands print nothing) and only on a terminal or when
    SPLATFORGE_PROGRESS=1. Call it with a fraction in [0, 1]."""

    def __init__(self, label: str, stream=None):
        self.label = label
        self.stream = stream or sys.stderr
        self.start = time.monotonic()
        self.shown = False
        self.last = -1.0
        env = os.environ.get("SPLATFORGE_PROGRESS")
        self.enabled = env == "1" or (env != "0" and getattr(self.stream, "isatty", lambda: False)())

    def __call__(self, fraction: float) -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        if now - self.start < 0.5 and fraction < 1.0:
            return
        if fraction - self.last < 0.01 and fraction < 1.0:
            return
        self.last = fraction
        width = 30
        filled = int(round(width * fraction))
        self.stream.write(f"\r{self.label} [{'#' * filled}{'.' * (width - filled)}] {100 * fraction:5.1f}%")
        self.shown = True
        if fraction >= 1.0:
            self.stream.write("\n")
            self.shown = False
        self.stream.flush()

    def close(self) -> None:
        if self.shown:
            self.stream.write("\n")
            self.stream.flush()
            self.shown = False


def load_scene(path: os.PathLike | str, **options) -> LoadedSplats:
    """Read a splat file with a progress bar; FormatError becomes CliError.
    ``options`` are reader options (see `editor.formats.read_splats`)."""
    bar = ProgressBar(f"reading {Path(path).name}")
    try:
        return read_splats(path, progress=bar, **options)
    except FormatError as e:
        raise CliError(e.path or path, e.message) from None
    finally:
        bar.close()


def add_read_options(parser) -> None:
    """Reader options shared by every command that opens a splat file."""
    parser.add_argument(
        "--spz-frame",
        type=str.upper,
        choices=("RUB", "RDF"),
        help="axes of SPZ input that does not say: RUB (the SPZ spec, default) or RDF "
        "(files written by splat-transform 3.x, which stores PLY axes unchanged)",
    )
