"""Where the files that ship with the project are: prompts and the bundled articles.

In a source checkout (editable install) they sit at the top of the repository
(`prompts/`, `data/articles/`); a wheel carries copies inside the package under
`rag/_bundled/` (see `[tool.hatch.build.targets.wheel.force-include]`). Nothing
else here: no loading, no parsing.
"""

from __future__ import annotations

import os
from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent
_BUNDLED = _PACKAGE / "_bundled"
_CHECKOUT = _PACKAGE.parent


def _first_existing(*candidates: Path) -> Path:
    for c in candidates:
        if c.is_dir():
            return c
    return candidates[-1]


def in_checkout() -> bool:
    """True when running from a source tree (the package sits next to pyproject.toml)."""
    return (_CHECKOUT / "pyproject.toml").is_file() and (_CHECKOUT / "rag").is_dir()


def prompts_dir() -> Path:
    """The folder of prompt templates."""
    return _first_existing(_BUNDLED / "prompts", _CHECKOUT / "prompts")


def articles_dir() -> Path:
    """The bundled articles: the default corpus."""
    return _first_existing(_BUNDLED / "articles", _CHECKOUT / "data" / "articles")


def default_index_root() -> Path:
    """`index/` of the checkout, else a per-user data folder."""
    if in_checkout():
        return _CHECKOUT / "index"
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "rag" / "index"
