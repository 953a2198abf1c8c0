"""What the viewport draws of a `Document` (numpy only, no Qt).

`SplatRenderer` draws one `SplatCloud` and knows nothing about flags, so the
window gives it a derived cloud: the splats that are shown (visible layers,
neither hidden nor deleted), with the selected ones tinted. The tint goes
through the SH DC term (colour = 0.5 + SH_C0 * DC) and damps the higher bands
so the highlight reads the same from every side. The derived cloud is rebuilt
after every flags change (one re-upload); with nothing hidden, deleted or
selected in a single visible layer the layer's own cloud is used as is.
"""
from __future__ import annotations

import numpy as np

from editor.model.document import Document
from editor.model.splat_cloud import SH_C0, SplatCloud

#: RGB the selected splats are pulled towards, and how far (0..1).
SELECTION_TINT = (1.0, 0.78, 0.05)
TINT_STRENGTH = 0.65


def display_cloud(doc: Document, tint_selection: bool = True,
                  sh_patches: dict[str, tuple[np.ndarray, np.ndarray]] | None = None) -> SplatCloud:
    """The cloud the viewport draws for ``doc`` (may share arrays with a layer).

    ``tint_selection=False`` shows the selected splats in their own colours
    (while a recolour preview is up). ``sh_patches`` maps a layer id to
    ``(index (K,), sh rows (K, C, 3))`` drawn instead of those rows of the
    layer: a preview of a pending colour edit without changing the document."""
    sh_patches = sh_patches or {}
    layers = [l for l in doc.layers if l.visible and len(l)]
    if not layers:
        return SplatCloud.empty()
    if len(layers) == 1 and not layers[0].flags.any() and layers[0].id not in sh_patches:
        return layers[0].cloud
    parts = []
    for layer in layers:
        shown = layer.shown
        cloud = layer.cloud
        if layer.id in sh_patches:
            index, rows = sh_patches[layer.id]
            sh = cloud.sh.copy()
            sh[index] = rows
            cloud = SplatCloud(cloud.positions, cloud.log_scales, cloud.rotations, cloud.opacity_logits, sh)
        selected = layer.selected[shown] if tint_selection else np.zeros(int(shown.sum()), bool)
        cloud = cloud.subset(shown) if not shown.all() else cloud
        if selected.any():
            sh = cloud.sh.copy()
            colour = 0.5 + SH_C0 * sh[selected, 0].astype(np.float64)
            tinted = (1.0 - TINT_STRENGTH) * np.clip(colour, 0.0, 1.0) + TINT_STRENGTH * np.asarray(SELECTION_TINT)
            sh[selected, 0] = ((tinted - 0.5) / SH_C0).astype(sh.dtype)
            if sh.shape[1] > 1:
                sh[selected, 1:] *= 1.0 - TINT_STRENGTH
            cloud = SplatCloud(cloud.positions, cloud.log_scales, cloud.rotations, cloud.opacity_logits, sh)
        parts.append(cloud)
    return parts[0] if len(parts) == 1 else SplatCloud.concatenate(parts)


def counts(doc: Document) -> dict[str, int]:
    """Splat counts for the status and statistics: ``live`` (not deleted),
    ``selected``, ``hidden`` (not deleted), ``deleted``."""
    out = {"live": 0, "selected": 0, "hidden": 0, "deleted": 0}
    for l in doc.layers:
        alive = l.alive
        out["live"] += int(alive.sum())
        out["deleted"] += int(len(l) - alive.sum())
        out["selected"] += int((l.selected & alive).sum())
        out["hidden"] += int((((l.flags & 2) != 0) & alive).sum())
    return out
