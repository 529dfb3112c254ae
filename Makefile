# The two commands a newcomer needs:   make demo   and   make test   (and make chat for the browser)
# Everything installs into .venv; nothing outside the project is touched except Debian's
# chromium for the browser tests (installed with apt when missing).

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
QUESTION ?= why did Russia lift the ban
CHAT_PORT ?= 8000

.PHONY: demo test install install-dev chromium lint chat serve bench eval multihop clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

# torch is pinned (2.13.0, CPU) in pyproject.toml; an unpinned torch would pull CUDA wheels.
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml $(VENV)/.installed
	$(BIN)/pip install -q -e ".[dev]"
	touch $@

# the browser chat needs only the `chat` extra (chainlit, SQLAlchemy, aiosqlite), no dev tools
$(VENV)/.installed-chat: pyproject.toml $(VENV)/.installed
	$(BIN)/pip install -q -e ".[chat]"
	touch $@

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev chromium

chromium:
	@command -v chromium >/dev/null 2>&1 || { \
	  echo "installing Debian's chromium for the browser tests"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq chromium >/dev/null; }

demo: install
	$(BIN)/rag ask "$(QUESTION)"

test: install-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python -m pytest

lint: install-dev
	$(BIN)/ruff check . && $(BIN)/ruff format --check .

chat: $(VENV)/.installed-chat
	$(BIN)/chainlit run app.py --host 127.0.0.1 --port $(CHAT_PORT)

$(VENV)/.installed-serve: pyproject.toml $(VENV)/.installed
	$(BIN)/pip install -q -e ".[serve]"
	touch $@

serve: $(VENV)/.installed-serve   # the HTTP API (docs/serve.md) on http://127.0.0.1:8080/v1
	$(BIN)/rag serve

eval: install
	$(BIN)/rag eval data/gold/bundled-dev.jsonl

multihop: install
	bash bench/multihop_eval.sh

clean:
	rm -rf index runs .pytest_cache .ruff_cache
