"""Load GLSL programs from ``shaders/``: one ``.glsl`` file per program.

A program file holds every stage in ``#if defined VERTEX_SHADER`` /
``FRAGMENT_SHADER`` / ``COMPUTE_SHADER`` sections. `stage_source` prepends
``#version`` and the stage define (plus any extra ``#define``), and resolves
``#include "name.glsl"`` lines against ``shaders/include/`` (each file at most
once per stage, so includes may include each other freely).

The shaders folder is found as ``Path(__file__).resolve().parents[2] /
"shaders"``: this module lives in ``<repo>/app/render/`` and the shaders in
``<repo>/shaders/``.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Mapping

SHADER_DIR = Path(__file__).resolve().parents[2] / "shaders"
INCLUDE_DIR = SHADER_DIR / "include"

_INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"\s*$')
STAGES = ("VERTEX_SHADER", "FRAGMENT_SHADER", "COMPUTE_SHADER")


class ShaderSourceError(RuntimeError):
    """A shader file or include is missing or includes itself badly."""


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except OSError as e:
        raise ShaderSourceError(f"cannot read shader {path}: {e.strerror or e}") from None


def _expand(text: str, origin: Path, seen: set[Path], depth: int = 0) -> str:
    if depth > 16:
        raise ShaderSourceError(f"#include nested too deeply in {origin}")
    out = []
    for line in text.splitlines():
        m = _INCLUDE.match(line)
        if not m:
            out.append(line)
            continue
        target = (INCLUDE_DIR / m.group(1)).resolve()
        if target in seen:
            continue
        seen.add(target)
        out.append(f"// ---- begin {m.group(1)}")
        out.append(_expand(_read(target), target, seen, depth + 1))
        out.append(f"// ---- end {m.group(1)}")
    return "\n".join(out)


def stage_source(
    program: str,
    stage: str,
    version: int = 430,
    defines: Mapping[str, object] | None = None,
) -> str:
    """Full GLSL text of one stage of ``shaders/<program>.glsl``.

    ``version`` is the ``#version`` number (330 or 430); ``defines`` maps
    macro names to values (``None`` or ``True`` defines it empty).
    """
    if stage not in STAGES:
        raise ValueError(f"unknown shader stage {stage!r}")
    path = SHADER_DIR / f"{program}.glsl"
    head = [f"#version {version} core" if version >= 150 else f"#version {version}", f"#define {stage}"]
    for name, value in (defines or {}).items():
        head.append(f"#define {name}" if value is None or value is True else f"#define {name} {value}")
    body = _expand(_read(path), path, set())
    return "\n".join(head) + "\n" + body + "\n"


def load_program(ctx, program: str, version: int = 430, defines: Mapping[str, object] | None = None, **kwargs):
    """A moderngl Program made of the vertex and fragment stages of ``program``."""
    return ctx.program(
        vertex_shader=stage_source(program, "VERTEX_SHADER", version, defines),
        fragment_shader=stage_source(program, "FRAGMENT_SHADER", version, defines),
        **kwargs,
    )


def load_compute(ctx, program: str, defines: Mapping[str, object] | None = None, version: int = 430):
    """A moderngl ComputeShader from the compute stage of ``program``."""
    return ctx.compute_shader(stage_source(program, "COMPUTE_SHADER", version, defines))


def set_uniform(program, name: str, value) -> None:
    """Set a uniform if the compiler kept it (unused uniforms are optimised away)."""
    member = program.get(name, None)
    if member is not None:
        member.value = value
