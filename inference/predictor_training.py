"""Training and evaluation of the feed-forward predictor (`scripts/train_predictor.py`).

Data: `inference.procedural.make_sample` scenes generated on the fly; the
scene of batch item ``b`` at step ``k`` on rank ``r`` of ``R`` is seed
``seed * 1_000_003 + (k * R + r) * batch + b``, so every rank sees different
scenes (DistributedSampler-style) and a resumed run sees exactly the scenes
it would have seen. Held-out evaluation scenes use seeds from
``EVAL_SEED_BASE`` on, which training never reaches in practice.

Loss per scene: L1 of the rendered input view, + ``target_weight`` x L1 of
each target view (0-30 degrees away) over the pixels the input view could
see (the target's mask), + ``depth_weight(step)`` x mean |log z - log z_gt|
over covered input pixels (1 at first, decaying linearly to
``--depth-weight-final`` by ``depth_steps``; with ``--depth-loss
scale_invariant`` the scene's mean log error is removed first and weighted
by `SCALE_WEIGHT` instead), + 0.2 x (1 - SSIM) of the input view when
`inference.ssim` provides ``ssim``, + ``coverage_weight`` x the binary cross
entropy of each pixel's opacity against the input view's coverage (empty
background becomes transparent, which the scale convention relies on), +
``gradient_weight`` x `depth_gradient_loss` (multi-scale gradient matching
of log depth over covered pixels: sharp occlusion edges).

Scale convention (``--scene-depth D``, default `SCENE_DEPTH`; 0 turns it
off, as the first four stages of the shipped weights ran): scenes are
normalised so the median depth of the covered input pixels is D, the
predicted depth maps are normalised the same way inside the loss
(`inference.predictor.scene_scale`), and D is written to the weights'
metadata so that `predict` decodes with it. Rendering is `inference.rasterizer.rasterize`
(black background, as the data).

Checkpoints (no pickle): OUT (.safetensors) holds the weights; OUT with
``.train.safetensors`` the Adam moments by parameter name; OUT with
``.train.json`` the step, wall time, arguments and loss log. ``--resume``
continues from them. ``--snapshot-every N`` (or ``--snapshot-at`` a list of
steps) also keeps the weights after those steps (`snapshot_path`), which `average_weights` averages
(``scripts/average_weights.py``).

DDP: when ``WORLD_SIZE`` > 1 (torchrun), the process group is initialised
with the gloo backend, the model wrapped in DistributedDataParallel, and
only rank 0 writes files.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import time
from pathlib import Path

import numpy as np
import torch

from inference import procedural
from inference.predictor import (
    DEFAULT_FOV,
    SCENE_DEPTH,
    DEPTH_MAX,
    DEPTH_MIN,
    PredictorNet,
    decode_gaussians,
    load_model,
    network_input,
    raw_maps,
    save_weights,
)
from inference.rasterizer import rasterize

EVAL_SEED_BASE = 900_000_000
EVAL_ANGLES = (10.0, 20.0, 30.0)
#: Weight of the per-scene log-scale error in the scale-invariant depth loss.
SCALE_WEIGHT = 0.3

try:  # optional, provided by the appearance pass
    from inference.ssim import ssim as _ssim  # type: ignore
except Exception:  # noqa: BLE001 - any import problem just disables the term
    _ssim = None


def scene_seed(seed: int, step: int, rank: int, world: int, batch: int, item: int) -> int:
    return seed * 1_000_003 + (step * world + rank) * batch + item


def _render(g: dict, i: int, camera) -> torch.Tensor:
    return rasterize(g["means"][i], g["log_scales"][i], g["quats"][i], g["opacity_logits"][i], g["sh"][i], camera)


def depth_weight(step: int, depth_steps: int, final: float = 0.1) -> float:
    """Weight of the depth term: 1 at step 0, linearly down to ``final`` at ``depth_steps``."""
    return final + (1.0 - final) * max(0.0, 1.0 - step / max(depth_steps, 1))


def depth_loss(z: torch.Tensor, z_true: torch.Tensor, kind: str = "log_l1",
               scale_weight: float = SCALE_WEIGHT) -> torch.Tensor:
    """Depth error of predicted z-depths ``z`` (K,) against ``z_true`` (K,), units of log depth.

    ``log_l1``: mean |log z - log z_true|. ``scale_invariant``: one photo
    cannot tell a small room from a big one, and most of the absolute error is
    that one per-scene scale, whose gradient drowns the relative structure; so
    the mean log error ``s`` is removed and weighted by ``scale_weight``:
    mean |log z - log z_true - s| + scale_weight |s|.
    """
    d = torch.log(z) - torch.log(z_true)
    if kind == "scale_invariant":
        shift = d.mean()
        return (d - shift).abs().mean() + scale_weight * shift.abs()
    if kind != "log_l1":
        raise ValueError(f"unknown depth loss {kind!r}")
    return d.abs().mean()


def depth_gradient_loss(z: torch.Tensor, z_true: torch.Tensor, mask: torch.Tensor, scales: int = 4) -> torch.Tensor:
    """Multi-scale gradient matching of log depth (as in MiDaS): the mean
    absolute x and y finite difference of the log-depth error ``log z -
    log z_true`` over neighbouring pixels both inside ``mask``, at every
    ``2**k``-pixel subsampling, k < ``scales``. z, z_true (H, W) z-depths,
    mask (H, W) bool. It is zero for any depth map that differs from the
    truth by one factor, and penalises what the per-pixel term tolerates:
    an occlusion edge smeared over several pixels, which in a novel view is
    a sheet of splats strung between the object and what is behind it."""
    d = torch.log(z) - torch.log(z_true.clamp_min(1e-3))
    total, count = d.new_zeros(()), 0
    for k in range(scales):
        st = 2 ** k
        dk, mk = d[::st, ::st], mask[::st, ::st]
        for diff, valid in (((dk[:, 1:] - dk[:, :-1]), mk[:, 1:] & mk[:, :-1]),
                            ((dk[1:, :] - dk[:-1, :]), mk[1:, :] & mk[:-1, :])):
            if valid.any():
                total = total + diff[valid].abs().mean()
                count += 1
    return total / max(count, 1)


def batch_loss(model, samples: list, step: int, args) -> tuple[torch.Tensor, dict]:
    """Loss of a batch of `procedural.Sample` s and its parts (floats)."""
    images = torch.stack([torch.from_numpy(s.image).permute(2, 0, 1) for s in samples])
    fov = samples[0].camera.fov_y_deg
    raw = model(network_input(images, fov))
    g = decode_gaussians(raw, images, fov, getattr(args, "scene_depth", 0.0) or None)
    l_in = l_tg = l_d = l_s = l_c = l_gm = 0.0
    gw = getattr(args, "gradient_weight", 0.0)
    cw = getattr(args, "coverage_weight", 0.0)
    if cw:
        cov_t = torch.stack([torch.from_numpy(np.ascontiguousarray(s.coverage, np.float32)).clamp(0, 1)
                             for s in samples]).reshape(len(samples), -1)
        l_c = torch.nn.functional.binary_cross_entropy_with_logits(g["opacity_logits"], cov_t) * len(samples)
    for i, s in enumerate(samples):
        pred = _render(g, i, s.camera)
        gt = torch.from_numpy(s.image)
        l_in = l_in + (pred - gt).abs().mean()
        if _ssim is not None:
            l_s = l_s + (1 - _ssim(pred, gt))
        for cam, img, mask in s.targets:
            m = torch.from_numpy(mask)[..., None]
            pt = _render(g, i, cam)
            l_tg = l_tg + ((pt - torch.from_numpy(img)).abs() * m).sum() / (3 * m.sum() + 1.0)
        cov = torch.from_numpy(s.coverage > 0.5)
        if cov.any():
            zt = torch.from_numpy(s.depth).clamp_min(1e-3)
            l_d = l_d + depth_loss(g["depth"][i][cov], zt[cov], getattr(args, "depth_loss", "log_l1"),
                                   getattr(args, "scale_weight", SCALE_WEIGHT))
            if gw:
                l_gm = l_gm + depth_gradient_loss(g["depth"][i], zt, cov)
    n = len(samples)
    wd = depth_weight(step, args.depth_steps, getattr(args, "depth_weight_final", 0.1))
    loss = (l_in + args.target_weight * l_tg / max(1, args.targets) + wd * l_d + 0.2 * l_s + cw * l_c + gw * l_gm) / n
    val = lambda x: float(x.detach()) if torch.is_tensor(x) else float(x)  # noqa: E731
    parts = {"input_l1": val(l_in) / n, "target_l1": val(l_tg) / n / max(1, args.targets),
             "depth_log_l1": val(l_d) / n, "depth_weight": wd}
    if cw:
        parts["coverage_bce"] = val(l_c) / n
    if gw:
        parts["depth_gradient"] = val(l_gm) / n
    return loss, parts


# ------------------------------------------------------------------ checkpoints
def _train_paths(out: Path) -> tuple[Path, Path]:
    stem = out.with_suffix("")
    return stem.with_name(stem.name + ".train.safetensors"), stem.with_name(stem.name + ".train.json")


def snapshot_path(out: Path, step: int) -> Path:
    """Where ``--snapshot-every`` / ``--snapshot-at`` keep the weights after ``step`` steps: OUT with ``.stepN.safetensors``."""
    stem = Path(out).with_suffix("")
    return stem.with_name(f"{stem.name}.step{step}.safetensors")


def parse_steps(text: str | None) -> set[int]:
    """``"100,250, 400"`` -> {100, 250, 400}; ValueError (one line) for anything but positive integers."""
    out = set()
    for part in str(text or "").split(","):
        if part.strip():
            if not part.strip().isdigit() or int(part) < 1:
                raise ValueError(f"--snapshot-at: {part.strip()!r} is not a positive step number")
            out.add(int(part))
    return out


def average_weights(paths: list, out) -> PredictorNet:
    """Average the parameters of several weight files of one network
    (stochastic weight averaging: snapshots taken along one run at a constant
    or slowly decaying learning rate sit around a minimum, and their mean is
    usually closer to its centre than any of them). All files must have the
    same widths, input size and scale convention; writes ``out`` (safetensors,
    atomically) with ``averaged_from`` (the file names) in its metadata and
    returns the averaged model."""
    if not paths:
        raise ValueError("average_weights needs at least one weights file")
    models = [load_model(p) for p in paths]
    first = models[0]
    for p, m in zip(paths, models):
        if (m.widths, m.input_size, m.scene_depth) != (first.widths, first.input_size, first.scene_depth):
            raise ValueError(f"{p}: widths, input size or scene depth differ from {paths[0]}")
    states = [m.state_dict() for m in models]
    mean = {k: sum(sd[k].double() for sd in states).div(len(states)).to(states[0][k].dtype) for k in states[0]}
    first.load_state_dict(mean)
    save_weights(first, out, {"averaged_from": [Path(p).name for p in paths]})
    return first


def save_checkpoint(model, opt, out: Path, state: dict) -> None:
    from safetensors.torch import save_file

    from editor.formats.base import write_atomic

    save_weights(model, out, {"step": state["step"], "train_size": state["args"]["size"]})
    moments = {}
    for name, p in model.named_parameters():
        st = opt.state.get(p, {})
        if "exp_avg" in st:
            moments[name + ".exp_avg"] = st["exp_avg"].contiguous()
            moments[name + ".exp_avg_sq"] = st["exp_avg_sq"].contiguous()
    opt_path, json_path = _train_paths(out)
    write_atomic(opt_path, lambda tmp: save_file(moments, str(tmp)))
    write_atomic(json_path, lambda tmp: Path(tmp).write_text(json.dumps(state, indent=1) + "\n"))


def load_checkpoint(model, opt, out: Path) -> dict:
    from safetensors.torch import load_file

    opt_path, json_path = _train_paths(out)
    state = json.loads(json_path.read_text())
    model.load_state_dict(load_model(out).state_dict())
    moments = load_file(str(opt_path)) if opt_path.is_file() else {}
    osd = opt.state_dict()
    new_state = {}
    for i, (name, _) in enumerate(model.named_parameters()):
        if name + ".exp_avg" in moments:
            new_state[i] = {"step": torch.tensor(float(state["step"])), "exp_avg": moments[name + ".exp_avg"],
                            "exp_avg_sq": moments[name + ".exp_avg_sq"]}
    opt.load_state_dict({"state": new_state, "param_groups": osd["param_groups"]})
    return state


# ------------------------------------------------------------------ training
POOL_SIZE = 64


def _next_batch(args, step: int, rank: int, world: int, pool: list, rng) -> list:
    """The scenes of one step. With ``--reuse K`` > 1 only ``ceil(batch / K)``
    scenes are generated a step (scene generation is about half of a step on
    a CPU) and the rest of the batch is drawn from the last `POOL_SIZE`
    generated scenes, so each scene is seen about K times. A resumed run with
    K > 1 starts with an empty pool, so it is not bit-identical to an
    uninterrupted one."""
    reuse = max(1, int(getattr(args, "reuse", 1)))
    n_new = args.batch if reuse == 1 else max(1, math.ceil(args.batch / reuse))
    fresh = [procedural.make_sample(scene_seed(args.seed, step, rank, world, n_new, b), args.size,
                                    n_targets=args.targets, scene_depth=getattr(args, "scene_depth", 0.0) or None)
             for b in range(n_new)]
    if reuse == 1:
        return fresh
    old = [pool[i] for i in rng.choice(len(pool), size=min(len(pool), args.batch - n_new), replace=False)] if pool else []
    pool.extend(fresh)
    del pool[:-POOL_SIZE]
    return fresh + old


def train(args) -> dict:
    torch.set_flush_denormal(True)
    if args.threads:
        torch.set_num_threads(args.threads)
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    if world > 1:
        import torch.distributed as dist

        dist.init_process_group("gloo")
    torch.manual_seed(args.seed)
    model = PredictorNet(input_size=args.size, scene_depth=getattr(args, "scene_depth", 0.0) or None)
    net = model
    if world > 1:
        from torch.nn.parallel import DistributedDataParallel

        net = DistributedDataParallel(model)
    opt = torch.optim.Adam(model.parameters(), lr=args.lr)
    out = Path(args.out)
    state = {"step": 0, "elapsed_s": 0.0, "log": [], "args": vars(args), "world_size": world}
    if args.init:
        model.load_state_dict(load_model(args.init).state_dict())  # keeps this run's scene_depth
        if rank == 0:
            print(f"initialised from {args.init}", flush=True)
    if args.resume and _train_paths(out)[1].is_file():
        state = load_checkpoint(model, opt, out)
        state["args"] = vars(args)
        if rank == 0:
            print(f"resumed at step {state['step']}", flush=True)
    start_step, t0, elapsed0 = state["step"], time.time(), state["elapsed_s"]
    last_save = t0
    step = start_step
    snapshot_at = parse_steps(getattr(args, "snapshot_at", ""))
    pool: list = []
    pool_rng = np.random.default_rng([args.seed, rank, start_step])
    for step in range(start_step, args.steps):
        for gp in opt.param_groups:  # cosine decay to 10 %
            gp["lr"] = args.lr * (0.55 + 0.45 * math.cos(math.pi * step / max(1, args.steps)))
        samples = _next_batch(args, step, rank, world, pool, pool_rng)
        loss, parts = batch_loss(net, samples, step, args)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        if not math.isfinite(float(loss.detach())):
            raise RuntimeError(f"loss is not finite at step {step}")
        now = time.time()
        if rank == 0 and (step % args.log_every == 0 or step == args.steps - 1):
            entry = {"step": step, "loss": round(float(loss.detach()), 5), **{k: round(v, 5) for k, v in parts.items()},
                     "wall_s": round(elapsed0 + now - t0, 1)}
            state["log"].append(entry)
            print(json.dumps(entry), flush=True)
        stop = (bool(args.time_limit) and (elapsed0 + now - t0) > args.time_limit * 60) or \
            (bool(getattr(args, "stop_at_step", 0)) and step + 1 >= args.stop_at_step)
        if world > 1:  # every rank must stop at the same step, or the others hang in all-reduce
            import torch.distributed as dist

            flag = torch.tensor([1.0 if stop else 0.0])
            dist.broadcast(flag, 0)
            stop = bool(flag.item())
        every = getattr(args, "snapshot_every", 0)
        if rank == 0 and ((every and (step + 1) % every == 0) or step + 1 in snapshot_at):
            save_weights(model, snapshot_path(out, step + 1), {"step": step + 1, "train_size": args.size})
        if rank == 0 and (now - last_save > args.save_every_s or step == args.steps - 1 or stop):
            state.update(step=step + 1, elapsed_s=round(elapsed0 + now - t0, 1))
            save_checkpoint(model, opt, out, state)
            last_save = now
        if stop:
            if rank == 0:
                print(f"stopped (time limit or --stop-at-step) after step {step + 1}", flush=True)
            break
    state.update(step=step + 1, elapsed_s=round(elapsed0 + time.time() - t0, 1))
    if rank == 0:
        save_checkpoint(model, opt, out, state)
    if world > 1:
        import torch.distributed as dist

        dist.destroy_process_group()
    return state


# ------------------------------------------------------------------ evaluation
def psnr(a: np.ndarray, b: np.ndarray, mask: np.ndarray | None = None) -> float:
    """PSNR (dB) of images (H, W, 3) in [0, 1], over pixels with mask > 0.5."""
    d = (np.asarray(a, np.float64) - np.asarray(b, np.float64)) ** 2
    if mask is not None:
        sel = np.asarray(mask) > 0.5
        if not sel.any():
            return float("nan")
        d = d[sel]
    mse = float(d.mean())
    return 100.0 if mse <= 1e-10 else -10 * math.log10(mse)


def with_depth(raw: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
    """Raw maps (1, 15, H, W) with the depth channel replaced so that the
    decoded depth is ``z`` (1, H, W) (clamped to the decodable range)."""
    out = raw.clone()
    lo, hi = math.log(DEPTH_MIN), math.log(DEPTH_MAX)
    frac = ((torch.log(z.clamp(DEPTH_MIN * 1.001, DEPTH_MAX * 0.999)) - lo) / (hi - lo))
    out[:, 0] = torch.logit(frac)
    return out


def evaluate(model, n_scenes: int = 16, size: int = 128, fov_deg: float = DEFAULT_FOV) -> dict:
    """Mean PSNR on held-out generated scenes: input view (whole image) and
    10/20/30-degree views (over the pixels the input view could see), for the
    predictor and for two lifts that keep everything the predictor outputs
    but its depth: a flat card at the median true depth (``flat_card``) and
    the true depth (``true_depth``: the perfect-depth lift)."""
    res = {k: {"input": [], **{f"{int(a)}deg": [] for a in EVAL_ANGLES}} for k in ("predictor", "flat_card", "true_depth")}
    times = []
    for i in range(n_scenes):
        s = procedural.make_sample(EVAL_SEED_BASE + i, size, angles=[a * (1 if i % 2 else -1) for a in EVAL_ANGLES],
                                   fov_deg=fov_deg, scene_depth=model.scene_depth)
        img = torch.from_numpy(s.image).permute(2, 0, 1)[None]
        with torch.no_grad():
            t = time.perf_counter()
            raw = raw_maps(model, img, fov_deg)
            times.append(time.perf_counter() - t)
            cov = s.coverage > 0.5
            med = float(np.median(s.depth[cov])) if cov.any() else 3.0
            gt_z = torch.from_numpy(np.where(cov, s.depth, DEPTH_MAX))[None].float()
            variants = {
                "predictor": decode_gaussians(raw, img, fov_deg, model.scene_depth),
                "flat_card": decode_gaussians(with_depth(raw, torch.full((1, size, size), med)), img, fov_deg),
                "true_depth": decode_gaussians(with_depth(raw, gt_z), img, fov_deg),
            }
            for name, g in variants.items():
                res[name]["input"].append(psnr(_render(g, 0, s.camera).numpy(), s.image))
                for a, (cam, timg, mask) in zip(EVAL_ANGLES, s.targets):
                    res[name][f"{int(a)}deg"].append(psnr(_render(g, 0, cam).numpy(), timg, mask))
    summary = {name: {k: round(float(np.nanmean(v)), 2) for k, v in d.items()} for name, d in res.items()}
    summary["scenes"] = n_scenes
    summary["size"] = size
    summary["network_ms_median"] = round(1000 * float(np.median(times)), 1)
    return summary


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description="Train the SplatForge feed-forward predictor on procedural scenes.")
    p.add_argument("--steps", type=int, default=12000, help="total optimisation steps (default 12000)")
    p.add_argument("--out", default="assets/predictor.safetensors", help="weights file (safetensors)")
    p.add_argument("--size", type=int, default=64, help="training image size in pixels (multiple of 16; default 64)")
    p.add_argument("--batch", type=int, default=4, help="scenes per step per process (default 4)")
    p.add_argument("--targets", type=int, default=2, help="novel views per scene (default 2)")
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--target-weight", type=float, default=1.0)
    p.add_argument("--depth-steps", type=int, default=3000, help="depth loss weight decays 1 -> 0.1 over these steps")
    p.add_argument("--depth-loss", choices=("log_l1", "scale_invariant"), default="log_l1",
                   help="log_l1: mean |log z - log z_gt|; scale_invariant: the same after removing the "
                        f"scene's mean log-scale error, plus {SCALE_WEIGHT} x that error (default log_l1)")
    p.add_argument("--scale-weight", type=float, default=SCALE_WEIGHT,
                   help=f"weight of the scene's log-scale error in the scale-invariant loss (default {SCALE_WEIGHT})")
    p.add_argument("--depth-weight-final", type=float, default=0.1,
                   help="depth loss weight reached after --depth-steps (default 0.1)")
    p.add_argument("--scene-depth", type=float, default=SCENE_DEPTH, metavar="D",
                   help=f"scale convention: normalise scenes and predictions so the median depth of what the "
                        f"photo shows is D units (default {SCENE_DEPTH:g}; 0: off, the network's own scale)")
    p.add_argument("--coverage-weight", type=float, default=0.1,
                   help="weight of the opacity-vs-coverage cross entropy (empty background -> transparent; "
                        "default 0.1, 0: off)")
    p.add_argument("--gradient-weight", type=float, default=0.0,
                   help="weight of the multi-scale gradient matching of log depth (sharp occlusion edges; "
                        "default 0: off)")
    p.add_argument("--reuse", type=int, default=1, metavar="K",
                   help="use each generated scene in about K steps (a pool of recent scenes; default 1)")
    p.add_argument("--init", help="start from these weights (safetensors) instead of a random network")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    p.add_argument("--resume", action="store_true", help="continue from OUT's checkpoint files")
    p.add_argument("--time-limit", type=float, default=0.0, help="stop (and save) after this many minutes")
    p.add_argument("--stop-at-step", type=int, default=0, metavar="N",
                   help="stop (and save) after step N, keeping the learning-rate schedule of --steps "
                        "(replays a run that was stopped early; 0: off)")
    p.add_argument("--save-every-s", type=float, default=300.0)
    p.add_argument("--snapshot-every", type=int, default=0, metavar="N",
                   help="also keep the weights every N steps as OUT.stepN.safetensors (for weight averaging: "
                        "scripts/average_weights.py; default 0: off)")
    p.add_argument("--snapshot-at", default="", metavar="S1,S2,...",
                   help="also keep the weights after these steps (comma-separated), as --snapshot-every does")
    p.add_argument("--log-every", type=int, default=10)
    p.add_argument("--eval", type=int, default=0, metavar="N", help="after training, evaluate on N held-out scenes")
    p.add_argument("--eval-only", action="store_true", help="only evaluate OUT")
    p.add_argument("--eval-size", type=int, default=128)
    p.add_argument("--eval-out", help="write the evaluation JSON here")
    return p


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    if args.size % 16:
        raise SystemExit("--size must be a multiple of 16")
    if not 0.0 <= args.scene_depth < DEPTH_MAX:
        raise SystemExit(f"--scene-depth must be between 0 (off) and {DEPTH_MAX:g}")
    try:
        parse_steps(args.snapshot_at)
    except ValueError as e:
        raise SystemExit(str(e)) from None
    if not args.eval_only:
        train(args)
    if int(os.environ.get("RANK", "0")) == 0 and (args.eval or args.eval_only):
        torch.set_flush_denormal(True)
        res = evaluate(load_model(args.out), args.eval or 16, args.eval_size)
        text = json.dumps(res, indent=1)
        print(text)
        if args.eval_out:
            Path(args.eval_out).write_text(text + "\n")
    return 0
