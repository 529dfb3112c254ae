"""What every bench script prints with its figures: date, machine, versions, load.

The machine is shared, so each figure carries the load average at the time it was taken
(`load()`); compare arms only when they were measured side by side. Versions come from
the installed distributions' metadata, so printing them imports nothing heavy.
"""

from __future__ import annotations

import os
import platform
import statistics
import time
from collections.abc import Sequence
from importlib import metadata

PACKAGES = ("torch", "onnxruntime", "faiss-cpu", "sentence-transformers", "numpy")
OFFLINE_ENV = {
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "LITELLM_LOCAL_MODEL_COST_MAP": "True",
    "TOKENIZERS_PARALLELISM": "false",
    "HF_HUB_DISABLE_PROGRESS_BARS": "1",
    "TRANSFORMERS_VERBOSITY": "error",
}


def offline() -> None:
    """No network for models or litellm's price list (setdefault: the caller may override)."""
    for k, v in OFFLINE_ENV.items():
        os.environ.setdefault(k, v)


def cpu_model() -> str:
    name, flags = platform.processor() or platform.machine(), set()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                key, _, value = line.partition(":")
                if key.strip() == "model name":
                    name = value.strip()
                elif key.strip() == "flags":
                    flags = set(value.split())
                    break
    except OSError:
        pass
    wanted = ("avx2", "avx512f", "avx512_vnni", "avx512_bf16", "amx_tile")
    have = [f for f in wanted if f in flags]
    return f"{name} ({', '.join(have)})" if have else name


def versions() -> str:
    out = [f"python {platform.python_version()}"]
    for p in PACKAGES:
        try:
            out.append(f"{p} {metadata.version(p)}")
        except metadata.PackageNotFoundError:
            out.append(f"{p} -")
    return ", ".join(out)


def load() -> str:
    """The 1/5/15-minute load averages, to print beside a figure."""
    return "load {:.2f} {:.2f} {:.2f}".format(*os.getloadavg())


def header(title: str, argv: Sequence[str]) -> None:
    print(f"# {title}")
    print(f"date     {time.strftime('%Y-%m-%d %H:%M:%S %Z')}")
    print(f"machine  {cpu_model()}, {os.cpu_count()} logical cores, {platform.system()}")
    print(f"versions {versions()}")
    print(f"command  {' '.join(argv)}")
    print(f"start    {load()}", flush=True)


def pct(values: Sequence[float], p: float) -> float:
    """The p-th percentile (nearest rank on the sorted values; p in 0..100)."""
    s = sorted(values)
    if not s:
        return float("nan")
    k = min(len(s) - 1, max(0, round(p / 100 * (len(s) - 1))))
    return s[k]


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")
