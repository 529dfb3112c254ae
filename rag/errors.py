"""Typed errors of the core.

Every error the user can cause or fix carries a one-line message that names the bad
input and what to do about it. The faces (CLI, chat, eval) catch `RagError` and show
`str(error)`; they never show a traceback for one. Anything else is a bug.
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
    """The index folder exists but cannot be read."""


class ModelError(RagError):
    """An embedding model or LLM cannot be loaded or reached."""
