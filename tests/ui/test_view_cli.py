"""`splatforge view` argument handling: bad input is one error line and exit
status 2, before any window opens (no display needed for these)."""
from __future__ import annotations

import pytest

from app.cli.main import main


def test_missing_file_is_one_line_error(tmp_path, capsys):
    assert main(["view", str(tmp_path / "nope.ply")]) == 2
    err = capsys.readouterr().err.strip()
    assert err == f"splatforge: error: {tmp_path / 'nope.ply'}: no such file"


def test_bare_file_argument_routes_to_view(tmp_path, capsys):
    assert main([str(tmp_path / "nope.spz")]) == 2
    assert "nope.spz: no such file" in capsys.readouterr().err


def test_bad_camera_json(tmp_path, capsys):
    scene = tmp_path / "s.ply"
    scene.write_bytes(b"ply\n")
    cam = tmp_path / "cam.json"
    cam.write_text('{"eye": [0, 0, 0]}')
    assert main(["view", str(scene), "--camera", str(cam)]) == 2
    err = capsys.readouterr().err
    assert "cam.json" in err and "missing key" in err


@pytest.mark.parametrize("args, message", [
    (["--screenshot", "out.jpg"], "must be a .png"),
    (["--screenshot", "no/such/folder/out.png"], "does not exist"),
    (["--width", "5"], "between 16 and 16384"),
])
def test_bad_screenshot_options(tmp_path, capsys, monkeypatch, args, message):
    monkeypatch.chdir(tmp_path)
    scene = tmp_path / "s.ply"
    scene.write_bytes(b"ply\n")
    assert main(["view", str(scene), *args]) == 2
    assert message in capsys.readouterr().err


def test_no_display_is_a_clear_error_not_a_qt_abort(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    monkeypatch.delenv("QT_QPA_PLATFORM", raising=False)
    scene = tmp_path / "s.ply"
    scene.write_bytes(b"ply\n")
    assert main(["view", str(scene)]) == 2
    assert "no display" in capsys.readouterr().err
