"""Load on `rag serve`: many concurrent OpenAI-style clients, steady and during an ingest.

Starts `rag serve` (offline answerer, one API key, access log to a file) on 127.0.0.1
on a free port, over a temporary copy of an index, then runs two phases of `--clients`
concurrent clients for `--seconds` each:
  steady   chat completions only;
  ingest   the same, while `--ingest-articles` MultiHop-RAG articles (as new documents)
           are uploaded with POST /v1/documents and ingested by the server's background
           job (a child process at nice 10); requests are split into those that started
           while the job ran and those after it.
Each client loops: a chat completion (`POST /v1/chat/completions`, one in
`--stream-every` streamed) for the next question, read to the end, checked (status 200,
an answer, citations unless it abstained), then `--think-ms` of pause (0: a closed loop,
which measures capacity; a chat user's pause of a second or more measures latency at
that many users). Every request has a 30 s client timeout; a timeout, a non-200 or a
malformed answer counts as an error.

Prints per phase: requests, throughput, p50/p95/p99/max latency, errors by kind, the
server's and the load generator's CPU seconds, and the load average at start and end
(the machine is shared: compare figures only at similar load).

Questions: data/gold/bundled-dev.jsonl for the bundled articles (the default index),
MultiHop-RAG dev queries with `--index` a MultiHop index.

Usage:
  python bench/serve_load.py [--clients 50] [--seconds 60] [--think-ms 0]
      [--index DIR] [--ingest-articles 40] [--workers 4] [--phases steady,ingest]
      [--warmup 10]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

from common import header, load, offline, pct

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared" / "data" / "multihop-rag"
ADDRESS = re.compile(r"rag serve: (http://127\.0\.0\.1:\d+)/v1")
ERRORS: list[str] = []  # the first few client-side exceptions, to print


def questions(multihop: bool) -> tuple[list[str], list[str]]:
    """(questions for the load, others for the warm-up). MultiHop's 2,045 dev queries are
    more than a phase asks, so each question is new to the server (embedded afresh); the
    50 bundled ones repeat, and after the first round their vectors are cached."""
    if multihop:
        rows = json.loads((SHARED / "queries-dev.json").read_text(encoding="utf-8"))
        qs = [r["query"] for r in rows]
        return qs[:1500], qs[1500:]
    gold = ROOT / "data" / "gold" / "bundled-dev.jsonl"
    qs = [json.loads(x)["question"] for x in gold.read_text().splitlines() if x.strip()]
    return qs, qs


def articles_jsonl(n: int, skip: int) -> bytes:
    """`n` MultiHop-RAG articles as new documents (ids of their own)."""
    rows = json.loads((SHARED / "corpus.json").read_text(encoding="utf-8"))[skip : skip + n]
    out = []
    for i, r in enumerate(rows):
        rec = {k: r.get(k) for k in ("title", "source", "url", "published_at", "body")}
        out.append(json.dumps({"id": f"serve-load-{skip + i}", **rec}, ensure_ascii=False))
    return ("\n".join(out) + "\n").encode("utf-8")


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process (and its reaped children), from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = sum(int(x) for x in fields[11:15])  # utime stime cutime cstime
    return ticks / os.sysconf("SC_CLK_TCK")


class Server:
    def __init__(self, index: Path, tmp: Path, workers: int) -> None:
        self.keys = tmp / "keys.toml"
        env = {k: v for k, v in os.environ.items() if not k.startswith("RAG_")}
        env.update(
            RAG_SERVE__KEYS_FILE=str(self.keys),
            RAG_SERVE__WORKERS=str(workers),
            RAG_SERVE__RATE_LIMIT_PER_MIN="1000000",
            RAG_INDEX__COMMIT_EVERY_S="1000000",
        )
        from rag.serve.keys import add_key

        self.key = add_key(self.keys, "bench")
        self.log = tmp / "serve.log"
        with self.log.open("wb") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "rag.cli", "serve", "--port", "0", "--index", str(index)],
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        self.url = ""
        end = time.monotonic() + 300
        while not self.url:
            m = ADDRESS.search(self.log.read_text(errors="replace"))
            if m:
                self.url = m.group(1)
            elif self.proc.poll() is not None or time.monotonic() > end:
                raise SystemExit(f"rag serve did not start:\n{self.log.read_text()}")
            time.sleep(0.1)
        import httpx

        while True:
            try:
                if httpx.get(self.url + "/healthz", timeout=5).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            if self.proc.poll() is not None or time.monotonic() > end:
                raise SystemExit(f"rag serve is not healthy:\n{self.log.read_text()}")
            time.sleep(0.2)

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()


async def client_loop(
    n: int,
    http: Any,
    qs: list[str],
    until: float,
    think_s: float,
    stream_every: int,
    results: list[tuple[float, float, str]],
) -> None:
    i = n * 7
    while time.monotonic() < until:
        q = qs[i % len(qs)]
        stream = stream_every > 0 and i % stream_every == 0
        i += 1
        body = {"model": "rag", "messages": [{"role": "user", "content": q}], "stream": stream}
        t0 = time.monotonic()
        outcome = "ok"
        try:
            if stream:
                text, done = [], False
                async with http.stream("POST", "/v1/chat/completions", json=body) as r:
                    if r.status_code != 200:
                        outcome = f"http {r.status_code}"
                    async for line in r.aiter_lines():
                        if line == "data: [DONE]":
                            done = True
                        elif line.startswith("data: {"):
                            chunk = json.loads(line[6:])
                            if "error" in chunk:
                                outcome = "error event"
                            for c in chunk.get("choices", []):
                                text.append(c["delta"].get("content") or "")
                if outcome == "ok" and (not done or not "".join(text).strip()):
                    outcome = "incomplete stream"
            else:
                r = await http.post("/v1/chat/completions", json=body)
                if r.status_code != 200:
                    outcome = f"http {r.status_code}"
                else:
                    d = r.json()
                    content = d["choices"][0]["message"]["content"]
                    if not content or (not d["citations"] and not d["rag"]["abstained"]):
                        outcome = "bad answer"
        except Exception as e:  # a timeout or a dropped connection is an error to count
            outcome = type(e).__name__
            if len(ERRORS) < 5:
                ERRORS.append(
                    f"{'stream' if stream else 'plain'} after {time.monotonic() - t0:.2f} s: {e!r}"
                )
        t1 = time.monotonic()
        results.append((t0, t1 - t0, outcome))
        if think_s:
            await asyncio.sleep(think_s)


async def run_phase(
    server: Server, a: argparse.Namespace, qs: list[str], upload: bytes | None
) -> dict[str, Any]:
    import httpx

    results: list[tuple[float, float, str]] = []
    limits = httpx.Limits(max_connections=a.clients, max_keepalive_connections=a.clients)
    headers = {"Authorization": f"Bearer {server.key}"}
    job: dict[str, Any] = {}
    async with httpx.AsyncClient(
        base_url=server.url, headers=headers, limits=limits, timeout=30.0
    ) as http:
        load0, cpu0 = load(), cpu_seconds(server.proc.pid)
        me0 = resource.getrusage(resource.RUSAGE_SELF)
        start = time.monotonic()
        until = start + a.seconds
        tasks = [
            asyncio.create_task(
                client_loop(n, http, qs, until, a.think_ms / 1000, a.stream_every, results)
            )
            for n in range(a.clients)
        ]
        if upload is not None:
            await asyncio.sleep(1.0)
            r = await http.post(
                "/v1/documents", files={"file": ("serve-load.jsonl", upload)}, timeout=60
            )
            r.raise_for_status()
            job = r.json()
            job["posted_at"] = time.monotonic()
            while time.monotonic() < until + 600:
                job.update((await http.get(f"/v1/jobs/{job['id']}")).json())
                if job["status"] in ("succeeded", "failed"):
                    job["ended_at"] = time.monotonic()
                    break
                await asyncio.sleep(0.5)
        await asyncio.gather(*tasks)
        wall = min(time.monotonic(), until) - start  # the load window
        cpu_wall = time.monotonic() - start
        me1 = resource.getrusage(resource.RUSAGE_SELF)
        out = {
            "results": results,
            "wall": wall,
            "cpu_wall": cpu_wall,
            "start": start,
            "load": (load0, load()),
            "server_cpu": cpu_seconds(server.proc.pid) - cpu0,
            "client_cpu": (me1.ru_utime + me1.ru_stime) - (me0.ru_utime + me0.ru_stime),
            "rss": rss_mb(server.proc.pid),
            "job": job,
        }
    return out


def summary(name: str, rows: list[tuple[float, float, str]], seconds: float) -> str:
    lat = [d * 1000 for _, d, o in rows if o == "ok"]
    errors = Counter(o for _, _, o in rows if o != "ok")
    err = ", ".join(f"{k} {v}" for k, v in errors.most_common()) or "0"
    return (
        f"{name:<22} {len(rows):>6} {len(rows) / seconds:>7.1f} {pct(lat, 50):>7.1f} "
        f"{pct(lat, 95):>7.1f} {pct(lat, 99):>7.1f} {max(lat, default=float('nan')):>7.1f}   "
        f"errors: {err}"
    )


def report(name: str, a: argparse.Namespace, ph: dict[str, Any]) -> None:
    rows = ph["results"]
    print(f"\n## {name}: {a.clients} clients, think {a.think_ms} ms, {ph['wall']:.1f} s")
    print(f"{'requests':<22} {'n':>6} {'req/s':>7} {'p50 ms':>7} {'p95':>7} {'p99':>7} {'max':>7}")
    print(summary("all", rows, ph["wall"]))
    job = ph["job"]
    if job:
        t_start = job["posted_at"]
        t_end = job.get("ended_at", float("inf"))
        window_end = ph["start"] + ph["wall"]
        during = [r for r in rows if t_start <= r[0] < t_end]
        after = [r for r in rows if r[0] >= t_end]
        if during:
            print(summary("while ingesting", during, min(t_end, window_end) - t_start))
        if after:
            print(summary("after the ingest", after, window_end - t_end))
        rep = job.get("report") or {}
        took = job.get("ended_at", float("nan")) - t_start
        print(
            f"ingest job: {job['status']}, {len(rep.get('added', []))} documents, "
            f"{rep.get('chunks_embedded', '?')} chunks in {took:.1f} s "
            f"({'finished inside' if took <= a.seconds else 'ran past'} the phase)"
        )
    print(
        f"server CPU{' (with its ingest child)' if ph['job'] else ''} {ph['server_cpu']:.1f} s "
        f"({ph['server_cpu'] / max(1, len(rows)) * 1000:.1f} ms a request), "
        f"load generator CPU {ph['client_cpu']:.1f} s, over {ph['cpu_wall']:.0f} s "
        f"on {os.cpu_count()} cores; server RSS {ph['rss']:.0f} MB\n"
        f"{ph['load'][0]} → {ph['load'][1]}"
    )
    for e in ERRORS:
        print(f"  error: {e}")
    ERRORS.clear()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--clients", type=int, default=50)
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--think-ms", type=float, default=0.0)
    ap.add_argument("--stream-every", type=int, default=5, help="every n-th request streams")
    ap.add_argument("--index", type=Path, help="index to copy (default: the bundled articles)")
    ap.add_argument("--ingest-articles", type=int, default=40)
    ap.add_argument("--workers", type=int, default=4, help="serve.workers")
    ap.add_argument("--phases", default="steady,ingest")
    ap.add_argument(
        "--warmup", type=int, default=10, help="questions asked one by one before measuring"
    )
    a = ap.parse_args()
    offline()
    header("rag serve under load", sys.argv)
    phases = [p.strip() for p in a.phases.split(",") if p.strip()]
    with tempfile.TemporaryDirectory(prefix="rag-serve-load-") as tmp:
        t = Path(tmp)
        index = t / "index"
        if a.index:
            shutil.copytree(a.index, index, ignore=shutil.ignore_patterns("uploads"))
        else:
            rag = str(Path(sys.executable).parent / "rag")
            subprocess.run([rag, "ingest", str(ROOT / "data" / "articles"), "--index",
                            str(index), "-q"], check=True)  # fmt: skip
        qs, warmup = questions(multihop=a.index is not None)
        server = Server(index, t, a.workers)
        try:
            import httpx

            h = httpx.get(server.url + "/healthz").json()
            print(
                f"server   {server.url}, serve.workers {a.workers}, offline answerer, key auth; "
                f"index {h['documents']} documents / {h['chunks']} chunks; {len(qs)} questions"
            )
            warm = httpx.Client(
                base_url=server.url, headers={"Authorization": f"Bearer {server.key}"}
            )
            t0 = time.monotonic()
            for i in range(a.warmup):  # what a cold server lacks is loaded before the clock
                q = warmup[i % len(warmup)]
                warm.post("/v1/chat/completions", json={"model": "rag", "messages": [
                    {"role": "user", "content": q}]}, timeout=120)  # fmt: skip
            print(f"warm-up  {a.warmup} questions in {time.monotonic() - t0:.1f} s")
            if "steady" in phases:
                report("steady", a, asyncio.run(run_phase(server, a, qs, None)))
            if "ingest" in phases:
                upload = articles_jsonl(a.ingest_articles, skip=300)
                report("during an ingest", a, asyncio.run(run_phase(server, a, qs, upload)))
        finally:
            server.stop()
            bad = [x for x in server.log.read_text(errors="replace").splitlines()
                   if " WARNING " in x or " ERROR " in x or "Traceback" in x]  # fmt: skip
            print(f"\nserver log: {len(bad)} warning/error lines")
            for x in bad[:8]:
                print("  " + x[:300])
    print(f"\nend      {load()}")


if __name__ == "__main__":
    main()
