"""Quality of photo -> splats against the camera angle (project issue #7).

`evaluate(model)` generates the held-out procedural scenes
(`inference.procedural.make_sample` with seeds from
`inference.predictor_training.EVAL_SEED_BASE` on, which training never
reaches), lifts each scene's input view with four methods and scores their
renders against the true renders at views orbiting the median input depth by
each angle (degrees of yaw; the orbit's sign alternates from scene to scene,
as in `predictor_training.evaluate`, so both sides are seen):

* ``true_depth``: the predictor's splats with their depth replaced by the true
  depth (the perfect-depth lift: what a better depth network could reach);
* ``flat_card``: the same with every pixel at the median true depth (a photo
  on a card: what no depth at all gives);
* ``predictor``: the predictor as shipped (`inference.predictor`), with its
  scale convention when the weights have one;
* ``predictor_scaled``: the predictor with its depth map multiplied by the
  one factor that makes its median log error zero over the covered pixels.
  One photo cannot tell a small room from a big one, and ``flat_card`` is
  handed the true median depth; this gives the predictor that same scale
  information and nothing more, so it measures the predicted *shape*;
* ``predictor+appearance``: the predictor's splats refined by the appearance
  pass (`inference.appearance.regenerate`) against the input photo with its
  camera, with the layout proposed from the predicted splats
  (`editor.geometry.layout_proposal.propose_layout`) as the extra seeds and
  prior, as ``splatforge regenerate`` does (the proposal is unedited, so its
  seeds only fill what the prediction does not cover:
  `inference.appearance.reconcile_seeds`); ``appearance_steps`` steps at
  most (0 leaves this method out).

Scale: for weights with a scale convention (``model.scene_depth``, see
`inference.predictor`) the held-out scenes are normalised the same way
(`procedural.make_sample` ``scene_depth``): the median depth of what the
input view shows is that many units. Renders do not depend on it (a scene
scaled about its camera renders the same), so ``true_depth`` and
``flat_card`` score the same either way; only the units the predictor must
match change.

Scoring: angle 0 is the input view itself, scored on the whole image; every
other angle is scored on the pixels the input view could see (the target's
mask > 0.5: no method can know what the photo did not show). PSNR in dB
(`predictor_training.psnr`) and SSIM (`inference.ssim`, the 3DGS settings,
averaged over the same pixels); renders on a black background like the data.
Per method and angle the result holds the mean over scenes and ``n``, the
number of scenes that had any pixel to score.

`check_targets` states the issue's targets on a result: the predictor's
input view >= 28 dB; the predictor within 2 dB of ``true_depth`` at 10, 20
and 30 degrees; the predictor ahead of ``flat_card`` by >= 3 dB at 20 degrees.

Everything is a function of the arguments: scenes are seeded, the appearance
pass of scene ``i`` uses seed ``i``, and torch runs on ``threads`` threads
(default 1; restored afterwards). On the shared 2-core machines here one
thread was 30x faster than two while another process kept a core busy: a
16-scene, 64-px run with 100 appearance steps takes about 1.5 minutes.
``progress(fraction)`` is called often; raising `editor.formats.Cancelled`
from it stops the evaluation (the exception propagates).
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import torch

from editor.formats.base import report
from editor.geometry.layout_proposal import propose_layout
from editor.model.splat_cloud import SplatCloud, normalize_quaternions
from inference import procedural
from inference.predictor import DEFAULT_FOV, DEPTH_MAX, PredictorNet, decode_gaussians, raw_maps
from inference.predictor_training import EVAL_SEED_BASE, psnr, with_depth
from inference.rasterizer import rasterize
from inference.ssim import ssim

Progress = Callable[[float], None] | None

METHODS = ("true_depth", "flat_card", "predictor", "predictor_scaled", "predictor+appearance")
DEFAULT_ANGLES = tuple(float(a) for a in range(0, 91, 10))
DEFAULT_SCENES = 16
DEFAULT_SIZE = 64
DEFAULT_APPEARANCE_STEPS = 100

#: The issue's targets (dB).
TARGET_INPUT_PSNR = 28.0
TARGET_TRUE_DEPTH_GAP = 2.0
TARGET_TRUE_DEPTH_ANGLES = (10.0, 20.0, 30.0)
TARGET_FLAT_CARD_MARGIN = 3.0
TARGET_FLAT_CARD_ANGLE = 20.0

# Share of one scene's progress taken by the appearance pass, per step (a
# step at 64 px costs ~1/25 of generating and scoring the scene).
_STEP_COST = 0.04


@dataclass(frozen=True)
class Score:
    """Mean quality of one method at one angle over ``n`` scenes (NaN when n is 0)."""

    method: str
    angle_deg: float
    psnr_db: float
    ssim: float
    n: int


@dataclass
class Evaluation:
    """What `evaluate` measured: one `Score` per (method, angle) in ``scores``,
    the setup, the wall time in ``seconds``, and in ``per_scene`` each
    scene's (PSNR dB, SSIM) per (method, angle), NaN where no pixel was scored."""

    scores: dict[tuple[str, float], Score]
    methods: tuple[str, ...]
    angles: tuple[float, ...]
    scenes: int
    size: int
    fov_deg: float
    appearance_steps: int
    seconds: float = 0.0
    per_scene: dict[tuple[str, float], list[tuple[float, float]]] = field(default_factory=dict, repr=False)

    def score(self, method: str, angle_deg: float) -> Score | None:
        return self.scores.get((method, float(angle_deg)))

    def psnr(self, method: str, angle_deg: float) -> float:
        """Mean PSNR (dB), NaN when not measured."""
        s = self.score(method, angle_deg)
        return s.psnr_db if s is not None else math.nan

    def rows(self) -> list[Score]:
        """Every score, methods in `METHODS` order, angles ascending."""
        return [self.scores[(m, a)] for m in self.methods for a in self.angles]


@dataclass(frozen=True)
class TargetCheck:
    """One of the issue's targets: ``passed`` is None when the run did not
    measure what it needs (e.g. the angle was not evaluated); ``detail`` is
    one line with the numbers."""

    name: str
    passed: bool | None
    detail: str


def check_targets(ev: Evaluation, method: str = "predictor") -> list[TargetCheck]:
    """The three targets of issue #7 on ``ev`` for ``method`` (``predictor``,
    or ``predictor_scaled`` for the shape alone; see the module docstring).
    "Within 2 dB of true_depth" is one-sided: a predictor better than the
    perfect-depth lift passes."""
    out = []
    p0 = ev.psnr(method, 0.0)
    out.append(TargetCheck(
        f"input view >= {TARGET_INPUT_PSNR:g} dB ({method})",
        None if math.isnan(p0) else p0 >= TARGET_INPUT_PSNR,
        "not measured (angle 0 not evaluated)" if math.isnan(p0) else f"{method} {p0:.2f} dB"))

    gaps = [(a, ev.psnr("true_depth", a) - ev.psnr(method, a)) for a in TARGET_TRUE_DEPTH_ANGLES]
    measured = [(a, g) for a, g in gaps if not math.isnan(g)]
    name = (f"{method} within {TARGET_TRUE_DEPTH_GAP:g} dB of true_depth at "
            + "/".join(f"{a:g}" for a in TARGET_TRUE_DEPTH_ANGLES) + " deg")
    if len(measured) < len(gaps):
        missing = [f"{a:g}" for a, g in gaps if math.isnan(g)]
        out.append(TargetCheck(name, None, f"not measured (angles {', '.join(missing)} not evaluated)"))
    else:
        out.append(TargetCheck(name, all(g <= TARGET_TRUE_DEPTH_GAP for _, g in measured),
                               "; ".join(f"{a:g} deg: true_depth {ev.psnr('true_depth', a):.2f}, {method} "
                                         f"{ev.psnr(method, a):.2f} dB (gap {g:+.2f})" for a, g in measured)))

    a = TARGET_FLAT_CARD_ANGLE
    margin = ev.psnr(method, a) - ev.psnr("flat_card", a)
    name = f"{method} beats flat_card by >= {TARGET_FLAT_CARD_MARGIN:g} dB at {a:g} deg"
    if math.isnan(margin):
        out.append(TargetCheck(name, None, f"not measured (angle {a:g} not evaluated)"))
    else:
        out.append(TargetCheck(name, margin >= TARGET_FLAT_CARD_MARGIN,
                               f"{method} {ev.psnr(method, a):.2f}, flat_card {ev.psnr('flat_card', a):.2f} dB "
                               f"(margin {margin:+.2f})"))
    return out


def _render(g: dict, camera) -> np.ndarray:
    """(H, W, 3) float image of Gaussians ``g`` (unbatched tensors), black background."""
    return rasterize(g["means"], g["log_scales"], g["quats"], g["opacity_logits"], g["sh"], camera).numpy()


def _first(g: dict) -> dict:
    return {k: v[0] for k, v in g.items() if k != "depth"}


def _cloud_tensors(cloud: SplatCloud) -> dict:
    f32 = torch.float32
    return {"means": torch.tensor(cloud.positions, dtype=f32), "log_scales": torch.tensor(cloud.log_scales, dtype=f32),
            "quats": torch.tensor(cloud.rotations, dtype=f32),
            "opacity_logits": torch.tensor(cloud.opacity_logits, dtype=f32), "sh": torch.tensor(cloud.sh, dtype=f32)}


def _as_cloud(g: dict) -> SplatCloud:
    """The predictor's Gaussians (unbatched) as a `SplatCloud`, as `predictor.predict` makes it."""
    return SplatCloud(g["means"].numpy(), g["log_scales"].numpy(),
                      normalize_quaternions(g["quats"].numpy().astype(np.float64)),
                      g["opacity_logits"].numpy(), g["sh"].numpy())


def _score(pred: np.ndarray, truth: np.ndarray, mask: np.ndarray | None) -> tuple[float, float]:
    """(PSNR dB, SSIM) of ``pred`` against ``truth`` over ``mask`` > 0.5 (all pixels when None)."""
    p = psnr(pred, truth, mask)
    if math.isnan(p):
        return math.nan, math.nan
    w = None if mask is None else torch.from_numpy((np.asarray(mask) > 0.5).astype(np.float32))
    s = float(ssim(torch.from_numpy(np.ascontiguousarray(pred, np.float32)),
                   torch.from_numpy(np.ascontiguousarray(truth, np.float32)), w))
    return p, s


def _check_arguments(n_scenes: int, size: int, angles, appearance_steps: int, threads: int) -> tuple[float, ...]:
    if n_scenes < 1:
        raise ValueError(f"the number of scenes must be >= 1, got {n_scenes}")
    if not 16 <= size <= 1024:
        raise ValueError(f"the image size must be between 16 and 1024 pixels, got {size}")
    if appearance_steps < 0:
        raise ValueError(f"appearance steps must be >= 0, got {appearance_steps}")
    if threads < 1:
        raise ValueError(f"threads must be >= 1, got {threads}")
    out = sorted({float(a) for a in angles})
    if not out:
        raise ValueError("no angles to evaluate")
    bad = [a for a in out if not 0.0 <= a <= 180.0]
    if bad:
        raise ValueError(f"angles must be between 0 and 180 degrees, got {bad[0]:g}")
    return tuple(out)


def evaluate(
    model: PredictorNet,
    n_scenes: int = DEFAULT_SCENES,
    size: int = DEFAULT_SIZE,
    angles=DEFAULT_ANGLES,
    appearance_steps: int = DEFAULT_APPEARANCE_STEPS,
    fov_deg: float = DEFAULT_FOV,
    progress: Progress = None,
    threads: int = 1,
) -> Evaluation:
    """Score the four methods (see the module docstring) on held-out scenes
    0 .. ``n_scenes`` - 1 at ``size`` x ``size`` pixels, for each of
    ``angles`` (degrees away from the input view, 0-180; 0 is the input
    view). ``appearance_steps``: the most appearance-pass steps per scene (it
    stops early on a plateau; 0 leaves ``predictor+appearance`` out).
    ValueError for bad arguments."""
    from inference.appearance import RegenerateOptions, regenerate

    angles = _check_arguments(n_scenes, size, angles, appearance_steps, threads)
    methods = METHODS if appearance_steps > 0 else tuple(m for m in METHODS if m != "predictor+appearance")
    orbit = [a for a in angles if a != 0.0]
    per_scene: dict[tuple[str, float], list[tuple[float, float]]] = {(m, a): [] for m in methods for a in angles}
    scene_cost = 1.0 + _STEP_COST * appearance_steps
    start = time.perf_counter()
    old_threads = torch.get_num_threads()
    torch.set_flush_denormal(True)
    torch.set_num_threads(threads)
    try:
        for i in range(n_scenes):
            base = i * scene_cost
            report(progress, base / (n_scenes * scene_cost))
            sign = 1.0 if i % 2 else -1.0
            s = procedural.make_sample(EVAL_SEED_BASE + i, size, angles=[sign * a for a in orbit], fov_deg=fov_deg,
                                       scene_depth=model.scene_depth)
            views = [(a, cam, img, mask) for a, (cam, img, mask) in zip(orbit, s.targets)]
            if 0.0 in angles:
                views.insert(0, (0.0, s.camera, s.image, None))
            img = torch.from_numpy(s.image).permute(2, 0, 1)[None]
            with torch.no_grad():
                raw = raw_maps(model, img, fov_deg)
                cov = s.coverage > 0.5
                med = float(np.median(s.depth[cov])) if cov.any() else 3.0
                gt_z = torch.from_numpy(np.where(cov, s.depth, DEPTH_MAX))[None].float()
                h, w = s.image.shape[:2]
                predicted = decode_gaussians(raw, img, fov_deg, model.scene_depth)
                z_pred = predicted["depth"]
                log_err = torch.log(torch.from_numpy(s.depth[cov]).clamp_min(1e-3)) - torch.log(z_pred[0][torch.from_numpy(cov)])
                k = float(torch.exp(log_err.median())) if cov.any() else 1.0
                variants = {
                    "true_depth": _first(decode_gaussians(with_depth(raw, gt_z), img, fov_deg)),
                    "flat_card": _first(decode_gaussians(with_depth(raw, torch.full((1, h, w), med)), img, fov_deg)),
                    "predictor": _first(predicted),
                    "predictor_scaled": _first(decode_gaussians(with_depth(raw, z_pred * k), img, fov_deg)),
                }
            report(progress, (base + 0.3) / (n_scenes * scene_cost))
            if "predictor+appearance" in methods:
                predicted = _as_cloud(variants["predictor"])
                layout, note = propose_layout(predicted, source="splatforge evaluate")
                span = _STEP_COST * appearance_steps

                def sub(f, base=base, span=span):
                    report(progress, (base + 0.3 + span * f) / (n_scenes * scene_cost))

                refined, _ = regenerate(None if note else layout, s.image, s.camera, steps=appearance_steps,
                                        init=predicted, progress=sub, seed=i,
                                        options=RegenerateOptions(max_side=max(h, w), threads=threads))
                variants["predictor+appearance"] = _cloud_tensors(refined)
            with torch.no_grad():
                for name in methods:
                    for a, cam, truth, mask in views:
                        per_scene[(name, a)].append(_score(_render(variants[name], cam), truth, mask))
        report(progress, 1.0)
    finally:
        torch.set_num_threads(old_threads)

    scores = {}
    for (m, a), vals in per_scene.items():
        arr = np.array(vals, float).reshape(-1, 2)
        ok = np.isfinite(arr).all(axis=1)
        mean = arr[ok].mean(axis=0) if ok.any() else np.array([math.nan, math.nan])
        scores[(m, a)] = Score(m, a, float(mean[0]), float(mean[1]), int(ok.sum()))
    return Evaluation(scores, tuple(methods), angles, n_scenes, size, fov_deg, appearance_steps,
                      time.perf_counter() - start, per_scene)
