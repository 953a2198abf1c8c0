"""`splatforge evaluate`, run as a user would (a subprocess): a tiny run
prints the tables and the three target checks and writes the CSV and a real
two-panel PNG; bad weights and bad arguments end with one error line."""
import csv
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

ROOT = Path(__file__).resolve().parents[2]
METHODS = ["true_depth", "flat_card", "predictor", "predictor_scaled", "predictor+appearance"]


def splatforge(*args):
    return subprocess.run([sys.executable, str(ROOT / "main.py"), *map(str, args)], capture_output=True, text=True,
                          env={**os.environ, "SPLATFORGE_PROGRESS": "0", "OPENBLAS_NUM_THREADS": "1"})


def assert_one_line_error(r, fragment=""):
    assert r.returncode == 2, (r.returncode, r.stderr)
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("splatforge: error: "), r.stderr
    assert fragment in lines[0] and "Traceback" not in r.stderr


def test_tiny_run_writes_csv_and_plot(tmp_path):
    out = tmp_path / "new" / "folder"  # made when missing
    r = splatforge("evaluate", "--out", out, "--scenes", 2, "--size", 32, "--appearance-steps", 2,
                   "--angles", 0, 20, 40)
    assert r.returncode == 0, r.stderr
    with open(out / "evaluation.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert list(rows[0]) == ["method", "angle_deg", "psnr_db", "ssim", "n"]
    assert [(row["method"], row["angle_deg"]) for row in rows] == [(m, a) for m in METHODS for a in ("0", "20", "40")]
    for row in rows:
        assert int(row["n"]) == 2 and 0 < float(row["psnr_db"]) < 101 and -1 <= float(row["ssim"]) <= 1
    # The printed tables hold the same numbers as the CSV.
    first = rows[0]
    assert f"{float(first['psnr_db']):.2f}" in r.stdout and f"{float(first['ssim']):.3f}" in r.stdout
    checks = [line for line in r.stdout.splitlines() if line.startswith(("PASS ", "FAIL ", "n/a "))]
    assert len(checks) == 5, r.stdout  # three for the predictor, two for the scale-given predictor
    assert checks[0].split()[0] in ("PASS", "FAIL") and "input view >= 28 dB" in checks[0]
    # No 10 and 30 degrees in this run: that target is not measured.
    assert checks[1].startswith("n/a ") and "within 2 dB of true_depth" in checks[1] and "not measured" in checks[1]
    assert checks[2].split()[0] in ("PASS", "FAIL") and "beats flat_card by >= 3 dB at 20 deg" in checks[2]
    assert "predictor_scaled within 2 dB" in checks[3] and "predictor_scaled beats flat_card" in checks[4]
    assert r.stderr == ""

    img = np.asarray(Image.open(out / "evaluation.png").convert("RGB"))
    h, w = img.shape[:2]
    assert 600 <= w <= 3000 and 250 <= h <= 1500 and w > 1.5 * h  # two panels side by side
    # Not blank: white background with dark axes/text and coloured lines.
    assert (img.min(axis=2) > 240).mean() > 0.5
    assert (img.max(axis=2) < 80).mean() > 0.005
    colourful = (img.max(axis=2).astype(int) - img.min(axis=2)) > 80
    assert colourful[:, : w // 2].mean() > 0.001 and colourful[:, w // 2:].mean() > 0.001
    assert not list(out.glob(".*.tmp"))


def test_bad_weights_are_one_line_errors(tmp_path):
    missing = tmp_path / "nope.safetensors"
    r = splatforge("evaluate", "--out", tmp_path, "--weights", missing, "--scenes", 1, "--size", 32)
    assert_one_line_error(r, "nope.safetensors")
    corrupt = tmp_path / "corrupt.safetensors"
    corrupt.write_bytes(b"\x08\x00\x00\x00\x00\x00\x00\x00{}garbage")
    r = splatforge("evaluate", "--out", tmp_path, "--weights", corrupt, "--scenes", 1, "--size", 32)
    assert_one_line_error(r, "corrupt.safetensors")
    assert not (tmp_path / "evaluation.csv").exists() and not (tmp_path / "evaluation.png").exists()


@pytest.mark.parametrize("args, fragment", [
    (["--scenes", "0"], "--scenes"),
    (["--size", "8"], "--size"),
    (["--angles", "0", "200"], "--angles"),
    (["--appearance-steps", "-1"], "--appearance-steps"),
])
def test_bad_arguments_are_one_line_errors(tmp_path, args, fragment):
    assert_one_line_error(splatforge("evaluate", "--out", tmp_path, *args), fragment)


def test_out_must_be_a_folder(tmp_path):
    f = tmp_path / "file.txt"
    f.write_text("x")
    assert_one_line_error(splatforge("evaluate", "--out", f, "--scenes", 1), "file.txt")


def test_cli_defaults_match_the_library():
    from app.cli import evaluate as cli
    from inference import evaluation

    assert (cli.DEFAULT_SCENES, cli.DEFAULT_SIZE, cli.DEFAULT_APPEARANCE_STEPS, cli.DEFAULT_ANGLES) == (
        evaluation.DEFAULT_SCENES, evaluation.DEFAULT_SIZE, evaluation.DEFAULT_APPEARANCE_STEPS,
        evaluation.DEFAULT_ANGLES)
