"""One module per command: each has `register(subparsers, common)` and `run(args, ctx) -> int`."""
