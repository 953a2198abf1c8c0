"""Headless command-line interface: `splatforge COMMAND ...` (see `app.cli.main`)."""
