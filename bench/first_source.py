"""With a remote model, how soon does `rag ask` show what it is reading?

    python bench/first_source.py [--rounds 5] [--index index/default]

Starts an OpenAI-compatible server on 127.0.0.1 (tests/openai_server.py, answering at
once) and runs `rag ask QUESTION --model openai/test-model` as fresh processes. For each
run it records, from process start: the first passage line on stderr ("  [1] title"),
the first answer text on stdout, and the exit. Beside it, the cost of `import litellm`
alone in a fresh process: the first source should come well before that, since litellm
is imported in the background while retrieval runs.
"""

from __future__ import annotations

import argparse
import os
import selectors
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.openai_server import FakeOpenAIServer, Reply  # noqa: E402

QUESTION = "why did Russia lift the ban"


def run_once(rag: Path, index: str, env: dict[str, str]) -> dict[str, float]:
    t0 = time.perf_counter()
    cmd = [str(rag), "ask", QUESTION, "--model", "openai/test-model", "--index", index]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    sel = selectors.DefaultSelector()
    assert proc.stdout and proc.stderr
    sel.register(proc.stdout, selectors.EVENT_READ, "out")
    sel.register(proc.stderr, selectors.EVENT_READ, "err")
    marks: dict[str, float] = {}
    err = b""
    open_streams = 2
    while open_streams:
        for key, _ in sel.select():
            data = os.read(key.fileobj.fileno(), 65536)  # type: ignore[union-attr]
            now = time.perf_counter() - t0
            if not data:
                sel.unregister(key.fileobj)
                open_streams -= 1
                continue
            if key.data == "err":
                err += data
                if b"[1]" in err and "first_source" not in marks:
                    marks["first_source"] = now
            elif data.strip() and "first_answer_text" not in marks:
                marks["first_answer_text"] = now
    proc.wait()
    marks["exit"] = time.perf_counter() - t0
    if proc.returncode != 0 or "first_source" not in marks:
        raise SystemExit(f"rag ask failed ({proc.returncode}): {err.decode()[-2000:]}")
    return marks


def import_litellm_s(env: dict[str, str]) -> float:
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import litellm"], env=env, check=True)
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--index", default=str(ROOT / "index/default"))
    args = ap.parse_args()
    rag = Path(sys.executable).parent / "rag"
    with FakeOpenAIServer(responder=lambda req: Reply(text="Security worries [1].")) as server:
        env = {k: v for k, v in os.environ.items() if not k.startswith("RAG_")}
        env.update(
            RAG_LLM__API_BASE=f"http://127.0.0.1:{server.port}/v1",
            RAG_LLM__API_KEY="sk-bench-not-a-key",
            LITELLM_LOCAL_MODEL_COST_MAP="True",
            NO_PROXY="127.0.0.1",
        )
        run_once(rag, args.index, env)  # warm the file cache
        runs, imports = [], []
        for _ in range(args.rounds):  # alternating, so load hits both alike
            runs.append(run_once(rag, args.index, env))
            imports.append(import_litellm_s(env))

    def med(key: str) -> float:
        return statistics.median(r[key] for r in runs)

    print(
        f"# first source with a remote model, {time.strftime('%Y-%m-%d %H:%M')}, "
        f"load {os.getloadavg()[0]:.1f}, median of {args.rounds}"
    )
    print(f"first passage line on stderr   {med('first_source'):.2f} s")
    print(f"first answer text on stdout    {med('first_answer_text'):.2f} s")
    print(f"rag ask exits                  {med('exit'):.2f} s")
    print(f"`import litellm` alone         {statistics.median(imports):.2f} s")
    print(f"first source / litellm import  {med('first_source') / statistics.median(imports):.2f}")


if __name__ == "__main__":
    main()
