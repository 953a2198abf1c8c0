"""Reduce a scene to a splat budget, keeping what matters most.

Importance of a splat = opacity x its largest cross-section area
(``sigmoid(o) * s_a * s_b`` with s_a >= s_b the two largest linear scales).
Area rather than volume, because what a viewer sees of a splat is its
projected footprint, and thin surface splats (one tiny axis) carry most of a
trained scene's appearance; volume would throw them away first.
"""
from __future__ import annotations

import numpy as np

from editor.model.splat_cloud import SplatCloud, sigmoid


def importance_scores(cloud: SplatCloud) -> np.ndarray:
    """(N,) float64 scores; larger means keep first. Non-finite scores count as 0."""
    s = np.sort(cloud.log_scales.astype(np.float64), axis=1)
    area = np.exp(np.clip(s[:, 2] + s[:, 1], -80.0, 80.0))
    score = sigmoid(cloud.opacity_logits).astype(np.float64) * area
    return np.where(np.isfinite(score), score, 0.0)


def keep_most_important(cloud: SplatCloud, max_splats: int) -> SplatCloud:
    """The ``max_splats`` most important splats, in their original order."""
    if max_splats < 0:
        raise ValueError("max_splats must be >= 0")
    if len(cloud) <= max_splats:
        return cloud
    scores = importance_scores(cloud)
    keep = np.argpartition(-scores, max_splats - 1)[:max_splats] if max_splats else np.zeros(0, np.int64)
    return cloud.subset(np.sort(keep))
