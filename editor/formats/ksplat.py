""".ksplat: the GaussianSplats3D (mkkellogg, MIT) splat buffer, read only.

Layout (little-endian; ``src/loaders/SplatBuffer.js`` in that repository)::

    main header, 4096 bytes
      u8 versionMajor (0)  u8 versionMinor (>= 1)  u16 unused
      u32 maxSectionCount  u32 sectionCount  u32 maxSplatCount  u32 splatCount
      u16 compressionLevel (0, 1, 2)  u16 unused  f32[3] sceneCenter
      f32 minSHCoeff  f32 maxSHCoeff  (0 -> -1.5 / +1.5)   rest zero
    maxSectionCount section headers, 1024 bytes each
      u32 splatCount  u32 maxSplatCount  u32 bucketSize  u32 bucketCount
      f32 bucketBlockSize  u16 bucketStorageSizeBytes  u16 unused
      u32 compressionScaleRange (0 -> 1 at level 0, 32767 at levels 1-2)
      u32 storageSizeBytes  u32 fullBucketCount  u32 partiallyFilledBucketCount
      u16 shDegree
    then each section's storage in turn:
      u32[partiallyFilledBucketCount] partial bucket lengths
      bucketCount x bucketStorageSizeBytes bucket centres (f32[3])
      maxSplatCount x bytesPerSplat splat rows (the first splatCount are used)

Splat row by compression level::

    level 0: f32[3] centre, f32[3] scale, f32[4] rotation, u8[4] RGBA, f32[C] SH
    level 1: u16[3] centre, f16[3] scale, f16[4] rotation, u8[4] RGBA, f16[C] SH
    level 2: as level 1 but u8[C] SH, mapped linearly to [minSHCoeff, maxSHCoeff]

At levels 1-2 a centre is ``(u16 - range) * (blockSize / 2) / range + bucketCentre``;
splats are grouped by bucket: ``fullBucketCount`` buckets of ``bucketSize``
splats, then the partial buckets with the listed lengths.

Values are stored as rendered: scale is linear (-> ``log(|s|)``, zero becomes
log(1e-9)), rotation is **w, x, y, z**, RGBA are 8-bit colour and opacity
(colour -> SH DC ``(c / 255 - 0.5) / SH_C0``, opacity -> logit). The C = 3 *
(K - 1) SH values are grouped by band, channel-major inside each band:
band 1 as [R1 R2 R3 G1 G2 G3 B1 B2 B3], then band 2 as five R, five G, five B,
then band 3 (GaussianSplats3D itself writes up to band 2; band 3 follows the
same pattern, as splat-transform reads it). Coordinates are the PLY's own
(GaussianSplats3D converts PLY to .ksplat without any axis change), so no
conversion is applied. Sections with a lower SH degree are zero-padded.

Checks: versions 0.1 and later 0.x are read; every section must lie inside the
file before anything is allocated, the sections' splat counts must add up to
the header's, and every splat must fall in a listed bucket. Non-finite
positions are refused (`FormatError`); other non-finite values follow
`check_finite`.

Precision of what was written (for reference): level 0 float32 everywhere;
levels 1-2 half floats (~3 significant digits) for scale and rotation,
positions in steps of blockSize / 2 / 32767 around each bucket centre; level 2
SH in 255 steps over [minSHCoeff, maxSHCoeff]; colour and opacity always 8-bit.
"""
from __future__ import annotations

import struct
from pathlib import Path

import numpy as np

from editor.formats.base import MAX_SPLATS, Codec, FormatError, LoadedSplats, Progress, check_finite, report
from editor.model.splat_cloud import SH_C0, SplatCloud, logit, normalize_quaternions

HEADER_BYTES = 4096
SECTION_HEADER_BYTES = 1024
MAIN_HEADER = struct.Struct("<BBHIIIIHH3fff")
SECTION_HEADER = struct.Struct("<IIIIfHHIIIIH")
DEFAULT_SH_RANGE = 1.5
DEFAULT_SCALE_RANGE = {0: 1, 1: 32767, 2: 32767}
MIN_LOG_SCALE_INPUT = 1e-9


def _sniff(head: bytes, path: Path) -> bool:
    """No magic number: a 4096-byte header whose fields are plausible and whose
    bytes after the 44 used ones are all zero (as GaussianSplats3D writes it)."""
    if len(head) < HEADER_BYTES:
        return False
    major, minor, unused, max_sections, sections, _, count, level, unused2 = struct.unpack_from("<BBHIIIIHH", head)
    return (
        major == 0
        and minor >= 1
        and unused == 0
        and unused2 == 0
        and level <= 2
        and 1 <= max_sections <= 1 << 20
        and sections <= max_sections
        and not any(head[44:HEADER_BYTES])
    )


def _row_dtype(level: int, sh_values: int) -> np.dtype:
    if level == 0:
        fields = [("centre", "<f4", 3), ("scale", "<f4", 3), ("rotation", "<f4", 4), ("rgba", "u1", 4)]
        sh_type = "<f4"
    else:
        fields = [("centre", "<u2", 3), ("scale", "<f2", 3), ("rotation", "<f2", 4), ("rgba", "u1", 4)]
        sh_type = "<f2" if level == 1 else "u1"
    if sh_values:
        fields.append(("sh", sh_type, sh_values))
    return np.dtype(fields)


def _sh_permutation(degree: int) -> np.ndarray:
    """(K-1, 3) index into a row's SH values for ``sh[:, 1 + j, c]``."""
    k = (degree + 1) ** 2
    out = np.zeros((k - 1, 3), dtype=np.intp)
    pos = 0
    for band in range(1, degree + 1):
        first = band * band - 1  # index of the band's first coefficient among the K - 1 rest
        width = 2 * band + 1
        for c in range(3):
            for m in range(width):
                out[first + m, c] = pos
                pos += 1
    return out


def _bucket_index(path: Path, section: int, count: int, bucket_size: int, full: int,
                  partial_lengths: np.ndarray, bucket_count: int) -> np.ndarray:
    idx = np.arange(count, dtype=np.int64)
    in_full = min(count, full * bucket_size)
    out = np.empty(count, dtype=np.int64)
    if in_full:
        out[:in_full] = idx[:in_full] // bucket_size
    if count > in_full:
        ends = np.cumsum(partial_lengths.astype(np.int64))
        rest = idx[in_full:] - full * bucket_size
        if not len(ends) or ends[-1] < len(rest):
            raise FormatError(
                path, f"section {section}: its buckets hold {in_full + (int(ends[-1]) if len(ends) else 0)} "
                f"splats but it lists {count}"
            )
        out[in_full:] = full + np.searchsorted(ends, rest, side="right")
    if count and int(out.max()) >= bucket_count:
        raise FormatError(path, f"section {section}: splats refer to bucket {int(out.max())} of {bucket_count}")
    return out


def _read(path: Path, progress: Progress = None) -> LoadedSplats:
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as e:
        raise FormatError(path, f"cannot read: {e.strerror or e}") from None
    size = len(data)
    if size < HEADER_BYTES:
        raise FormatError(path, f"truncated: {size} bytes, shorter than the 4096-byte .ksplat header")
    (major, minor, _, max_sections, _, _, total, level, _, cx, cy, cz, sh_min, sh_max) = MAIN_HEADER.unpack_from(data)
    if major != 0 or minor < 1:
        raise FormatError(path, f"unsupported .ksplat version {major}.{minor} (this program reads 0.1 and later 0.x)")
    if level > 2:
        raise FormatError(path, f"unknown .ksplat compression level {level} (expected 0, 1 or 2)")
    if total > MAX_SPLATS:
        raise FormatError(path, f"header claims {total} splats, more than the {MAX_SPLATS} this program accepts")
    if HEADER_BYTES + max_sections * SECTION_HEADER_BYTES > size:
        raise FormatError(
            path, f"truncated: header lists {max_sections} sections but the file is only {size} bytes"
        )
    # `x or default` as GaussianSplats3D does: 0 (and NaN) select the default range.
    sh_min = float(sh_min) if sh_min == sh_min and sh_min != 0 else -DEFAULT_SH_RANGE
    sh_max = float(sh_max) if sh_max == sh_max and sh_max != 0 else DEFAULT_SH_RANGE

    sections = []
    base = HEADER_BYTES + max_sections * SECTION_HEADER_BYTES
    for s in range(max_sections):
        (count, max_count, bucket_size, bucket_count, block_size, bucket_bytes, _,
         scale_range, _, full, partial, degree) = SECTION_HEADER.unpack_from(data, HEADER_BYTES + s * SECTION_HEADER_BYTES)
        if degree > 3:
            raise FormatError(path, f"section {s}: SH degree {degree} (expected 0 to 3)")
        if count > max_count:
            raise FormatError(path, f"section {s}: {count} splats listed but room for only {max_count}")
        sh_values = 3 * ((degree + 1) ** 2 - 1)
        dtype = _row_dtype(level, sh_values)
        buckets_bytes = partial * 4 + bucket_bytes * bucket_count
        data_base = base + buckets_bytes
        storage = buckets_bytes + dtype.itemsize * max_count
        if base + storage > size:
            raise FormatError(
                path,
                f"truncated: section {s} needs {storage} bytes at offset {base} but the file has {size} bytes",
            )
        sections.append((s, count, bucket_size, bucket_count, block_size, bucket_bytes, scale_range,
                         full, partial, degree, dtype, base, data_base))
        base += storage
    found = sum(sec[1] for sec in sections)
    if found != total:
        raise FormatError(path, f"header says {total} splats but the sections hold {found}")

    k = max([(sec[9] + 1) ** 2 for sec in sections if sec[1]] or [1])
    positions = np.empty((total, 3), np.float32)
    scales = np.empty((total, 3), np.float32)
    rotations = np.empty((total, 4), np.float32)
    rgba = np.empty((total, 4), np.uint8)
    sh_rest = np.zeros((total, k - 1, 3), np.float32)
    # hostile floats (1e38 quaternions, 1e30 block sizes, inf scales) must not warn;
    # check_finite and normalize_quaternions turn them into documented values
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        start = 0
        for (s, count, bucket_size, bucket_count, block_size, bucket_bytes, scale_range,
             full, partial, degree, dtype, sec_base, data_base) in sections:
            if not count:
                continue
            rows = np.frombuffer(data, dtype=dtype, count=count, offset=data_base)
            end = start + count
            if level == 0:
                positions[start:end] = rows["centre"]
            else:
                if bucket_bytes != 12:
                    raise FormatError(path, f"section {s}: bucket records of {bucket_bytes} bytes (expected 12)")
                if full and not bucket_size:
                    raise FormatError(path, f"section {s}: {full} full buckets of size 0")
                lengths = np.frombuffer(data, dtype="<u4", count=partial, offset=sec_base)
                centres = np.frombuffer(data, dtype="<f4", count=bucket_count * 3, offset=sec_base + partial * 4)
                bucket = _bucket_index(path, s, count, bucket_size, full, lengths, bucket_count)
                scale_range = scale_range or DEFAULT_SCALE_RANGE[level]
                step = np.float64(block_size) / 2.0 / scale_range
                q = rows["centre"].astype(np.float64) - scale_range
                positions[start:end] = q * step + centres.reshape(-1, 3)[bucket].astype(np.float64)
            scales[start:end] = rows["scale"]
            rotations[start:end] = rows["rotation"]
            rgba[start:end] = rows["rgba"]
            if degree:
                raw = rows["sh"].astype(np.float32)
                if level == 2:
                    raw = sh_min + raw / 255.0 * (sh_max - sh_min)
                sh_rest[start:end, : (degree + 1) ** 2 - 1] = raw[:, _sh_permutation(degree)]
            start = end
            report(progress, start / max(total, 1))
        log_scales = np.log(np.maximum(np.abs(scales.astype(np.float64)), MIN_LOG_SCALE_INPUT))
        sh = np.empty((total, k, 3), np.float32)
        sh[:, 0] = (rgba[:, :3].astype(np.float32) / 255.0 - 0.5) / SH_C0
        sh[:, 1:] = sh_rest
        rotations = normalize_quaternions(rotations)
    cloud = SplatCloud(positions, log_scales, rotations, logit(rgba[:, 3].astype(np.float64) / 255.0), sh)
    check_finite(path, cloud)
    report(progress, 1.0)
    details = {
        "compression_level": int(level),
        "sections": len(sections),
        "scene_center": [float(cx), float(cy), float(cz)],
    }
    if level == 2:
        details["sh_range"] = [sh_min, sh_max]
    return LoadedSplats(cloud, "ksplat", f"{major}.{minor}", details)


CODEC = Codec(
    name="ksplat",
    description="GaussianSplats3D .ksplat (read only)",
    extensions=(".ksplat",),
    sniff=_sniff,
    read=_read,
    write=None,
)
