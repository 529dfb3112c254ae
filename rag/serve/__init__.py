"""`rag serve`: the bot as an HTTP API — OpenAI-compatible chat, REST, uploads, keys.

A thin face over the core API (one warm `rag.api.Pipeline`), like the CLI and the chat.
Modules: `cli` (the `rag serve` and `rag keys` commands), `server` (address, socket,
uvicorn), `app` (the FastAPI app, its state and middleware), `chat` (the
OpenAI-compatible routes), `rest` (ask, documents, jobs, health), `service` (what the
routes need from the core), `schema` (request/response shapes), `errors` (OpenAI-shaped
errors, core error → status), `auth`, `keys`, `ratelimit`, `middleware`, `jobs` and
`ingest_worker` (background ingests of uploads). docs/serve.md describes it.

Importing this package (and `cli`, `keys`, `ratelimit`) does not import FastAPI.
"""
