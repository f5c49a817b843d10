"""Part 5: does a larger batch than the course's 10 use the CPU better?

One training step (forward, backward, optimizer step) of a few chapter
networks at each batch size, every measurement in a fresh child process
(:func:`~benchmarks.step.paddle_step_isolated`), in interleaved rounds:
each round measures every (network, batch) pair once, the order of the
batch sizes turning from round to round, so that a change in the machine's
load falls on both sides of a ratio. What is compared is training images
per second; the ratio of each round is taken, then their median and range.
"""
from __future__ import annotations

import statistics

from . import step

NETWORKS = ("ResNet-18", "MobileNetV2", "ResNet-50")
BATCHES = (10, 32)
ROUNDS = 3


def run(networks=NETWORKS, batches=BATCHES, rounds: int = ROUNDS, steps: int = 3, warmup: int = 1,
        threads: int | None = None, log=print) -> dict:
    """``{network: {"rates": {batch: [img/s per round]}, "ratios": [per round]}}``;
    ratios are the last batch size's rate over the first's."""
    from palm_utils.runtime import cpu_threads

    threads = threads or cpu_threads()
    out = {name: {"rates": {b: [] for b in batches}, "ratios": []} for name in networks}
    for r in range(rounds):
        for name in networks:
            order = batches if r % 2 == 0 else tuple(reversed(batches))
            rate = {}
            for b in order:
                seconds = step.paddle_step_isolated(name, threads, steps=steps, warmup=warmup, batch=b)
                rate[b] = b / seconds
                out[name]["rates"][b].append(rate[b])
            out[name]["ratios"].append(rate[batches[-1]] / rate[batches[0]])
            log(f"round {r + 1}: {name}: " + ", ".join(f"batch {b} {rate[b]:.1f} img/s" for b in batches)
                + f", ratio {out[name]['ratios'][-1]:.2f}")
    return {"networks": out, "batches": list(batches), "rounds": rounds, "steps": steps, "threads": threads}


def markdown(res: dict, machine_line: str, date: str, command: str) -> str:
    small, big = res["batches"][0], res["batches"][-1]
    lines = [
        "## 5. Batch size",
        "",
        f"Machine: {machine_line}. Date: {date}. Command: `{command}`.",
        "",
        f"One CPU training step (forward, backward, optimizer step, the chapter's optimizer) on 3x224x224 inputs, "
        f"{res['threads']} thread(s), each measurement in a fresh process: the median of {res['steps']} timed steps "
        f"after a warm-up. {res['rounds']} interleaved rounds; the batch sizes take turns going first. "
        "Images per second are the median over the rounds; the ratio is taken within each round, "
        "then its median and range.",
        "",
        "| network | " + " | ".join(f"batch {b} img/s" for b in res["batches"])
        + f" | batch {big} / batch {small} (median, range) |",
        "|---|" + "---:|" * (len(res["batches"]) + 1),
    ]
    for name, row in res["networks"].items():
        rates = " | ".join(f"{statistics.median(row['rates'][b]):.1f}" for b in res["batches"])
        r = row["ratios"]
        lines.append(f"| {name} | {rates} | {statistics.median(r):.2f}x ({min(r):.2f}x to {max(r):.2f}x) |")
    lines.append("")
    lines.append(finding(res))
    return "\n".join(lines) + "\n"


def finding(res: dict) -> str:
    small, big = res["batches"][0], res["batches"][-1]
    ratios = {name: row["ratios"] for name, row in res["networks"].items()}
    faster = [n for n, r in ratios.items() if min(r) > 1.05]
    slower = [n for n, r in ratios.items() if max(r) < 0.95]
    unsettled = [n for n in ratios if n not in faster and n not in slower]
    parts = []
    if faster:
        parts.append(f"batch {big} trains more images per second than batch {small} in every round "
                     f"(by more than 5 %) for " + ", ".join(faster))
    if slower:
        parts.append(f"batch {big} trains fewer images per second than batch {small} in every round "
                     f"(by more than 5 %) for " + ", ".join(slower))
    if unsettled:
        parts.append("the rounds fall on both sides of a 5 % difference, or within it, for "
                     + ", ".join(unsettled))
    verdict = (f" A larger batch does not use this CPU better for any of them: batch {small} stays."
               if not faster else "")
    return "Finding: " + "; ".join(parts) + "." + verdict
