"""PlayCanvas SOG ("Spatially Ordered Gaussians"): ``meta.json`` plus lossless
WebP images of quantised attributes (reference: playcanvas/splat-transform's
``write-sog.ts`` / ``read-sog.ts`` / ``read-sog-v1.ts`` and playcanvas/engine's
``gsplat-sog-data.js``, MIT; no code copied).

Containers
----------
* **unbundled**: a folder holding ``meta.json`` and the ``.webp`` files it
  names (paths relative to meta.json's folder). Open the meta.json. Names that
  leave the folder (absolute, or with a ``..`` part) are refused.
* **bundled** ``.sog``: a zip holding the same files (splat-transform writes
  stored entries, meta.json last). ``meta.json`` may sit in one sub-folder of
  the zip; the images are then looked up next to it. Stored and deflated
  entries are read; declared sizes are checked before anything is inflated.

Images
------
Every per-splat image is RGBA, splat ``i`` at pixel ``i`` in row-major order
(``x = i % width``, ``y = i // width``). The writer picks
``width = ceil(sqrt(N) / 4) * 4`` and ``height = ceil(N / width / 4) * 4`` (as
splat-transform); readers accept any size with ``width * height >= N``.

=============== ================================================================
file            content (bytes ``r, g, b, a`` of splat i)
=============== ================================================================
means_l/_u      low and high byte of three 16-bit values ``u``; position =
                ``inv_log(mins + (maxs - mins) * u / 65535)`` per axis, where
                ``log(x) = sign(x) * ln(|x| + 1)`` and mins/maxs (meta.json)
                are bounds of the *log-transformed* positions.
quats           "smallest three": ``a`` = 252 + index of the largest-magnitude
                component in **w, x, y, z** order (made positive, recovered as
                ``sqrt(1 - others^2)``); r, g, b = the other three in order,
                each ``(b / 255 * 2 - 1) / sqrt(2)``. An ``a`` outside 252..255
                reads as the identity rotation.
scales          v2: r, g, b index the 256-entry ``scales.codebook`` (log-scales);
                v1: ``mins + (maxs - mins) * b / 255`` per axis.
sh0             v2: r, g, b index ``sh0.codebook`` (SH DC coefficients, not
                colours), ``a / 255`` is the opacity (after the sigmoid);
                v1: four lerps between ``mins``/``maxs``; the fourth is the
                opacity *logit*.
shN_labels      optional: ``r | g << 8`` = palette entry of the splat's SH bands 1..3.
shN_centroids   the palette: width ``64 * C`` (C = 3, 8, 15 coefficients for
                1, 2, 3 bands), entry ``e`` at row ``e // 64``, columns
                ``(e % 64) * C + j`` for coefficient j, r/g/b = the three colour
                channels; v2: bytes index ``shN.codebook``; v1: lerp between the
                scalars ``shN.mins``/``shN.maxs``. Labels past the palette read
                as zero SH.
=============== ================================================================

Meta versions: **v2** (``"version": 2``, ``count``, codebooks, ``shN.count`` and
``shN.bands``) and the older **v1** (no version; count from ``means.shape[0]``,
per-channel mins/maxs, ``quats.encoding == "quaternion_packed"``, SH bands from
the centroid image width). A null first codebook entry (old writers turned -inf
into null) is patched as the PlayCanvas engine does.

Axes: SOG stores the 3DGS PLY frame unchanged (splat-transform bakes its
``Transform.PLY`` before writing and labels what it reads ``Transform.PLY``), so
no conversion is applied either way.

Guards against hostile files: meta.json at most 16 MiB; every number checked
(finite; log-space bounds within +-88 so positions stay finite float32);
images must be WebP whose header (parsed here, before Pillow sees the data)
gives sides <= 16384, at least N and at most ``max(2 * N, N + 65536)`` pixels
(the SH palette image: 64 * C wide, <= 1024 rows), and whose file is no larger
than 4 bytes per allowed pixel + 64 KiB; the splat count may not exceed 64 per
byte of image data (real files hold 0.05-0.2 splats per byte; only a scene of
identical splats compresses further, and is refused) nor `MAX_SPLATS`; zip
entries must be stored or deflated, their declared sizes plausible (<= 1032:1
for deflate) and are read with that bound. Decoding needs about 4 bytes per
pixel per image (one image at a time) on top of the cloud itself.

Writing
-------
Always v2, splats sorted along a Morton (Z-)curve like splat-transform (21 bits
per axis, `editor.formats.compressed_ply.morton_order`), so the splat order
changes. Quantisation rounds to nearest where splat-transform truncates
(readers cannot tell the difference; it halves the error). ``foo.sog`` (or ``bundle=True``) writes the zip; a path
ending in ``meta.json`` (or ``bundle=False``) writes the unbundled folder: the
WebP files go next to it as ``means_l.webp`` ... (prefixed with whatever comes
before "meta.json" in the name, e.g. ``scene.meta.json`` -> ``scene.means_l.webp``).
They are written under temporary names and renamed into place only after all
of them were encoded, then meta.json is renamed last (by `write_atomic`), so a
failed write leaves the folder as it was; a crash between the renames can
leave new images beside an old meta.json.

Codebooks (scales, SH DC, SH palette values): 256 entries fitted by a 1D
k-means (Lloyd on a sample of at most 262144 values, seeded half by quantiles
and half uniformly over the range so sparse tails keep entries), shared by the
three channels. The SH palette (``sh_degree`` > 0) is a k-means over the
``3 * C``-dimensional SH-rest vectors; for large scenes two-level (256 coarse
clusters, each given a share of the palette proportional to its members), so
its cost stays ~``N * (256 + palette / 256) * 3C`` per iteration; palette size
as splat-transform: ``min(64, 2**floor(log2(N / 1024))) * 1024``.

Options: ``bundle`` (None: by file name), ``sh_degree`` (None: the cloud's; lower
to drop bands), ``sh_palette_size`` (1..65536), ``sh_iterations`` (default 8),
``codebook_iterations`` (default 12), ``webp_method`` (0..6, default 1) and
``webp_quality`` (0..100 effort, default 25), ``seed`` (sampling, default 0).

Round-trip tolerances (write -> read, per splat after matching the Morton
order; tests/formats/test_sog.py asserts each):

* positions: per axis ``|dx| <= (1 + |x|) * R / 131070`` (+ float32 rounding),
  R = max - min of ``sign(x) ln(1 + |x|)`` over the scene: 16 bits in log
  space, so finer near the origin (for [-5, 5]: <= 1.7e-4 at |x| = 5);
* log-scales and SH DC: the nearest of 256 shared codebook entries: at most
  half the gap between neighbouring entries, in practice about
  range / 256 (<= 0.02 for values spread over 4 units);
* opacity: ``|sigmoid error| <= 0.5 / 255``; 0 and 255 read as logit(1e-6) =
  -13.8 and +13.8;
* rotations: each component of the unit quaternion within 0.01 (up to sign;
  8 bits over +-1/sqrt(2) for the three smallest, the largest recomputed), at
  most 1.1 degrees of rotation;
* SH bands 1-3: vector-quantised, so the error is scene dependent; a scene
  with no more distinct SH-rest vectors than palette entries comes back to
  within the 256-entry codebook of the palette values (half a gap: at most
  range / 255 of those values); random SH (rms 0.17) comes back with rms
  error < 0.1 at the default palette size;
* extra attributes are dropped; an empty scene or non-finite positions are
  refused (FormatError).
"""
from __future__ import annotations

import io
import json
import math
import os
import re
import stat
import struct
import tempfile
import warnings
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

from editor.formats.base import (
    MAX_SPLATS,
    Codec,
    FormatError,
    LoadedSplats,
    Progress,
    check_finite,
    report,
)
from editor.formats.compressed_ply import morton_order
from editor.model.splat_cloud import SplatCloud, logit, normalize_quaternions, sigmoid

META_NAME = "meta.json"
MAX_META_BYTES = 16 << 20
#: Longest image side accepted (WebP itself stops at 16383).
MAX_IMAGE_SIDE = 16384
#: Splats per byte of image data beyond which a count is called a lie.
MAX_SPLATS_PER_IMAGE_BYTE = 64
#: Largest zip entry read (a 16383^2 RGBA image is 1 GiB raw; WebP is smaller).
MAX_ENTRY_BYTES = 1 << 30
MAX_DEFLATE_RATIO = 1032
#: |log-space position bound| accepted: exp(88) - 1 still fits a float32.
MAX_LOG_BOUND = 88.0
CODEBOOK_SIZE = 256
MAX_PALETTE = 65536
SH_COEFFS = {1: 3, 2: 8, 3: 15}
_V1_BANDS_BY_WIDTH = {64 * c: b for b, c in SH_COEFFS.items()}
_SQRT2 = math.sqrt(2.0)
_OTHERS = np.array([[1, 2, 3], [0, 2, 3], [0, 1, 3], [0, 1, 2]])
_ZIP_MAGIC = b"PK\x03\x04"
_EMPTY_ZIP_MAGIC = b"PK\x05\x06"
#: mkstemp names made by `write_atomic`: ".<final name>.<8 random chars>.tmp".
_TEMP_NAME = re.compile(r"\.(.+)\.[A-Za-z0-9_]{8}\.tmp")
_ROWS = 1 << 18  # splats per block in per-splat loops


# ====================================================================== reading
def _sniff(head: bytes, path: Path) -> bool:
    name = path.name.lower()
    if head[:4] == _ZIP_MAGIC:
        try:
            with zipfile.ZipFile(path) as zf:
                return _find_meta_entry(zf.namelist()) is not None
        except Exception:  # noqa: BLE001 - a sniff never raises
            return False
    if name.endswith(".json") and head.lstrip()[:1] == b"{":
        try:
            if path.stat().st_size > MAX_META_BYTES:
                return False
            meta = json.loads(path.read_bytes())
        except Exception:  # noqa: BLE001
            return False
        return isinstance(meta, dict) and "means" in meta and ("quats" in meta or "scales" in meta)
    return False


def _find_meta_entry(names: list[str]) -> str | None:
    """The zip entry holding meta.json: at the root, else the shallowest one."""
    found = [n for n in names if n == META_NAME or n.endswith("/" + META_NAME)]
    if not found:
        return None
    return min(found, key=lambda n: (n.count("/"), n))


def _safe_name(path: Path, name, what: str) -> str:
    """Refuse file names in meta.json that are not plain relative paths."""
    if not isinstance(name, str) or not name or len(name) > 1024 or "\x00" in name:
        raise FormatError(path, f"meta.json: {what} has an invalid file name {str(name)[:80]!r}")
    parts = re.split(r"[/\\]", name)
    if name.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:", name) or ".." in parts:
        raise FormatError(path, f"meta.json: {what} file {name[:80]!r} points outside the SOG folder; refused")
    return "/".join(p for p in parts if p not in ("", "."))


class _Files:
    """Named files next to meta.json: in a folder or in a zip."""

    def __init__(self, path: Path, zf: zipfile.ZipFile | None = None, prefix: str = ""):
        self.path = path
        self.zf = zf
        self.prefix = prefix
        self.folder = path.parent

    def size(self, name: str) -> int:
        if self.zf is not None:
            info = self._info(name)
            return info.file_size
        full = self.folder / name
        try:
            st = os.stat(full)
        except FileNotFoundError:
            raise FormatError(self.path, f"missing file {name} (named in meta.json, expected at {full})") from None
        except OSError as e:
            raise FormatError(self.path, f"cannot open {name}: {e.strerror or e}") from None
        if not stat.S_ISREG(st.st_mode):
            raise FormatError(self.path, f"{name} is not a regular file")
        return st.st_size

    def _info(self, name: str) -> zipfile.ZipInfo:
        try:
            info = self.zf.getinfo(self.prefix + name)
        except KeyError:
            raise FormatError(self.path, f"missing file {name} (named in meta.json) in the .sog archive") from None
        if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            raise FormatError(self.path, f"{name}: zip compression method {info.compress_type} is not supported "
                                         "(only stored and deflated)")
        if info.flag_bits & 0x1:
            raise FormatError(self.path, f"{name}: encrypted zip entries are not supported")
        archive = self.path.stat().st_size
        if info.compress_size > archive:
            raise FormatError(self.path, f"{name}: zip entry claims {info.compress_size} bytes in a "
                                         f"{archive}-byte file; the archive is truncated or corrupt")
        ratio = 1 if info.compress_type == zipfile.ZIP_STORED else MAX_DEFLATE_RATIO
        if info.file_size > MAX_ENTRY_BYTES or info.file_size > max(info.compress_size, 1) * ratio + 64:
            raise FormatError(self.path, f"{name}: zip entry claims {info.file_size} bytes from "
                                         f"{info.compress_size} compressed; refused as corrupt (or a zip bomb)")
        return info

    def read(self, name: str, limit: int) -> bytes:
        size = self.size(name)
        if size > limit:
            raise FormatError(self.path, f"{name} is {size} bytes, more than the {limit} accepted")
        if self.zf is not None:
            info = self._info(name)
            try:
                with self.zf.open(info) as f:
                    data = f.read(size + 1)
            except Exception as e:  # noqa: BLE001 - zipfile raises many types on corrupt entries
                raise FormatError(self.path, f"{name}: corrupt zip entry ({e})") from None
        else:
            try:
                with open(self.folder / name, "rb") as f:
                    data = f.read(size + 1)
            except OSError as e:
                raise FormatError(self.path, f"cannot read {name}: {e.strerror or e}") from None
        if len(data) != size:
            raise FormatError(self.path, f"{name}: expected {size} bytes, read {len(data)}; the file is "
                                         "truncated or corrupt")
        return data


@dataclass
class _Layout:
    version: int
    count: int
    files: dict[str, str]
    means_mins: np.ndarray
    means_maxs: np.ndarray
    scales: np.ndarray  # v2: codebook (256,); v1: (2, 3) mins/maxs
    sh0: np.ndarray  # v2: codebook (256,); v1: (2, 4) mins/maxs
    sh_bands: int = 0  # v2 only (v1: from the centroid image width)
    sh_count: int = 0  # v2 palette entries
    sh_codebook: np.ndarray | None = None  # v2 (256,); v1: (2,) min, max
    details: dict = field(default_factory=dict)


def _num(path, value, what: str, bound: float = 3.0e38) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise FormatError(path, f"meta.json: {what} is not a number ({str(value)[:40]!r})")
    try:
        v = float(value)
    except OverflowError:
        v = math.inf
    if not math.isfinite(v) or abs(v) > bound:
        raise FormatError(path, f"meta.json: {what} = {str(value)[:40]} is out of range")
    return v


def _numbers(path, values, n: int, what: str, bound: float = 3.0e38) -> np.ndarray:
    if not isinstance(values, list) or len(values) != n:
        raise FormatError(path, f"meta.json: {what} must be a list of {n} numbers")
    return np.array([_num(path, v, f"{what}[{i}]", bound) for i, v in enumerate(values)], np.float64)


def _codebook(path, values, what: str) -> np.ndarray:
    if not isinstance(values, list) or len(values) != CODEBOOK_SIZE:
        raise FormatError(path, f"meta.json: {what} must be a list of {CODEBOOK_SIZE} numbers")
    values = list(values)
    if values[0] is None:  # old writers: -inf became null; patch it as the engine does
        b1 = _num(path, values[1], f"{what}[1]")
        b255 = _num(path, values[255], f"{what}[255]")
        values[0] = b1 + (b1 - b255) / 255.0
    return _numbers(path, values, CODEBOOK_SIZE, what)


def _section(path, meta: dict, key: str, required: bool = True) -> dict | None:
    sec = meta.get(key)
    if sec is None and not required:
        return None
    if not isinstance(sec, dict):
        raise FormatError(path, f"meta.json has no {key!r} section" if sec is None
                          else f"meta.json: {key!r} must be an object")
    return sec


def _file_list(path, sec: dict, key: str, n: int) -> list[str]:
    files = sec.get("files")
    if not isinstance(files, list) or len(files) < n:
        raise FormatError(path, f"meta.json: {key}.files must list {n} file name(s)")
    return [_safe_name(path, f, key) for f in files[:n]]


def _count_of(path, value, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        else:
            raise FormatError(path, f"meta.json: {what} must be a whole number, got {str(value)[:40]!r}")
    if value < 0:
        raise FormatError(path, f"meta.json: negative splat count {str(value)[:24]} in {what}")
    if value > MAX_SPLATS:
        raise FormatError(path, f"meta.json: {what} claims {str(value)[:24]} splats, more than the "
                                f"{MAX_SPLATS} this program accepts")
    return int(value)


def _parse_meta(path: Path, raw: bytes) -> _Layout:
    try:
        meta = json.loads(raw.decode("utf-8-sig"))
    except (UnicodeDecodeError, ValueError, RecursionError) as e:
        raise FormatError(path, f"meta.json is not valid JSON ({str(e)[:120]})") from None
    if not isinstance(meta, dict):
        raise FormatError(path, "meta.json is not a JSON object")
    if "means" not in meta:
        raise FormatError(path, "not a SOG meta.json (it has no 'means' entry)")
    version = meta.get("version")
    means = _section(path, meta, "means")
    scales = _section(path, meta, "scales")
    quats = _section(path, meta, "quats")
    sh0 = _section(path, meta, "sh0")
    shn = _section(path, meta, "shN", required=False)
    files = {}
    files["means_l"], files["means_u"] = _file_list(path, means, "means", 2)
    files["scales"] = _file_list(path, scales, "scales", 1)[0]
    files["quats"] = _file_list(path, quats, "quats", 1)[0]
    files["sh0"] = _file_list(path, sh0, "sh0", 1)[0]
    if shn is not None:
        files["shN_centroids"], files["shN_labels"] = _file_list(path, shn, "shN", 2)
    mins = _numbers(path, means.get("mins"), 3, "means.mins", MAX_LOG_BOUND)
    maxs = _numbers(path, means.get("maxs"), 3, "means.maxs", MAX_LOG_BOUND)
    details: dict = {}
    asset = meta.get("asset")
    if isinstance(asset, dict) and isinstance(asset.get("generator"), str):
        details["generator"] = asset["generator"][:200]
    if isinstance(meta.get("model"), str):
        details["model"] = meta["model"][:40]

    if version is None:
        shape = means.get("shape")
        if not isinstance(shape, list) or not shape:
            raise FormatError(path, "meta.json (v1): means.shape is missing, so the splat count is unknown")
        count = _count_of(path, shape[0], "means.shape[0]")
        for key, sec in (("scales", scales), ("quats", quats), ("sh0", sh0)):
            other = sec.get("shape")
            if isinstance(other, list) and other and other[0] != count:
                raise FormatError(path, f"meta.json (v1): {key}.shape[0] = {str(other[0])[:20]} but "
                                        f"means.shape[0] = {count}")
        encoding = quats.get("encoding", "quaternion_packed")
        if encoding != "quaternion_packed":
            raise FormatError(path, f"meta.json (v1): unsupported quaternion encoding {str(encoding)[:40]!r}")
        layout = _Layout(
            1, count, files, mins, maxs,
            np.stack([_numbers(path, scales.get("mins"), 3, "scales.mins"),
                      _numbers(path, scales.get("maxs"), 3, "scales.maxs")]),
            np.stack([_numbers(path, sh0.get("mins"), 4, "sh0.mins"),
                      _numbers(path, sh0.get("maxs"), 4, "sh0.maxs")]),
            details=details,
        )
        if shn is not None:
            layout.sh_codebook = np.array([_num(path, shn.get("mins"), "shN.mins"),
                                           _num(path, shn.get("maxs"), "shN.maxs")])
        return layout

    if isinstance(version, bool) or version != 2:
        raise FormatError(path, f"unsupported SOG meta version {str(version)[:20]} (this program reads 1 and 2)")
    if "count" not in meta:
        raise FormatError(path, "meta.json (v2) has no 'count'")
    count = _count_of(path, meta["count"], "count")
    layout = _Layout(2, count, files, mins, maxs,
                     _codebook(path, scales.get("codebook"), "scales.codebook"),
                     _codebook(path, sh0.get("codebook"), "sh0.codebook"), details=details)
    if shn is not None and shn.get("bands") == 0:  # no SH rest (splat-transform ignores it too)
        shn = None
        del files["shN_centroids"], files["shN_labels"]
    if shn is not None:
        bands = shn.get("bands")
        if isinstance(bands, bool) or bands not in (1, 2, 3):
            raise FormatError(path, f"meta.json: shN.bands must be 0 to 3, got {str(bands)[:20]}")
        palette = _count_of(path, shn.get("count"), "shN.count")
        if not 1 <= palette <= MAX_PALETTE:
            raise FormatError(path, f"meta.json: shN.count {palette} is outside 1..{MAX_PALETTE}")
        layout.sh_bands, layout.sh_count = int(bands), palette
        layout.sh_codebook = _codebook(path, shn.get("codebook"), "shN.codebook")
    return layout


def _webp_size(path: Path, name: str, data: bytes) -> tuple[int, int]:
    """(width, height) from a WebP header, before any decoder sees the data."""
    if len(data) < 30 or data[:4] != b"RIFF" or data[8:12] != b"WEBP":
        raise FormatError(path, f"{name} is not a WebP image")
    kind = data[12:16]
    if kind == b"VP8L":
        if data[20] != 0x2F:
            raise FormatError(path, f"{name}: corrupt lossless WebP header")
        bits = struct.unpack_from("<I", data, 21)[0]
        return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    if kind == b"VP8X":
        w = int.from_bytes(data[24:27], "little") + 1
        h = int.from_bytes(data[27:30], "little") + 1
        return w, h
    if kind == b"VP8 ":
        if data[23:26] != b"\x9d\x01\x2a":
            raise FormatError(path, f"{name}: corrupt WebP header")
        w, h = struct.unpack_from("<HH", data, 26)
        return w & 0x3FFF, h & 0x3FFF
    raise FormatError(path, f"{name}: unknown WebP chunk {kind!r}")


def _decode_webp(path: Path, name: str, data: bytes, min_pixels: int, max_pixels: int,
                 width: int | None = None, max_height: int | None = None) -> np.ndarray:
    """Decode to (height, width, 4) uint8 after checking the header's size."""
    w, h = _webp_size(path, name, data)
    if w < 1 or h < 1 or w > MAX_IMAGE_SIDE or h > MAX_IMAGE_SIDE:
        raise FormatError(path, f"{name}: image size {w}x{h} is outside 1..{MAX_IMAGE_SIDE} per side")
    if width is not None and w != width:
        raise FormatError(path, f"{name}: image is {w} pixels wide, expected {width}")
    if max_height is not None and h > max_height:
        raise FormatError(path, f"{name}: image is {h} pixels high, at most {max_height} expected")
    if w * h < min_pixels:
        raise FormatError(path, f"{name}: a {w}x{h} image holds {w * h} pixels but {min_pixels} splats are declared")
    if w * h > max_pixels:
        raise FormatError(path, f"{name}: a {w}x{h} image is far larger than {min_pixels} splats need; refused")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with Image.open(io.BytesIO(data), formats=["WEBP"]) as im:
                if im.size != (w, h):
                    raise FormatError(path, f"{name}: header says {w}x{h} but the image is {im.size[0]}x{im.size[1]}")
                im.load()
                rgba = im if im.mode == "RGBA" else im.convert("RGBA")
                arr = np.asarray(rgba, dtype=np.uint8)
    except FormatError:
        raise
    except MemoryError:
        raise FormatError(path, f"{name}: not enough memory to decode the image") from None
    except Exception as e:  # noqa: BLE001 - Pillow raises many types on corrupt data
        raise FormatError(path, f"{name}: cannot decode WebP ({type(e).__name__}: {str(e)[:100]})") from None
    if arr.shape != (h, w, 4):
        raise FormatError(path, f"{name}: decoded to shape {arr.shape}, expected ({h}, {w}, 4)")
    return arr


def _open(path: Path):
    """(_Files, meta bytes, container name) for a .sog zip or a meta.json."""
    with open(path, "rb") as f:
        head = f.read(64)
    is_json = head.lstrip()[:1] == b"{" or head[:4] == b"\xef\xbb\xbf{"
    if head[:4] not in (_ZIP_MAGIC, _EMPTY_ZIP_MAGIC) and not is_json:
        raise FormatError(path, "not a SOG file (neither a .sog zip nor a meta.json)")
    if not is_json:
        try:
            zf = zipfile.ZipFile(path)
            names = zf.namelist()
        except MemoryError:
            raise FormatError(path, "not enough memory to open the .sog archive") from None
        except Exception as e:  # noqa: BLE001 - zipfile raises many types on corrupt archives
            raise FormatError(path, f"not a readable .sog (zip) file: {str(e)[:120] or type(e).__name__}") from None
        entry = _find_meta_entry(names)
        if entry is None:
            zf.close()
            raise FormatError(path, "the .sog archive has no meta.json")
        prefix = entry[: -len(META_NAME)]
        files = _Files(path, zf, prefix)
        try:
            raw = files.read(META_NAME, MAX_META_BYTES)
        except BaseException:
            zf.close()
            raise
        return files, raw, "bundled"
    size = path.stat().st_size
    if size > MAX_META_BYTES:
        raise FormatError(path, f"{size} bytes is too large for a SOG meta.json")
    return _Files(path), path.read_bytes(), "unbundled"


def read(path: Path, progress: Progress = None) -> LoadedSplats:
    """Read a bundled ``.sog`` or an unbundled SOG's ``meta.json`` (see the module docstring)."""
    path = Path(path)
    files, raw, container = _open(path)
    try:
        layout = _parse_meta(path, raw)
        report(progress, 0.02)
        cloud, extra = _decode(path, files, layout, progress)
    finally:
        if files.zf is not None:
            files.zf.close()
    check_finite(path, cloud)
    report(progress, 1.0)
    details = {"container": container, **layout.details, **extra}
    return LoadedSplats(cloud, "sog", str(layout.version), details)


def _decode(path: Path, files: _Files, lay: _Layout, progress: Progress) -> tuple[SplatCloud, dict]:
    n = lay.count
    names = lay.files
    sizes = {key: files.size(name) for key, name in names.items()}
    total = sum(sizes.values())
    if n > MAX_SPLATS_PER_IMAGE_BYTE * total:
        raise FormatError(path, f"meta.json claims {n} splats but its images hold only {total} bytes "
                                f"(at most {MAX_SPLATS_PER_IMAGE_BYTE} splats per byte are plausible); "
                                "the file is corrupt")
    max_pixels = max(2 * n, n + 65536)
    steps = len(names)
    done = [0]

    def image(key: str, min_pixels: int = n, max_px: int = max_pixels, **kw) -> np.ndarray:
        # a lossless WebP is never much larger than its raw RGBA pixels
        data = files.read(names[key], min(MAX_ENTRY_BYTES, 4 * max_px + 65536))
        arr = _decode_webp(path, names[key], data, min_pixels, max_px, **kw)
        done[0] += 1
        report(progress, 0.02 + 0.9 * done[0] / steps)
        return arr

    def per_splat(key: str) -> np.ndarray:
        return image(key).reshape(-1, 4)[:n]

    f32 = np.float32
    # positions: 16 bits in log space
    lo = per_splat("means_l")
    hi = per_splat("means_u")
    u = (hi[:, :3].astype(np.uint32) << 8) | lo[:, :3]
    del lo, hi
    scale = np.where(lay.means_maxs - lay.means_mins != 0, lay.means_maxs - lay.means_mins, 1.0)
    positions = np.empty((n, 3), f32)
    for s in range(0, n, _ROWS):
        v = lay.means_mins + scale * (u[s:s + _ROWS] / 65535.0)
        positions[s:s + _ROWS] = np.sign(v) * np.expm1(np.abs(v))
    del u

    rotations = _unpack_quats(per_splat("quats"))

    sc = per_splat("scales")
    if lay.version == 2:
        log_scales = lay.scales.astype(f32)[sc[:, :3]]
    else:
        lo3, hi3 = lay.scales
        log_scales = (lo3 + (hi3 - lo3) * (sc[:, :3] / 255.0)).astype(f32)
    del sc

    c0 = per_splat("sh0")
    bands = lay.sh_bands
    centroids = labels = None
    if "shN_centroids" in names:
        width = None if lay.version == 1 else 64 * SH_COEFFS[bands]
        cen = image("shN_centroids", min_pixels=1, max_px=960 * 1024, width=width, max_height=1024)
        if lay.version == 1:
            bands = _V1_BANDS_BY_WIDTH.get(cen.shape[1], 0)
            if not bands:
                raise FormatError(path, f"{names['shN_centroids']}: palette image width {cen.shape[1]} is not "
                                        "192, 512 or 960 (1, 2 or 3 SH bands)")
        centroids = cen
        labels = per_splat("shN_labels")
    sh = np.zeros((n, (bands + 1) ** 2, 3), f32)
    if lay.version == 2:
        sh[:, 0] = lay.sh0.astype(f32)[c0[:, :3]]
        opacity_logits = logit(c0[:, 3] / 255.0)
    else:
        lo4, hi4 = lay.sh0
        sh[:, 0] = lo4[:3] + (hi4[:3] - lo4[:3]) * (c0[:, :3] / 255.0)
        opacity_logits = (lo4[3] + (hi4[3] - lo4[3]) * (c0[:, 3] / 255.0)).astype(f32)
    del c0

    extra: dict = {}
    if centroids is not None:
        coeffs = SH_COEFFS[bands]
        rows = centroids.shape[0]
        palette_bytes = centroids.reshape(rows * 64, coeffs, 4)[:, :, :3]  # (entries, coeffs, rgb)
        if lay.version == 2:
            palette = lay.sh_codebook.astype(f32)[palette_bytes]
            entries = min(lay.sh_count, rows * 64)
        else:
            lo1, hi1 = lay.sh_codebook
            palette = (lo1 + (hi1 - lo1) * (palette_bytes / 255.0)).astype(f32)
            entries = rows * 64
        label = labels[:, 0].astype(np.int64) | (labels[:, 1].astype(np.int64) << 8)
        ok = label < entries
        sh[ok, 1:] = palette[label[ok]]
        extra["sh_palette"] = int(entries)
    cloud = SplatCloud(positions, log_scales, rotations, opacity_logits, sh)
    extra["files"] = sorted(set(names.values()))
    return cloud, extra


def _unpack_quats(q8: np.ndarray) -> np.ndarray:
    """(N, 4) uint8 smallest-three quaternions -> (N, 4) float32 unit wxyz."""
    n = len(q8)
    out = np.empty((n, 4), np.float32)
    for s in range(0, n, _ROWS):
        b = q8[s:s + _ROWS]
        m = len(b)
        abc = (b[:, :3].astype(np.float32) / 255.0 * 2.0 - 1.0) / np.float32(_SQRT2)
        tag = b[:, 3].astype(np.int16) - 252
        valid = (tag >= 0) & (tag <= 3)
        largest = np.clip(tag, 0, 3).astype(np.intp)
        q = np.empty((m, 4), np.float32)
        rows = np.arange(m)
        q[rows, largest] = np.sqrt(np.maximum(0.0, 1.0 - np.einsum("ij,ij->i", abc, abc)))
        q[rows[:, None], _OTHERS[largest]] = abc
        q[~valid] = (1.0, 0.0, 0.0, 0.0)
        out[s:s + m] = normalize_quaternions(q)
    return out


# ====================================================================== writing
def image_size(n: int) -> tuple[int, int]:
    """(width, height) of the per-splat images for ``n`` splats (splat-transform's choice)."""
    width = max(4, math.ceil(math.sqrt(n) / 4) * 4)
    height = max(4, math.ceil(n / width / 4) * 4)
    return width, height


def log_transform(x: np.ndarray) -> np.ndarray:
    """``sign(x) * ln(|x| + 1)`` elementwise (float64)."""
    x = np.asarray(x, dtype=np.float64)
    return np.sign(x) * np.log1p(np.abs(x))


def fit_codebook(values: np.ndarray, rng: np.random.Generator, iterations: int = 12,
                 k: int = CODEBOOK_SIZE, sample: int = 1 << 18) -> np.ndarray:
    """A sorted float32 codebook (k,) for the finite ``values`` (any shape) by 1D
    k-means: Lloyd iterations on a sample, seeded half by quantiles and half
    uniformly over the range. Fewer distinct values than ``k`` are kept exactly;
    the codebook is padded with its last entry."""
    v = np.asarray(values, dtype=np.float64).ravel()
    if v.size == 0:
        return np.zeros(k, np.float32)
    s = np.sort(v if v.size <= sample else v[rng.integers(0, v.size, sample)])
    c = None
    if np.count_nonzero(np.diff(s)) < k:
        distinct = np.unique(v)
        if distinct.size <= k:
            c = distinct
    if c is None:
        half = k // 2
        quantiles = s[((np.arange(k - half) + 0.5) / (k - half) * s.size).astype(np.intp)]
        uniform = s[0] + (s[-1] - s[0]) * (np.arange(half) + 0.5) / half
        c = np.sort(np.concatenate([quantiles, uniform]))
        prefix = np.concatenate([[0.0], np.cumsum(s)])
        for _ in range(iterations):
            bounds = np.searchsorted(s, (c[1:] + c[:-1]) * 0.5)
            edges = np.concatenate([[0], bounds, [s.size]])
            counts = np.diff(edges)
            sums = prefix[edges[1:]] - prefix[edges[:-1]]
            c = np.sort(np.where(counts > 0, sums / np.maximum(counts, 1), c))
    out = np.empty(k, np.float32)
    out[: c.size] = c
    out[c.size:] = out[c.size - 1]
    return out


def quantize(values: np.ndarray, codebook: np.ndarray) -> np.ndarray:
    """Index (uint8, same shape) of the nearest entry of a sorted ``codebook`` for each value."""
    mids = (codebook[1:].astype(np.float64) + codebook[:-1]) * 0.5
    return np.searchsorted(mids, np.asarray(values, dtype=np.float64)).astype(np.uint8)


def _nearest(x: np.ndarray, c: np.ndarray) -> np.ndarray:
    """Index of the nearest row of ``c`` (k, D) for each row of ``x`` (m, D)."""
    cc = np.einsum("ij,ij->i", c, c)
    out = np.empty(len(x), np.intp)
    block = max(1, (1 << 22) // max(1, len(c)))
    for s in range(0, len(x), block):
        d = cc - 2.0 * (x[s:s + block] @ c.T)
        out[s:s + block] = np.argmin(d, axis=1)
    return out


def _lloyd(x: np.ndarray, c: np.ndarray, iterations: int, rng: np.random.Generator) -> np.ndarray:
    """Lloyd iterations in place on centroids ``c`` (k, D); returns the final labels."""
    k, dims = c.shape
    for _ in range(iterations):
        lab = _nearest(x, c)
        counts = np.bincount(lab, minlength=k)
        sums = np.stack([np.bincount(lab, weights=x[:, j], minlength=k) for j in range(dims)], axis=1)
        full = counts > 0
        c[full] = (sums[full] / counts[full, None]).astype(c.dtype)
        empty = np.flatnonzero(~full)
        if empty.size:  # re-seed empty clusters on random points
            c[empty] = x[rng.integers(0, len(x), empty.size)]
    return _nearest(x, c)


def fit_palette(x: np.ndarray, size: int, iterations: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Vector-quantise rows of ``x`` (N, D) float32 into at most ``size`` entries.

    Small problems (N * size <= 2**25) run plain Lloyd k-means. Larger ones use
    two levels: 256 coarse clusters fitted on a sample, then each cluster's
    members get a share of the ``size`` entries proportional to their number
    (at least one, at most one per member) and their own k-means. Returns
    (palette (P, D) float32 with P <= size, labels (N,) int64 into it)."""
    n = len(x)
    size = max(1, min(size, n))
    # Few distinct rows (e.g. SH bands that are all zero): they are the palette,
    # exactly. Without this, k-means on identical points degenerates into one
    # huge cluster and takes minutes.
    rows = np.ascontiguousarray(x)
    keys = rows.view(np.dtype((np.void, rows.dtype.itemsize * rows.shape[1]))).ravel()
    _, first, inverse = np.unique(keys, return_index=True, return_inverse=True)
    if first.size <= size:
        return rows[first].astype(np.float32), inverse.reshape(-1).astype(np.int64)
    if n * size <= 1 << 25 or size <= 256:
        sample = x if n <= 1 << 18 else x[rng.choice(n, 1 << 18, replace=False)]
        c = sample[rng.choice(len(sample), size, replace=False)].copy()
        _lloyd(sample, c, iterations, rng)
        return c, _nearest(x, c).astype(np.int64)
    k1 = 256
    sample = x if n <= 1 << 18 else x[rng.choice(n, 1 << 18, replace=False)]
    c1 = sample[rng.choice(len(sample), k1, replace=False)].copy()
    _lloyd(sample, c1, iterations, rng)
    lab1 = _nearest(x, c1)
    members = np.bincount(lab1, minlength=k1)
    share = size * members / n
    alloc = np.minimum(members, np.maximum(members > 0, np.floor(share))).astype(np.intp)
    spare = size - int(alloc.sum())
    if spare > 0:  # hand the rounding remainder to the clusters that lost the most
        room = np.flatnonzero(alloc < members)
        best = room[np.argsort(-(share[room] - alloc[room]), kind="stable")][:spare]
        alloc[best] += 1
    offsets = np.concatenate([[0], np.cumsum(alloc)])
    palette = np.empty((int(offsets[-1]), x.shape[1]), np.float32)
    labels = np.empty(n, np.int64)
    order = np.argsort(lab1, kind="stable")
    ends = np.cumsum(members)
    for g in range(k1):
        idx = order[ends[g] - members[g]:ends[g]]
        k = int(alloc[g])
        if k == 0:
            continue
        xg = x[idx]
        base = int(offsets[g])
        if idx.size <= k:
            palette[base:base + k] = xg[:k]
            labels[idx] = base + np.arange(idx.size)
            continue
        fit = xg if idx.size <= 8 * k else xg[rng.choice(idx.size, 8 * k, replace=False)]
        cg = fit[rng.choice(len(fit), k, replace=False)].copy()
        _lloyd(fit, cg, iterations, rng)
        palette[base:base + k] = cg
        labels[idx] = base + _nearest(xg, cg)
    return palette, labels


def default_palette_size(n: int) -> int:
    """splat-transform's SH palette size for ``n`` splats."""
    if n < 1:
        return 1
    return max(1, int(min(64, 2.0 ** math.floor(math.log2(n / 1024))) * 1024))


def _finite(x: np.ndarray) -> np.ndarray:
    """float64 copy of ``x`` with NaN -> 0 and +-inf -> +-1e4 (as `check_finite`)."""
    x = np.asarray(x, dtype=np.float64)
    return x if np.isfinite(x).all() else np.nan_to_num(x, nan=0.0, posinf=1e4, neginf=-1e4)


def _final_name(path: Path) -> str:
    m = _TEMP_NAME.fullmatch(path.name)
    return m.group(1) if m else path.name


def _encode_webp(rgba: np.ndarray, method: int, quality: int) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(rgba, "RGBA").save(buf, "WEBP", lossless=True, quality=quality, method=method, exact=True)
    return buf.getvalue()


def _option_int(name: str, value, lo: int, hi: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not lo <= value <= hi:
        raise ValueError(f"{name} must be a whole number in {lo}..{hi}, got {value!r}")
    return int(value)


def write(
    cloud: SplatCloud,
    path: Path,
    progress: Progress = None,
    bundle: bool | None = None,
    sh_degree: int | None = None,
    sh_palette_size: int | None = None,
    sh_iterations: int = 8,
    codebook_iterations: int = 12,
    webp_method: int = 1,
    webp_quality: int = 25,
    seed: int = 0,
    **unknown,
) -> None:
    """Write ``cloud`` as SOG v2: a bundled .sog zip, or meta.json plus WebP
    files beside it (see the module docstring for the choice and the options)."""
    if unknown:
        raise ValueError(f"unknown option(s) for sog: {', '.join(sorted(unknown))}")
    path = Path(path)
    final = _final_name(path)
    if bundle is None:
        bundle = not final.lower().endswith(META_NAME)
    degree = cloud.sh_degree if sh_degree is None else _option_int("sh_degree", sh_degree, 0, 3)
    degree = min(degree, cloud.sh_degree)
    sh_iterations = _option_int("sh_iterations", sh_iterations, 0, 1000)
    codebook_iterations = _option_int("codebook_iterations", codebook_iterations, 0, 1000)
    webp_method = _option_int("webp_method", webp_method, 0, 6)
    webp_quality = _option_int("webp_quality", webp_quality, 0, 100)
    n = len(cloud)
    if n == 0:
        raise FormatError(path, "cannot write an empty scene as SOG")
    width, height = image_size(n)
    if width > 16383 or height > 16383:
        raise FormatError(path, f"{n} splats do not fit SOG's 16383x16383 images")
    if not np.isfinite(cloud.positions).all():
        bad = int((~np.isfinite(cloud.positions).all(axis=1)).sum())
        raise FormatError(path, f"{bad} splat(s) have non-finite positions; SOG cannot store them")
    palette_size = default_palette_size(n) if sh_palette_size is None else \
        _option_int("sh_palette_size", sh_palette_size, 1, MAX_PALETTE)
    rng = np.random.default_rng(seed)

    order = morton_order(cloud.positions)
    report(progress, 0.05)
    images: list[tuple[str, np.ndarray]] = []

    def canvas(rows: np.ndarray) -> np.ndarray:
        img = np.zeros((height * width, 4), np.uint8)
        img[:n] = rows
        return img.reshape(height, width, 4)

    # positions
    logp = log_transform(cloud.positions)
    mins, maxs = logp.min(axis=0), logp.max(axis=0)
    rng_ = maxs - mins
    t = np.where(rng_ > 0, (logp[order] - mins) / np.where(rng_ > 0, rng_, 1.0), 0.0)
    u = np.clip(np.floor(t * 65535.0 + 0.5), 0, 65535).astype(np.uint32)
    del logp, t
    rows = np.full((n, 4), 255, np.uint8)
    rows[:, :3] = u & 0xFF
    images.append(("means_l", canvas(rows)))
    rows[:, :3] = u >> 8
    images.append(("means_u", canvas(rows)))
    del u

    # rotations
    images.append(("quats", canvas(pack_quats(cloud.rotations[order]))))
    report(progress, 0.15)

    # log-scales
    ls = _finite(cloud.log_scales[order])
    scales_cb = fit_codebook(ls, rng, codebook_iterations)
    rows = np.full((n, 4), 255, np.uint8)
    rows[:, :3] = quantize(ls, scales_cb)
    images.append(("scales", canvas(rows)))
    del ls

    # colour DC + opacity
    dc = _finite(cloud.sh[order, 0])
    sh0_cb = fit_codebook(dc, rng, codebook_iterations)
    rows[:, :3] = quantize(dc, sh0_cb)
    opacity = sigmoid(np.nan_to_num(cloud.opacity_logits[order], nan=0.0)).astype(np.float64)
    rows[:, 3] = np.clip(np.floor(opacity * 255.0 + 0.5), 0, 255).astype(np.uint8)
    images.append(("sh0", canvas(rows)))
    del dc, rows
    report(progress, 0.25)

    meta: dict = {
        "version": 2,
        "asset": {"generator": "SplatForge"},
        "count": n,
        "means": {"mins": [float(v) for v in mins], "maxs": [float(v) for v in maxs], "files": []},
        "scales": {"codebook": [float(v) for v in scales_cb], "files": []},
        "quats": {"files": []},
        "sh0": {"codebook": [float(v) for v in sh0_cb], "files": []},
    }
    if degree > 0:
        coeffs = SH_COEFFS[degree]
        rest = cloud.sh[order, 1:1 + coeffs].reshape(n, coeffs * 3)
        if not np.isfinite(rest).all():
            rest = _finite(rest).astype(np.float32)
        palette, labels = fit_palette(rest, palette_size, sh_iterations, rng)
        del rest
        report(progress, 0.6)
        entries = len(palette)
        sh_cb = fit_codebook(palette, rng, codebook_iterations)
        rows_c = math.ceil(entries / 64)
        cen = np.zeros((rows_c * 64, coeffs, 4), np.uint8)
        cen[:entries, :, :3] = quantize(palette.reshape(entries, coeffs, 3), sh_cb)
        cen[:entries, :, 3] = 255
        images.append(("shN_centroids", cen.reshape(rows_c, 64 * coeffs, 4)))
        lab = np.zeros((n, 4), np.uint8)
        lab[:, 0] = labels & 0xFF
        lab[:, 1] = labels >> 8
        lab[:, 3] = 255
        images.append(("shN_labels", canvas(lab)))
        meta["shN"] = {"count": int(entries), "bands": degree, "codebook": [float(v) for v in sh_cb], "files": []}

    prefix = "" if bundle else _unbundled_prefix(final)
    section = {"means_l": "means", "means_u": "means", "quats": "quats", "scales": "scales", "sh0": "sh0",
               "shN_centroids": "shN", "shN_labels": "shN"}
    encoded: list[tuple[str, bytes]] = []
    for i, (key, img) in enumerate(images):
        name = f"{prefix}{key}.webp"
        meta[section[key]]["files"].append(name)
        encoded.append((name, _encode_webp(img, webp_method, webp_quality)))
        report(progress, 0.6 + 0.35 * (i + 1) / len(images))
    meta_bytes = json.dumps(meta, separators=(",", ":"), allow_nan=False).encode("utf-8")
    if bundle:
        _write_zip(path, encoded + [(META_NAME, meta_bytes)])
    else:
        _write_folder(path, encoded, meta_bytes)
    report(progress, 1.0)


def _unbundled_prefix(final: str) -> str:
    if final.lower().endswith(META_NAME):
        return final[: -len(META_NAME)]
    return Path(final).stem + "_"


def pack_quats(q: np.ndarray) -> np.ndarray:
    """(N, 4) wxyz quaternions -> (N, 4) uint8 smallest-three bytes (see module docstring)."""
    q = normalize_quaternions(np.nan_to_num(np.asarray(q, dtype=np.float32))).astype(np.float64)
    n = len(q)
    largest = np.argmax(np.abs(q), axis=1)
    rows = np.arange(n)
    sign = np.where(q[rows, largest] < 0, -1.0, 1.0)
    others = q[rows[:, None], _OTHERS[largest]] * sign[:, None]
    out = np.empty((n, 4), np.uint8)
    out[:, :3] = np.clip(np.floor((others * _SQRT2 * 0.5 + 0.5) * 255.0 + 0.5), 0, 255)
    out[:, 3] = 252 + largest
    return out


def _write_zip(path: Path, entries: list[tuple[str, bytes]]) -> None:
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED) as zf:
        for name, data in entries:
            info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_STORED
            zf.writestr(info, data)


def _write_folder(path: Path, entries: list[tuple[str, bytes]], meta_bytes: bytes) -> None:
    """Images under temp names first, renamed into place once all exist; then
    meta.json into ``path`` (the caller's temp file, renamed last by `write_atomic`)."""
    folder = path.parent
    temps: list[tuple[Path, Path]] = []
    try:
        for name, data in entries:
            fd, tmp = tempfile.mkstemp(prefix=f".{Path(name).name}.", suffix=".tmp", dir=folder)
            temps.append((Path(tmp), folder / name))
            with os.fdopen(fd, "wb") as f:
                f.write(data)
            umask = os.umask(0)
            os.umask(umask)
            os.chmod(tmp, 0o666 & ~umask)
        path.write_bytes(meta_bytes)
        for tmp, dest in temps:
            os.replace(tmp, dest)
    except BaseException:
        for tmp, _ in temps:
            try:
                tmp.unlink()
            except FileNotFoundError:
                pass
        raise


CODEC = Codec(
    name="sog",
    description="PlayCanvas SOG (meta.json + WebP images, bundled .sog or unbundled folder; reads v1 and v2, "
                "writes v2)",
    extensions=(".sog", META_NAME),
    sniff=_sniff,
    read=read,
    write=write,
    lossy="quantises every attribute (16-bit log-space positions, 256-entry codebooks for scales and colour, "
          "8-bit opacity and rotations, SH bands 1-3 vector-quantised to a palette), reorders splats and drops "
          "extra attributes",
)
