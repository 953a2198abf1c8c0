"""SplatForge projects (``.sforge``): save, load, autosave and recovery.

A project is one zip file (see docs/layout_schema.md for the full layout)::

    document.json                      schema "splatforge.project", version 1
    layers/<n>/positions.npy           float32 (N, 3)
    layers/<n>/log_scales.npy          float32 (N, 3)
    layers/<n>/rotations.npy           float32 (N, 4)  wxyz
    layers/<n>/opacity_logits.npy      float32 (N,)
    layers/<n>/sh.npy                  float32 (N, K, 3)
    layers/<n>/flags.npy               uint8   (N,)    selected/hidden/deleted/locked bits
    layers/<n>/extras/<k>.npy          numeric (N,)    extra attributes, names in document.json

Arrays are standard ``.npy`` (written with ``np.lib.format``, read with
``allow_pickle=False``: object arrays are refused) stored uncompressed so they
load at disk speed. Saving is atomic (temp file + rename, fsync'd), so an
interrupted save leaves the previous file intact. Loading treats the file as
hostile: every array's header is checked against the document and the zip
entry size before anything is allocated, and every problem is a one-line
`FormatError`.

Autosave writes the same format to a recovery file in a recovery folder the
app chooses; `find_recovery` lists what can be offered after a crash.
"""
from __future__ import annotations

import hashlib
import json
import os
import time
import warnings
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np

from editor.formats.base import MAX_SPLATS, Cancelled, FormatError, Progress, check_finite, report, write_atomic
from editor.model.camera import Camera, CameraError
from editor.model.document import Document, Layer
from editor.model.layout import Layout, LayoutError, strict_json_loads
from editor.model.splat_cloud import SplatCloud

SCHEMA = "splatforge.project"
VERSION = 1
EXTENSION = ".sforge"
RECOVERY_SUFFIX = ".recovery.sforge"
MAX_DOCUMENT_JSON = 64 * 2**20
#: Deflate cannot expand by more than ~1032x; a larger claimed ratio is a lie.
_MAX_DEFLATE_RATIO = 1100

_CORE = {
    # name: (dtype, trailing shape given K)
    "positions": lambda k: (3,),
    "log_scales": lambda k: (3,),
    "rotations": lambda k: (4,),
    "opacity_logits": lambda k: (),
    "sh": lambda k: (k, 3),
}


# ---------------------------------------------------------------- save
def save_project(
    document: Document,
    path: os.PathLike | str,
    progress: Progress = None,
    extra: dict[str, Any] | None = None,
) -> None:
    """Write ``document`` to ``path`` atomically. ``progress`` gets fractions
    and may raise `Cancelled` (the old file then stays as it was).
    ``extra``: more top-level JSON keys (autosave records its origin there)."""
    path = Path(path)
    manifest: dict[str, Any] = {
        "schema": SCHEMA,
        "version": VERSION,
        "layers": [],
        "layout": document.layout.to_dict(),
        "cameras": [{"name": name, **cam.to_dict()} for name, cam in document.cameras.items()],
        "metadata": document.metadata,
    }
    if extra:
        manifest.update(extra)
    arrays: list[tuple[str, np.ndarray]] = []
    for n, layer in enumerate(document.layers):
        folder = f"layers/{n}"
        cloud = layer.cloud
        entry = {
            "id": layer.id,
            "name": layer.name,
            "visible": layer.visible,
            "count": len(cloud),
            "sh_coeffs": int(cloud.sh.shape[1]),
            "extras": [],
        }
        for name in _CORE:
            arrays.append((f"{folder}/{name}.npy", getattr(cloud, name)))
        arrays.append((f"{folder}/flags.npy", layer.flags))
        for k, (ename, values) in enumerate(cloud.extras.items()):
            member = f"{folder}/extras/{k}.npy"
            entry["extras"].append({"name": ename, "file": member})
            arrays.append((member, np.asarray(values)))
        manifest["layers"].append(entry)
    try:
        text = json.dumps(manifest, indent=1, allow_nan=False).encode("utf-8")
    except (TypeError, ValueError) as e:
        raise FormatError(path, f"document metadata is not JSON: {e}") from None
    total = sum(a.nbytes for _, a in arrays) or 1

    def writer(tmp: Path) -> None:
        done = 0
        with open(tmp, "wb") as fh:
            with zipfile.ZipFile(fh, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as zf:
                zf.writestr(zipfile.ZipInfo("document.json", date_time=(1980, 1, 1, 0, 0, 0)), text,
                            compress_type=zipfile.ZIP_DEFLATED)
                for member, arr in arrays:
                    info = zipfile.ZipInfo(member, date_time=(1980, 1, 1, 0, 0, 0))
                    with zf.open(info, "w", force_zip64=arr.nbytes > 2**31) as out:
                        np.lib.format.write_array(out, np.ascontiguousarray(arr), allow_pickle=False)
                    done += arr.nbytes
                    report(progress, done / total)
            fh.flush()
            os.fsync(fh.fileno())

    try:
        write_atomic(path, writer)
    except (FormatError, Cancelled):
        raise
    except OSError as e:
        raise FormatError(path, f"cannot save: {e.strerror or e}") from None
    report(progress, 1.0)


# ---------------------------------------------------------------- load
def load_project(path: os.PathLike | str, progress: Progress = None) -> Document:
    """Read a ``.sforge`` file. Raises `FormatError` (one line) for anything
    wrong with it, never another exception; memory is bounded by the file."""
    path = Path(path)
    try:
        return _load(path, progress)
    except (FormatError, Cancelled):
        raise
    except (zipfile.BadZipFile, zipfile.LargeZipFile, zlib.error, EOFError, NotImplementedError) as e:
        raise FormatError(path, f"damaged project file: {e}") from None
    except FileNotFoundError:
        raise FormatError(path, "no such file") from None
    except IsADirectoryError:
        raise FormatError(path, "is a folder, not a project file") from None
    except OSError as e:
        raise FormatError(path, f"cannot read: {e.strerror or e}") from None
    except (LayoutError, CameraError) as e:
        raise FormatError(path, str(e)) from None
    except (ValueError, KeyError, TypeError, IndexError, OverflowError, RecursionError, MemoryError) as e:
        raise FormatError(path, f"damaged project file ({type(e).__name__}: {e})") from None


def read_manifest(path: os.PathLike | str) -> dict:
    """Just the document.json of a project (cheap; for recovery listings)."""
    path = Path(path)
    try:
        with zipfile.ZipFile(path) as zf:
            return _manifest(path, zf)
    except FormatError:
        raise
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError, NotImplementedError, RecursionError) as e:
        raise FormatError(path, f"damaged project file: {type(e).__name__}") from None


def _manifest(path: Path, zf: zipfile.ZipFile) -> dict:
    try:
        info = zf.getinfo("document.json")
    except KeyError:
        raise FormatError(path, "not a SplatForge project (no document.json inside)") from None
    _check_member_size(path, info, MAX_DOCUMENT_JSON)
    try:
        data = strict_json_loads(zf.read(info).decode("utf-8"))
    except LayoutError as e:
        raise FormatError(path, f"document.json: {e}") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise FormatError(path, f"document.json is not valid JSON ({getattr(e, 'msg', e)})") from None
    if not isinstance(data, dict) or data.get("schema") != SCHEMA:
        raise FormatError(path, f"not a SplatForge project (schema {data.get('schema') if isinstance(data, dict) else None!r})")
    version = data.get("version")
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise FormatError(path, f"unknown project version {version!r}")
    if version > VERSION:
        raise FormatError(path, f"project version {version} was written by a newer SplatForge; this one reads version {VERSION}")
    return data


def _check_member_size(path: Path, info: zipfile.ZipInfo, limit: int) -> None:
    if info.file_size > limit:
        raise FormatError(path, f"{info.filename} claims {info.file_size} bytes, more than the file can hold")
    if info.compress_type == zipfile.ZIP_STORED:
        if info.compress_size != info.file_size:
            raise FormatError(path, f"{info.filename}: stored size {info.compress_size} != size {info.file_size}")
    elif info.compress_type == zipfile.ZIP_DEFLATED:
        if info.file_size > _MAX_DEFLATE_RATIO * max(info.compress_size, 1):
            raise FormatError(path, f"{info.filename} claims an impossible compression ratio (zip bomb?)")
    else:
        raise FormatError(path, f"{info.filename} uses an unsupported compression method {info.compress_type}")


def _load(path: Path, progress: Progress) -> Document:
    file_size = path.stat().st_size
    with zipfile.ZipFile(path) as zf:
        data = _manifest(path, zf)
        layers_json = data.get("layers", [])
        if not isinstance(layers_json, list):
            raise FormatError(path, "layers must be a list")
        counts = [entry.get("count") if isinstance(entry, dict) else None for entry in layers_json]
        if not all(isinstance(c, int) and not isinstance(c, bool) and 0 <= c <= MAX_SPLATS for c in counts):
            raise FormatError(path, f"every layer needs a splat count from 0 to {MAX_SPLATS}")
        total = sum(counts)
        if total > MAX_SPLATS:
            raise FormatError(path, f"project claims {total} splats, more than the {MAX_SPLATS} accepted")
        # Bytes the arrays may decompress to in total: what the file holds when
        # every member is stored (as we write them), deflate's ceiling otherwise.
        deflated = any(i.compress_type != zipfile.ZIP_STORED for i in zf.infolist() if i.filename != "document.json")
        budget = [file_size * (_MAX_DEFLATE_RATIO if deflated else 1)]
        layers = []
        done = 0
        for n, entry in enumerate(layers_json):
            layers.append(_load_layer(path, zf, n, entry, budget))
            done += entry["count"]
            report(progress, done / max(total, 1))
        layout = Layout.from_dict(data.get("layout", {"schema": "splatforge.layout", "version": 1}))
        cams = data.get("cameras", [])
        if not isinstance(cams, list):
            raise FormatError(path, "cameras must be a list")
        cameras: dict[str, Camera] = {}
        for c in cams:
            if not isinstance(c, dict) or not isinstance(c.get("name"), str) or not c["name"]:
                raise FormatError(path, "each camera needs a name")
            if c["name"] in cameras:
                raise FormatError(path, f"camera {c['name']!r} appears twice")
            cameras[c["name"]] = Camera.from_dict({k: v for k, v in c.items() if k != "name"})
        metadata = data.get("metadata", {})
        if not isinstance(metadata, dict):
            raise FormatError(path, "metadata must be an object")
        ids = [l.id for l in layers]
        if len(set(ids)) != len(ids):
            raise FormatError(path, "two layers share an id")
    report(progress, 1.0)
    return Document(layers, layout, cameras, metadata)


def _load_layer(path: Path, zf: zipfile.ZipFile, n: int, entry: Any, budget: list[int]) -> Layer:
    if not isinstance(entry, dict):
        raise FormatError(path, f"layer {n} must be an object")
    lid, name, visible = entry.get("id"), entry.get("name", ""), entry.get("visible", True)
    if not isinstance(lid, str) or not lid:
        raise FormatError(path, f"layer {n} needs a string id")
    if not isinstance(name, str) or not isinstance(visible, bool):
        raise FormatError(path, f"layer {lid!r}: name must be a string and visible true/false")
    count = entry["count"]
    k = entry.get("sh_coeffs")
    if k not in (1, 4, 9, 16):
        raise FormatError(path, f"layer {lid!r}: sh_coeffs must be 1, 4, 9 or 16, got {k!r}")
    folder = f"layers/{n}"
    arrays = {}
    for attr, trailing in _CORE.items():
        arrays[attr] = _read_array(path, zf, f"{folder}/{attr}.npy", np.dtype("<f4"), (count, *trailing(k)), budget)
    flags = _read_array(path, zf, f"{folder}/flags.npy", np.dtype("u1"), (count,), budget)
    extras = {}
    ex = entry.get("extras", [])
    if not isinstance(ex, list):
        raise FormatError(path, f"layer {lid!r}: extras must be a list")
    for item in ex:
        if not isinstance(item, dict) or not isinstance(item.get("name"), str) or not isinstance(item.get("file"), str):
            raise FormatError(path, f"layer {lid!r}: each extra needs a name and a file")
        if item["name"] in extras:
            raise FormatError(path, f"layer {lid!r}: extra {item['name']!r} appears twice")
        extras[item["name"]] = _read_array(path, zf, item["file"], None, (count,), budget)
    cloud = SplatCloud(extras=extras, **arrays)
    check_finite(path, cloud)
    return Layer(lid, name, cloud, flags, visible)


def _read_array(path: Path, zf: zipfile.ZipFile, member: str, dtype: np.dtype | None, shape: tuple, budget: list[int]) -> np.ndarray:
    """Read one .npy member, checking its header (dtype, shape, order) and
    its size against the zip entry and the remaining ``budget`` (bytes, a
    one-element list shared by all members) before allocating."""
    try:
        info = zf.getinfo(member)
    except KeyError:
        raise FormatError(path, f"{member} is missing") from None
    _check_member_size(path, info, budget[0])
    budget[0] -= info.file_size
    with zf.open(info) as fh, warnings.catch_warnings():
        # numpy warns about odd (Python 2 style) headers; a bad header is an
        # error below, an odd but valid one is fine: never print to the user.
        warnings.simplefilter("ignore")
        try:
            major, minor = np.lib.format.read_magic(fh)
            if (major, minor) == (1, 0):
                shp, fortran, dt = np.lib.format.read_array_header_1_0(fh)
            elif (major, minor) in ((2, 0), (3, 0)):
                shp, fortran, dt = np.lib.format.read_array_header_2_0(fh)
            else:
                raise FormatError(path, f"{member}: unsupported .npy version {major}.{minor}")
        except FormatError:
            raise
        except Exception as e:  # noqa: BLE001 - numpy parses the header with ast/tokenize: anything can come out
            raise FormatError(path, f"{member}: not a valid .npy header ({type(e).__name__})") from None
        header_len = fh.tell()
        if dt.hasobject or dt.kind not in "biuf" or dt.fields is not None or dt.subdtype is not None:
            raise FormatError(path, f"{member}: arrays must be plain numbers, found dtype {dt}")
        if dtype is not None and dt != dtype:
            raise FormatError(path, f"{member}: expected dtype {dtype}, found {dt}")
        if tuple(shp) != tuple(shape):
            raise FormatError(path, f"{member}: shape {tuple(shp)} does not match the document's {tuple(shape)}")
        nbytes = int(np.prod(shape, dtype=np.int64)) * dt.itemsize
        if header_len + nbytes != info.file_size:
            raise FormatError(path, f"{member}: holds {info.file_size - header_len} data bytes, expected {nbytes}")
        arr = np.empty(shape, dt, order="F" if fortran else "C")
        flat = arr.reshape(-1, order="A").view(np.uint8) if nbytes else np.zeros(0, np.uint8)
        pos = 0
        while pos < nbytes:
            chunk = fh.read(min(nbytes - pos, 1 << 24))
            if not chunk:
                raise FormatError(path, f"{member} is truncated")
            flat[pos:pos + len(chunk)] = np.frombuffer(chunk, np.uint8)
            pos += len(chunk)
    return np.ascontiguousarray(arr)


# ---------------------------------------------------------------- recovery
@dataclass
class RecoveryFile:
    """An autosave that can be offered to the user after a crash."""

    path: Path  # the recovery file itself (a normal .sforge)
    project_path: Path | None  # the project it belongs to; None for an untitled document
    saved_at: float  # time.time() of the autosave
    newer_than_project: bool  # False when the project on disk was saved after it


def recovery_path(recovery_dir: os.PathLike | str, project_path: os.PathLike | str | None, session: str = "untitled") -> Path:
    """Where the autosave of ``project_path`` (or of an untitled document of
    ``session``) goes: ``<recovery_dir>/<stem>-<hash>.recovery.sforge``."""
    folder = Path(recovery_dir)
    if project_path is None:
        safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in session) or "untitled"
        return folder / f"untitled-{safe}{RECOVERY_SUFFIX}"
    p = Path(project_path).resolve()
    h = hashlib.sha1(str(p).encode("utf-8")).hexdigest()[:12]
    stem = "".join(c if c.isalnum() or c in "-_" else "_" for c in p.stem) or "project"
    return folder / f"{stem}-{h}{RECOVERY_SUFFIX}"


def autosave(
    document: Document,
    recovery_dir: os.PathLike | str,
    project_path: os.PathLike | str | None = None,
    session: str = "untitled",
) -> Path:
    """Write a recovery copy of ``document`` (atomically) and return its path.
    The app calls this from a timer (see `Autosaver`)."""
    folder = Path(recovery_dir)
    folder.mkdir(parents=True, exist_ok=True)
    target = recovery_path(folder, project_path, session)
    origin = {"project_path": None if project_path is None else str(Path(project_path).resolve()), "saved_at": time.time()}
    save_project(document, target, extra={"recovery": origin})
    return target


def find_recovery(recovery_dir: os.PathLike | str, project_path: os.PathLike | str | None = None) -> list[RecoveryFile]:
    """Recovery files to offer, newest first: the one of ``project_path``
    when given, else every one in the folder (call at startup). Unreadable
    files are skipped."""
    folder = Path(recovery_dir)
    if not folder.is_dir():
        return []
    if project_path is not None:
        candidates = [recovery_path(folder, project_path)]
    else:
        candidates = sorted(folder.glob(f"*{RECOVERY_SUFFIX}"))
    out = []
    for c in candidates:
        if not c.is_file():
            continue
        try:
            origin = read_manifest(c).get("recovery", {})
        except FormatError:
            continue
        if not isinstance(origin, dict):
            continue
        proj = origin.get("project_path")
        proj_path = Path(proj) if isinstance(proj, str) else None
        saved = origin.get("saved_at")
        saved_at = float(saved) if isinstance(saved, (int, float)) and not isinstance(saved, bool) else c.stat().st_mtime
        newer = True
        if proj_path is not None and proj_path.exists():
            newer = saved_at > proj_path.stat().st_mtime
        out.append(RecoveryFile(c, proj_path, saved_at, newer))
    out.sort(key=lambda r: r.saved_at, reverse=True)
    return out


def discard_recovery(path: os.PathLike | str) -> None:
    """Delete a recovery file (after the user declined it or saved)."""
    try:
        Path(path).unlink()
    except FileNotFoundError:
        pass


class Autosaver:
    """Qt-free autosave policy; the app calls `tick` from a QTimer.

    Writes a recovery file when the document changed since the last autosave
    and differs from what was saved; `saved` (after a successful user save)
    and `discard` remove it again. ``on_error`` receives a `FormatError` if
    the disk refuses (autosave never raises into the UI loop)."""

    def __init__(
        self,
        history: Any,
        recovery_dir: os.PathLike | str,
        project_path: os.PathLike | str | None = None,
        session: str = "untitled",
        on_error: Callable[[FormatError], None] | None = None,
    ):
        self.history = history
        self.recovery_dir = Path(recovery_dir)
        self.project_path = None if project_path is None else Path(project_path)
        self.session = session
        self.on_error = on_error
        self._last_revision = history.revision
        self.last_path: Path | None = None

    @property
    def path(self) -> Path:
        return recovery_path(self.recovery_dir, self.project_path, self.session)

    def tick(self) -> Path | None:
        """Autosave now if needed; returns the file written, or None."""
        h = self.history
        if h.revision == self._last_revision:
            return None
        if h.is_clean:
            self._last_revision = h.revision
            self.discard()
            return None
        try:
            self.last_path = autosave(h.document, self.recovery_dir, self.project_path, self.session)
        except (FormatError, OSError) as e:
            if self.on_error is not None:
                self.on_error(e if isinstance(e, FormatError) else FormatError(self.path, str(e)))
            return None
        self._last_revision = h.revision
        return self.last_path

    def saved(self, project_path: os.PathLike | str | None = None) -> None:
        """Call after the user saved (possibly under a new name)."""
        self.discard()
        if project_path is not None:
            self.project_path = Path(project_path)
        self._last_revision = self.history.revision

    def discard(self) -> None:
        discard_recovery(self.path)
