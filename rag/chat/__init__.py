"""Helpers of the browser chat (`app.py`), all but `web` without chainlit.

- `render`: untrusted text → safe Markdown, the Sources list, citation panel props,
  footers and error messages.
- `welcome`: the welcome line and the example questions (from the loaded articles).
- `persistence`: the chat database (SQLite schema for chainlit's SQLAlchemy data layer,
  database URL resolution) and a local storage client for message elements.
- `users`: the users file (salted scrypt hashes), password checks, the auth mode.
- `web` (the one module that imports chainlit): the local sign-in without a bounce
  through /login, the citation-preview route, quieter logs.

Nothing here retrieves or prompts: `app.py` calls the core API (`rag.api.Pipeline`)
and uses these helpers to show what the core returns.
"""
