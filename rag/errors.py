"""Typed errors of the core.

Every error the user can cause or fix carries a one-line message that names the bad
input and what to do about it. The faces (CLI, chat, eval) catch `RagError` and show
`str(error)`; they never show a traceback for one. Anything else is a bug.

Exit codes of the CLI: 0 done; 1 an error the message explains (no index, index busy,
settings mismatch, model unreachable); 2 bad usage, input or config; 3 the index is
damaged (`rag index repair`); 4 the index could not be written (disk full, permission,
I/O error); 130 and 143 interrupted by Ctrl-C or SIGTERM.
"""

from __future__ import annotations


class RagError(Exception):
    """Base class: a problem the user can fix. `str()` is the one-line message."""

    exit_code = 1


class UsageError(RagError):
    """A bad argument: empty question, top-k out of bounds, unknown format."""

    exit_code = 2


class InputError(RagError):
    """A path or file that cannot be used (missing path, unreadable gold file)."""

    exit_code = 2


class ConfigError(RagError):
    """A bad setting or config file."""

    exit_code = 2


class IndexNotFoundError(RagError):
    """The index folder does not exist or holds no index."""


class IndexMismatchError(RagError):
    """The index was built with settings that differ from the current ones."""


class IndexBusyError(RagError):
    """Another process holds the index's write lock."""


class IndexCorruptError(RagError):
    """The index folder exists but a file of it is damaged or missing. The message names
    the index, the file and the fix (`rag index repair`; `rag index verify` lists all)."""

    exit_code = 3


class IndexWriteError(RagError):
    """Writing the index failed (disk full, permission denied, I/O error). The message
    names the index and the free space needed or the path refused; the live generation
    is untouched and the half-written one removed."""

    exit_code = 4


class ModelError(RagError):
    """An embedding model or LLM cannot be loaded or reached."""
