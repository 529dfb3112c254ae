"""Prompt templates: text files in `prompts/`, rendered with Jinja2 and strict variables.

A template is checked when it is loaded: it may use only the variables its caller
declares, and must use the required ones; a typo fails at load with the file name,
not later with a half-rendered prompt. Each template has a version (a hash of its text)
that caches key on. What it does not do: call models.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from rag.errors import ConfigError
from rag.resources import prompts_dir


@dataclass(frozen=True)
class Template:
    name: str
    text: str
    version: str
    _compiled: Any

    def render(self, **variables: Any) -> str:
        try:
            return str(self._compiled.render(**variables)).strip() + "\n"
        except Exception as e:
            raise ConfigError(f"prompt {self.name}: cannot render ({e})") from None


@lru_cache(maxsize=32)
def load_template(
    name: str, allowed: frozenset[str] = frozenset(), required: frozenset[str] = frozenset()
) -> Template:
    """Load `prompts/<name>`; fail if it uses a variable outside `allowed` or misses one
    of `required`."""
    import jinja2
    from jinja2 import meta

    path = prompts_dir() / name
    try:
        text = path.read_text(encoding="utf-8")
    except OSError:
        raise ConfigError(f"prompt template {path} not found; reinstall the package") from None
    env = jinja2.Environment(
        undefined=jinja2.StrictUndefined, autoescape=False, keep_trailing_newline=True
    )
    try:
        ast = env.parse(text)
    except jinja2.TemplateSyntaxError as e:
        raise ConfigError(f"prompt template {path}, line {e.lineno}: {e.message}") from None
    used = meta.find_undeclared_variables(ast)
    unknown = used - allowed
    if unknown:
        raise ConfigError(
            f"prompt template {path} uses unknown variable(s) {sorted(unknown)}; "
            f"allowed: {sorted(allowed)}"
        )
    missing = required - used
    if missing:
        raise ConfigError(f"prompt template {path} does not use {sorted(missing)}")
    version = hashlib.sha256(text.encode()).hexdigest()[:12]
    return Template(name, text, version, env.from_string(text))
