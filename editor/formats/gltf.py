"""glTF 2.0 (.glb, .gltf) with the ``KHR_gaussian_splatting`` extension.

Spec: KhronosGroup/glTF ``extensions/2.0/Khronos/KHR_gaussian_splatting``
(Release Candidate, 2026) and its ``mesh.primitive`` schema. A splat scene is
a mesh primitive with ``mode`` 0 (POINTS) whose ``extensions`` hold a
``KHR_gaussian_splatting`` object (``kernel`` "ellipse" and ``colorSpace``
required; ``projection`` "perspective" and ``sortingMethod``
"cameraDistance" by default). Its attributes, one element per splat:

========================================== ====== ==============================================
semantic                                   type   meaning (as stored)
========================================== ====== ==============================================
``POSITION``                               VEC3   centre, glTF frame, node-local
``KHR_gaussian_splatting:ROTATION``        VEC4   unit quaternion, **x, y, z, w** (glTF order);
                                                  float, or normalized byte / short
``KHR_gaussian_splatting:SCALE``           VEC3   **linear** standard deviations (>= 0);
                                                  float, (normalized) ubyte / ushort
``KHR_gaussian_splatting:OPACITY``         SCALAR **linear** opacity in [0, 1]; float, or
                                                  normalized ubyte / ushort
``KHR_gaussian_splatting:SH_DEGREE_0_COEF_0`` VEC3 SH DC, RGB (colour = 0.5 + 0.2820948 * DC)
``KHR_gaussian_splatting:SH_DEGREE_l_COEF_n`` VEC3 SH degree l = 1..3, n = 0..2l, ordered
                                                  m = -l..l: exactly 3DGS's coefficient order
                                                  (``SplatCloud.sh[:, l*l + n]``), same basis
                                                  and signs (the spec's lighting formulas are
                                                  3DGS's ``eval_sh``)
``COLOR_0`` (optional)                     VEC4   point-cloud fallback: linear RGB of the
                                                  clamped DC colour, alpha = opacity
========================================== ====== ==============================================

A degree is either fully present (with every lower degree) or absent.

Axes
----
glTF is right-handed, y up, metres; the Niantic SPZ library names that frame
"LUF" (left, up, front) and calls it the GLB frame, and the companion
``KHR_gaussian_splatting_compression_spz_2`` text tells writers to pack with
``LUF``. PlayCanvas splat-transform writes .glb the same way: its PLY frame is
a 180 degree turn about z from its engine (= glTF) frame. So RDF (3DGS: x
right, y down, z forward) <-> glTF is ``M = diag(-1, -1, 1)``, a 180 degree
turn about **z** (not about x as for SPZ's RUB: the two y-up choices differ by
a half turn about the up axis). Applying M is exact: positions x and y negate,
the quaternion is conjugated by M (x and y negate, w and z stay; the
covariance ``M R S^2 R^T M^T`` is unchanged in meaning), and the SH
coefficients odd under (x, y) -> (-x, -y) negate (`RDF_GLTF_SH_SIGNS`;
tests check it against `editor.model.sh.rotate_sh`). M is its own inverse, so
reading applies the same M.

Node transforms are honoured on read: each splat primitive is placed by the
global matrix of every node that instantiates its mesh (default scene, else
every root node). Rotations with a uniform scale and a translation are applied
exactly (`SplatCloud.transformed`); a non-uniform scale or shear refits each
splat's covariance ``A Sigma A^T`` (eigen-decomposition) and rotates SH by the
polar rotation of A. Mirroring or degenerate matrices are refused (the spec
leaves them undefined).

Reading
-------
``.glb``: 12-byte header (magic ``glTF``, version 2, total length), a JSON
chunk, an optional BIN chunk; every length is checked against the file size
before anything is read. ``.gltf``: JSON with buffers as base64 ``data:`` URIs
or relative file names, which must stay inside the .gltf's folder (absolute
paths, ``..`` escapes and other URI schemes are refused). Accessors are read
with their stride, offsets and counts checked against their buffer views and
buffers first; sparse accessors, accessors without a buffer view (data held by
a compression extension) and required extensions other than
``KHR_gaussian_splatting`` and ``KHR_mesh_quantization`` are refused with a
one-line `FormatError`. When ``SH_DEGREE_0_COEF_0`` is missing the DC term is
taken from ``COLOR_0`` (sRGB-encoded when ``colorSpace`` is sRGB). The
``kernel``, ``colorSpace``, ``projection`` and ``sortingMethod`` are reported
in ``details``; SH of a ``lin_rec709_display`` scene are kept as stored (the
program renders them like sRGB ones). Every
splat primitive found is concatenated (SH padded to the highest degree). The
total splat count must fit the buffers at 16 bytes a splat, and meshes may be
instanced at most `MAX_INSTANCING` times the splats stored.

Writing
-------
``.glb`` (default) or ``.gltf`` (chosen from the destination's name, or
``container="glb"|"gltf"``). A ``.gltf`` embeds its buffer as one base64
``data:application/octet-stream`` URI (self-contained, written atomically like
every other format, 4/3 the size of the .glb); there is no sidecar .bin.
One scene, one node, one mesh, one POINTS primitive; one tightly packed,
4-byte-aligned buffer view per attribute; every accessor float32 except the
``COLOR_0`` fallback (normalized ubyte, disable with ``fallback_color=False``);
POSITION carries min/max. ``extensionsUsed`` lists ``KHR_gaussian_splatting``;
``extensionsRequired`` does not (the spec's point-cloud fallback). Colour space
``srgb_rec709_display`` (3DGS trains on sRGB photographs). Extra per-splat
attributes are dropped; an empty scene or non-finite positions cannot be
written.

Round trip (write + read): positions, rotations and SH are bit-exact (the
frame change only flips signs); log-scales within float32 rounding of
``exp`` (<= 1e-6); opacity exact to float32 rounding in [0, 1] (<= 1.2e-7), so
logits round-trip to ~1e-3 up to |logit| 10 and saturate at +16.6 (1 - 2^-24)
and -27.6 (1e-12).
"""
from __future__ import annotations

import base64
import binascii
import json
import math
import re
import struct
import urllib.parse
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from editor.formats.base import (
    MAX_SPLATS,
    Codec,
    FormatError,
    LoadedSplats,
    Progress,
    check_count,
    check_finite,
    report,
)
from editor.model import sh as shmod
from editor.model.splat_cloud import (
    SH_C0,
    SplatCloud,
    normalize_quaternions,
    quaternion_to_matrix,
    sh_coeff_count,
)

EXTENSION = "KHR_gaussian_splatting"
PREFIX = EXTENSION + ":"
ROTATION = PREFIX + "ROTATION"
SCALE = PREFIX + "SCALE"
OPACITY = PREFIX + "OPACITY"


def sh_semantic(degree: int, coef: int) -> str:
    """``KHR_gaussian_splatting:SH_DEGREE_<degree>_COEF_<coef>``."""
    return f"{PREFIX}SH_DEGREE_{degree}_COEF_{coef}"


GLB_MAGIC = b"glTF"
CHUNK_JSON = 0x4E4F534A
CHUNK_BIN = 0x004E4942
GLB_HEADER = struct.Struct("<4sII")
CHUNK_HEADER = struct.Struct("<II")

#: Extensions a file may list in ``extensionsRequired`` and still be read.
SUPPORTED_REQUIRED = {EXTENSION, "KHR_mesh_quantization"}
#: Largest JSON chunk of a .glb we parse (the JSON of a splat .glb is a few KiB).
MAX_GLB_JSON = 64 << 20
#: Smallest number of buffer bytes a stored splat can take (a quantized
#: position, rotation, scale and opacity plus the float DC term need 23).
MIN_BYTES_PER_SPLAT = 16
#: A mesh instanced by several nodes may multiply the stored splats this much at most.
MAX_INSTANCING = 4
MAX_NODES = 1_000_000

COLOR_SPACE = "srgb_rec709_display"

#: RDF <-> glTF (both ways): a 180 degree turn about z.
RDF_TO_GLTF = np.diag([-1.0, -1.0, 1.0])

#: Sign of each SH coefficient (k = 0..15, DC first) under (x, y, z) -> (-x, -y, z):
#: band 1 [y, z, x], band 2 [xy, yz, zz, xz, xx-yy], band 3 [y.., xyz, y.., z.., x.., z.., x..].
RDF_GLTF_SH_SIGNS = np.array(
    [1, -1, 1, -1, 1, -1, 1, -1, 1, -1, 1, -1, 1, -1, 1, -1], dtype=np.float32
)

_COMPONENTS = {  # componentType: (numpy dtype, normalisation divisor, signed)
    5120: (np.dtype("i1"), 127.0, True),
    5121: (np.dtype("u1"), 255.0, False),
    5122: (np.dtype("<i2"), 32767.0, True),
    5123: (np.dtype("<u2"), 65535.0, False),
    5125: (np.dtype("<u4"), 4294967295.0, False),
    5126: (np.dtype("<f4"), None, True),
}
_TYPES = {"SCALAR": 1, "VEC2": 2, "VEC3": 3, "VEC4": 4, "MAT2": 4, "MAT3": 9, "MAT4": 16}
FLOAT = 5126
UNSIGNED_BYTE = 5121
ARRAY_BUFFER = 34962

#: mkstemp names made by `write_atomic`: ".<final name>.<8 random chars>.tmp".
_TEMP_NAME = re.compile(r"\.(.+)\.[A-Za-z0-9_]{8}\.tmp")


# ------------------------------------------------------------------ frames
def to_gltf_frame(cloud: SplatCloud) -> SplatCloud:
    """Re-express a cloud between RDF and glTF (the map is its own inverse):
    positions and quaternions conjugated by ``diag(-1, -1, 1)``, SH signs flipped.
    Exact (sign changes only). Returns a new cloud sharing ``extras``."""
    q = cloud.rotations * np.array([1, -1, -1, 1], np.float32)
    sh = cloud.sh * RDF_GLTF_SH_SIGNS[: cloud.sh.shape[1], None]
    pos = cloud.positions * np.array([-1, -1, 1], np.float32)
    return SplatCloud(pos, cloud.log_scales, q, cloud.opacity_logits, sh, cloud.extras)


from_gltf_frame = to_gltf_frame


def _from_gltf_frame_in_place(cloud: SplatCloud) -> SplatCloud:
    """`from_gltf_frame` on a cloud this module just built (no copies)."""
    cloud.positions *= np.array([-1, -1, 1], np.float32)
    cloud.rotations *= np.array([1, -1, -1, 1], np.float32)
    cloud.sh *= RDF_GLTF_SH_SIGNS[: cloud.sh.shape[1], None]
    return cloud


# ----------------------------------------------------------------- reading
def _sniff(head: bytes, path: Path) -> bool:
    if head[:4] == GLB_MAGIC:
        return True
    if path.suffix.lower() == ".gltf":
        text = head.lstrip(b"\xef\xbb\xbf \t\r\n")
        return text[:1] == b"{"
    return False


def _reject_constant(name: str) -> float:
    raise ValueError(f"{name} is not a JSON number")


def _parse_json(path: Path, raw: bytes) -> dict:
    try:
        doc = json.loads(raw.decode("utf-8-sig"), parse_constant=_reject_constant)
    except UnicodeDecodeError:
        raise FormatError(path, "glTF JSON is not UTF-8 text") from None
    except json.JSONDecodeError as e:
        raise FormatError(path, f"glTF JSON is not valid JSON ({e.msg} at character {e.pos})") from None
    except RecursionError:
        raise FormatError(path, "glTF JSON is nested too deeply") from None
    except ValueError as e:
        raise FormatError(path, f"glTF JSON: {e}") from None
    if not isinstance(doc, dict):
        raise FormatError(path, "glTF JSON must be an object")
    return doc


def _int(path, obj: dict, key: str, what: str, default=None, lo: int = 0, hi: int = 2**53) -> int:
    value = obj.get(key, default)
    if value is None:
        raise FormatError(path, f"{what}: missing {key!r}")
    if isinstance(value, bool) or not isinstance(value, int):
        raise FormatError(path, f"{what}: {key!r} must be an integer, got {value!r:.40}")
    if not lo <= value <= hi:
        raise FormatError(path, f"{what}: {key!r} = {value} is out of range [{lo}, {hi}]")
    return value


def _list(path, doc: dict, key: str) -> list:
    value = doc.get(key, [])
    if not isinstance(value, list):
        raise FormatError(path, f"glTF {key!r} must be an array")
    return value


def _item(path, items: list, index, what: str) -> dict:
    if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < len(items):
        raise FormatError(path, f"{what} refers to a missing entry ({index!r:.40}; there are {len(items)})")
    item = items[index]
    if not isinstance(item, dict):
        raise FormatError(path, f"{what}: entry {index} is not a JSON object")
    return item


class _Source:
    """Where one glTF buffer's bytes live: a byte range of a file, or bytes in memory."""

    def __init__(self, size: int, file: Path | None = None, offset: int = 0, data: bytes | None = None):
        self.size = size
        self.file = file
        self.offset = offset
        self.data = data

    def read(self, start: int, length: int) -> bytes:
        if self.data is not None:
            return self.data[start:start + length]
        with open(self.file, "rb") as f:
            f.seek(self.offset + start)
            return f.read(length)


def _read_glb(path: Path) -> tuple[dict, _Source | None, str]:
    size = path.stat().st_size
    with open(path, "rb") as f:
        head = f.read(GLB_HEADER.size)
        if len(head) < GLB_HEADER.size:
            raise FormatError(path, f"truncated: a GLB header needs 12 bytes, the file has {len(head)}")
        magic, version, length = GLB_HEADER.unpack(head)
        if magic != GLB_MAGIC:
            raise FormatError(path, "not a binary glTF file (magic is not 'glTF')")
        if version != 2:
            raise FormatError(path, f"GLB container version {version} is not supported (only 2)")
        if length > size:
            raise FormatError(path, f"truncated: the GLB header says {length} bytes but the file has {size}")
        if length < GLB_HEADER.size + CHUNK_HEADER.size:
            raise FormatError(path, f"GLB length {length} leaves no room for the JSON chunk")
        pos = GLB_HEADER.size
        doc = None
        binary = None
        while pos + CHUNK_HEADER.size <= length:
            f.seek(pos)
            clen, ctype = CHUNK_HEADER.unpack(f.read(CHUNK_HEADER.size))
            start = pos + CHUNK_HEADER.size
            if clen > length - start:
                raise FormatError(
                    path, f"truncated: GLB chunk at byte {pos} claims {clen} bytes but only {length - start} remain"
                )
            if doc is None:
                if ctype != CHUNK_JSON:
                    raise FormatError(path, f"the first GLB chunk must be JSON (type 0x{ctype:08x})")
                if clen > MAX_GLB_JSON:
                    raise FormatError(path, f"GLB JSON chunk of {clen} bytes is larger than {MAX_GLB_JSON}")
                doc = _parse_json(path, f.read(clen))
            elif ctype == CHUNK_BIN:
                if binary is not None:
                    raise FormatError(path, "GLB has more than one BIN chunk")
                binary = _Source(clen, file=path, offset=start)
            # chunks of other types are skipped, as the spec asks
            pos = start + clen
        if doc is None:
            raise FormatError(path, "GLB has no JSON chunk")
    return doc, binary, "glb"


def _data_uri(path: Path, uri: str, what: str) -> bytes:
    header, sep, payload = uri.partition(",")
    if not sep or not header.endswith(";base64"):
        raise FormatError(path, f"{what}: only base64 data: URIs are supported")
    try:
        return base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError):
        raise FormatError(path, f"{what}: data URI is not valid base64") from None


def _external(path: Path, uri: str, what: str) -> Path:
    if re.match(r"^[A-Za-z][A-Za-z0-9+.\-]*:", uri) or uri.startswith(("/", "\\")):
        raise FormatError(path, f"{what}: URI {uri[:60]!r} is not a relative file name (refused)")
    name = urllib.parse.unquote(uri)
    if "\x00" in name or "\\" in name:
        raise FormatError(path, f"{what}: URI {uri[:60]!r} is not a plain relative file name (refused)")
    try:
        folder = path.parent.resolve()
        target = (folder / name).resolve()
        inside = target != folder and folder in target.parents
        exists = inside and target.is_file()
    except (OSError, ValueError) as e:
        raise FormatError(path, f"{what}: URI {uri[:60]!r} is not a usable file name ({e})") from None
    if not inside:
        raise FormatError(path, f"{what}: URI {uri[:60]!r} points outside the glTF's folder (refused)")
    if not exists:
        raise FormatError(path, f"{what}: file {name[:60]!r} next to the glTF does not exist")
    return target


def _buffer_sources(path: Path, doc: dict, binary: _Source | None) -> list[_Source]:
    sources = []
    for i, buf in enumerate(_list(path, doc, "buffers")):
        what = f"buffer {i}"
        if not isinstance(buf, dict):
            raise FormatError(path, f"{what} is not a JSON object")
        length = _int(path, buf, "byteLength", what, lo=1)
        uri = buf.get("uri")
        if uri is None:
            if i != 0 or binary is None:
                raise FormatError(path, f"{what} has no uri and there is no GLB BIN chunk for it")
            src = binary
        elif not isinstance(uri, str):
            raise FormatError(path, f"{what}: uri must be a string")
        elif uri.startswith("data:"):
            src = _Source(0, data=_data_uri(path, uri, what))
            src.size = len(src.data)
        else:
            target = _external(path, uri, what)
            src = _Source(target.stat().st_size, file=target)
        if length > src.size:
            raise FormatError(path, f"truncated: {what} claims {length} bytes but only {src.size} are there")
        sources.append(_Source(length, src.file, src.offset, src.data))
    return sources


@dataclass
class _Accessor:
    index: int
    count: int
    ncomp: int
    dtype: np.dtype
    divisor: float | None
    normalized: bool
    source: _Source
    start: int  # byte offset in the buffer of element 0
    stride: int
    component_type: int


def _accessor(path, doc: dict, sources: list[_Source], index, semantic: str) -> _Accessor:
    accessors = _list(path, doc, "accessors")
    what = f"accessor for {semantic}"
    acc = _item(path, accessors, index, what)
    what = f"accessor {index} ({semantic})"
    if "sparse" in acc:
        raise FormatError(path, f"{what} is sparse, which is not supported for splat attributes")
    if "bufferView" not in acc:
        raise FormatError(
            path, f"{what} has no bufferView (its data is held by a compression extension this program does not read)"
        )
    ctype = _int(path, acc, "componentType", what, hi=10**6)
    if ctype not in _COMPONENTS:
        raise FormatError(path, f"{what}: unknown componentType {ctype}")
    dtype, divisor, _ = _COMPONENTS[ctype]
    kind = acc.get("type")
    if not isinstance(kind, str) or kind not in _TYPES:
        raise FormatError(path, f"{what}: unknown type {kind!r:.40}")
    normalized = acc.get("normalized", False)
    if not isinstance(normalized, bool):
        raise FormatError(path, f"{what}: 'normalized' must be true or false")
    if normalized and ctype in (5125, 5126):
        raise FormatError(path, f"{what}: float and uint32 accessors cannot be normalized")
    count = _int(path, acc, "count", what, lo=1, hi=MAX_SPLATS)
    ncomp = _TYPES[kind]
    view_index = acc["bufferView"]
    view = _item(path, _list(path, doc, "bufferViews"), view_index, what)
    vwhat = f"bufferView {view_index}"
    buffer_index = view.get("buffer")
    _item(path, _list(path, doc, "buffers"), buffer_index, vwhat)
    source = sources[buffer_index]
    v_offset = _int(path, view, "byteOffset", vwhat, default=0)
    v_length = _int(path, view, "byteLength", vwhat, lo=1)
    if v_offset + v_length > source.size:
        raise FormatError(
            path, f"{vwhat} spans bytes {v_offset}..{v_offset + v_length} but buffer {buffer_index} has {source.size}"
        )
    elem = ncomp * dtype.itemsize
    stride = _int(path, view, "byteStride", vwhat, default=elem, lo=1, hi=252)
    if stride < elem:
        raise FormatError(path, f"{vwhat}: byteStride {stride} is smaller than one {kind} element ({elem} bytes)")
    a_offset = _int(path, acc, "byteOffset", what, default=0)
    span = stride * (count - 1) + elem
    if a_offset + span > v_length:
        raise FormatError(
            path,
            f"truncated: {what} needs {a_offset + span} bytes of {vwhat} ({count} x {kind}) but it has {v_length}",
        )
    return _Accessor(index, count, ncomp, dtype, divisor, normalized, source, v_offset + a_offset, stride, ctype)


def _read_accessor(a: _Accessor, dtype=np.float32) -> np.ndarray:
    """(count, ncomp) as ``dtype``, dequantized (normalized integers to [0, 1] / [-1, 1])."""
    span = a.stride * (a.count - 1) + a.ncomp * a.dtype.itemsize
    raw = a.source.read(a.start, span)
    if len(raw) < span:
        raise OSError("file shrank while reading")
    arr = np.ndarray((a.count, a.ncomp), dtype=a.dtype, buffer=raw, strides=(a.stride, a.dtype.itemsize))
    if a.dtype.kind == "f" and not a.normalized:
        return arr.astype(dtype)
    out = arr.astype(np.float64)
    if a.normalized:
        out /= a.divisor
        if a.dtype.kind == "i":
            np.maximum(out, -1.0, out=out)
    return out.astype(dtype, copy=False)


def _expect(path, a: _Accessor, semantic: str, ncomp: int, allowed: tuple[tuple[int, bool], ...] | None = None):
    if a.ncomp != ncomp:
        raise FormatError(path, f"accessor {a.index} ({semantic}) has {a.ncomp} components per element, expected {ncomp}")
    if allowed is not None and (a.component_type, a.normalized) not in allowed:
        names = {5120: "byte", 5121: "ubyte", 5122: "short", 5123: "ushort", 5125: "uint", 5126: "float"}
        got = ("normalized " if a.normalized else "") + names[a.component_type]
        raise FormatError(path, f"accessor {a.index} ({semantic}): component type {got} is not allowed here")


_ROT_TYPES = ((FLOAT, False), (5120, True), (5122, True))
_SCALE_TYPES = ((FLOAT, False), (5121, False), (5121, True), (5123, False), (5123, True))
_OPACITY_TYPES = ((FLOAT, False), (5121, True), (5123, True))


@dataclass
class _Primitive:
    key: tuple
    attrs: dict
    ext: dict
    mesh: int


def _splat_primitives(path, doc: dict) -> list[_Primitive]:
    found = []
    for m, mesh in enumerate(_list(path, doc, "meshes")):
        if not isinstance(mesh, dict):
            raise FormatError(path, f"mesh {m} is not a JSON object")
        prims = mesh.get("primitives", [])
        if not isinstance(prims, list):
            raise FormatError(path, f"mesh {m}: primitives must be an array")
        for p, prim in enumerate(prims):
            if not isinstance(prim, dict):
                raise FormatError(path, f"mesh {m} primitive {p} is not a JSON object")
            exts = prim.get("extensions", {})
            if not isinstance(exts, dict) or EXTENSION not in exts:
                continue
            ext = exts[EXTENSION]
            if not isinstance(ext, dict):
                raise FormatError(path, f"mesh {m} primitive {p}: {EXTENSION} must be a JSON object")
            mode = prim.get("mode", 4)
            if mode != 0:
                raise FormatError(path, f"mesh {m} primitive {p}: a splat primitive must have mode 0 (POINTS), not {mode!r:.20}")
            attrs = prim.get("attributes")
            if not isinstance(attrs, dict):
                raise FormatError(path, f"mesh {m} primitive {p}: attributes must be an object")
            found.append(_Primitive((m, p), attrs, ext, m))
    return found


def _node_matrix(path, node: dict, index: int) -> np.ndarray:
    what = f"node {index}"

    def numbers(key, n, default):
        value = node.get(key, default)
        if (
            not isinstance(value, list) or len(value) != n
            or not all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in value)
        ):
            raise FormatError(path, f"{what}: {key} must be {n} finite numbers")
        return np.array(value, dtype=np.float64)

    if "matrix" in node:
        return numbers("matrix", 16, None).reshape(4, 4).T  # column-major in glTF
    t = numbers("translation", 3, [0, 0, 0])
    x, y, z, w = numbers("rotation", 4, [0, 0, 0, 1])
    s = numbers("scale", 3, [1, 1, 1])
    n = math.sqrt(x * x + y * y + z * z + w * w)
    if n < 1e-12:
        raise FormatError(path, f"{what}: rotation is not a unit quaternion")
    x, y, z, w = x / n, y / n, z / n, w / n
    r = np.array([
        [1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)],
        [2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)],
        [2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)],
    ])
    m = np.eye(4)
    m[:3, :3] = r * s[None, :]
    m[:3, 3] = t
    return m


def _instances(path, doc: dict) -> list[tuple[int, np.ndarray]]:
    """(mesh index, global 4x4 matrix) for every node that instantiates a mesh
    in the scene to show (default scene, else scene 0, else every root node)."""
    nodes = _list(path, doc, "nodes")
    if len(nodes) > MAX_NODES:
        raise FormatError(path, f"{len(nodes)} nodes is more than the {MAX_NODES} this program accepts")
    scenes = _list(path, doc, "scenes")
    if scenes:
        scene_index = doc.get("scene", 0)
        scene = _item(path, scenes, scene_index, "'scene'")
        roots = scene.get("nodes", [])
        if not isinstance(roots, list):
            raise FormatError(path, f"scene {scene_index}: nodes must be an array")
    else:
        children = set()
        for node in nodes:
            if isinstance(node, dict) and isinstance(node.get("children"), list):
                children.update(c for c in node["children"] if isinstance(c, int) and not isinstance(c, bool))
        roots = [i for i in range(len(nodes)) if i not in children]
    out: list[tuple[int, np.ndarray]] = []
    seen: set[int] = set()
    stack = [(r, np.eye(4)) for r in reversed(roots)]
    while stack:
        index, parent = stack.pop()
        node = _item(path, nodes, index, "a scene or node child list")
        if index in seen:
            raise FormatError(path, f"node {index} appears twice in the hierarchy (it must be a tree)")
        seen.add(index)
        world = parent @ _node_matrix(path, node, index)
        if "mesh" in node:
            _item(path, _list(path, doc, "meshes"), node["mesh"], f"node {index}")
            out.append((node["mesh"], world))
        kids = node.get("children", [])
        if not isinstance(kids, list):
            raise FormatError(path, f"node {index}: children must be an array")
        stack.extend((k, world) for k in reversed(kids))
    if not nodes and not scenes:  # meshes with no node at all: show each once
        out = [(m, np.eye(4)) for m in range(len(_list(path, doc, "meshes")))]
    return out


def _srgb_encode(linear: np.ndarray) -> np.ndarray:
    c = np.clip(linear, 0.0, 1.0)
    return np.where(c <= 0.0031308, 12.92 * c, 1.055 * np.power(c, 1 / 2.4) - 0.055)


def _srgb_decode(srgb: np.ndarray) -> np.ndarray:
    c = np.clip(srgb, 0.0, 1.0)
    return np.where(c <= 0.04045, c / 12.92, np.power((c + 0.055) / 1.055, 2.4))


def _opacity_logits(p: np.ndarray) -> np.ndarray:
    p = np.clip(np.nan_to_num(p, nan=0.5), 1e-12, 1.0 - 2.0**-24)
    return (np.log(p) - np.log1p(-p)).astype(np.float32)


def _read_primitive(path, doc, sources, prim: _Primitive, color_space: str, progress, step) -> SplatCloud:
    attrs = prim.attrs
    where = f"mesh {prim.key[0]} primitive {prim.key[1]}"
    for name in ("POSITION", ROTATION, SCALE, OPACITY):
        if name not in attrs:
            raise FormatError(path, f"{where}: the splat primitive has no {name} attribute")
    pos_acc = _accessor(path, doc, sources, attrs["POSITION"], "POSITION")
    _expect(path, pos_acc, "POSITION", 3)
    n = pos_acc.count
    degree = 0
    for d in (1, 2, 3):
        present = [sh_semantic(d, c) in attrs for c in range(2 * d + 1)]
        if all(present) and degree == d - 1:
            degree = d
        elif any(present):
            raise FormatError(path, f"{where}: spherical harmonics degree {d} is only partly defined "
                                    "(every coefficient of a degree and of all lower degrees is required)")
    plan = [("POSITION", pos_acc)]
    for name, ncomp, allowed in ((ROTATION, 4, _ROT_TYPES), (SCALE, 3, _SCALE_TYPES), (OPACITY, 1, _OPACITY_TYPES)):
        a = _accessor(path, doc, sources, attrs[name], name)
        _expect(path, a, name, ncomp, allowed)
        plan.append((name, a))
    dc_name = sh_semantic(0, 0)
    if dc_name in attrs:
        a = _accessor(path, doc, sources, attrs[dc_name], dc_name)
        _expect(path, a, dc_name, 3, ((FLOAT, False),))
        plan.append((dc_name, a))
    elif "COLOR_0" in attrs:
        a = _accessor(path, doc, sources, attrs["COLOR_0"], "COLOR_0")
        if a.ncomp not in (3, 4):
            raise FormatError(path, f"accessor {a.index} (COLOR_0) must be VEC3 or VEC4")
        plan.append(("COLOR_0", a))
    else:
        raise FormatError(path, f"{where}: the splat primitive has neither {dc_name} nor COLOR_0")
    for d in range(1, degree + 1):
        for c in range(2 * d + 1):
            name = sh_semantic(d, c)
            a = _accessor(path, doc, sources, attrs[name], name)
            _expect(path, a, name, 3, ((FLOAT, False),))
            plan.append((name, a))
    for name, a in plan:
        if a.count != n:
            raise FormatError(path, f"{where}: {name} has {a.count} elements but POSITION has {n}")

    # Read attribute by attribute straight into the cloud's arrays (peak memory
    # about the cloud plus one accessor).
    acc = dict(plan)
    k = sh_coeff_count(degree)
    sh = np.zeros((n, k, 3), np.float32)
    if dc_name in acc:
        sh[:, 0] = _read_accessor(acc[dc_name])
    else:
        rgb = _read_accessor(acc["COLOR_0"], np.float64)[:, :3]
        if color_space != "lin_rec709_display":
            rgb = _srgb_encode(rgb)
        sh[:, 0] = (rgb - 0.5) / SH_C0
    step()
    for d in range(1, degree + 1):
        for c in range(2 * d + 1):
            sh[:, d * d + c] = _read_accessor(acc[sh_semantic(d, c)])
            step()
    scales = _read_accessor(acc[SCALE], np.float64)
    if (scales < 0).any():
        bad = int((scales < 0).any(axis=1).sum())
        raise FormatError(path, f"{where}: {bad} splat(s) have negative scales (the spec requires >= 0)")
    log_scales = np.log(np.maximum(scales, 1e-30))
    del scales
    q = _read_accessor(acc[ROTATION])[:, [3, 0, 1, 2]]
    norm = np.linalg.norm(q.astype(np.float64), axis=1)
    off = ~(np.abs(norm - 1.0) <= 1e-6)  # the spec stores unit quaternions; keep those bit for bit
    if off.any():
        q[off] = normalize_quaternions(q[off])
    opacity = _opacity_logits(_read_accessor(acc[OPACITY], np.float64)[:, 0])
    step()
    return SplatCloud(_read_accessor(acc["POSITION"]), log_scales, q, opacity, sh)


def matrices_to_quaternions(m: np.ndarray) -> np.ndarray:
    """Unit wxyz quaternions (N, 4) of proper rotation matrices (N, 3, 3)."""
    m = np.asarray(m, np.float64)
    # Pick, per matrix, the numerically best of the four standard formulas.
    t = np.stack([m[:, 0, 0] + m[:, 1, 1] + m[:, 2, 2], m[:, 0, 0], m[:, 1, 1], m[:, 2, 2]], axis=1)
    case = np.argmax(t, axis=1)
    q = np.empty((len(m), 4))
    w = case == 0
    s = 2.0 * np.sqrt(np.maximum(1.0 + t[w, 0], 1e-300))
    q[w] = np.stack([0.25 * s, (m[w, 2, 1] - m[w, 1, 2]) / s, (m[w, 0, 2] - m[w, 2, 0]) / s,
                     (m[w, 1, 0] - m[w, 0, 1]) / s], axis=1)
    x = case == 1
    s = 2.0 * np.sqrt(np.maximum(1.0 + m[x, 0, 0] - m[x, 1, 1] - m[x, 2, 2], 1e-300))
    q[x] = np.stack([(m[x, 2, 1] - m[x, 1, 2]) / s, 0.25 * s, (m[x, 0, 1] + m[x, 1, 0]) / s,
                     (m[x, 0, 2] + m[x, 2, 0]) / s], axis=1)
    y = case == 2
    s = 2.0 * np.sqrt(np.maximum(1.0 + m[y, 1, 1] - m[y, 0, 0] - m[y, 2, 2], 1e-300))
    q[y] = np.stack([(m[y, 0, 2] - m[y, 2, 0]) / s, (m[y, 0, 1] + m[y, 1, 0]) / s, 0.25 * s,
                     (m[y, 1, 2] + m[y, 2, 1]) / s], axis=1)
    z = case == 3
    s = 2.0 * np.sqrt(np.maximum(1.0 + m[z, 2, 2] - m[z, 0, 0] - m[z, 1, 1], 1e-300))
    q[z] = np.stack([(m[z, 1, 0] - m[z, 0, 1]) / s, (m[z, 0, 2] + m[z, 2, 0]) / s,
                     (m[z, 1, 2] + m[z, 2, 1]) / s, 0.25 * s], axis=1)
    return q / np.linalg.norm(q, axis=1, keepdims=True)


def apply_matrix(path, cloud: SplatCloud, matrix: np.ndarray) -> SplatCloud:
    """Place ``cloud`` by the 4x4 affine ``matrix`` (a glTF node's global
    transform). Refuses mirrored or degenerate matrices (FormatError)."""
    a = matrix[:3, :3]
    t = matrix[:3, 3]
    if np.allclose(a, np.eye(3), atol=1e-12) and not t.any():
        return cloud
    det = float(np.linalg.det(a))
    if not np.isfinite(matrix).all() or not det > 1e-30:
        raise FormatError(path, "a node transform mirrors or collapses its splats (not decomposable; refused)")
    norms = np.linalg.norm(a, axis=0)
    s = float(norms.mean())
    r = a / s
    if np.allclose(norms, s, rtol=1e-6) and np.allclose(r @ r.T, np.eye(3), atol=1e-6):
        u, _, vt = np.linalg.svd(r)
        return cloud.transformed(u @ vt, t, s)
    u, _, vt = np.linalg.svd(a)
    polar = u @ vt  # det +1 since det(a) > 0
    rot = quaternion_to_matrix(cloud.rotations)  # (N, 3, 3)
    sig = (rot * np.exp(2.0 * cloud.log_scales.astype(np.float64))[:, None, :]) @ np.transpose(rot, (0, 2, 1))
    sig = a[None] @ sig @ a.T[None]
    if not np.isfinite(sig).all():
        raise FormatError(path, "a node transform makes splat covariances overflow")
    evals, evecs = np.linalg.eigh(sig)
    flip = np.linalg.det(evecs) < 0
    evecs[flip, :, 0] *= -1
    out = cloud.copy()
    out.positions = (cloud.positions.astype(np.float64) @ a.T + t).astype(np.float32)
    out.log_scales = (0.5 * np.log(np.maximum(evals, 1e-60))).astype(np.float32)
    out.rotations = normalize_quaternions(matrices_to_quaternions(evecs))
    out.sh = shmod.rotate_sh(cloud.sh, polar)
    return out


def read(path: Path, progress: Progress = None) -> LoadedSplats:
    """Read a .glb or .gltf holding ``KHR_gaussian_splatting`` primitives; see
    the module docstring. Raises `FormatError` for anything wrong with the file."""
    path = Path(path)
    try:
        return _read(path, progress)
    except FileNotFoundError:
        raise FormatError(path, "no such file") from None
    except OSError as e:
        raise FormatError(path, f"cannot read: {e.strerror or e}") from None
    except MemoryError:
        raise FormatError(path, "not enough memory to load this file") from None


def _read(path: Path, progress: Progress) -> LoadedSplats:
    with open(path, "rb") as f:
        head = f.read(4)
    if head == GLB_MAGIC:
        doc, binary, container = _read_glb(path)
    else:
        doc, binary, container = _parse_json(path, path.read_bytes()), None, "gltf"
    asset = doc.get("asset")
    if not isinstance(asset, dict) or not isinstance(asset.get("version"), str):
        raise FormatError(path, "not a glTF file (no asset.version)")
    version = asset["version"]
    if not re.fullmatch(r"2\.\d+", version):
        raise FormatError(path, f"glTF version {version[:20]!r} is not supported (only 2.x)")
    required = _list(path, doc, "extensionsRequired")
    unsupported = sorted(str(e)[:60] for e in required if not (isinstance(e, str) and e in SUPPORTED_REQUIRED))
    if unsupported:
        raise FormatError(path, f"the file requires glTF extension(s) this program does not support: {', '.join(unsupported)}")
    prims = _splat_primitives(path, doc)
    if not prims:
        raise FormatError(path, f"no {EXTENSION} primitive in this glTF (it is not a Gaussian splat scene)")
    details: dict = {"container": container}
    generator = asset.get("generator")
    if isinstance(generator, str):
        details["generator"] = generator[:200]
    first = prims[0].ext
    for key, default in (("kernel", None), ("colorSpace", None), ("projection", "perspective"),
                         ("sortingMethod", "cameraDistance")):
        value = first.get(key, default)
        if value is not None:
            details[key] = str(value)[:80]
    sources = _buffer_sources(path, doc, binary)
    with np.errstate(all="ignore"):
        instances = [(mesh, m) for mesh, m in _instances(path, doc) if any(p.mesh == mesh for p in prims)]
    if not instances:
        raise FormatError(path, f"no node of the scene shows a {EXTENSION} mesh")
    # Bound the total before reading anything.
    counts = {}
    for p in prims:
        if "POSITION" not in p.attrs:
            raise FormatError(path, f"mesh {p.key[0]} primitive {p.key[1]}: the splat primitive has no POSITION attribute")
        counts[p.key] = _accessor(path, doc, sources, p.attrs["POSITION"], "POSITION").count
    stored = sum(counts.values())
    total = sum(counts[p.key] for mesh, _ in instances for p in prims if p.mesh == mesh)
    if total > MAX_INSTANCING * stored:
        raise FormatError(path, f"nodes instance the splat meshes into {total} splats, more than "
                                f"{MAX_INSTANCING}x the {stored} stored; refused")
    check_count(path, total, sum(s.size for s in sources), MIN_BYTES_PER_SPLAT)

    done = [0]
    steps = max(1, sum(len(p.attrs) for p in prims))

    def step() -> None:
        done[0] += 1
        report(progress, min(done[0] / steps, 0.95))

    color_space = details.get("colorSpace", COLOR_SPACE)
    with np.errstate(all="ignore"):  # overflow in hostile values ends as non-finite, handled below
        decoded = {p.key: _read_primitive(path, doc, sources, p, color_space, progress, step) for p in prims}
        parts = []
        for mesh, matrix in instances:
            for p in prims:
                if p.mesh == mesh:
                    parts.append(apply_matrix(path, decoded[p.key], matrix))
    cloud = _from_gltf_frame_in_place(SplatCloud.concatenate(parts) if len(parts) > 1 else parts[0])
    details["primitives"] = len(prims)
    if len(parts) != len(prims):
        details["instances"] = len(parts)
    report(progress, 1.0)
    return LoadedSplats(check_finite(path, cloud), "gltf", f"{container} {version}", details)


# ----------------------------------------------------------------- writing
def _final_name(path: Path) -> str:
    m = _TEMP_NAME.fullmatch(path.name)
    return m.group(1) if m else path.name


def _attributes(cloud: SplatCloud, fallback_color: bool) -> list[tuple[str, np.ndarray, int, str, bool]]:
    """(semantic, array, componentType, type, normalized) in file order; the
    cloud must already be in the glTF frame."""
    n = len(cloud)
    out = [
        ("POSITION", np.ascontiguousarray(cloud.positions, "<f4"), FLOAT, "VEC3", False),
        (ROTATION, np.ascontiguousarray(cloud.rotations[:, [1, 2, 3, 0]], "<f4"), FLOAT, "VEC4", False),
    ]
    log_s = np.nan_to_num(cloud.log_scales.astype(np.float64), nan=0.0, posinf=80.0, neginf=-80.0)
    out.append((SCALE, np.exp(np.clip(log_s, -80.0, 80.0)).astype("<f4"), FLOAT, "VEC3", False))
    logits = np.nan_to_num(cloud.opacity_logits.astype(np.float64), nan=0.0)
    opacity = 0.5 * (1.0 + np.tanh(0.5 * logits))
    out.append((OPACITY, opacity.astype("<f4").reshape(n, 1), FLOAT, "SCALAR", False))
    if fallback_color:
        rgb = _srgb_decode(0.5 + SH_C0 * np.nan_to_num(cloud.sh[:, 0].astype(np.float64)))
        rgba = np.concatenate([rgb, opacity[:, None]], axis=1)
        out.append(("COLOR_0", np.round(rgba * 255.0).astype(np.uint8), UNSIGNED_BYTE, "VEC4", True))
    for d in range(cloud.sh_degree + 1):
        for c in range(2 * d + 1):
            out.append((sh_semantic(d, c), np.ascontiguousarray(cloud.sh[:, d * d + c], "<f4"), FLOAT, "VEC3", False))
    return out


def _document(attrs, n: int, positions: np.ndarray, uri: str | None) -> tuple[dict, int]:
    views, accessors, semantics = [], [], {}
    offset = 0
    for i, (name, arr, ctype, kind, normalized) in enumerate(attrs):
        views.append({"buffer": 0, "byteOffset": offset, "byteLength": arr.nbytes, "target": ARRAY_BUFFER})
        acc = {"bufferView": i, "componentType": ctype, "count": n, "type": kind}
        if normalized:
            acc["normalized"] = True
        if name == "POSITION":
            acc["min"] = [float(v) for v in positions.min(axis=0)]
            acc["max"] = [float(v) for v in positions.max(axis=0)]
        accessors.append(acc)
        semantics[name] = i
        offset += arr.nbytes + (-arr.nbytes) % 4
    buffer = {"byteLength": offset}
    if uri is not None:
        buffer["uri"] = uri
    doc = {
        "asset": {"version": "2.0", "generator": "SplatForge"},
        "extensionsUsed": [EXTENSION],
        "scene": 0,
        "scenes": [{"nodes": [0]}],
        "nodes": [{"name": "splats", "mesh": 0}],
        "meshes": [{"name": "splats", "primitives": [{
            "attributes": semantics,
            "mode": 0,
            "extensions": {EXTENSION: {
                "kernel": "ellipse",
                "colorSpace": COLOR_SPACE,
                "projection": "perspective",
                "sortingMethod": "cameraDistance",
            }},
        }]}],
        "buffers": [buffer],
        "bufferViews": views,
        "accessors": accessors,
    }
    return doc, offset


class _Base64Writer:
    """Streams bytes into a file as base64 (keeps the partial 3-byte group)."""

    def __init__(self, f):
        self.f = f
        self.carry = b""

    def write(self, data: bytes) -> None:
        data = self.carry + data
        cut = len(data) - len(data) % 3
        self.f.write(base64.b64encode(data[:cut]))
        self.carry = data[cut:]

    def close(self) -> None:
        self.f.write(base64.b64encode(self.carry))
        self.carry = b""


def write(
    cloud: SplatCloud,
    path: Path,
    progress: Progress = None,
    container: str | None = None,
    fallback_color: bool = True,
) -> None:
    """Write ``cloud`` as a .glb (default) or .gltf with an embedded data URI
    (``container`` "glb" / "gltf"; by default from the destination's extension)."""
    path = Path(path)
    if container is None:
        container = "gltf" if _final_name(path).lower().endswith(".gltf") else "glb"
    if container not in ("glb", "gltf"):
        raise FormatError(path, f"container must be 'glb' or 'gltf', not {container!r}")
    n = len(cloud)
    if n == 0:
        raise FormatError(path, "cannot write an empty scene as glTF (accessors need at least one splat)")
    if not np.isfinite(cloud.positions).all():
        bad = int((~np.isfinite(cloud.positions).all(axis=1)).sum())
        raise FormatError(path, f"{bad} splat(s) have non-finite positions; glTF cannot store them")
    g = to_gltf_frame(cloud)
    attrs = _attributes(g, fallback_color)
    report(progress, 0.1)
    total = len(attrs)
    if container == "glb":
        doc, blen = _document(attrs, n, g.positions, None)
        js = json.dumps(doc, separators=(",", ":"), allow_nan=False).encode("utf-8")
        js += b" " * ((-len(js)) % 4)
        length = GLB_HEADER.size + CHUNK_HEADER.size + len(js) + CHUNK_HEADER.size + blen
        with open(path, "wb") as f:
            f.write(GLB_HEADER.pack(GLB_MAGIC, 2, length))
            f.write(CHUNK_HEADER.pack(len(js), CHUNK_JSON) + js)
            f.write(CHUNK_HEADER.pack(blen, CHUNK_BIN))
            for i, (_, arr, *_rest) in enumerate(attrs):
                f.write(arr.tobytes())
                f.write(b"\x00" * ((-arr.nbytes) % 4))
                report(progress, 0.1 + 0.9 * (i + 1) / total)
    else:
        marker = "@@SPLATFORGE_BUFFER@@"
        doc, _ = _document(attrs, n, g.positions, marker)
        text = json.dumps(doc, indent=1, allow_nan=False)
        before, after = text.split(marker)
        with open(path, "wb") as f:
            f.write(before.encode("utf-8") + b"data:application/octet-stream;base64,")
            enc = _Base64Writer(f)
            for i, (_, arr, *_rest) in enumerate(attrs):
                enc.write(arr.tobytes())
                enc.write(b"\x00" * ((-arr.nbytes) % 4))
                report(progress, 0.1 + 0.9 * (i + 1) / total)
            enc.close()
            f.write(after.encode("utf-8") + b"\n")
    report(progress, 1.0)


CODEC = Codec(
    name="gltf",
    description="glTF 2.0 with KHR_gaussian_splatting (.glb binary, or .gltf with embedded or relative buffers)",
    extensions=(".glb", ".gltf"),
    sniff=_sniff,
    read=read,
    write=write,
    lossy="scales and opacity stored linear as float32 (log-scale <= 1e-6, opacity float32 rounding); "
          "extra properties dropped",
)
