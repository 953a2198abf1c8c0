"""Feed-forward predictor: one photo -> per-pixel 3D Gaussians (project issue #7).

Network (`PredictorNet`): a small U-Net (4 downsamplings, GroupNorm + SiLU,
2.0M parameters, 8.0 MB of float32 safetensors) that reads the RGB image plus two
channels of normalised ray coordinates ``((u - cx) / f, (v - cy) / f)`` (so it
knows the field of view) and writes 15 raw channels per pixel, decoded by
`decode_gaussians` into, per pixel:

* ``depth`` z along the pixel's ray (camera-space z, not distance):
  ``exp(log 0.3 + (log 40 - log 0.3) * sigmoid(raw))``, i.e. 0.3-40 units;
* a 3D ``offset`` of at most 1.5 pixel footprints (``z / f``) per axis;
* ``log_scales`` = ``log(z / f) - 0.5 + 3 tanh(raw / 3)``: tied to the pixel
  footprint at that depth, so the same weights work at any grid size;
* ``quats`` raw + (1, 0, 0, 0) (normalised by the renderer / on export);
* ``opacity_logits`` raw + 2;
* ``sh`` DC = the input pixel's colour in SH units + a learned residual
  (SH degree 0: colour is view-independent).

Lifting: the input camera is ``Camera(eye=(0,0,0), target=(0,0,1),
up=(0,-1,0), fov_y_deg=fov)`` — the 3DGS frame (x right, y down, z forward),
so camera space *is* world space; a pixel (i, j) of the splat grid with
centre (u, v) = (j + 0.5, i + 0.5) lands at ``z ((u-cx)/f, (v-cy)/f, 1) +
offset``.

Scale convention: one photo cannot tell a small room from a big one (nothing
in the image fixes metric scale), so the predicted scene's scale is fixed by
convention, as object-centric image-to-3D models fix it by normalising their
training scenes: weights trained with ``--scene-depth D`` (metadata
``scene_depth``; 3.0 for the shipped weights) are decoded so that the
**median z-depth of the pixels the photo shows is D units** — the pixels
whose predicted opacity is >= 0.5 (the network learns to make empty
background transparent) and, for an RGBA photo, whose alpha is >= 0.5
(`scene_scale`). The training scenes are normalised the same way
(`inference.procedural.make_sample` ``scene_depth``); 3 units is their
geometric-mean median depth, so a room photo still comes out in roughly
metre-like units. Weights without ``scene_depth`` keep the network's own
guess of the scale.

Input size and resize policy (`predict`): the network runs on the photo
resized (bilinear, antialiased, aspect kept) so that its long side is the
size the weights were trained at (``input_size`` in the safetensors
metadata: 64 for the shipped weights and the default recipe, 128 with
``--size 128``; `INPUT_SIZE` = 128 when the metadata does not say), padded
by edge replication to a multiple of 16. Its output maps are cropped and
resized bilinearly to the *splat grid*, the photo's own pixel grid (the
caller caps its size; the CLI uses 256 on the long side), so there is one
Gaussian per photo pixel with the photo's exact colour as its base colour,
and the camera has the photo's size. Pixels whose alpha mask is below 0.5
get no Gaussian (the background stays empty).

Weights: `load_model(path)` reads safetensors only (no pickle);
`DEFAULT_WEIGHTS` is ``assets/predictor.safetensors`` (see
``assets/MODEL_CARD.md``), ``SPLATFORGE_PREDICTOR_WEIGHTS`` overrides it.
"""
from __future__ import annotations

import json
import math
import os
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from editor.model.camera import Camera
from editor.model.splat_cloud import SH_C0, SplatCloud, normalize_quaternions

INPUT_SIZE = 128
DEFAULT_FOV = 50.0
DEPTH_MIN, DEPTH_MAX = 0.3, 40.0
OFFSET_MAX = 1.5  # pixel footprints
OUT_CHANNELS = 15
DEFAULT_WEIGHTS = Path(__file__).resolve().parent.parent / "assets" / "predictor.safetensors"
WEIGHTS_ENV = "SPLATFORGE_PREDICTOR_WEIGHTS"
DEFAULT_WIDTHS = (32, 64, 96, 128, 144)
#: Median depth (units) of what the photo shows, for weights trained with the scale convention.
SCENE_DEPTH = 3.0


class PredictorError(RuntimeError):
    """The predictor cannot run (e.g. missing or bad weights); one line."""


def _block(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, 3, padding=1), nn.GroupNorm(8, cout), nn.SiLU(),
        nn.Conv2d(cout, cout, 3, padding=1), nn.GroupNorm(8, cout), nn.SiLU(),
    )


class PredictorNet(nn.Module):
    """U-Net: (B, 5, H, W) [RGB in [0,1], ray x, ray y] -> (B, 15, H, W) raw
    Gaussian parameters (see `decode_gaussians`). H and W multiples of 16."""

    def __init__(self, widths=DEFAULT_WIDTHS, input_size: int = INPUT_SIZE, scene_depth: float | None = None):
        super().__init__()
        self.widths = tuple(int(w) for w in widths)
        self.input_size = int(input_size)  # long side `predict` resizes photos to
        # The scale convention (see the module docstring); None: the network's own scale.
        self.scene_depth = float(scene_depth) if scene_depth else None
        w = self.widths
        self.enc = nn.ModuleList([_block(5, w[0])] + [_block(w[i - 1], w[i]) for i in range(1, len(w))])
        self.down = nn.ModuleList([nn.Conv2d(w[i], w[i], 3, stride=2, padding=1) for i in range(len(w) - 1)])
        self.dec = nn.ModuleList([_block(w[i + 1] + w[i], w[i]) for i in range(len(w) - 1)])
        self.head = nn.Conv2d(w[0], OUT_CHANNELS, 1)
        nn.init.zeros_(self.head.weight)
        nn.init.zeros_(self.head.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        skips = []
        for i, enc in enumerate(self.enc):
            x = enc(x)
            if i < len(self.down):
                skips.append(x)
                x = self.down[i](x)
        for i in range(len(self.dec) - 1, -1, -1):
            x = F.interpolate(x, scale_factor=2.0, mode="nearest")
            x = self.dec[i](torch.cat((x, skips[i]), 1))
        return self.head(x)


def ray_grid(height: int, width: int, fov_deg: float, dtype=torch.float32) -> torch.Tensor:
    """(2, H, W) normalised ray coordinates ((u - cx) / f, (v - cy) / f) of
    pixel centres for a camera of vertical field of view ``fov_deg``."""
    f = 0.5 * height / math.tan(math.radians(fov_deg) / 2)
    v = (torch.arange(height, dtype=dtype) + 0.5 - 0.5 * height) / f
    u = (torch.arange(width, dtype=dtype) + 0.5 - 0.5 * width) / f
    return torch.stack(torch.meshgrid(u, v, indexing="xy"), 0)


def network_input(image: torch.Tensor, fov_deg: float) -> torch.Tensor:
    """(B, 3, H, W) RGB -> (B, 5, H, W) with the ray channels appended."""
    b, _, h, w = image.shape
    rays = ray_grid(h, w, fov_deg, image.dtype).to(image.device)
    return torch.cat((image, rays.expand(b, 2, h, w)), 1)


def scene_scale(z: torch.Tensor, opacity_logits: torch.Tensor, scene_depth: float,
                mask: torch.Tensor | None = None) -> torch.Tensor:
    """(B,) factors that bring the median of depths ``z`` (B, H, W) over the
    pixels the photo shows (``opacity_logits`` (B, H, W) >= 0, i.e. opacity
    >= 0.5, and ``mask`` (B, H, W) >= 0.5 when given) to ``scene_depth``.
    A photo with no such pixel uses all of its pixels (or its mask's).
    Differentiable through the median element."""
    out = []
    for i in range(z.shape[0]):
        base = torch.ones_like(z[i], dtype=torch.bool) if mask is None else mask[i] >= 0.5
        if not base.any():
            base = torch.ones_like(base)
        sel = base & (opacity_logits[i] >= 0)
        if not sel.any():
            sel = base
        out.append(scene_depth / z[i][sel].median())
    return torch.stack(out)


def decode_gaussians(raw: torch.Tensor, image: torch.Tensor, fov_deg: float, scene_depth: float | None = None,
                     mask: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
    """Raw maps (B, 15, H, W) + the image at the same size (B, 3, H, W) ->
    per-pixel Gaussians in the canonical input camera's frame, each (B, H*W, ...):
    ``means`` (3), ``log_scales`` (3), ``quats`` (4, wxyz, not normalised),
    ``opacity_logits`` (), ``sh`` (1, 3), and ``depth`` (B, H, W) z along the ray.

    ``scene_depth``: apply the scale convention (`scene_scale`, with the
    alpha ``mask`` (B, H, W) when given): every depth is multiplied by one
    factor per image, so positions, offsets and scales scale together and the
    input view renders exactly as without it. None: the network's own scale."""
    b, _, h, w = raw.shape
    f = 0.5 * h / math.tan(math.radians(fov_deg) / 2)
    rays = ray_grid(h, w, fov_deg, raw.dtype).to(raw.device)  # (2, H, W)
    logz = math.log(DEPTH_MIN) + (math.log(DEPTH_MAX) - math.log(DEPTH_MIN)) * torch.sigmoid(raw[:, 0])
    z = torch.exp(logz)  # (B, H, W)
    if scene_depth:
        z = z * scene_scale(z, raw[:, 11] + 2.0, scene_depth, mask)[:, None, None]
    foot = z / f
    offset = torch.tanh(raw[:, 1:4]) * (OFFSET_MAX * foot)[:, None]
    means = torch.stack((rays[0] * z, rays[1] * z, z), 1) + offset  # (B, 3, H, W)
    log_scales = (torch.log(foot) - 0.5)[:, None] + 3.0 * torch.tanh(raw[:, 4:7] / 3.0)
    quats = raw[:, 7:11] + raw.new_tensor([1.0, 0.0, 0.0, 0.0])[None, :, None, None]
    opacity = raw[:, 11] + 2.0
    sh = (image - 0.5) / SH_C0 + raw[:, 12:15]

    def flat(x):  # (B, C, H, W) -> (B, H*W, C)
        return x.reshape(b, x.shape[1], h * w).transpose(1, 2)

    return {
        "means": flat(means), "log_scales": flat(log_scales), "quats": flat(quats),
        "opacity_logits": opacity.reshape(b, h * w), "sh": flat(sh)[:, :, None, :], "depth": z,
    }


# ------------------------------------------------------------------ weights
def save_weights(model: PredictorNet, path: os.PathLike | str, metadata: dict | None = None) -> None:
    """Write the model's weights as safetensors (atomically), with the widths
    and ``metadata`` as JSON strings in the header."""
    from safetensors.torch import save_file

    from editor.formats.base import write_atomic

    meta = {"widths": json.dumps(list(model.widths)), "input_size": str(model.input_size),
            "format": "splatforge-predictor-1"}
    if model.scene_depth:
        meta["scene_depth"] = str(model.scene_depth)
    for k, v in (metadata or {}).items():
        meta[str(k)] = v if isinstance(v, str) else json.dumps(v)
    tensors = {k: v.detach().contiguous().cpu() for k, v in model.state_dict().items()}
    write_atomic(path, lambda tmp: save_file(tensors, str(tmp), metadata=meta))


def load_model(path: os.PathLike | str | None = None) -> PredictorNet:
    """The predictor with weights from ``path`` (default: $SPLATFORGE_PREDICTOR_WEIGHTS
    or `DEFAULT_WEIGHTS`), in eval mode. PredictorError (one line) when the
    file is missing or does not hold this network's weights."""
    from safetensors import safe_open

    p = Path(path or os.environ.get(WEIGHTS_ENV) or DEFAULT_WEIGHTS)
    if not p.is_file():
        raise PredictorError(
            f"predictor weights not found at {p} (train them with scripts/train_predictor.py, "
            f"or point --weights / ${WEIGHTS_ENV} at a .safetensors file)"
        )
    try:
        with safe_open(str(p), framework="pt") as fh:
            meta = fh.metadata() or {}
            state = {k: fh.get_tensor(k) for k in fh.keys()}
        widths = json.loads(meta.get("widths", json.dumps(list(DEFAULT_WIDTHS))))
        scene_depth = float(meta["scene_depth"]) if meta.get("scene_depth") else None
        if scene_depth is not None and not 0.0 < scene_depth < DEPTH_MAX:
            raise ValueError(f"scene_depth {scene_depth} is outside (0, {DEPTH_MAX})")
        model = PredictorNet(widths, int(meta.get("input_size", INPUT_SIZE)), scene_depth)
        model.load_state_dict(state)
    except Exception as e:  # safetensors raises several types for a bad file
        msg = " ".join(str(e).split())[:200]
        raise PredictorError(f"{p}: not valid predictor weights ({type(e).__name__}: {msg})") from None
    model.eval()
    return model


# ------------------------------------------------------------------ inference
def _pad16(x: torch.Tensor) -> tuple[torch.Tensor, int, int]:
    h, w = x.shape[-2:]
    ph, pw = (-h) % 16, (-w) % 16
    if ph or pw:
        x = F.pad(x, (0, pw, 0, ph), mode="replicate")
    return x, h, w


def run_network(model: PredictorNet, image: torch.Tensor, fov_deg: float) -> torch.Tensor:
    """Raw maps (B, 15, h, w) for images (B, 3, h, w) of any size (padded to
    multiples of 16 and cropped back). The ray channels describe the padded
    image's pixels in the unpadded camera (padding extends to the right and down)."""
    x, h, w = _pad16(image)
    full = network_input(x, fov_deg)
    # Rays must be those of the real camera (centre of the unpadded image).
    f = 0.5 * h / math.tan(math.radians(fov_deg) / 2)
    hp, wp = x.shape[-2:]
    v = (torch.arange(hp, dtype=x.dtype) + 0.5 - 0.5 * h) / f
    u = (torch.arange(wp, dtype=x.dtype) + 0.5 - 0.5 * w) / f
    full[:, 3:5] = torch.stack(torch.meshgrid(u, v, indexing="xy"), 0)[None]
    return model(full)[..., :h, :w]


def raw_maps(model: PredictorNet, image: torch.Tensor, fov_deg: float) -> torch.Tensor:
    """Raw maps (B, 15, H, W) for images (B, 3, H, W): the network runs on the
    images resized to ``model.input_size`` on the long side (aspect kept) and
    its output is resized bilinearly back to (H, W)."""
    h, w = image.shape[-2:]
    s = model.input_size / max(h, w)
    nh, nw = max(1, round(h * s)), max(1, round(w * s))
    small = image
    if (nh, nw) != (h, w):
        small = F.interpolate(image, size=(nh, nw), mode="bilinear", align_corners=False, antialias=s < 1)
    raw = run_network(model, small, fov_deg)
    if (nh, nw) != (h, w):
        raw = F.interpolate(raw, size=(h, w), mode="bilinear", align_corners=False)
    return raw


def predict(
    image: np.ndarray,
    mask: np.ndarray | None = None,
    fov_deg: float = DEFAULT_FOV,
    model: PredictorNet | None = None,
    weights: os.PathLike | str | None = None,
) -> tuple[SplatCloud, Camera]:
    """Predict splats from one photo.

    image (H, W, 3) float RGB in [0, 1] (uint8 is scaled); mask (H, W) alpha
    in [0, 1] or None; fov_deg the vertical field of view. Returns the cloud
    (one Gaussian per pixel with mask >= 0.5, SH degree 0, in the input
    camera's frame) and that camera (`Camera(eye=0, target=(0,0,1),
    up=(0,-1,0), fov_deg, W, H)`). See the module docstring for the resize
    policy. ``model`` or ``weights`` choose the network (default weights
    otherwise).
    """
    img = np.asarray(image)
    if img.dtype == np.uint8:
        img = img.astype(np.float32) / 255.0
    if img.ndim != 3 or img.shape[2] < 3 or min(img.shape[:2]) < 1:
        raise ValueError(f"image has shape {img.shape}, expected (H, W, 3)")
    img = np.clip(np.nan_to_num(img[..., :3].astype(np.float32)), 0, 1)
    h, w = img.shape[:2]
    camera = Camera((0, 0, 0), (0, 0, 1), (0, -1, 0), fov_deg, w, h)
    if model is None:
        model = load_model(weights)
    full = torch.from_numpy(np.ascontiguousarray(img.transpose(2, 0, 1)))[None]  # (1, 3, H, W)
    alpha = None if mask is None else torch.from_numpy(np.asarray(mask, np.float32).reshape(1, h, w))
    with torch.no_grad():
        g = decode_gaussians(raw_maps(model, full, fov_deg), full, fov_deg, model.scene_depth, alpha)
    keep = np.ones(h * w, bool) if mask is None else (np.asarray(mask, np.float32).reshape(h * w) >= 0.5)
    cloud = SplatCloud(
        g["means"][0].numpy()[keep],
        g["log_scales"][0].numpy()[keep],
        normalize_quaternions(g["quats"][0].numpy().astype(np.float64)[keep]),
        g["opacity_logits"][0].numpy()[keep],
        g["sh"][0].numpy()[keep],
    )
    return cloud, camera


def lift_depth(depth: np.ndarray, camera: Camera) -> np.ndarray:
    """World points (H*W, 3) of pixel centres at z-depth ``depth`` (H, W) seen
    by the canonical ``camera`` (the geometry `decode_gaussians` uses, without offsets)."""
    h, w = depth.shape
    rays = ray_grid(h, w, camera.fov_y_deg, torch.float64).numpy()
    z = np.asarray(depth, np.float64)
    return np.stack((rays[0] * z, rays[1] * z, z), -1).reshape(-1, 3)
