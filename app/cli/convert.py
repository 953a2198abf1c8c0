"""`splatforge convert IN OUT [--sh-degree N] [--max-splats N] [--format NAME]`."""
from __future__ import annotations

import argparse
from pathlib import Path

from app.cli.common import CliError, ProgressBar, add_read_options, load_scene
from editor.formats import FormatError, write_splats
from editor.formats.registry import codec_for_output
from editor.model.budget import keep_most_important


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "convert",
        help="convert between splat formats (the output format follows OUT's extension)",
        description="Convert any readable splat file to any writable format, chosen by OUT's extension "
        "(or --format). Lossy formats lose what the README's format table says.",
    )
    p.add_argument("input", help="input splat file")
    p.add_argument("output", help="output file; its extension picks the format")
    p.add_argument("--sh-degree", type=int, choices=range(4), metavar="N", help="reduce (or pad) SH to degree N (0-3)")
    p.add_argument(
        "--max-splats", type=int, metavar="N", help="keep at most N splats, the most important first (opacity x area)"
    )
    p.add_argument("--format", metavar="NAME", help="force the output format (ply, compressed-ply, splat, spz)")
    p.add_argument("--spz-version", type=int, choices=(3, 4), help="SPZ version to write (default 3)")
    add_read_options(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.max_splats is not None and args.max_splats < 1:
        raise CliError(None, f"--max-splats must be at least 1, got {args.max_splats}")
    out = Path(args.output)
    try:
        codec = codec_for_output(out, args.format)  # fail before reading a big input
    except FormatError as e:
        raise CliError(e.path, e.message) from None
    cloud = load_scene(args.input, spz_frame=args.spz_frame).cloud
    if args.max_splats is not None:
        cloud = keep_most_important(cloud, args.max_splats)
    if args.sh_degree is not None:
        cloud = cloud.with_sh_degree(args.sh_degree)
    options = {}
    if args.spz_version is not None:
        if codec.name != "spz":
            raise CliError(out, "--spz-version applies only to .spz output")
        options["version"] = args.spz_version
    bar = ProgressBar(f"writing {out.name}")
    try:
        write_splats(cloud, out, format=args.format, progress=bar, **options)
    except FormatError as e:
        raise CliError(e.path or out, e.message) from None
    finally:
        bar.close()
    return 0
