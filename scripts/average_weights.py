"""Average predictor weight files (stochastic weight averaging).

    python scripts/average_weights.py OUT.safetensors A.safetensors B.safetensors ...

The files must come from one network (same widths, input size and scale
convention), typically the ``--snapshot-every`` snapshots of one training
run; see `inference.predictor_training.average_weights`.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def main(argv=None) -> int:
    import argparse

    p = argparse.ArgumentParser(description="Average predictor weight files (stochastic weight averaging).")
    p.add_argument("out", help="averaged weights (safetensors)")
    p.add_argument("inputs", nargs="+", help="weight files to average")
    args = p.parse_args(argv)
    from inference.predictor import PredictorError
    from inference.predictor_training import average_weights

    try:
        average_weights(args.inputs, args.out)
    except (PredictorError, ValueError) as e:
        print(f"average_weights: {e}", file=sys.stderr)
        return 2
    print(f"wrote {args.out} (mean of {len(args.inputs)} files)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
