"""Make ``tests.formats.synth`` importable however pytest is started
(``python -m pytest`` puts the repository root on sys.path; the ``pytest``
script does not). Redundant once pyproject sets ``pythonpath = ["."]``."""
import sys
from pathlib import Path

_ROOT = str(Path(__file__).resolve().parents[2])
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)
