"""Train the feed-forward predictor (issue #7) on procedural scenes.

One command, seeded, resumable, and runnable unchanged under torchrun (DDP):

    python scripts/train_predictor.py --steps 12000 --out assets/predictor.safetensors --eval 32
    torchrun --nproc_per_node 4 scripts/train_predictor.py --steps 3000 --out assets/predictor.safetensors

(under torchrun each process takes --batch scenes a step, so N processes
need about 1/N of the steps for the same number of scenes).

See `inference.predictor_training` for the data, loss and checkpoint files,
and assets/MODEL_CARD.md for what the shipped weights were trained with.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

from inference.predictor_training import main  # noqa: E402

if __name__ == "__main__":
    raise SystemExit(main())
