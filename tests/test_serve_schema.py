"""`rag serve` against its own /openapi.json, with schemathesis (property-based).

Schemathesis reads the published schema and sends generated requests, valid and
invalid, to a real server with an API key: no 5xx, every status code and response body
as documented, invalid bodies rejected, requests without or with a wrong key refused.

Left out: `positive_data_acceptance` (the schema cannot say "the last message is the
user's", so a schema-valid conversation may rightly get a 400) and the upload route
(each accepted upload starts an ingest; test_serve_rest.py covers it). The examples are
the same on every run (a fixed seed), as for the project's other property tests.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from rag.serve.keys import add_key

from .serve_helpers import ServeProcess, serve_env


@pytest.fixture
def keyed_server(tmp_path: Path, bundled_index: Path) -> Iterator[tuple[ServeProcess, str]]:
    keys_file = tmp_path / "keys.toml"
    key = add_key(keys_file, "schemathesis", rate_limit_per_min=100_000)
    with ServeProcess(
        bundled_index, tmp_path / "serve.log", "--log-level", "warning", keys_file=keys_file
    ) as s:
        yield s, key


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_the_api_keeps_to_its_schema(
    keyed_server: tuple[ServeProcess, str], tmp_path: Path
) -> None:
    server, key = keyed_server
    seed = os.environ.get("SCHEMATHESIS_SEED", "20261204")
    cmd = [
        sys.executable,
        "-m",
        "schemathesis.cli",
        "run",
        server.url("/openapi.json"),
        "--checks", "all",
        "--exclude-checks", "positive_data_acceptance",
        "--exclude-operation-id", "add_documents_v1_documents_post",
        "--header", f"Authorization: Bearer {key}",
        "--phases", "examples,coverage,fuzzing",
        "--max-examples", "30",
        "--workers", "1",
        "--seed", seed,
        "--request-timeout", "60",
        "--no-color",
    ]  # fmt: skip
    p = subprocess.run(
        cmd,
        env={**serve_env(), "SCHEMATHESIS_HOOKS": ""},
        capture_output=True,
        text=True,
        timeout=840,
        cwd=tmp_path,
    )
    report = (p.stdout + p.stderr).replace(key, "<key>")
    assert p.returncode == 0, report[-6000:]
    assert "API Operations" in report and "Tested: 8" in report, report[-3000:]
    assert server.alive()
    assert key not in server.log()
