"""A layout proposal for splats predicted from one photo (never fails).

The feed-forward predictor (`inference.predictor`) lifts a photo into the
canonical input camera's frame: 3DGS axes, x right, y down, z forward, so
"up" is -y. `propose_layout` fits floor, walls, a ceiling and boxes to such a
cloud with `editor.geometry.layout_fit.fit_layout` (up hint -y; the floor may
tilt up to the fit's default 30 degrees, as for a camera looking down). A
photo without a visible floor (an object on a transparent background, a
close-up) has no layout; then the proposal is an empty layout with up -y
and the reason in ``metadata["fit"]["error"]``, so callers can still write
or show it and the user can block the scene out by hand.

The proposal remembers itself: ``metadata["proposed"]`` maps each
primitive id to the primitive as proposed (its JSON dict). The appearance
pass (`inference.appearance.reconcile_seeds`) lets only primitives the
artist changed or added since (`edited_solid_ids`) override the predicted
splats they hide; primitives as proposed were fitted to those very splats,
so they only fill what the prediction lacks. The record is ordinary layout
metadata: it travels in LAYOUT.json and in projects, and edits leave it
alone (an edited primitive simply no longer matches it).

Used by ``splatforge predict --layout-out``, the app's photo drop and
`inference.evaluation` (which refines predicted splats against their layout).
"""
from __future__ import annotations

from editor.geometry.layout_fit import FitOptions, LayoutFitError, fit_layout
from editor.model.layout import Layout
from editor.model.splat_cloud import SplatCloud

#: Up in the predictor's camera frame (y down).
PREDICTED_UP = (0.0, -1.0, 0.0)
#: Fit options for one photo's prediction: one view sees a back wall and two
#: side walls, rarely more, and its depth is noisy, so the proposal keeps at
#: most 4 walls (each with >= 2 % of the splats' weight) and 6 boxes (>= 1 %)
#: rather than the 12 and 10 a full scan may hold. On the shared photos the
#: generic options filled both limits (6-12 walls, 4-10 boxes) with fits to
#: depth noise.
PROPOSAL_OPTIONS = FitOptions(up_hint=PREDICTED_UP, max_walls=4, min_wall_fraction=0.02, max_boxes=6,
                              min_box_fraction=0.01)
#: Layout metadata key of the record of the proposal (see the module docstring).
PROPOSED_KEY = "proposed"


def propose_layout(cloud: SplatCloud, source: str = "splatforge predict") -> tuple[Layout, str | None]:
    """``(layout, None)`` fitted to ``cloud`` (splat centres in scene units,
    up -y), or ``(empty layout with up -y, reason)`` when no layout can be
    fitted; the reason (one line) is also stored with ``source`` (who asked,
    a free string) in the empty layout's ``metadata["fit"]``."""
    try:
        layout = fit_layout(cloud, PROPOSAL_OPTIONS)
    except LayoutFitError as e:
        reason = " ".join(str(e).split())
        return Layout({}, PREDICTED_UP, {"fit": {"error": reason, "source": source}}), reason
    return record_proposal(layout), None


def record_proposal(layout: Layout) -> Layout:
    """``layout`` with the record of itself as a proposal fitted to splats
    (``metadata["proposed"]``, see the module docstring). Every fit to
    splats records it: the photo proposal, Layout > Propose from Splats and
    ``splatforge layout``."""
    record = {pid: p.to_dict() for pid, p in layout.primitives.items()}
    return Layout(layout.primitives, layout.up, {**layout.metadata, PROPOSED_KEY: record})


def edited_solid_ids(layout: Layout) -> set[str]:
    """Ids of the solid primitives that differ from the recorded proposal
    (moved, resized, renamed, opened, ...) or were not in it. A layout
    without a record (drawn by hand, fitted by ``splatforge layout``, read
    from elsewhere) counts as edited throughout."""
    record = layout.metadata.get(PROPOSED_KEY) if layout.metadata else None
    if not isinstance(record, dict):
        return {p.id for p in layout.solids()}
    return {p.id for p in layout.solids() if record.get(p.id) != p.to_dict()}
