"""Export a scene for a target (`editor.export_presets`): the job behind
``splatforge export`` and the app's File -> Export dialog, plus an honest
estimate of the file before it is written.

`export_scene` reduces the scene to the budget, drops SH bands above the
chosen degree, turns it into the preset's frame and writes it atomically
(with the layout's collider next to it, inside the same atomic write: both
files or neither). `estimate_export` predicts the splat count and the file
size of the same export without writing it:

* uncompressed formats (PLY, .splat, .glb) cost a fixed number of bytes per
  splat: the estimate encodes two tiny samples (so the header and the stride
  come from the real codec) and extrapolates: exact for PLY and .splat up to
  the header's digits, within 1% for .glb (its JSON holds bounds);
* compressed formats (SPZ, SOG, compressed PLY) are encoded for real: the
  whole reduced scene when it has at most 1.5 ``sample`` splats, else a random
  sample of ``sample`` splats plus a half-sized one, which separate the fixed
  overhead (headers, codebooks) from the per-splat cost, extrapolated to the
  full count; SOG's SH palette grows with the count, so its cost per palette
  entry is measured with a third encode (``exact=False``: marked "≈").
  Measured on the bundled samples and random SH-3 scenes: within 3%.

Nothing here imports Qt: callers run it on a worker (progress callbacks may
raise `editor.formats.Cancelled`).
"""
from __future__ import annotations

import math
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional

import numpy as np

from editor.export_presets import PRESETS, ExportPreset, frame_cloud
from editor.formats.base import Codec, FormatError, write_atomic
from editor.formats.registry import codecs
from editor.model.splat_cloud import SplatCloud
from editor.rendering.budget_report import AUTO_MERGE_BELOW, reduce_splats

Progress = Optional[Callable[[float], None]]
REDUCE_METHODS = ("auto", "merge", "importance")
#: Formats whose size is a fixed number of bytes per splat plus a header.
UNCOMPRESSED = frozenset({"ply", "splat", "gltf"})
#: Of those, the ones whose header does not depend on the data (glTF stores bounds).
EXACT = frozenset({"ply", "splat"})
#: Above this many splats the estimate merges a random subsample (merging
#: millions of splats takes seconds; the estimate should not).
ESTIMATE_MERGE_LIMIT = 200_000


@dataclass(frozen=True)
class ExportResult:
    """What `export_scene` wrote."""

    path: Path
    codec: str  # codec name
    count: int  # splats written
    full_count: int  # splats in the scene before the budget
    sh_degree: int
    size: int  # bytes of the splat file
    collider: Path | None = None  # the collider .glb, when one was written
    collider_meshes: int = 0


@dataclass(frozen=True)
class ExportEstimate:
    """What `estimate_export` predicts. ``exact``: the count is the real one
    and the size is exact up to a few header bytes (PLY, .splat)."""

    count: int
    size: int  # bytes
    exact: bool
    codec: str
    count_exact: bool = True  # False only where a huge merge was estimated on a subsample


def pick_codec(preset: ExportPreset) -> Codec:
    """The first of the preset's formats that is registered and writable
    (FormatError without a path when none is)."""
    available = {c.name: c for c in codecs() if c.write is not None}
    for name in preset.formats:
        if name in available:
            return available[name]
    raise FormatError(None, f"preset {preset.name}: no writer for {' or '.join(preset.formats)} in this build")


def strip_extension(name: str, codec: Codec) -> str:
    """``name`` without the codec's extension (the longest that matches)."""
    for e in sorted(codec.extensions, key=len, reverse=True):
        if name.lower().endswith(e):
            return name[: -len(e)]
    return Path(name).stem


def collider_path(out: Path, codec: Codec) -> Path:
    """Where the layout collider of an export to ``out`` goes."""
    return Path(out).with_name(f"{strip_extension(Path(out).name, codec)}_collider.glb")


def resolve_preset(preset: ExportPreset | str) -> ExportPreset:
    if isinstance(preset, ExportPreset):
        return preset
    if preset not in PRESETS:
        raise FormatError(None, f"unknown preset {preset!r} (choose from {', '.join(PRESETS)})")
    return PRESETS[preset]


def _scene(cloud_or_document):
    """(cloud, layout or None) of a SplatCloud or an `editor.model.document.Document`
    (its visible, live splats and its layout)."""
    if isinstance(cloud_or_document, SplatCloud):
        return cloud_or_document, None
    return cloud_or_document.merged_cloud(), getattr(cloud_or_document, "layout", None)


def prepare_cloud(cloud: SplatCloud, preset: ExportPreset, max_splats: int | None = None,
                  sh_degree: int | None = None, reduce: str = "auto") -> SplatCloud:
    """The cloud exactly as the codec is given it: at most ``max_splats``
    (default: the preset's budget), SH bands above ``sh_degree`` (default: the
    preset's; never padded) dropped, in the preset's frame and units."""
    n = preset.max_splats if max_splats is None else int(max_splats)
    if n < 1:
        raise ValueError(f"max splats must be at least 1, got {n}")
    out = reduce_splats(cloud, n, reduce)
    degree = preset.sh_degree if sh_degree is None else int(sh_degree)
    if out.sh_degree > degree:
        out = out.with_sh_degree(degree)
    return frame_cloud(out, preset)


def export_scene(
    cloud_or_document,
    out: Path | str,
    preset: ExportPreset | str,
    max_splats: int | None = None,
    sh_degree: int | None = None,
    reduce: str = "auto",
    progress: Progress = None,
    collider: bool = True,
    layout=None,
) -> ExportResult:
    """Write ``cloud_or_document`` (a SplatCloud, or a Document: its visible
    live splats and, with ``collider``, its layout's collider; ``layout``
    overrides the document's, or gives a cloud one) to ``out`` for
    ``preset``. ``out`` must already carry the codec's extension. Raises
    FormatError (one line, naming the file) on any failure, `Cancelled` when
    ``progress`` raises it; either way no file is left behind.

    Progress: 0-0.15 reducing, 0.15-1 writing."""
    preset = resolve_preset(preset)
    out = Path(out)
    codec = pick_codec(preset)
    cloud, own_layout = _scene(cloud_or_document)
    layout = own_layout if layout is None else layout
    if len(cloud) == 0:
        raise FormatError(out, "the scene has no splats to export")
    if progress is not None:
        progress(0.0)
    full = len(cloud)
    try:
        cloud = prepare_cloud(cloud, preset, max_splats, sh_degree, reduce)
    except ValueError as e:
        raise FormatError(None, str(e)) from None
    if progress is not None:
        progress(0.15)

    meshes = []
    collider_out = None
    if layout is not None and collider:
        from editor.geometry.meshing import layout_meshes

        meshes = layout_meshes(layout)
        if meshes:
            collider_out = collider_path(out, codec)

    def write_progress(f: float) -> None:
        if progress is not None:
            progress(0.15 + 0.85 * f)

    def writer(tmp: Path) -> None:
        codec.write(cloud, tmp, write_progress, **preset.options)
        if collider_out is not None:  # inside the splat file's atomic write: both or neither
            from editor.geometry.mesh_export import write_glb

            write_glb(meshes, collider_out, preset.collider_matrix)

    try:
        write_atomic(out, writer)
    except FormatError:
        raise
    except OSError as e:
        raise FormatError(out, f"cannot write: {e.strerror or e}") from None
    except (ValueError, OverflowError) as e:
        raise FormatError(out, f"cannot write {codec.name}: {e}") from None
    if progress is not None:
        progress(1.0)
    return ExportResult(out, codec.name, len(cloud), full, cloud.sh_degree, out.stat().st_size,
                        collider_out, len(meshes) if collider_out is not None else 0)


# ---------------------------------------------------------------- estimates
def _encoded_size(codec: Codec, cloud: SplatCloud, folder: Path, options: dict, progress: Progress = None,
                  at: float = 0.5) -> int:
    """Bytes of ``cloud`` written by ``codec`` to ``folder/estimate<ext>``
    (``options["_extension"]``: ext, the codec's first by default);
    ``progress(at)`` is called during the write (so a cancel stops it early)."""
    options = dict(options)
    path = folder / f"estimate{options.pop('_extension', None) or codec.extensions[0]}"
    codec.write(cloud, path, None if progress is None else (lambda f: progress(at)), **options)
    size = path.stat().st_size
    path.unlink()
    return size


def estimate_export(
    cloud: SplatCloud,
    preset: ExportPreset | str,
    max_splats: int | None = None,
    sh_degree: int | None = None,
    reduce: str = "auto",
    sample: int = 20_000,
    seed: int = 0,
    progress: Progress = None,
    extension: str | None = None,
) -> ExportEstimate:
    """Predict the splat count and file size of `export_scene` with these
    settings without writing the file (see the module docstring for how).
    Compressed formats cost a real encode of <= ``sample`` splats (tens to
    hundreds of milliseconds; SOG with SH about a second per 20k).
    ``extension``: the output's, where the codec's container depends on it
    (glTF: ``.gltf`` embeds base64, a third larger than ``.glb``)."""
    preset = resolve_preset(preset)
    codec = pick_codec(preset)
    n_full = len(cloud)
    if n_full == 0:
        return ExportEstimate(0, 0, True, codec.name)
    budget = preset.max_splats if max_splats is None else max(1, int(max_splats))
    rng = np.random.default_rng(seed)
    method = reduce
    if method == "auto" and budget < n_full:
        method = "importance" if budget >= AUTO_MERGE_BELOW * n_full else "merge"
    exact = True
    scale = 1.0
    if budget < n_full and method == "merge" and n_full > ESTIMATE_MERGE_LIMIT:
        # merge a random subsample with the same kept fraction; count scales back
        pick = np.sort(rng.choice(n_full, ESTIMATE_MERGE_LIMIT, replace=False))
        scale = n_full / ESTIMATE_MERGE_LIMIT
        cloud = cloud.subset(pick)
        budget = max(1, int(round(budget / scale)))
        exact = False
    if progress is not None:
        progress(0.1)
    reduced = prepare_cloud(cloud, preset, budget, sh_degree, method)
    count = int(round(len(reduced) * scale)) if scale != 1.0 else len(reduced)
    if progress is not None:
        progress(0.4)
    options = dict(preset.options)
    if extension and extension.startswith(".") and extension.lower() in codec.extensions:
        options["_extension"] = extension.lower()
    with tempfile.TemporaryDirectory(prefix="splatforge-estimate-") as d:
        folder = Path(d)
        if codec.name in UNCOMPRESSED:
            k = min(64, len(reduced))
            idx = np.arange(k)
            s1 = _encoded_size(codec, reduced.subset(idx[: max(1, k // 2)]), folder, options)
            s2 = _encoded_size(codec, reduced.subset(idx), folder, options)
            stride = (s2 - s1) / max(1, k - max(1, k // 2))
            digits = len(str(count)) - len(str(k))  # the count is written in the header as text
            size = int(round(s2 + stride * (count - k))) + max(0, digits)
        else:
            m = len(reduced)
            if m <= 1.5 * sample:  # as cheap as the three sample encodes below: encode it all
                size = int(round(_encoded_size(codec, reduced, folder, options, progress) * count / m))
                exact = exact and count == m
            else:
                idx = np.sort(rng.choice(m, sample, replace=False))
                half = np.sort(rng.choice(idx, sample // 2, replace=False))
                opts = dict(options)
                palette = codec.name == "sog" and reduced.sh_degree > 0
                if palette:  # the SH palette grows with the count: fit its cost separately
                    from editor.formats.sog import default_palette_size

                    p_small, p_big = default_palette_size(sample // 2), default_palette_size(sample)
                    opts["sh_palette_size"] = p_small
                s_half = _encoded_size(codec, reduced.subset(half), folder, opts, progress, 0.5)
                if progress is not None:
                    progress(0.6)
                s_full = _encoded_size(codec, reduced.subset(idx), folder, opts, progress, 0.7)
                per_splat = max(0.0, (s_full - s_half) / (sample - sample // 2))
                size = s_full + per_splat * (count - sample)
                if palette and p_big > p_small:
                    if progress is not None:
                        progress(0.8)
                    opts["sh_palette_size"] = p_big
                    s_big = _encoded_size(codec, reduced.subset(idx), folder, opts, progress, 0.9)
                    per_entry = max(0.0, (s_big - s_full) / (p_big - p_small))
                    size += per_entry * (default_palette_size(count) - p_small)
                size = int(round(size))
                exact = False
    if progress is not None:
        progress(1.0)
    return ExportEstimate(count, size, exact and codec.name in EXACT, codec.name, scale == 1.0)


def format_size(size: int) -> str:
    """Bytes as text: ``"812 KiB"``, ``"3.4 MiB"``."""
    if size < 1024:
        return f"{size} B"
    if size < 1024**2:
        return f"{size / 1024:.0f} KiB"
    if size < 1024**3:
        return f"{size / 1024**2:.1f} MiB"
    return f"{size / 1024**3:.2f} GiB"


def default_budget(full_count: int, preset: ExportPreset) -> int:
    """The budget a dialog starts with: the preset's, capped at the scene."""
    return max(1, min(int(full_count), preset.max_splats))


def log_position(value: int, maximum: int, steps: int = 1000) -> int:
    """Slider position 0..steps of ``value`` in 1..maximum on a log scale."""
    if maximum <= 1:
        return steps
    return int(round(steps * math.log(max(1, value)) / math.log(maximum)))


def log_value(position: int, maximum: int, steps: int = 1000) -> int:
    """Inverse of `log_position`."""
    if maximum <= 1:
        return 1
    return max(1, min(maximum, int(round(math.exp(math.log(maximum) * position / steps)))))
