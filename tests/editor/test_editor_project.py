""".sforge projects: save -> load identity, atomic saves, hostile files,
autosave and recovery."""
import io
import json
import os
import signal
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from editor_docgen import make_document, run_sequence
from editor.commands.document_edits import SetMetadata
from editor.commands.layers import RenameLayer
from editor.formats.base import Cancelled, FormatError
from editor.history import History
from editor.model.document import Document
from editor.project import (
    Autosaver,
    autosave,
    discard_recovery,
    find_recovery,
    load_project,
    read_manifest,
    recovery_path,
    save_project,
)

ROOT = Path(__file__).resolve().parents[2]
steps = st.lists(st.tuples(st.integers(0, 50), st.integers(0, 2), st.integers(0, 2**32 - 1)), max_size=30)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(steps)
def test_save_load_is_the_identity(tmp_path, seq):
    doc, _, _ = run_sequence(seq)
    path = tmp_path / "p.sforge"
    save_project(doc, path)
    loaded = load_project(path)
    assert loaded.digest() == doc.digest()
    assert [l.cloud.sh.shape for l in loaded.layers] == [l.cloud.sh.shape for l in doc.layers]
    assert loaded.layout == doc.layout and list(loaded.cameras) == list(doc.cameras)
    # loaded arrays are ordinary writable arrays (commands edit them in place)
    for l in loaded.layers:
        assert l.flags.flags.writeable and l.cloud.positions.flags.writeable


def test_empty_document_round_trip(tmp_path):
    save_project(Document(), tmp_path / "e.sforge")
    assert load_project(tmp_path / "e.sforge").digest() == Document().digest()


def test_format_is_a_zip_of_json_and_npy(tmp_path):
    path = tmp_path / "p.sforge"
    save_project(make_document(), path)
    with zipfile.ZipFile(path) as zf:
        names = zf.namelist()
        manifest = json.loads(zf.read("document.json"))
        assert manifest["schema"] == "splatforge.project" and manifest["version"] == 1
        assert "layers/0/positions.npy" in names and "layers/1/flags.npy" in names
        assert all(i.compress_type == zipfile.ZIP_STORED for i in zf.infolist() if i.filename.endswith(".npy"))
        pos = np.load(io.BytesIO(zf.read("layers/0/positions.npy")), allow_pickle=False)
        assert pos.dtype == np.float32 and pos.shape == (40, 3)
    assert read_manifest(path)["layers"][0]["extras"][0]["name"] == "object_id"


def test_interrupted_save_keeps_the_previous_file(tmp_path, monkeypatch):
    path = tmp_path / "p.sforge"
    doc = make_document()
    save_project(doc, path)
    original = path.read_bytes()
    history = History(doc)
    history.push(RenameLayer("L1", "changed"))

    def cancel(fraction):
        if 0 < fraction < 1:
            raise Cancelled()

    with pytest.raises(Cancelled):
        save_project(doc, path, progress=cancel)
    assert path.read_bytes() == original
    calls = {"n": 0}
    real = np.lib.format.write_array

    def disk_full(*a, **k):
        calls["n"] += 1
        if calls["n"] == 3:
            raise OSError(28, "No space left on device")
        return real(*a, **k)

    monkeypatch.setattr(np.lib.format, "write_array", disk_full)
    with pytest.raises(FormatError, match="No space left"):
        save_project(doc, path)
    assert path.read_bytes() == original
    assert sorted(p.name for p in tmp_path.iterdir()) == ["p.sforge"]  # no temp files left


def test_save_killed_mid_write_keeps_the_previous_file(tmp_path):
    """A process killed (SIGKILL) half-way through a save: the old project is intact."""
    path = tmp_path / "p.sforge"
    save_project(make_document(), path)
    original = path.read_bytes()
    code = (
        "import os, signal, sys\n"
        f"sys.path[:0] = [{str(ROOT)!r}, {str(Path(__file__).parent)!r}]\n"
        "from editor_docgen import make_document\n"
        "from editor.project import save_project\n"
        "doc = make_document(); doc.layers[0].name = 'new'\n"
        "def die(f):\n"
        "    if f > 0.3: os.kill(os.getpid(), signal.SIGKILL)\n"
        f"save_project(doc, {str(path)!r}, progress=die)\n"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert r.returncode == -signal.SIGKILL, r.stderr
    assert path.read_bytes() == original
    assert load_project(path).layer("L1").name == "scan"


def _rewrite(src: Path, dst: Path, edit):
    """Copy a project zip, passing each (name, bytes) through ``edit``."""
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w") as zout:
        for info in zin.infolist():
            out = edit(info.filename, zin.read(info))
            if out is not None:
                zout.writestr(info.filename, out)


def _npy(arr) -> bytes:
    b = io.BytesIO()
    np.lib.format.write_array(b, arr, allow_pickle=True)
    return b.getvalue()


def _manifest_edit(change):
    def edit(name, data):
        if name != "document.json":
            return data
        m = json.loads(data)
        change(m)
        return json.dumps(m).encode()
    return edit


HOSTILE = {
    "missing array": (lambda n, d: None if n == "layers/0/sh.npy" else d, "is missing"),
    "pickled object array": (lambda n, d: _npy(np.array([{"a": 1}] * 40, dtype=object)) if n == "layers/0/opacity_logits.npy" else d, "plain numbers"),
    "wrong dtype": (lambda n, d: _npy(np.zeros((40, 3), np.float64)) if n == "layers/0/positions.npy" else d, "expected dtype"),
    "wrong shape": (lambda n, d: _npy(np.zeros((41, 3), np.float32)) if n == "layers/0/positions.npy" else d, "does not match"),
    "lying npy header": (lambda n, d: d.replace(b"(40, 3)", b"(4000000000, 3)") if n == "layers/0/positions.npy" else d, "does not match|data bytes"),
    "huge count": (_manifest_edit(lambda m: m["layers"][0].update(count=10**12)), "splat count"),
    "lying count": (_manifest_edit(lambda m: m["layers"][0].update(count=4_000_000)), "does not match|file can hold"),
    "bad sh": (_manifest_edit(lambda m: m["layers"][0].update(sh_coeffs=5)), "sh_coeffs"),
    "newer version": (_manifest_edit(lambda m: m.update(version=9)), "newer SplatForge"),
    "other schema": (_manifest_edit(lambda m: m.update(schema="x")), "not a SplatForge project"),
    "bad layout": (_manifest_edit(lambda m: m["layout"]["primitives"][0].update(type="blob")), "unknown type"),
    "bad camera": (_manifest_edit(lambda m: m["cameras"][0].update(fov_y_deg=500)), "fov_y_deg"),
    "duplicate layer": (_manifest_edit(lambda m: m["layers"][1].update(id="L1")), "share an id"),
    "nan positions": (lambda n, d: _npy(np.full((40, 3), np.nan, np.float32)) if n == "layers/0/positions.npy" else d, "non-finite"),
    "json garbage": (lambda n, d: b"{not json" if n == "document.json" else d, "not valid JSON"),
}


@pytest.mark.parametrize("case", list(HOSTILE))
def test_hostile_projects_give_one_line_format_errors(tmp_path, case):
    edit, message = HOSTILE[case]
    good = tmp_path / "good.sforge"
    save_project(make_document(), good)
    bad = tmp_path / "bad.sforge"
    _rewrite(good, bad, edit)
    with pytest.raises(FormatError, match=message) as e:
        load_project(bad)
    assert "\n" not in str(e.value)


def test_not_a_zip_and_missing_file(tmp_path):
    (tmp_path / "x.sforge").write_bytes(b"PK\x03\x04garbage")
    with pytest.raises(FormatError, match="damaged"):
        load_project(tmp_path / "x.sforge")
    with pytest.raises(FormatError, match="no such file"):
        load_project(tmp_path / "none.sforge")


def test_deflate_bomb_claim_refused(tmp_path):
    """A deflated member that claims far more than deflate can produce."""
    good = tmp_path / "good.sforge"
    save_project(make_document(), good)
    bomb = tmp_path / "bomb.sforge"
    with zipfile.ZipFile(good) as zin, zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as zout:
        for info in zin.infolist():
            data = zin.read(info)
            if info.filename == "layers/0/flags.npy":
                data = _npy(np.zeros(40, np.uint8))
            zout.writestr(info.filename, data)
    assert load_project(bomb).digest() == make_document().digest()  # deflate itself is fine
    raw = bytearray(bomb.read_bytes())
    # Patch the central-directory uncompressed size of flags.npy to 2 GB.
    name = b"layers/0/flags.npy"
    pos = raw.find(b"PK\x01\x02")
    while pos != -1:
        nlen = int.from_bytes(raw[pos + 28:pos + 30], "little")
        if raw[pos + 46:pos + 46 + nlen] == name:
            raw[pos + 24:pos + 28] = (2 * 10**9).to_bytes(4, "little")
        pos = raw.find(b"PK\x01\x02", pos + 4)
    bomb.write_bytes(bytes(raw))
    with pytest.raises(FormatError, match="compression ratio|file can hold"):
        load_project(bomb)


_GOOD: dict = {}


def _good_project() -> tuple[bytes, list[tuple[str, bytes]]]:
    """A small one-layer project: its bytes and its (member, bytes) list."""
    if not _GOOD:
        doc = make_document()
        doc.layers = doc.layers[:1]
        with tempfile.TemporaryDirectory() as d:
            save_project(doc, Path(d) / "g.sforge")
            raw = (Path(d) / "g.sforge").read_bytes()
        with zipfile.ZipFile(io.BytesIO(raw)) as zf:
            members = [(i.filename, zf.read(i)) for i in zf.infolist()]
        _GOOD.update(raw=raw, members=members)
    return _GOOD["raw"], _GOOD["members"]


def _mutate(data, raw: bytearray) -> bytearray:
    op = data.draw(st.sampled_from(["flip", "truncate", "insert", "zero"]))
    pos = data.draw(st.integers(0, max(len(raw) - 1, 0)))
    if op == "flip" and raw:
        for _ in range(data.draw(st.integers(1, 8))):
            p = data.draw(st.integers(0, len(raw) - 1))
            raw[p] ^= 1 << data.draw(st.integers(0, 7))
    elif op == "truncate":
        del raw[pos:]
    elif op == "insert":
        raw[pos:pos] = data.draw(st.binary(min_size=1, max_size=16))
    else:
        raw[pos:pos + 8] = bytes(min(8, len(raw) - pos))
    return raw


@settings(max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(st.data())
def test_fuzzed_projects_load_or_raise_format_error(tmp_path, data):
    """Byte flips, truncations, insertions and zeroed runs, either in the
    raw file (mostly caught by the zip CRCs) or inside one member re-zipped
    with valid CRCs (reaching the JSON and .npy checks). Loading either
    succeeds with a valid document or raises a one-line FormatError."""
    raw, members = _good_project()
    if data.draw(st.booleans()):
        blob = bytes(_mutate(data, bytearray(raw)))
    else:
        k = data.draw(st.integers(0, len(members) - 1))
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w") as zf:
            for i, (name, content) in enumerate(members):
                zf.writestr(name, bytes(_mutate(data, bytearray(content))) if i == k else content)
        blob = buf.getvalue()
    bad = tmp_path / "bad.sforge"
    bad.write_bytes(blob)
    try:
        doc = load_project(bad)
    except FormatError as e:
        assert "\n" not in str(e)
        return
    assert isinstance(doc, Document)
    for layer in doc.layers:
        assert np.isfinite(layer.cloud.positions).all()
        assert layer.flags.shape == (len(layer.cloud),)
    doc.digest()


def test_autosave_and_recovery_flow(tmp_path):
    rec = tmp_path / "recovery"
    project = tmp_path / "room.sforge"
    doc = make_document()
    save_project(doc, project)
    history = History(doc)
    errors = []
    auto = Autosaver(history, rec, project, on_error=errors.append)
    assert auto.tick() is None  # nothing changed
    history.push(RenameLayer("L1", "edited"))
    written = auto.tick()
    assert written == recovery_path(rec, project) and written.is_file()
    assert auto.tick() is None  # no change since the last autosave
    found = find_recovery(rec, project)
    assert len(found) == 1 and found[0].project_path == project.resolve() and found[0].newer_than_project
    assert load_project(found[0].path).layer("L1").name == "edited"
    assert find_recovery(rec) == found  # startup listing
    # the user saves: the recovery file goes away
    save_project(doc, project)
    history.set_clean()
    auto.saved()
    assert not written.exists() and find_recovery(rec) == []
    # an untitled document gets its own file; undo back to clean removes it
    doc2 = Document()
    h2 = History(doc2)
    auto2 = Autosaver(h2, rec, None, session="s1")
    h2.push(SetMetadata("title", "draft"))
    p2 = auto2.tick()
    assert p2.name == "untitled-s1.recovery.sforge"
    assert find_recovery(rec)[0].project_path is None
    h2.undo()
    assert auto2.tick() is None and not p2.exists()
    assert not errors


def test_recovery_older_than_project_and_broken_files(tmp_path):
    rec = tmp_path / "rec"
    project = tmp_path / "a.sforge"
    doc = make_document()
    path = autosave(doc, rec, project)
    save_project(doc, project)  # saved after the autosave
    os.utime(project, (os.path.getmtime(path) + 10,) * 2)
    (rec / "junk.recovery.sforge").write_bytes(b"not a zip")
    found = find_recovery(rec)
    assert len(found) == 1 and not found[0].newer_than_project
    discard_recovery(path)
    discard_recovery(path)  # twice is fine
    assert find_recovery(rec) == []


def test_autosave_reports_disk_errors_instead_of_raising(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    doc = make_document()
    history = History(doc)
    errors = []
    auto = Autosaver(history, blocker / "sub", None, on_error=errors.append)
    history.push(RenameLayer("L1", "z"))
    assert auto.tick() is None and len(errors) == 1
