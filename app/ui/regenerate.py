"""Layout -> Regenerate Appearance... (Ctrl+Shift+R): the appearance pass in the app.

`start_regenerate(window)` fits new splats to a photo on the document's
current layout with `inference.appearance.regenerate` (seeds on the visible
layout surfaces the camera sees plus the photo layer's own splats, then
L1 + SSIM optimisation against the photo; see that module) as a background
`app.ui.jobs.Job`: progress and Cancel (Esc) in the status bar, failures as
the one-line error dialog. The result lands as ONE undo step, "Regenerate
appearance": `ReplaceLayer` on the photo's splat layer (undo gives the
previous splats back exactly), or `AddLayer` when the document has no photo
layer.

Which photo and camera. A document made from a photo (File > New from Photo,
or a photo dropped on the window) records, in the same undo step that adds
its layer, a *photo source*: a camera bookmark ``"Photo <name>"`` holding
the photo's camera (`SetCamera`) and an entry in the document metadata
``"photo_sources"`` = ``{layer id: {"path": photo file, "camera": bookmark
name}}`` (`SetMetadata`). Both are ordinary document data, so they survive
saving and reopening the ``.sforge`` project. Regenerate uses the most
recently recorded source whose layer and bookmark still exist. Without one,
or when its photo file is gone, it asks for a photo with a file dialog; the
camera is then the recorded one, else the document's first camera bookmark,
else the current view. Whatever camera is used takes the photo's size,
keeping its pose and vertical field of view (a view camera with another
aspect ratio thus sees the photo with its own vertical extent). A new layer
made without a photo layer records its photo source, so the next
regenerate replaces it instead of adding another.

Steps: asked with a spin box, `DEFAULT_STEPS` (about 30 s for a 256-px
photo layer on a 2-core CPU, ~0.4 s a step at the 512-px working resolution;
the pass often stops earlier on a plateau: measured 76 steps, 30 s, 17.3 ->
37.3 dB on the shared room photo).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from PySide6.QtWidgets import QFileDialog, QInputDialog

from app.ui.jobs import PHOTO_EXTENSIONS, Job
from editor.commands.base import Command
from editor.commands.document_edits import SetCamera, SetMetadata
from editor.commands.layers import AddLayer, ReplaceLayer
from editor.formats.base import FormatError
from editor.model.camera import Camera
from editor.model.document import Document, DocumentError
from editor.model.layout import Layout, LayoutError
from editor.model.splat_cloud import SplatCloud

#: Document metadata key of the recorded photo sources (see the module docstring).
PHOTO_SOURCES_KEY = "photo_sources"
DEFAULT_STEPS = 80
MAX_STEPS = 5000
#: Longest side of the photo the pass works at (`RegenerateOptions.max_side`).
WORK_MAX_SIDE = 512


@dataclass(frozen=True)
class PhotoSource:
    """A photo a splat layer was made from: the layer, the photo file and the
    camera that saw it (stored as the bookmark ``camera_name``)."""

    layer_id: str
    path: Path
    camera_name: str
    camera: Camera


def photo_sources(doc: Document) -> list[PhotoSource]:
    """The document's recorded photo sources whose layer and camera bookmark
    still exist, oldest first (malformed entries are skipped)."""
    raw = doc.metadata.get(PHOTO_SOURCES_KEY)
    if not isinstance(raw, dict):
        return []
    layer_ids = {l.id for l in doc.layers}
    out = []
    for layer_id, entry in raw.items():
        if not isinstance(entry, dict) or layer_id not in layer_ids:
            continue
        path, cam = entry.get("path"), entry.get("camera")
        if isinstance(path, str) and path and isinstance(cam, str) and cam in doc.cameras:
            out.append(PhotoSource(layer_id, Path(path), cam, doc.cameras[cam]))
    return out


def record_photo(doc: Document, layer_id: str, path: Path, camera: Camera, name: str) -> list[Command]:
    """The commands recording that layer ``layer_id`` was made from the photo
    ``path`` seen by ``camera``: the bookmark ``"Photo <name>"`` (a free name;
    the layer's existing bookmark is reused) and the metadata entry. Push
    them in the same undo step as the layer change."""
    raw = doc.metadata.get(PHOTO_SOURCES_KEY)
    sources = dict(raw) if isinstance(raw, dict) else {}
    old = sources.get(layer_id)
    cam_name = old.get("camera") if isinstance(old, dict) and isinstance(old.get("camera"), str) else None
    if cam_name is None:
        taken = set(doc.cameras)
        cam_name, k = f"Photo {name}", 2
        while cam_name in taken:
            cam_name, k = f"Photo {name} ({k})", k + 1
    sources.pop(layer_id, None)  # re-inserted last: the most recent source
    sources[layer_id] = {"path": str(Path(path).resolve()), "camera": cam_name}
    return [SetCamera(cam_name, camera), SetMetadata(PHOTO_SOURCES_KEY, sources)]


@dataclass
class RegenerateRequest:
    """What one run needs, captured on the UI thread (the document may change
    while the job runs). ``layer_id``: the photo layer to replace (None: add
    a layer); ``init``: its live splats (seeds), or None."""

    photo: Path
    camera: Camera
    layout: Layout | None
    init: SplatCloud | None
    layer_id: str | None
    steps: int
    recorded_path: Path | None = None  # the path the layer's source names (None: no source)


@dataclass
class RegeneratedAppearance:
    """What the job hands back: the fitted splats, the camera used (at the
    photo's size) and `regenerate`'s statistics."""

    request: RegenerateRequest
    cloud: SplatCloud
    camera: Camera
    stats: dict


def regenerate_photo(request: RegenerateRequest, progress: Callable[[float], None]) -> RegeneratedAppearance:
    """Worker side: load the photo (EXIF rotation, alpha as the loss mask),
    give the camera the photo's size and run the appearance pass. Bad photos
    raise `FormatError` naming the file; `AppearanceError` (nothing visible
    to fit) propagates as a one-line ValueError."""
    from inference.appearance import RegenerateOptions, regenerate
    from inference.image_io import PhotoError, load_photo

    progress(0.0)
    try:
        rgb, mask = load_photo(request.photo, max_side=WORK_MAX_SIDE)
    except PhotoError as e:
        raise FormatError(e.path or request.photo, e.message) from None
    h, w = rgb.shape[:2]
    camera = request.camera.with_size(w, h)
    progress(0.03)
    cloud, stats = regenerate(request.layout, rgb, camera, steps=request.steps, init=request.init,
                              progress=lambda f: progress(0.03 + 0.97 * f), mask=mask,
                              options=RegenerateOptions(max_side=WORK_MAX_SIDE))
    return RegeneratedAppearance(request, cloud, camera, stats)


def regenerate_job(request: RegenerateRequest, parent=None) -> Job:
    return Job(f"regenerating appearance from {request.photo.name}",
               lambda progress: regenerate_photo(request, progress), parent)


def _ask_photo(window, source: PhotoSource | None) -> Path | None:
    patterns = " ".join(f"*{e}" for e in PHOTO_EXTENSIONS)
    title = "Photo to regenerate the appearance from"
    if source is not None:
        title += f" (not found: {source.path.name})"
    path, _ = QFileDialog.getOpenFileName(window, title, window.settings.last_folder(),
                                          f"Images ({patterns});;All files (*)")
    return Path(path) if path else None


def _ask_steps(window) -> int | None:
    steps, ok = QInputDialog.getInt(
        window, "Regenerate Appearance",
        "Optimisation steps (about 0.6 s each for a 256-px photo layer;\nit may stop earlier when it stops improving):",
        DEFAULT_STEPS, 1, MAX_STEPS, 10)
    return int(steps) if ok else None


def start_regenerate(window, steps: int | None = None, photo=None) -> Job | None:
    """Regenerate the appearance of ``window`` 's document (see the module
    docstring). ``steps``: skip the steps dialog; ``photo``: skip the photo
    lookup and dialog. None when busy, cancelled, or nothing to fit."""
    if window.job is not None:
        window._error("Busy", f"wait for '{window.job.label}' to finish or cancel it")
        return None
    doc = window.document
    sources = photo_sources(doc)
    source = sources[-1] if sources else None
    layer_id = source.layer_id if source is not None else None
    init = doc.layer(layer_id).live_cloud() if layer_id is not None else None
    layout = doc.layout if doc.layout.solids(visible_only=True) else None
    if layout is None and (init is None or not len(init)):
        window._error("Nothing to regenerate",
                      "the document has no visible layout (Layout > Propose from Splats, or add a box, floor "
                      "or wall) and no photo layer")
        return None
    if photo is not None:
        path = Path(photo)
    elif source is not None and source.path.is_file():
        path = source.path
    else:
        path = _ask_photo(window, source)
        if path is None:
            return None
    if source is not None:
        camera = source.camera
    elif doc.cameras:
        camera = next(iter(doc.cameras.values()))
    else:
        camera = window.viewport.camera()
    if steps is None:
        steps = _ask_steps(window)
        if steps is None:
            return None
    request = RegenerateRequest(path, camera, layout, init if init is not None and len(init) else None, layer_id,
                                int(steps), source.path if source is not None else None)
    job = regenerate_job(request, window)
    history = window.history

    def landed(result: RegeneratedAppearance) -> None:
        # Only on the document it was computed for (not on one opened meanwhile).
        if window.history is history:
            land_regenerated(window, result)

    job.succeeded.connect(landed)
    job.failed.connect(lambda msg: window._error("Cannot regenerate the appearance", msg))
    window._run(job)
    return job


def land_regenerated(window, result: RegeneratedAppearance) -> bool:
    """Put the fitted splats in the document as one undo step (replace the
    photo layer, or add a layer and record its photo source)."""
    req, doc, history = result.request, window.document, window.history
    stem = req.photo.stem or "photo"
    try:
        with history.macro("Regenerate appearance"):
            if req.layer_id is not None:
                history.push(ReplaceLayer(req.layer_id, result.cloud))
                if req.recorded_path is None or Path(req.recorded_path).resolve() != req.photo.resolve():
                    for cmd in record_photo(doc, req.layer_id, req.photo, req.camera, stem):
                        history.push(cmd)
            else:
                add = AddLayer(result.cloud, f"{stem} (regenerated)")
                history.push(add)
                for cmd in record_photo(doc, add.layer_id, req.photo, result.camera, stem):
                    history.push(cmd)
    except (DocumentError, LayoutError, ValueError) as e:
        window._error("Cannot regenerate the appearance", f"{req.photo}: {e}")
        return False
    s = result.stats
    window.statusBar().showMessage(
        f"Regenerated {s['splats']:,} splats from {req.photo.name}: PSNR vs the photo {s['psnr_initial']:.1f} -> "
        f"{s['psnr']:.1f} dB at {s['width']}x{s['height']} ({s['steps']} steps, {s['seconds']:.0f} s)", 10_000)
    return True
