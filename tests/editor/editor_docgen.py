"""Documents and random commands for the editor's property tests."""
from __future__ import annotations

import numpy as np

from editor.commands import layers as L
from editor.commands import layout_edits as E
from editor.commands import splat_edits as S
from editor.commands.document_edits import SetCamera, SetMetadata
from editor.model.camera import Camera
from editor.history import History
from editor.model.document import Document, DocumentError, Layer
from editor.model.layout import Box, Cylinder, Group, Layout, LayoutError, Opening, Plane, Sphere, Wall

EXPECTED_ERRORS = (DocumentError, LayoutError)
from editor.model.splat_cloud import SplatCloud, normalize_quaternions


def small_cloud(n: int, degree: int, seed: int, extras: bool = False) -> SplatCloud:
    rng = np.random.default_rng(seed)
    k = (degree + 1) ** 2
    cloud = SplatCloud(
        rng.uniform(-2, 2, (n, 3)),
        rng.uniform(-4, -1, (n, 3)),
        normalize_quaternions(rng.normal(size=(n, 4))),
        rng.uniform(-3, 3, n),
        rng.normal(scale=0.4, size=(n, k, 3)),
    )
    if extras:
        cloud.extras = {"object_id": rng.integers(0, 9, n).astype(np.int32), "nx": rng.normal(size=n).astype(np.float32)}
    return cloud


def base_layout() -> Layout:
    prims = [
        Plane("p1", "Floor", position=(0, 1, 0), rotation=(0, 0, 0, 1), size=(6, 5), role="floor"),
        Wall.from_endpoints("p2", (-3, 1, -2), (3, 1, -2), up=(0, -1, 0), height=2.5, thickness=0.2, name="North"),
        Box("p3", "Table", position=(0.5, 0.6, 0.5), size=(1.2, 0.8, 0.75)),
        Cylinder("p4", "Column", position=(2, 0, 1), radius=0.2, height=2.5, segments=12),
        Sphere("p5", "Ball", position=(-1, 0.5, 1), radius=0.3, subdivisions=1),
        Group("g1", "Furniture", children=("p3", "p4")),
    ]
    return Layout({p.id: p for p in prims}, metadata={"note": "test"})


def make_document() -> Document:
    layers = [
        Layer("L1", "scan", small_cloud(40, 1, 1, extras=True)),
        Layer("L2", "prop", small_cloud(25, 0, 2)),
    ]
    layers[1].flags[::7] = 8  # a few locked splats
    cams = {"start": Camera((0, 0, -5), (0, 0, 0), (0, -1, 0), 50, 64, 48)}
    return Document(layers, base_layout(), cams, {"title": "room", "tags": ["a"]})


def _quat(rng) -> tuple:
    q = rng.normal(size=4)
    return tuple(q / np.linalg.norm(q))


def random_command(doc: Document, rng: np.random.Generator, kind: int, merge: int):
    """A random command valid *or not* for ``doc``; ``kind`` picks the family.
    Invalid ones must raise without changing the document."""
    layer_ids = [l.id for l in doc.layers] or ["L1"]
    prim_ids = list(doc.layout.primitives) or ["p1"]
    merge_id = merge if merge else None
    lid = layer_ids[rng.integers(len(layer_ids))]
    pid = prim_ids[rng.integers(len(prim_ids))]
    k = kind % 31
    if k in (0, 1):
        masks = {l.id: rng.random(len(l)) < rng.uniform(0.05, 0.9) for l in doc.layers if rng.random() < 0.8}
        return S.SetSelection(masks, ["replace", "add", "subtract", "intersect"][rng.integers(4)], merge_id)
    if k == 2:
        return [S.SetSelection.all, S.SetSelection.none, S.SetSelection.inverted][rng.integers(3)](doc)
    if k == 3:
        return S.DeleteSelection()
    if k == 4:
        return [S.HideSelection(), S.LockSelection(), S.UnhideAll(), S.UnlockAll()][rng.integers(4)]
    if k == 5:
        return S.CropToBox(rng.uniform(-1, 1, 3), rng.uniform(0.5, 2.5, 3), _quat(rng))
    if k in (6, 7):
        return S.TransformSelection(rng.normal(size=3), _quat(rng), float(rng.uniform(0.5, 2)), merge_id=merge_id)
    if k == 8:
        return S.Recolour(rng.uniform(0.2, 1.5, 3), float(rng.uniform(0.5, 1.5)), float(rng.uniform(0, 2)), merge_id=merge_id)
    if k == 9:
        return S.SeparateToLayer("piece")
    if k == 10:
        return S.PurgeDeleted()
    if k == 11:
        n = int(rng.integers(0, 12))
        return L.AddLayer(small_cloud(n, int(rng.integers(0, 3)), int(rng.integers(1 << 30))), "new",
                          index=int(rng.integers(0, len(doc.layers) + 2)))
    if k == 12:
        return L.RemoveLayer(lid if rng.random() < 0.9 else "nope")
    if k == 13:
        n = len(doc.layer(lid)) if doc.layers and rng.random() < 0.5 else int(rng.integers(0, 15))
        return L.ReplaceLayer(lid, small_cloud(n, 1, int(rng.integers(1 << 30))), name=None if rng.random() < 0.5 else "regen")
    if k == 14:
        return [L.RenameLayer(lid, f"name{rng.integers(9)}"), L.SetLayerVisible(lid, bool(rng.random() < 0.5)),
                L.MoveLayer(lid, int(rng.integers(0, max(len(doc.layers), 1) + 1)))][rng.integers(3)]
    if k in (15, 16):
        t = rng.integers(5)
        p = [Box("", size=tuple(rng.uniform(0.1, 2, 3))), Cylinder("", radius=0.3, height=1.0, segments=8),
             Sphere("", radius=0.4, subdivisions=0), Plane("", size=(2, 2)),
             Wall.from_endpoints("", rng.normal(size=3), rng.normal(size=3) + 3, height=2.0)][t]
        groups = [g.id for g in doc.layout if isinstance(g, Group)]
        group = groups[0] if groups and rng.random() < 0.3 else None
        return E.AddPrimitive(p.replace(position=tuple(rng.normal(size=3))), group=group)
    if k == 17:
        return E.RemovePrimitive([pid])
    if k in (18, 19):
        ids = list(rng.choice(prim_ids, size=min(len(prim_ids), int(rng.integers(1, 3))), replace=False))
        return E.TransformPrimitive(ids, rng.normal(size=3), _quat(rng), tuple(rng.uniform(0.5, 2, 3)), merge_id=merge_id)
    if k == 20:
        name, value = [("name", "renamed"), ("visible", bool(rng.random() < 0.5)), ("locked", bool(rng.random() < 0.3)),
                       ("position", list(rng.normal(size=3)))][rng.integers(4)]
        return E.SetPrimitiveProperty(pid, name, value, merge_id=merge_id)
    if k in (21, 22):
        faces = ["+x", "-x", "+y", "-y", "+z", "-z", "side", "surface"]
        return E.Extrude(pid, faces[rng.integers(len(faces))], float(rng.uniform(-1.5, 1.5)), merge_id=merge_id)
    if k == 23:
        walls = [w.id for w in doc.layout if isinstance(w, Wall)] or [pid]
        u0, v0 = rng.uniform(-0.5, 5), rng.uniform(-0.5, 2.5)
        return E.AddOpening(walls[rng.integers(len(walls))], Opening(u0, v0, u0 + rng.uniform(0.2, 2), v0 + rng.uniform(0.2, 2), "window"))
    if k == 24:
        walls = [w.id for w in doc.layout if isinstance(w, Wall)] or [pid]
        w = walls[rng.integers(len(walls))]
        if rng.random() < 0.5:
            return E.RemoveOpening(w, int(rng.integers(0, 3)))
        return E.Extrude(w, "+z", -5.0, region=(0.5, 0.0, 1.4, 2.0), kind="door")
    if k == 25:
        ids = list(rng.choice(prim_ids, size=min(len(prim_ids), int(rng.integers(1, 4))), replace=False))
        return E.GroupPrimitives(ids, "grp")
    if k == 26:
        groups = [g.id for g in doc.layout if isinstance(g, Group)] or [pid]
        return E.Ungroup(groups[rng.integers(len(groups))])
    if k == 27:
        return E.SetLayout(base_layout() if rng.random() < 0.5 else Layout())
    if k == 28:
        cam = Camera(rng.normal(size=3) * 3 + (0, 0, -6), (0, 0, 0), (0, -1, 0), 40, 32, 32)
        return SetCamera(["start", "top", "side"][rng.integers(3)], cam if rng.random() < 0.7 else None)
    if k == 29:
        return SetMetadata(["title", "tags", "author"][rng.integers(3)], [None, "x", {"a": [1, 2]}][rng.integers(3)])
    # k == 30: a brush stroke: several dabs with one merge id
    return S.SetSelection({lid: rng.random(len(doc.layer(lid))) < 0.2} if doc.layers else {}, "add", merge_id=merge_id)


def run_sequence(seq):
    """Apply steps (kind, merge, seed): kind 0..36 push a random command,
    37..40 undo/redo, > 40 repeat the previous family and merge id (drags).
    Returns (document, history, states) with states[i] the digest expected
    with i commands applied."""
    doc = make_document()
    history = History(doc)
    states = [doc.digest()]  # states[i]: digest with i commands applied
    previous = (0, 0)
    for kind, merge, seed in seq:
        rng = np.random.default_rng(seed)
        if kind > 40:  # repeat the previous command family and merge id: drags, strokes
            kind, merge = previous
        previous = (kind, merge)
        if kind >= 37:
            history.undo() if kind < 39 else history.redo()
            assert doc.digest() == states[history.index], "undo/redo mid-sequence went astray"
            continue
        before = doc.digest()
        index_before, length_before = history.index, len(history)
        try:
            cmd = random_command(doc, rng, kind, merge)
            history.push(cmd)
        except EXPECTED_ERRORS:
            assert doc.digest() == before, "a failed command changed the document"
            assert (history.index, len(history)) == (index_before, length_before)
            continue
        del states[history.index:]
        states.append(doc.digest())
        assert len(states) == history.index + 1
    return doc, history, states
