"""How much a splat budget costs, measured: PSNR of a reduced scene against the
full one, both rendered by the reference rasterizer from the same few views.

Three ways to reduce N splats to n are compared by `compare_reductions`:

* ``area``: keep the n largest ``opacity x largest cross-section area``
  (`editor.model.budget.keep_most_important`, what ``--max-splats`` does);
* ``volume``: keep the n largest ``opacity x s1 s2 s3`` (ellipsoid volume);
* ``merge``: cluster neighbours on a grid whose cell size gives n occupied
  cells and replace each cluster by one moment-matched Gaussian (weighted by
  opacity x area: mean, covariance of the mixture, SH averaged, opacity
  ``1 - prod(1 - a_i)`` capped at the cluster's summed footprint share).

Measured (README, "Budgets"): pruning by area beats merging when most splats
stay (>= ~70 %: it drops only splats nobody sees), merging wins clearly below
(+4 to +9 dB at 50-10 %); area beats volume by 0-0.4 dB. `reduce_splats`
with ``"auto"`` picks accordingly.

Run ``python -m editor.rendering.budget_report FILE [--fraction 0.25]`` to
print the PSNR of each method per view (numbers for the bundled samples are
in the README). Renders are small (160 px) and slow (plain numpy): a 90k-splat
scene takes a minute or two for all methods.
"""
from __future__ import annotations

import argparse
import math
import time

import numpy as np

from editor.formats.gltf import matrices_to_quaternions
from editor.model.budget import keep_most_important
from editor.model.camera import Camera
from editor.model.splat_cloud import (
    SplatCloud,
    logit,
    normalize_quaternions,
    quaternion_to_matrix,
    sigmoid,
)
from editor.rendering.reference import render_reference


def orbit_cameras(cloud: SplatCloud, views: int = 4, size: int = 160, elevation_deg: float = 20.0) -> list[Camera]:
    """``views`` square cameras (``size`` px) evenly around the scene's y axis,
    ``elevation_deg`` above it on the -y side (3DGS scenes are y down), each
    framing the box of the central 90% of splat centres (floaters ignored)."""
    if len(cloud) == 0:
        raise ValueError("cannot frame an empty scene")
    lo, hi = np.percentile(cloud.positions.astype(np.float64), [5, 95], axis=0)
    e = math.radians(elevation_deg)
    cams = []
    for k in range(views):
        t = 2.0 * math.pi * k / views
        d = (math.sin(t) * math.cos(e), -math.sin(e), -math.cos(t) * math.cos(e))
        cams.append(Camera.framing(lo, hi, direction=d, up=(0.0, -1.0, 0.0), fov_y_deg=50.0, width=size, height=size))
    return cams


def psnr(image: np.ndarray, reference: np.ndarray) -> float:
    """Peak signal-to-noise ratio in dB of two images in [0, 1] (inf if equal)."""
    mse = float(np.mean((np.asarray(image, np.float64) - np.asarray(reference, np.float64)) ** 2))
    return math.inf if mse == 0.0 else 10.0 * math.log10(1.0 / mse)


def budget_psnr(
    full: SplatCloud,
    reduced: SplatCloud,
    views: int = 4,
    size: int = 160,
    background=(0.0, 0.0, 0.0),
    sh_degree: int | None = None,
) -> list[float]:
    """PSNR (dB) of ``reduced`` against ``full`` from each of `orbit_cameras`
    (framed on ``full``), rendered with `render_reference`."""
    out = []
    for cam in orbit_cameras(full, views, size):
        ref = render_reference(full, cam, background, sh_degree)
        img = render_reference(reduced, cam, background, sh_degree)
        out.append(psnr(img, ref))
    return out


# ---------------------------------------------------------------- reductions
def volume_scores(cloud: SplatCloud) -> np.ndarray:
    """(N,) ``opacity x s1 s2 s3`` (linear scales); non-finite counts as 0."""
    vol = np.exp(np.clip(cloud.log_scales.astype(np.float64).sum(axis=1), -200.0, 200.0))
    score = sigmoid(cloud.opacity_logits).astype(np.float64) * vol
    return np.where(np.isfinite(score), score, 0.0)


def keep_top(cloud: SplatCloud, n: int, scores: np.ndarray) -> SplatCloud:
    """The ``n`` splats with the largest ``scores``, in their original order."""
    if len(cloud) <= n:
        return cloud
    keep = np.argpartition(-scores, n - 1)[:n] if n else np.zeros(0, np.int64)
    return cloud.subset(np.sort(keep))


def _cells(pos: np.ndarray, size: float) -> tuple[np.ndarray, int]:
    """(cell index (N,) in 0..m-1, m) of a grid with cells ``size`` wide."""
    keys = np.floor((pos - pos.min(axis=0)) / size).astype(np.int64)
    dims = keys.max(axis=0) + 1
    if float(np.prod(dims.astype(np.float64))) < 2.0**62:
        flat = (keys[:, 0] * dims[1] + keys[:, 1]) * dims[2] + keys[:, 2]
        _, inverse = np.unique(flat, return_inverse=True)
    else:
        _, inverse = np.unique(keys, axis=0, return_inverse=True)
    inverse = inverse.reshape(-1)
    return inverse, int(inverse.max()) + 1


def merge_neighbours(cloud: SplatCloud, n: int) -> SplatCloud:
    """At most ``n`` splats: clusters of neighbours (grid cells sized so about
    ``n`` are occupied) each replaced by one moment-matched Gaussian."""
    if len(cloud) <= n:
        return cloud
    if n < 1:
        raise ValueError("n must be at least 1")
    pos = cloud.positions.astype(np.float64)
    lo, hi = math.log(1e-9), math.log(max(float(np.ptp(pos, axis=0).max()), 1e-6) * 2.0)
    cell, m = _cells(pos, math.exp(hi))
    for _ in range(30):  # bisect the cell size in log space: the smallest giving <= n cells
        mid = 0.5 * (lo + hi)
        c, k = _cells(pos, math.exp(mid))
        if k > n:
            lo = mid
        else:
            hi, cell, m = mid, c, k
            if k >= 0.98 * n:
                break

    def total(values: np.ndarray) -> np.ndarray:
        return np.bincount(cell, values, m)

    alpha = sigmoid(cloud.opacity_logits).astype(np.float64)
    s = np.exp(cloud.log_scales.astype(np.float64))
    ss = np.sort(s, axis=1)
    w = alpha * ss[:, 2] * ss[:, 1] + 1e-30  # opacity x footprint
    wsum = total(w)
    mean = np.stack([total(w * pos[:, k]) for k in range(3)], axis=1) / wsum[:, None]
    r = quaternion_to_matrix(normalize_quaternions(cloud.rotations))
    d = pos - mean[cell]
    merged_cov = np.empty((m, 3, 3))
    for i in range(3):
        for j in range(i, 3):
            # member covariance + spread of the member means about the merged mean
            cij = np.einsum("nk,nk->n", r[:, i, :] * (s * s), r[:, j, :]) + d[:, i] * d[:, j]
            merged_cov[:, i, j] = merged_cov[:, j, i] = total(w * cij) / wsum
    evals, evecs = np.linalg.eigh(merged_cov)
    evecs[np.linalg.det(evecs) < 0, :, 0] *= -1
    quats = matrices_to_quaternions(evecs)
    flat_sh = cloud.sh.reshape(len(cloud), -1).astype(np.float64)
    sh = np.stack([total(w * flat_sh[:, k]) for k in range(flat_sh.shape[1])], axis=1) / wsum[:, None]
    # Opacity: what the members cover together, but not more than their
    # summed footprints can justify over the merged footprint.
    log_clear = total(np.log1p(-np.minimum(alpha, 0.999)))
    ms = np.sort(np.sqrt(np.maximum(evals, 1e-30)), axis=1)
    share = wsum / (ms[:, 2] * ms[:, 1])
    op = np.minimum(1.0 - np.exp(log_clear), np.minimum(share, 0.999))
    return SplatCloud(
        mean,
        0.5 * np.log(np.maximum(evals, 1e-30)),
        normalize_quaternions(quats),
        logit(op),
        sh.reshape(m, cloud.sh.shape[1], 3),
    )


#: `reduce_splats` "auto" prunes by importance when keeping at least this
#: fraction of the splats and merges neighbours below it: where the two cross
#: in the measurements on the bundled samples (README, "Budgets").
AUTO_MERGE_BELOW = 0.7


def reduce_splats(cloud: SplatCloud, n: int, method: str = "auto") -> SplatCloud:
    """At most ``n`` splats: ``"importance"`` (keep the most important,
    opacity x area), ``"merge"`` (`merge_neighbours`) or ``"auto"`` (importance
    when ``n >= AUTO_MERGE_BELOW * len(cloud)``, else merge)."""
    if n < 1:
        raise ValueError("n must be at least 1")
    if len(cloud) <= n:
        return cloud
    if method == "auto":
        method = "importance" if n >= AUTO_MERGE_BELOW * len(cloud) else "merge"
    if method == "importance":
        return keep_most_important(cloud, n)
    if method == "merge":
        return merge_neighbours(cloud, n)
    raise ValueError(f"unknown reduction {method!r}")


METHODS = {
    "area": lambda cloud, n: keep_most_important(cloud, n),
    "volume": lambda cloud, n: keep_top(cloud, n, volume_scores(cloud)),
    "merge": merge_neighbours,
}


def compare_reductions(
    cloud: SplatCloud, n: int, views: int = 4, size: int = 160, methods=("area", "volume", "merge")
) -> dict[str, list[float]]:
    """Per method, the PSNR (dB) of the ``n``-splat reduction in each view."""
    cams = orbit_cameras(cloud, views, size)
    refs = [render_reference(cloud, cam) for cam in cams]
    out = {}
    for name in methods:
        reduced = METHODS[name](cloud, n)
        out[name] = [psnr(render_reference(reduced, cam), ref) for cam, ref in zip(cams, refs)]
    return out


def main(argv: list[str] | None = None) -> int:
    from editor.formats import read_splats

    p = argparse.ArgumentParser(prog="python -m editor.rendering.budget_report", description=__doc__.split("\n")[0])
    p.add_argument("input")
    p.add_argument("--fraction", type=float, default=0.25, help="keep this fraction of the splats (default 0.25)")
    p.add_argument("--views", type=int, default=4)
    p.add_argument("--size", type=int, default=160)
    p.add_argument("--sh-degree", type=int, choices=range(4), help="also drop SH above this degree in the reduced scene")
    args = p.parse_args(argv)
    cloud = read_splats(args.input).cloud
    n = max(1, int(round(len(cloud) * args.fraction)))
    start = time.monotonic()
    results = compare_reductions(cloud, n, args.views, args.size)
    print(f"{args.input}: {len(cloud)} -> {n} splats, {args.views} views at {args.size} px")
    for name, values in results.items():
        print(f"  {name:7s} mean {np.mean(values):6.2f} dB   per view " + " ".join(f"{v:6.2f}" for v in values))
    if args.sh_degree is not None and cloud.sh_degree > args.sh_degree:
        values = budget_psnr(cloud, cloud.with_sh_degree(args.sh_degree), args.views, args.size)
        print(f"  SH {cloud.sh_degree}->{args.sh_degree} (all splats) mean {np.mean(values):6.2f} dB")
    print(f"  ({time.monotonic() - start:.0f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
