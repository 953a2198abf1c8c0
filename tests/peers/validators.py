"""Independent validators the tests run on files we write (test-only tools).

`splat_transform` finds PlayCanvas splat-transform; `gltf_validator` finds the Khronos glTF validator (npm package
``gltf-validator``, run with node); `validate_gltf` runs it on bytes and
returns its issue report. Tests call ``pytest.skip(reason)`` when the tool is
absent (``make peers`` installs it into ``.peer/``; ``GLTF_VALIDATOR_DIR`` may
name another folder holding ``node_modules/gltf-validator``).
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

_SCRIPT = (
    "const v = require(process.argv[1]); const fs = require('fs');"
    "v.validateBytes(new Uint8Array(fs.readFileSync(process.argv[2])), {maxIssues: 0})"
    ".then(r => console.log(JSON.stringify(r.issues))).catch(e => { console.error(String(e)); process.exit(3); });"
)


def splat_transform() -> str | None:
    """Path of PlayCanvas splat-transform (``make peers`` installs it into
    .peer/), or None when it is not installed."""
    local = ROOT / ".peer" / "node_modules" / ".bin" / "splat-transform"
    if local.exists():
        return str(local)
    return shutil.which("splat-transform")


def gltf_validator() -> tuple[tuple[str, Path] | None, str]:
    """((node, package folder), "") or (None, a reason to skip)."""
    node = shutil.which("node")
    if not node:
        return None, "node is not installed"
    for d in (os.environ.get("GLTF_VALIDATOR_DIR", ""), str(ROOT / ".peer"), str(ROOT)):
        pkg = Path(d) / "node_modules" / "gltf-validator"
        if d and (pkg / "package.json").is_file():
            return (node, pkg), ""
    return None, ("npm package gltf-validator not found: run `make peers` (installs it into .peer/)"
                  " or set GLTF_VALIDATOR_DIR to a folder holding node_modules/gltf-validator")


def validate_gltf(data: bytes, found: tuple[str, Path]) -> dict:
    """The validator's ``issues`` object for a .glb or self-contained .gltf:
    ``numErrors``, ``numWarnings``, ``numInfos``, ``numHints`` and ``messages``
    (each with ``code``, ``message``, ``severity`` 0=error..3=hint, ``pointer``)."""
    node, pkg = found
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "asset.bin"
        path.write_bytes(data)
        out = subprocess.run([node, "-e", _SCRIPT, str(pkg), str(path)], capture_output=True, text=True, timeout=120)
    if out.returncode != 0:
        raise RuntimeError(f"gltf-validator failed: {out.stderr.strip()[:500]}")
    return json.loads(out.stdout)
