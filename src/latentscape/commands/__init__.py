"""CLI subcommands. Each module defines `add_parser(subparsers)` (which sets `func=run` on its
parser) and `run(args) -> int`. Add a module's name to COMMANDS to put it on the command line."""

COMMANDS: list[str] = [
    "train",
    "report",
    "eval",
    "data",
    "path",
    "connect",
    "plane",
    "fge",
    "demo",
    "fid_net",
    "probe",
]
