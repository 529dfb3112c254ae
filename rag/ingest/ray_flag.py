"""`rag ingest --ray [ADDRESS]`: the address is optional, which click's options cannot say.

`ray_address_given` gives `--ray` the value "local" when no address follows it (the end,
another option, or a word that is no Ray address: a path to ingest). Addresses are
`local`, `auto`, `ray://…` or `host:port`. Kept apart from rag.ingest.ray_run so the CLI
never imports Ray to parse its arguments.
"""

from __future__ import annotations

import re
import sys

_ADDRESS = re.compile(r"(local|auto|ray://\S+|[\w.-]+:\d+)")


def ray_address_given(argv: list[str] | None) -> list[str] | None:
    args = list(sys.argv[1:] if argv is None else argv)
    if "ingest" not in args or "--ray" not in args:
        return argv
    i = args.index("--ray")
    nxt = args[i + 1] if i + 1 < len(args) else None
    if nxt is None or nxt.startswith("-") or not _ADDRESS.fullmatch(nxt):
        args.insert(i + 1, "local")
    return args
