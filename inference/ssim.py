"""Structural similarity (SSIM) in torch with a separable Gaussian window.

The usual image-quality SSIM (Wang et al. 2004) with the 3DGS settings:
an 11-tap Gaussian window of sigma 1.5 pixels, ``C1 = 0.01^2``,
``C2 = 0.03^2`` for values in [0, 1], zero padding at the border (the window
is applied "same" size, so border pixels see fewer true neighbours, as in
3DGS). Differentiable; images are (H, W, C) tensors.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F

C1 = 0.01**2
C2 = 0.03**2


def gaussian_window(size: int = 11, sigma: float = 1.5, dtype=torch.float32) -> torch.Tensor:
    """1D normalised Gaussian taps (size,)."""
    x = torch.arange(size, dtype=torch.float64) - (size - 1) / 2.0
    g = torch.exp(-(x * x) / (2.0 * sigma * sigma))
    return (g / g.sum()).to(dtype)


def _blur(x: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
    """Separable Gaussian blur of x (1, C, H, W), zero padding, same size."""
    c = x.shape[1]
    k = g.numel()
    pad = k // 2
    x = F.conv2d(x, g.view(1, 1, 1, k).expand(c, 1, 1, k), padding=(0, pad), groups=c)
    return F.conv2d(x, g.view(1, 1, k, 1).expand(c, 1, k, 1), padding=(pad, 0), groups=c)


def ssim_map(a: torch.Tensor, b: torch.Tensor, size: int = 11, sigma: float = 1.5) -> torch.Tensor:
    """Per-pixel SSIM (H, W) of images ``a`` and ``b`` (H, W, C) in [0, 1],
    averaged over the channels."""
    if a.shape != b.shape or a.ndim != 3:
        raise ValueError(f"ssim needs two (H, W, C) images of one shape, got {tuple(a.shape)} and {tuple(b.shape)}")
    g = gaussian_window(size, sigma, a.dtype)
    x = a.permute(2, 0, 1)[None]
    y = b.permute(2, 0, 1)[None]
    # One batched blur of the five moments: mu_x, mu_y, E[x^2], E[y^2], E[xy].
    c = x.shape[1]
    stack = torch.cat((x, y, x * x, y * y, x * y), dim=1)
    m = _blur(stack, g)
    mx, my, exx, eyy, exy = m.split(c, dim=1)
    vx = exx - mx * mx
    vy = eyy - my * my
    cxy = exy - mx * my
    s = ((2 * mx * my + C1) * (2 * cxy + C2)) / ((mx * mx + my * my + C1) * (vx + vy + C2))
    return s[0].mean(0)


def ssim(a: torch.Tensor, b: torch.Tensor, weight: torch.Tensor | None = None) -> torch.Tensor:
    """Mean SSIM of (H, W, C) images; ``weight`` (H, W) averages with weights
    (e.g. the photo's alpha mask)."""
    s = ssim_map(a, b)
    if weight is None:
        return s.mean()
    return (s * weight).sum() / weight.sum().clamp_min(1e-12)


def psnr(a: torch.Tensor, b: torch.Tensor, weight: torch.Tensor | None = None) -> float:
    """PSNR in dB of (H, W, C) images in [0, 1] (weighted by (H, W) ``weight``)."""
    d = (a.detach() - b.detach()) ** 2
    if weight is None:
        mse = float(d.mean())
    else:
        mse = float((d.mean(-1) * weight).sum() / weight.sum().clamp_min(1e-12))
    return 10.0 * math.log10(1.0 / max(mse, 1e-12))
