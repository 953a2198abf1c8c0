"""Shared fixtures and paths for the whole suite."""
import os
from pathlib import Path

import pytest

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT.parent / "shared" / "samples"


@pytest.fixture(scope="session")
def samples_dir() -> Path:
    """../shared/samples: real splat files (read-only). Tests that need them skip
    with a clear reason where that folder is absent (e.g. a lone clone)."""
    if not SAMPLES.is_dir():
        pytest.skip(f"shared samples not found at {SAMPLES}")
    return SAMPLES
