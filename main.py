"""`python main.py ARGS` is the same as the `splatforge ARGS` console script."""
import sys

from app.cli.main import main

if __name__ == "__main__":
    sys.exit(main())
