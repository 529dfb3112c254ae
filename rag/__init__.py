"""rag: question answering over news articles, with citations to the exact passages used.

The core API lives in `rag.api` (`ingest`, `ask`, `ask_stream`, `Pipeline`); the faces
are `rag.cli` (the `rag` command), `app.py` (chainlit) and `rag.eval` (`rag eval`).
Importing this package is cheap: heavy libraries load only when they are needed.
"""

__version__ = "0.1.0"
