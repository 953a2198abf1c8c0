"""The interaction budget: keep the viewport at >= 30 fps while the camera moves.

Policy (the viewport calls `InteractionBudget.plan` before each frame and
`InteractionBudget.record` after it):

* While the camera moves, draw at most K splats, the most important for the
  current view: importance = opacity x projected area of the splat's 3-sigma
  ellipse in px^2 (capped to the image area). The GPU path computes it
  exactly in the preprocess pass and keeps the largest top set of importance
  bins holding <= K splats (`cut_bin`); the CPU path estimates it
  (`app.render.cpu_sort.approximate_importance`) and keeps exactly K
  (`select_top_k`). Both only look at a view-independent prefix of
  ``CANDIDATE_FACTOR * K`` splats, ranked once per cloud by opacity x world
  area, so a moving frame costs O(K), not O(N).
* K is tuned from measured frame times: multiplicative steps towards the
  target frame time (1 / target_fps with a safety margin), damped and capped
  per frame. Below a comfortable K (``k_soft``) the controller probes one
  frame at a lower resolution: fill-bound scenes (big splats) then trade
  resolution rather than splats, splat-bound ones (many small splats, where
  llvmpipe pays per triangle) keep full resolution and lose splats. At
  ``k_min`` the resolution drops regardless. The splat layer is rendered
  smaller and upscaled; the scale comes back up when there is time to spare.
* The kept splats are drawn larger, by sqrt(total / kept importance) capped
  at 2.5x and at 4 image areas of coverage (`boost_factor`), so a budget
  frame is a blurrier picture of the scene rather than one full of holes.
* When the camera stops, `plan` returns no budget at full resolution: one
  full-quality frame.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# Mirrors shaders/include/keys.glsl.
HIST_BINS = 1024
HIST_LOG2_MIN = -8.0
HIST_PER_OCTAVE = 32.0

CANDIDATE_FACTOR = 4
RESOLUTION_LEVELS = (1.0, 0.75, 0.5, 0.35, 0.25)


def importance_bin(importance: np.ndarray) -> np.ndarray:
    """Histogram bin (int) of each importance value, as the GPU computes it."""
    imp = np.maximum(np.asarray(importance, dtype=np.float64), 1e-30)
    b = np.floor((np.log2(imp) - HIST_LOG2_MIN) * HIST_PER_OCTAVE)
    return np.clip(b, 0, HIST_BINS - 1).astype(np.int64)


def cut_bin(histogram: np.ndarray, k: int) -> int:
    """Lowest bin to keep so that the kept bins (>= it) hold at most ``k``
    splats: 0 when everything fits, HIST_BINS when not even the top bin does."""
    hist = np.asarray(histogram, dtype=np.int64)
    from_top = np.cumsum(hist[::-1])[::-1]  # from_top[b] = splats in bins >= b
    fits = np.flatnonzero(from_top <= k)
    return int(fits[0]) if len(fits) else len(hist)


MAX_BOOST = 2.5
BOOST_OVERDRAW = 4.0  # boosted kept splats may cover the image this many times over


def boost_factor(total: float, kept: float, image_area: float) -> float:
    """Enlargement of the kept splats' standard deviations: sqrt(total / kept
    importance) so they cover about the area all splats did, but never past
    ``BOOST_OVERDRAW`` image areas of (opacity-weighted) coverage, nor past
    ``MAX_BOOST``: in fill-bound scenes the kept splats already overlap and
    growing them would cost what the budget saved."""
    if kept <= 0.0 or total <= kept:
        return 1.0
    fill_cap = BOOST_OVERDRAW * image_area / kept
    return float(max(1.0, min(MAX_BOOST, np.sqrt(total / kept), np.sqrt(max(fill_cap, 1.0)))))


def coverage_boost(histogram: np.ndarray, min_bin: int, image_area: float = float("inf")) -> float:
    """`boost_factor` from the importance histogram (bin value = its centre)
    when bins >= ``min_bin`` are kept."""
    hist = np.asarray(histogram, dtype=np.float64)
    values = 2.0 ** ((np.arange(len(hist)) + 0.5) / HIST_PER_OCTAVE + HIST_LOG2_MIN)
    return boost_factor(float(hist @ values), float(hist[min_bin:] @ values[min_bin:]), image_area)


def select_top_k(importance: np.ndarray, k: int) -> np.ndarray:
    """Indices (ascending, uint32) of the ``k`` largest values of
    ``importance`` (N,); among equal values the lower index wins."""
    imp = np.asarray(importance)
    n = len(imp)
    if k >= n:
        return np.arange(n, dtype=np.uint32)
    if k <= 0:
        return np.zeros(0, dtype=np.uint32)
    # k-th largest value, then everything above it plus the lowest-index ties
    part = np.argpartition(-imp, k - 1)
    kth = imp[part[k - 1]]
    above = np.flatnonzero(imp > kth)
    ties = np.flatnonzero(imp == kth)[: k - len(above)]
    return np.sort(np.concatenate([above, ties])).astype(np.uint32)


@dataclass
class FramePlan:
    """What to draw this frame: ``budget`` None means everything."""

    budget: int | None
    resolution_scale: float


class InteractionBudget:
    """Auto-tunes the moving-camera splat budget K (and resolution) from
    measured frame times; see the module docstring for the policy."""

    def __init__(
        self,
        target_fps: float = 30.0,
        margin: float = 0.85,
        k_initial: int = 30_000,
        k_min: int = 2_000,
        k_soft: int = 20_000,
        k_max: int | None = None,
        allow_downscale: bool = True,
    ):
        self.target_seconds = margin / float(target_fps)
        self.k = int(k_initial)
        self.k_min = int(k_min)
        self.k_soft = int(k_soft)
        self.k_max = k_max
        self.allow_downscale = allow_downscale
        self.level = 0  # index into RESOLUTION_LEVELS
        self.bound: str | None = None  # "fill" or "splats" once a probe found out
        self._probe_before: float | None = None
        self._last_budget: int | None = None
        self._slow_frames = 0
        self._fast_frames = 0

    @property
    def resolution_scale(self) -> float:
        return RESOLUTION_LEVELS[self.level]

    def plan(self, moving: bool, splat_count: int) -> FramePlan:
        """The budget for the next frame of a cloud of ``splat_count`` splats."""
        if not moving:
            self._last_budget = None
            if self._probe_before is not None:  # a probe the camera stopped for: undo it
                self._probe_before = None
                self.level -= 1
            return FramePlan(None, 1.0)
        cap = splat_count if self.k_max is None else min(splat_count, self.k_max)
        self.k = int(min(max(self.k, self.k_min), max(cap, self.k_min)))
        budget = min(self.k, splat_count)
        self._last_budget = budget
        return FramePlan(budget, self.resolution_scale)

    def record(self, frame_seconds: float, splat_count: int | None = None) -> None:
        """Feed the measured duration of the frame `plan` was last called for
        (full-quality frames are ignored).

        K follows damped multiplicative steps towards the target. Once K is
        down to ``k_soft`` and frames are still slow, one frame is rendered a
        resolution level lower at the same K (a probe): if that frame is >= 25 %
        faster the scene is fill-bound and resolution becomes the first knob;
        otherwise the level is restored and K keeps shrinking (splat-bound:
        llvmpipe's per-triangle cost). At ``k_min`` the resolution drops
        regardless, so a few enormous splats cannot hold the frame rate down.
        """
        if self._last_budget is None or not frame_seconds > 0:
            return
        ratio = self.target_seconds / frame_seconds
        if self._probe_before is not None:  # this frame was the probe
            if frame_seconds < 0.75 * self._probe_before:
                self.bound = "fill"
            else:
                self.bound = "splats"
                self.level -= 1
            self._probe_before = None
            return
        n = splat_count if splat_count is not None else self.k
        all_drawn = self._last_budget >= n
        soft = min(self.k_soft, n)
        can_lower = self.allow_downscale and self.level < len(RESOLUTION_LEVELS) - 1
        slow = ratio < 1.0
        self._slow_frames = self._slow_frames + 1 if slow else 0
        if slow and can_lower and self.k <= soft and self.bound is None:
            self._probe_before = frame_seconds
            self.level += 1
            return
        if slow and can_lower and self._slow_frames >= 2 and (
            (self.bound == "fill" and self.k <= soft) or self.k <= self.k_min
        ):
            self.level += 1
            self._slow_frames = 0
            return
        step = min(1.5, max(0.5, ratio)) ** 0.8  # damped multiplicative step
        cap = self.k_max if self.k_max is not None else n
        self.k = int(min(max(int(self.k * step), self.k_min), max(cap, self.k_min)))
        # Time to spare at reduced resolution: go back up (K then re-tunes).
        if self.level > 0 and ratio > 1.6 and (all_drawn or self.k >= 2 * soft):
            self._fast_frames += 1
            if self._fast_frames >= 5:
                self.level -= 1
                self._fast_frames = 0
        else:
            self._fast_frames = 0


def static_importance(opacities: np.ndarray, log_scales: np.ndarray) -> np.ndarray:
    """View-independent rank of splats (N,): opacity x product of the two
    largest standard deviations (the world area of the splat's face)."""
    ls = np.sort(np.asarray(log_scales, dtype=np.float32), axis=1)
    with np.errstate(over="ignore"):
        return (np.asarray(opacities, np.float32) * np.exp(ls[:, 1] + ls[:, 2])).astype(np.float32)


def candidate_count(budget: int, splat_count: int) -> int:
    """How many splats of the importance-ranked prefix a budget frame looks at."""
    return int(min(splat_count, max(CANDIDATE_FACTOR * budget, 16_384)))
