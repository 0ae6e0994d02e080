"""Benchmark: summarise() costs the same for a 1 KB and a 1 GB value, where bare json.dumps grows.

Run: python bench/summary.py  (about a minute; needs ~4 GB of free memory for the 1 GB cases)
"""

from __future__ import annotations

import gc
import json
import math
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass

import pandas as pd
from hopflow.models.values import summarise

KB = 2**10
MB = 2**20
GB = 2**30
SIZES = [("1 KB", KB), ("1 MB", MB), ("100 MB", 100 * MB), ("1 GB", GB)]
DUMPS_UP_TO = 100 * MB  # past this the naive way takes too long to be worth timing

# List items and dict values share one 100-char string, so a 1 GB (as JSON) list is ~10 million
# items and its memory is just the item pointers. Counts round up: the "1 KB" case is just over
# the small limit, so every row of a group takes the summarised path.
ITEM = "v" * 100
ITEM_JSON = len(json.dumps(ITEM))
# a sample takes at least this long, so the timer's own cost does not show in sub-µs medians
SAMPLE_NS = 50_000


@dataclass
class Case:
    family: str
    label: str
    build: Callable[[], object]
    json_size: int  # compact JSON size, worked out arithmetically: measuring it is the slow thing
    memory: int  # rough bytes the value needs, to skip a case rather than meet the OOM killer
    naive: Callable[[object], object] | None


def dumps(value: object) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def frame_to_json(value: object) -> str:
    assert isinstance(value, pd.DataFrame)
    return value.to_json(orient="records")


def text_case(label: str, size: int) -> Case:
    return Case("text", label, lambda: "x" * size, size, size, dumps if size <= DUMPS_UP_TO else None)


def list_case(label: str, size: int) -> Case:
    count = math.ceil(size / (ITEM_JSON + 1))
    return Case(
        f"list ({count:,} items)",
        label,
        lambda: [ITEM] * count,
        2 + count * (ITEM_JSON + 1) - 1,
        8 * count,
        dumps if size <= DUMPS_UP_TO else None,
    )


def dict_case(label: str, size: int) -> Case:
    entry = len('"k00000000":') + ITEM_JSON + 1
    count = math.ceil(size / entry)
    return Case(
        f"dict ({count:,} keys)",
        label,
        lambda: {f"k{i:08d}": ITEM for i in range(count)},
        2 + count * entry - 1,
        130 * count,
        dumps if size <= DUMPS_UP_TO else None,
    )


def frame_case(rows: int) -> Case:
    def build() -> pd.DataFrame:
        return pd.DataFrame(
            {"id": range(rows), "value": [0.5] * rows, "label": ["row"] * rows},
        )

    row_json = len('{"id":0000000,"value":0.5,"label":"row"},')
    return Case(f"DataFrame ({rows:,} rows)", "", build, rows * row_json, 100 * rows, frame_to_json)


def available_memory() -> int:
    try:
        with open("/proc/meminfo") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 2**63


def median_us(call: Callable[[], object], repeats: int, warmup: int) -> float:
    for _ in range(warmup):
        call()
    started = time.perf_counter_ns()
    call()
    once = max(1, time.perf_counter_ns() - started)
    number = max(1, min(10_000, SAMPLE_NS // once))
    samples = []
    for _ in range(repeats):
        started = time.perf_counter_ns()
        for _ in range(number):
            call()
        samples.append((time.perf_counter_ns() - started) / number)
    return statistics.median(samples) / 1000


def human(size: int) -> str:
    for unit, scale in (("GB", GB), ("MB", MB), ("KB", KB)):
        if size >= scale:
            return f"{size / scale:.1f} {unit}"
    return f"{size} B"


def measure(case: Case, value: object) -> tuple[float, float | None, int]:
    summary = summarise(value)
    ours = median_us(lambda: summarise(value), repeats=101, warmup=20)
    naive = None
    if case.naive is not None:
        serialise = case.naive
        repeats = 101 if case.json_size <= MB else 3
        naive = median_us(lambda: serialise(value), repeats=repeats, warmup=1)
    return ours, naive, len(summary)


def run(case: Case) -> tuple[float, float | None, int] | None:
    if case.memory * 2 > available_memory():
        print(f"  skipped {case.family} {case.label}: needs ~{human(case.memory)}, not enough free memory")
        return None
    try:
        value = case.build()
        try:
            return measure(case, value)
        finally:
            del value
            gc.collect()
    except MemoryError:
        print(f"  skipped {case.family} {case.label}: MemoryError")
        return None


def main() -> None:
    groups = [
        [text_case(label, size) for label, size in SIZES],
        [list_case(label, size) for label, size in SIZES],
        [dict_case(label, size) for label, size in SIZES],
        [frame_case(10), frame_case(1_000_000)],
    ]
    header = (
        f"{'value':<28} {'size (JSON)':>11} {'summary µs':>11} {'ratio':>7} "
        f"{'json.dumps µs':>14} {'ratio':>8} {'summary chars':>13}"
    )
    rows: list[str] = []
    began = time.perf_counter()
    for group in groups:
        base: tuple[float, float | None] | None = None
        for case in group:
            result = run(case)
            if result is None:
                continue
            ours, naive, chars = result
            if base is None:
                base = (ours, naive)
            ratio = f"{ours / base[0]:.2f}x"
            naive_text = f"{naive:,.1f}" if naive is not None else "—"
            naive_ratio = f"{naive / base[1]:,.0f}x" if naive is not None and base[1] else "—"
            rows.append(
                f"{case.family:<28} {human(case.json_size):>11} {ours:>11.2f} {ratio:>7} "
                f"{naive_text:>14} {naive_ratio:>8} {chars:>13}"
            )
    print()
    print("summarise() median per call, after warm-up; ratio is against the group's first (smallest) case.")
    print("json.dumps column: the naive way (DataFrame: df.to_json(orient='records')), up to 100 MB.")
    print()
    print(header)
    print("-" * len(header))
    print("\n".join(rows))
    print(f"\n(total {time.perf_counter() - began:.0f} s)")


if __name__ == "__main__":
    main()
