"""`SplatCloud`: the in-memory form of a 3D Gaussian splat scene.

Structure of arrays, float32, one row per splat (N splats):

============== ============ ==================================================
attribute      shape        meaning
============== ============ ==================================================
positions      (N, 3)       centre in world units, in the file's own frame
log_scales     (N, 3)       natural log of the per-axis standard deviation
rotations      (N, 4)       unit quaternion, **w, x, y, z** order
opacity_logits (N,)         opacity before the sigmoid (``alpha = sigmoid(o)``)
sh             (N, K, 3)    spherical-harmonic coefficients, K = (d + 1)**2
                            for SH degree d in 0..3; ``sh[:, 0]`` is the DC
                            band, ``colour = 0.5 + SH_C0 * sh[:, 0]``.
extras         {name: (N,)} any other per-splat values a format carried
                            (normals, ids, ...), kept for round trips.
============== ============ ==================================================

Coordinate convention: positions are stored exactly as the file on disk has
them for PLY-family files (3DGS/COLMAP "RDF": x right, y down, z forward).
Readers of formats with another convention (SPZ stores RUB: x right, y up, z
back) convert to RDF on read and back on write, so a `SplatCloud` is always in
the 3DGS PLY frame. See ``editor.formats`` for each format's conversion.

The SH layout is coefficient-major with the colour channel last, which is what
the renderer and the rasterizers want; PLY's ``f_rest_*`` is channel-major and
is reordered by the PLY codec.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable, Mapping

import numpy as np

from editor.model import sh as shmod

SH_C0 = shmod.SH_C0

_CORE = ("positions", "log_scales", "rotations", "opacity_logits", "sh")


def sh_coeff_count(degree: int) -> int:
    """Number of SH coefficients per channel for SH degree ``degree``."""
    return (degree + 1) ** 2


def sh_degree_for_count(count: int) -> int:
    """Inverse of `sh_coeff_count`; raises ValueError for a non-square count."""
    for d in range(4):
        if sh_coeff_count(d) == count:
            return d
    raise ValueError(f"{count} SH coefficients per channel is not a degree 0..3 layout")


def sigmoid(x: np.ndarray) -> np.ndarray:
    """Numerically safe logistic function, float32 in, float32 out."""
    x = np.asarray(x, dtype=np.float32)
    return (0.5 * (1.0 + np.tanh(0.5 * x))).astype(np.float32)


def logit(p: np.ndarray, eps: float = 1e-6) -> np.ndarray:
    """Inverse sigmoid, with ``p`` clipped to [eps, 1 - eps] so 0 and 1 stay finite."""
    p = np.clip(np.asarray(p, dtype=np.float64), eps, 1.0 - eps)
    return np.log(p / (1.0 - p)).astype(np.float32)


def normalize_quaternions(q: np.ndarray) -> np.ndarray:
    """Return unit quaternions (N, 4); a zero quaternion becomes the identity."""
    q = np.asarray(q, dtype=np.float32)
    n = np.linalg.norm(q, axis=1, keepdims=True)
    bad = ~(n[:, 0] > 1e-12) | ~np.isfinite(n[:, 0])
    out = q / np.where(bad[:, None], 1.0, n)
    if bad.any():
        out[bad] = (1.0, 0.0, 0.0, 0.0)
    return out.astype(np.float32, copy=False)


def quaternion_multiply(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Hamilton product ``a * b`` of wxyz quaternions, broadcasting (..., 4)."""
    aw, ax, ay, az = np.moveaxis(a, -1, 0)
    bw, bx, by, bz = np.moveaxis(b, -1, 0)
    return np.stack(
        (
            aw * bw - ax * bx - ay * by - az * bz,
            aw * bx + ax * bw + ay * bz - az * by,
            aw * by - ax * bz + ay * bw + az * bx,
            aw * bz + ax * by - ay * bx + az * bw,
        ),
        axis=-1,
    )


def quaternion_to_matrix(q: np.ndarray) -> np.ndarray:
    """Rotation matrices (..., 3, 3) of unit wxyz quaternions (..., 4)."""
    w, x, y, z = np.moveaxis(np.asarray(q, dtype=np.float64), -1, 0)
    return np.stack(
        (
            np.stack((1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)), -1),
            np.stack((2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)), -1),
            np.stack((2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)), -1),
        ),
        axis=-2,
    )


def matrix_to_quaternion(m: np.ndarray) -> np.ndarray:
    """Unit wxyz quaternion (4,) of a proper rotation matrix (3, 3), w >= 0."""
    m = np.asarray(m, dtype=np.float64)
    t = np.trace(m)
    if t > 0:
        s = 2.0 * np.sqrt(t + 1.0)
        q = np.array([0.25 * s, (m[2, 1] - m[1, 2]) / s, (m[0, 2] - m[2, 0]) / s, (m[1, 0] - m[0, 1]) / s])
    elif m[0, 0] > m[1, 1] and m[0, 0] > m[2, 2]:
        s = 2.0 * np.sqrt(1.0 + m[0, 0] - m[1, 1] - m[2, 2])
        q = np.array([(m[2, 1] - m[1, 2]) / s, 0.25 * s, (m[0, 1] + m[1, 0]) / s, (m[0, 2] + m[2, 0]) / s])
    elif m[1, 1] > m[2, 2]:
        s = 2.0 * np.sqrt(1.0 + m[1, 1] - m[0, 0] - m[2, 2])
        q = np.array([(m[0, 2] - m[2, 0]) / s, (m[0, 1] + m[1, 0]) / s, 0.25 * s, (m[1, 2] + m[2, 1]) / s])
    else:
        s = 2.0 * np.sqrt(1.0 + m[2, 2] - m[0, 0] - m[1, 1])
        q = np.array([(m[1, 0] - m[0, 1]) / s, (m[0, 2] + m[2, 0]) / s, (m[1, 2] + m[2, 1]) / s, 0.25 * s])
    q /= np.linalg.norm(q)
    return q if q[0] >= 0 else -q


@dataclass
class SplatCloud:
    """A set of 3D Gaussians; see the module docstring for shapes and units."""

    positions: np.ndarray
    log_scales: np.ndarray
    rotations: np.ndarray
    opacity_logits: np.ndarray
    sh: np.ndarray
    extras: dict[str, np.ndarray] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.positions = np.ascontiguousarray(self.positions, dtype=np.float32)
        self.log_scales = np.ascontiguousarray(self.log_scales, dtype=np.float32)
        self.rotations = np.ascontiguousarray(self.rotations, dtype=np.float32)
        self.opacity_logits = np.ascontiguousarray(self.opacity_logits, dtype=np.float32).reshape(-1)
        self.sh = np.ascontiguousarray(self.sh, dtype=np.float32)
        n = self.positions.shape[0]
        checks = {
            "positions": (self.positions, (n, 3)),
            "log_scales": (self.log_scales, (n, 3)),
            "rotations": (self.rotations, (n, 4)),
            "opacity_logits": (self.opacity_logits, (n,)),
        }
        for name, (arr, shape) in checks.items():
            if arr.shape != shape:
                raise ValueError(f"{name} has shape {arr.shape}, expected {shape}")
        if self.sh.ndim != 3 or self.sh.shape[0] != n or self.sh.shape[2] != 3:
            raise ValueError(f"sh has shape {self.sh.shape}, expected ({n}, K, 3)")
        sh_degree_for_count(self.sh.shape[1])
        for name, arr in self.extras.items():
            if np.asarray(arr).shape[:1] != (n,):
                raise ValueError(f"extra attribute {name!r} has {np.asarray(arr).shape[0]} rows, expected {n}")

    # ------------------------------------------------------------------ basics
    @classmethod
    def empty(cls, sh_degree: int = 0) -> "SplatCloud":
        k = sh_coeff_count(sh_degree)
        return cls(
            np.zeros((0, 3)), np.zeros((0, 3)), np.zeros((0, 4)), np.zeros((0,)), np.zeros((0, k, 3))
        )

    @classmethod
    def from_activated(
        cls,
        positions: np.ndarray,
        scales: np.ndarray,
        rotations: np.ndarray,
        opacities: np.ndarray,
        colors: np.ndarray | None = None,
        sh: np.ndarray | None = None,
    ) -> "SplatCloud":
        """Build from linear scales (N,3), wxyz rotations (N,4), opacities in [0,1] (N,)
        and either RGB colours in [0,1] (N,3) or full SH (N,K,3)."""
        scales = np.maximum(np.asarray(scales, dtype=np.float64), 1e-30)
        if sh is None:
            if colors is None:
                raise ValueError("give colors or sh")
            sh = ((np.asarray(colors, dtype=np.float64) - 0.5) / SH_C0)[:, None, :]
        return cls(
            positions,
            np.log(scales),
            normalize_quaternions(rotations),
            logit(opacities),
            sh,
        )

    def __len__(self) -> int:
        return int(self.positions.shape[0])

    @property
    def count(self) -> int:
        return len(self)

    @property
    def sh_degree(self) -> int:
        return sh_degree_for_count(self.sh.shape[1])

    @property
    def scales(self) -> np.ndarray:
        """Linear per-axis standard deviations (N, 3)."""
        return np.exp(self.log_scales)

    @property
    def opacities(self) -> np.ndarray:
        """Opacities in [0, 1] (N,)."""
        return sigmoid(self.opacity_logits)

    @property
    def base_colors(self) -> np.ndarray:
        """View-independent RGB from the DC band, unclamped (N, 3)."""
        return (0.5 + SH_C0 * self.sh[:, 0, :]).astype(np.float32)

    @property
    def nbytes(self) -> int:
        total = sum(getattr(self, a).nbytes for a in _CORE)
        return int(total + sum(np.asarray(v).nbytes for v in self.extras.values()))

    def copy(self) -> "SplatCloud":
        return SplatCloud(
            self.positions.copy(),
            self.log_scales.copy(),
            self.rotations.copy(),
            self.opacity_logits.copy(),
            self.sh.copy(),
            {k: np.array(v, copy=True) for k, v in self.extras.items()},
        )

    def equals(self, other: "SplatCloud") -> bool:
        """Exact equality of every array, extras included."""
        if not isinstance(other, SplatCloud):
            return False
        for a in _CORE:
            x, y = getattr(self, a), getattr(other, a)
            if x.shape != y.shape or not np.array_equal(x, y, equal_nan=True):
                return False
        if self.extras.keys() != other.extras.keys():
            return False
        return all(np.array_equal(self.extras[k], other.extras[k], equal_nan=True) for k in self.extras)

    # -------------------------------------------------------------- selection
    def subset(self, index: np.ndarray | slice) -> "SplatCloud":
        """Rows picked by a boolean mask (N,), an integer index array, or a slice."""
        if isinstance(index, np.ndarray) and index.dtype == bool and index.shape != (len(self),):
            raise ValueError(f"mask has shape {index.shape}, expected ({len(self)},)")
        return SplatCloud(
            self.positions[index],
            self.log_scales[index],
            self.rotations[index],
            self.opacity_logits[index],
            self.sh[index],
            {k: np.asarray(v)[index] for k, v in self.extras.items()},
        )

    @staticmethod
    def concatenate(clouds: Iterable["SplatCloud"]) -> "SplatCloud":
        """Join clouds; SH is padded with zeros up to the highest degree, and an
        extra attribute missing from some clouds is filled with zeros there."""
        clouds = list(clouds)
        if not clouds:
            return SplatCloud.empty()
        k = max(c.sh.shape[1] for c in clouds)
        names: list[str] = []
        for c in clouds:
            names += [n for n in c.extras if n not in names]
        extras = {}
        for name in names:
            dtype = next(np.asarray(c.extras[name]).dtype for c in clouds if name in c.extras)
            extras[name] = np.concatenate(
                [np.asarray(c.extras[name]) if name in c.extras else np.zeros(len(c), dtype) for c in clouds]
            )
        return SplatCloud(
            np.concatenate([c.positions for c in clouds]),
            np.concatenate([c.log_scales for c in clouds]),
            np.concatenate([c.rotations for c in clouds]),
            np.concatenate([c.opacity_logits for c in clouds]),
            np.concatenate([_pad_sh(c.sh, k) for c in clouds]),
            extras,
        )

    # ---------------------------------------------------------------- editing
    def with_sh_degree(self, degree: int) -> "SplatCloud":
        """Copy with SH truncated to ``degree`` (dropping bands) or zero-padded up to it."""
        if not 0 <= degree <= 3:
            raise ValueError(f"SH degree must be 0..3, got {degree}")
        out = self.copy()
        out.sh = np.ascontiguousarray(_pad_sh(self.sh, sh_coeff_count(degree))[:, : sh_coeff_count(degree)])
        return out

    def transformed(
        self,
        rotation: np.ndarray | None = None,
        translation: np.ndarray | None = None,
        scale: float = 1.0,
    ) -> "SplatCloud":
        """Apply the similarity ``x -> scale * R @ x + t`` to every splat.

        rotation: (3, 3) proper rotation matrix (det +1) or None for identity.
        translation: (3,) world units. scale: positive uniform factor.
        Splat orientations are pre-multiplied by R, log-scales shifted by
        log(scale), and SH bands 1..3 rotated so view-dependent colour turns
        with the scene (see `editor.model.sh.rotate_sh`).
        """
        r = np.eye(3) if rotation is None else np.asarray(rotation, dtype=np.float64)
        if r.shape != (3, 3) or not np.allclose(r @ r.T, np.eye(3), atol=1e-5) or np.linalg.det(r) < 0:
            raise ValueError("rotation must be a proper 3x3 rotation matrix")
        if not scale > 0:
            raise ValueError("scale must be positive")
        t = np.zeros(3) if translation is None else np.asarray(translation, dtype=np.float64)
        out = self.copy()
        out.positions = (scale * (self.positions.astype(np.float64) @ r.T) + t).astype(np.float32)
        out.log_scales = (self.log_scales + np.float32(np.log(scale))).astype(np.float32)
        qr = matrix_to_quaternion(r)
        out.rotations = normalize_quaternions(quaternion_multiply(qr[None, :], self.rotations.astype(np.float64)))
        out.sh = shmod.rotate_sh(self.sh, r)
        return out

    # ------------------------------------------------------------- statistics
    def bounds(self) -> tuple[np.ndarray, np.ndarray]:
        """(min (3,), max (3,)) of finite splat centres; zeros for an empty cloud."""
        p = self.positions
        finite = np.isfinite(p).all(axis=1)
        if not finite.any():
            return np.zeros(3, np.float32), np.zeros(3, np.float32)
        p = p[finite]
        return p.min(axis=0), p.max(axis=0)

    def statistics(self) -> dict:
        """Summary numbers for `splatforge info` and the statistics panel."""
        lo, hi = self.bounds()
        stats: dict = {
            "count": len(self),
            "sh_degree": self.sh_degree,
            "bounds_min": [float(v) for v in lo],
            "bounds_max": [float(v) for v in hi],
            "memory_bytes": self.nbytes,
            "extra_attributes": sorted(self.extras),
        }
        if len(self):
            op = self.opacities
            sc = self.scales.max(axis=1)
            stats["opacity"] = _summary(op)
            stats["scale_max_axis"] = _summary(sc)
            stats["nonfinite_splats"] = int((~np.isfinite(self.positions).all(axis=1)).sum())
        return stats


def _summary(x: np.ndarray) -> dict:
    x = x[np.isfinite(x)]
    if x.size == 0:
        return {}
    q = np.percentile(x, [5, 50, 95])
    return {
        "min": float(x.min()),
        "p05": float(q[0]),
        "median": float(q[1]),
        "p95": float(q[2]),
        "max": float(x.max()),
        "mean": float(x.mean()),
    }


def _pad_sh(sh: np.ndarray, k: int) -> np.ndarray:
    if sh.shape[1] >= k:
        return sh
    pad = np.zeros((sh.shape[0], k - sh.shape[1], 3), np.float32)
    return np.concatenate([sh, pad], axis=1)


def clouds_close(a: SplatCloud, b: SplatCloud, tolerances: Mapping[str, float]) -> list[str]:
    """Compare two clouds attribute by attribute; returns the list of failures
    (empty when all agree). ``tolerances`` maps attribute name to max abs error;
    rotations are compared up to sign (q and -q are the same rotation)."""
    problems = []
    if len(a) != len(b):
        return [f"count {len(a)} != {len(b)}"]
    for name, tol in tolerances.items():
        x = getattr(a, name).astype(np.float64)
        y = getattr(b, name).astype(np.float64)
        if name == "rotations":
            sign = np.sign(np.sum(x * y, axis=1, keepdims=True))
            y = y * np.where(sign == 0, 1, sign)
        if name == "sh":
            k = min(x.shape[1], y.shape[1])
            x, y = x[:, :k], y[:, :k]
        err = float(np.max(np.abs(x - y))) if x.size else 0.0
        if not err <= tol:
            problems.append(f"{name}: max error {err:.3g} > {tol:.3g}")
    return problems
