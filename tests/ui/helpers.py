"""Helpers shared by the GUI tests."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

def headless_render(scene_path, camera, tmp_path) -> np.ndarray:
    """``splatforge render SCENE --camera CAM.json -o OUT.png`` (the headless
    EGL renderer) in a subprocess, as (H, W, 3) uint8. A subprocess also
    keeps EGL contexts out of the test process, where they would interfere
    with the GLX contexts of Qt's windows."""
    from PIL import Image

    tmp_path = Path(tmp_path)
    cam_path = tmp_path / "headless_cam.json"
    cam_path.write_text(json.dumps(camera.to_dict()))
    out = tmp_path / "headless.png"
    root = Path(__file__).resolve().parents[2]
    proc = subprocess.run([sys.executable, str(root / "main.py"), "render", str(scene_path), "--camera",
                           str(cam_path), "-o", str(out)], cwd=root, capture_output=True, text=True, timeout=120,
                          env={**os.environ, "OPENBLAS_NUM_THREADS": "1"})
    assert proc.returncode == 0, proc.stderr[-2000:]
    return np.asarray(Image.open(out).convert("RGB"))


def small_cloud(n: int = 400, seed: int = 0, sh_degree: int = 0):
    """A small, colourful scene: a ring of splats around the origin in the
    x/z plane with a red-to-blue gradient (so orbiting changes the image)."""
    from editor.model.splat_cloud import SplatCloud, normalize_quaternions, sh_coeff_count

    rng = np.random.default_rng(seed)
    t = rng.uniform(0, 2 * np.pi, n)
    r = 1.0 + rng.normal(0, 0.08, n)
    pos = np.stack([r * np.cos(t), rng.normal(0, 0.15, n) + 0.3 * np.sin(2 * t), r * np.sin(t)], 1)
    colours = np.stack([0.5 + 0.5 * np.cos(t), 0.3 + 0.2 * np.sin(3 * t), 0.5 - 0.5 * np.cos(t)], 1)
    k = sh_coeff_count(sh_degree)
    sh = np.zeros((n, k, 3), np.float32)
    sh[:, 0] = (colours - 0.5) / 0.28209479177387814
    return SplatCloud(pos, np.full((n, 3), np.log(0.06)) + rng.normal(0, 0.2, (n, 3)),
                      normalize_quaternions(rng.normal(size=(n, 4))), np.full(n, 2.5), sh)


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    """Peak signal-to-noise ratio of two uint8 images, dB (inf if equal)."""
    d = (a.astype(np.float64) - b.astype(np.float64)) ** 2
    mse = float(d.mean())
    return float("inf") if mse == 0 else 10.0 * np.log10(255.0**2 / mse)


def open_scene(qtbot, window, path, timeout_ms: int = 30_000) -> None:
    """Open ``path`` in ``window`` and wait until it is loaded and a
    full-quality frame of it is on screen."""
    with qtbot.waitSignal(window.scene_loaded, timeout=timeout_ms):
        window.open_file(path)
    with qtbot.waitSignal(window.viewport.full_frame_ready, timeout=timeout_ms):
        window.viewport.update()


def disc_photo(folder) -> tuple[Path, np.ndarray]:
    """Write a 96x72 RGBA PNG to ``folder``: an orange disc with a blue
    stripe on a transparent background. Returns its path and its RGBA
    pixels (72, 96, 4) uint8."""
    from PIL import Image

    rgba = np.zeros((72, 96, 4), np.uint8)
    yy, xx = np.mgrid[:72, :96]
    disc = (xx - 48) ** 2 + (yy - 36) ** 2 < 26**2
    rgba[disc] = (230, 120, 40, 255)
    rgba[disc & (np.abs(yy - 36) < 4)] = (40, 80, 220, 255)
    path = Path(folder) / "disc.png"
    Image.fromarray(rgba, "RGBA").save(path)
    return path, rgba
