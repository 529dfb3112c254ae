"""The evaluation harness behind `rag eval`: gold sets in, a report out.

- `datasets`: gold JSONL and the MultiHop-RAG query file → `GoldItem`s (with line numbers)
- `metrics`: retrieval, answer and citation scores of one item; plain functions
- `judge`: an optional LLM judge (litellm) with an on-disk cache
- `runner`: runs the product's `Pipeline` over the items, appending `items.jsonl`
- `report`: aggregates, bootstrap intervals, baselines, terminal/JSON/HTML reports, compare
- `cli`: the `rag eval` command group

What it does not do: build retrievers or prompts itself; it calls `rag.api.Pipeline`
exactly as `rag ask` does.
"""
