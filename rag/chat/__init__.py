"""Helpers of the browser chat (`app.py`) that do not need chainlit.

- `render`: untrusted text → safe Markdown, the Sources list, citation panel props,
  the welcome line, footers and error messages.
- `persistence`: the chat database (SQLite schema for chainlit's SQLAlchemy data layer,
  database URL resolution) and a local storage client for message elements.
- `users`: the users file (salted scrypt hashes), password checks, the auth mode.

Nothing here imports chainlit, retrieves or prompts: `app.py` calls the core API
(`rag.api.Pipeline`) and uses these helpers to show what the core returns.
"""
