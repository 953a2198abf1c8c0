"""`splatforge evaluate [--out DIR]`: how good photo -> splats is, by camera angle.

Runs `inference.evaluation.evaluate` with the predictor weights (default
assets/predictor.safetensors, or ``--weights``) on held-out procedural
scenes and

* prints two tables (PSNR in dB, then SSIM) of the four methods
  (``true_depth``, ``flat_card``, ``predictor``, ``predictor_scaled``,
  ``predictor+appearance``; see `inference.evaluation`)
  against the angle away from the input view, and the issue's three target
  checks, PASS / FAIL (or "not measured") with the numbers;
* writes ``DIR/evaluation.csv`` (columns method, angle_deg, psnr_db, ssim, n)
  and ``DIR/evaluation.png``: PSNR and SSIM against the angle, one line per
  method, titled with the weights' training step and size. DIR is made when
  missing; both files are written atomically.

The exit status is 0 whether or not the targets pass (it is a report); bad
weights, a bad argument or an unwritable DIR give status 2 and one line.
Runtime on a shared 2-core CPU: about 1.5 minutes with the defaults
(16 scenes at 64 px, 100 appearance steps); the appearance pass is about
half of it (``--appearance-steps 0`` leaves it out).
"""
from __future__ import annotations

import argparse
import csv
import io
import math
from pathlib import Path

from app.cli.common import CliError, ProgressBar

PLOT_NAME = "evaluation.png"
CSV_NAME = "evaluation.csv"
# The defaults of `inference.evaluation` (repeated here: importing it imports
# torch, which every command would then pay for when the parser is built).
DEFAULT_SCENES = 16
DEFAULT_SIZE = 64
DEFAULT_APPEARANCE_STEPS = 100
DEFAULT_ANGLES = tuple(float(a) for a in range(0, 91, 10))


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "evaluate",
        help="score photo -> splats (predictor, appearance pass, depth baselines) against the camera angle",
        description="Score the feed-forward predictor on held-out generated scenes: PSNR and SSIM of four methods "
        "(true depth, a flat card, the predictor, the predictor refined by the appearance pass) at views 0-90 "
        "degrees away from the input photo; print the tables and the issue's target checks, and write "
        "DIR/evaluation.csv and DIR/evaluation.png. With the defaults this takes about 1.5 minutes on a "
        "2-core CPU.",
    )
    p.add_argument("--out", default=".", metavar="DIR",
                   help="folder for evaluation.csv and evaluation.png (made if missing; default: the current folder)")
    p.add_argument("--scenes", type=int, default=DEFAULT_SCENES,
                   help=f"held-out scenes to average over (default {DEFAULT_SCENES})")
    p.add_argument("--size", type=int, default=DEFAULT_SIZE,
                   help=f"scene image size in pixels, square (default {DEFAULT_SIZE}; time grows about with its square)")
    p.add_argument("--weights", help="predictor weights (.safetensors; default assets/predictor.safetensors)")
    p.add_argument("--appearance-steps", type=int, default=DEFAULT_APPEARANCE_STEPS, metavar="N",
                   help=f"most appearance-pass steps per scene (default {DEFAULT_APPEARANCE_STEPS}; "
                   "0 leaves predictor+appearance out)")
    p.add_argument("--angles", type=float, nargs="+", metavar="DEG",
                   default=list(DEFAULT_ANGLES), help="angles away from the input view in degrees, 0-180 "
                   "(0 = the input view; default 0 10 ... 90)")
    p.add_argument("--threads", type=int, default=1,
                   help="torch threads (default 1: more threads are much slower whenever other processes share the cores)")
    p.set_defaults(func=run)


def weights_label(path: str | None) -> str:
    """"step S, P px" (from the weights file's metadata), or what is known."""
    import json
    import os

    from safetensors import safe_open

    from inference.predictor import DEFAULT_WEIGHTS, WEIGHTS_ENV

    p = Path(path or os.environ.get(WEIGHTS_ENV) or DEFAULT_WEIGHTS)
    with safe_open(str(p), framework="pt") as fh:
        meta = fh.metadata() or {}
    parts = [f"{p.name}"]
    if "step" in meta:
        parts.append(f"step {meta['step']}")
    if "averaged_from" in meta:
        try:
            n = len(json.loads(meta["averaged_from"]))
        except (ValueError, TypeError):
            n = 0
        parts.append(f"mean of {n} snapshots" if n else "averaged weights")
    size = meta.get("train_size") or meta.get("input_size")
    if size:
        parts.append(f"trained at {size} px")
    return ", ".join(parts)


def format_tables(ev) -> str:
    """The PSNR and SSIM tables (methods x angles) as text."""
    width = max(len(m) for m in ev.methods) + 2
    head = "".join(f"{a:>8g}" for a in ev.angles)
    out = io.StringIO()
    for title, key, fmt in (("PSNR (dB)", "psnr_db", "{:8.2f}"), ("SSIM", "ssim", "{:8.3f}")):
        out.write(f"{title} by angle from the input view (degrees)\n")
        out.write(f"{'method':<{width}}{head}\n")
        for m in ev.methods:
            cells = "".join("     n/a" if math.isnan(v := getattr(ev.score(m, a), key)) else fmt.format(v)
                            for a in ev.angles)
            out.write(f"{m:<{width}}{cells}\n")
        out.write("\n")
    return out.getvalue().rstrip("\n")


def format_checks(checks) -> str:
    word = {True: "PASS", False: "FAIL", None: "n/a "}
    return "\n".join(f"{word[c.passed]}  {c.name}: {c.detail}" for c in checks)


def csv_text(ev) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["method", "angle_deg", "psnr_db", "ssim", "n"])
    for s in ev.rows():
        w.writerow([s.method, f"{s.angle_deg:g}", "" if math.isnan(s.psnr_db) else f"{s.psnr_db:.4f}",
                    "" if math.isnan(s.ssim) else f"{s.ssim:.5f}", s.n])
    return buf.getvalue()


def plot(ev, path: Path, label: str) -> None:
    """Two panels (PSNR and SSIM against the angle), one line per method,
    written as a PNG to ``path`` (atomically). matplotlib (Agg) is imported
    here only, so the other commands never pay for it."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from editor.formats.base import write_atomic

    styles = {"true_depth": ("tab:green", "--"), "flat_card": ("tab:gray", ":"), "predictor": ("tab:blue", "-"),
              "predictor_scaled": ("tab:purple", "-."), "predictor+appearance": ("tab:orange", "-")}
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2), dpi=110)
    try:
        for ax, key, ylabel in ((axes[0], "psnr_db", "PSNR (dB)"), (axes[1], "ssim", "SSIM")):
            for m in ev.methods:
                colour, dash = styles.get(m, (None, "-"))
                ax.plot(ev.angles, [getattr(ev.score(m, a), key) for a in ev.angles], dash, color=colour,
                        marker="o", markersize=3.5, label=m)
            ax.set_xlabel("angle from the input view (degrees)")
            ax.set_ylabel(ylabel)
            ax.grid(True, alpha=0.3)
            ax.set_xticks(ev.angles)
        axes[0].legend(loc="upper right", fontsize=9)
        fig.suptitle(f"Photo → splats vs camera angle: {ev.scenes} held-out scenes at {ev.size} px "
                     f"({label}; appearance pass {ev.appearance_steps} steps)", fontsize=10)
        fig.tight_layout()
        write_atomic(path, lambda tmp: fig.savefig(tmp, format="png"))
    finally:
        plt.close(fig)


def run(args: argparse.Namespace) -> int:
    from editor.formats import FormatError
    from editor.formats.base import write_atomic

    if args.scenes < 1:
        raise CliError(None, f"--scenes must be >= 1, got {args.scenes}")
    if not 16 <= args.size <= 1024:
        raise CliError(None, f"--size must be between 16 and 1024, got {args.size}")
    if args.appearance_steps < 0:
        raise CliError(None, f"--appearance-steps must be >= 0, got {args.appearance_steps}")
    if not 1 <= args.threads <= 256:
        raise CliError(None, f"--threads must be between 1 and 256, got {args.threads}")
    bad = [a for a in args.angles if not 0.0 <= a <= 180.0]
    if bad:
        raise CliError(None, f"--angles must be between 0 and 180 degrees, got {bad[0]:g}")
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise CliError(out, "is not a folder")
    try:
        import matplotlib  # noqa: F401 - fail before the long run, not after it
    except ImportError:
        raise CliError(None, "the plot needs matplotlib: pip install matplotlib") from None

    from inference.evaluation import check_targets, evaluate
    from inference.predictor import PredictorError, load_model

    try:
        model = load_model(args.weights)
    except PredictorError as e:
        raise CliError(None, str(e)) from None
    label = weights_label(args.weights)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise CliError(out, f"cannot make the folder: {e.strerror or e}") from None

    bar = ProgressBar("evaluating")
    try:
        ev = evaluate(model, args.scenes, args.size, args.angles, args.appearance_steps, progress=bar,
                      threads=args.threads)
    finally:
        bar.close()
    checks = check_targets(ev)
    scaled_checks = check_targets(ev, "predictor_scaled")[1:]  # the input view does not depend on the scale
    try:
        write_atomic(out / CSV_NAME, lambda tmp: Path(tmp).write_text(csv_text(ev)))
        plot(ev, out / PLOT_NAME, label)
    except FormatError as e:
        raise CliError(e.path or out, e.message) from None
    except OSError as e:
        raise CliError(out, f"cannot write: {e.strerror or e}") from None

    scale = (f"scale convention: median depth {model.scene_depth:g} units" if model.scene_depth
             else "the network's own scale")
    print(f"{ev.scenes} held-out scenes at {ev.size} px, weights {label} ({scale}), appearance pass "
          f"{ev.appearance_steps} steps ({ev.seconds:.0f} s)\n")
    print(format_tables(ev))
    print("\nTargets (issue #7)")
    print(format_checks(checks))
    print("\nThe same with each scene's best scale given (predictor_scaled: the depth map times the one factor "
          "that zeroes its median log error)")
    print(format_checks(scaled_checks))
    print(f"\nwrote {out / CSV_NAME} and {out / PLOT_NAME}")
    return 0
