"""Part 6: what the controlled experiments' twins cost in time.

The ablations (book: "对照实验") change one idea of a chapter network, and
some of them change the arithmetic a lot: MobileNetV2 with standard 3x3
convolutions instead of depthwise ones, GoogLeNet without its 1x1
reductions. Their training runs ran in different sessions, possibly on
different hosts, so their seconds per epoch are no speed comparison. This
part times each pair side by side, in one run: one training step (forward,
backward, optimizer step) and one prediction (evaluation mode, no
gradients) at batch 10, every measurement in a fresh child process
(:func:`~benchmarks.step.paddle_step_isolated`), in interleaved rounds in
which the two networks take turns going first. The ratio twin / network is
taken within each round, then its median and range.
"""
from __future__ import annotations

import statistics

from . import networks, step

ROUNDS = 3
MODES = {"training step": False, "prediction": True}   # label -> forward_only


def pairs() -> list[tuple[str, str]]:
    """(chapter network, twin) for every twin of :data:`~benchmarks.networks.TWINS`."""
    return [(networks.chapter_of(twin), twin) for twin in networks.TWINS]


def run(pairs_=None, rounds: int = ROUNDS, steps: int = 3, warmup: int = 1, threads: int | None = None,
        log=print) -> dict:
    """``{"pairs": [{"network", "twin", "flops": (network, twin), "seconds":
    {mode: {name: [per round]}}, "ratios": {mode: [per round]}}], ...}``."""
    from palm_utils.runtime import cpu_threads
    from palm_utils.summary import count_flops

    threads = threads or cpu_threads()
    rows = []
    for network, twin in pairs_ or pairs():
        rows.append({"network": network, "twin": twin,
                     "flops": (count_flops(networks.build(network)), count_flops(networks.build(twin))),
                     "seconds": {mode: {network: [], twin: []} for mode in MODES},
                     "ratios": {mode: [] for mode in MODES}})
    for r in range(rounds):
        for row in rows:
            names = (row["network"], row["twin"])
            for mode, forward_only in MODES.items():
                seconds = {}
                for name in (names if r % 2 == 0 else names[::-1]):
                    seconds[name] = step.paddle_step_isolated(name, threads, steps=steps, warmup=warmup,
                                                              forward_only=forward_only)
                    row["seconds"][mode][name].append(seconds[name])
                row["ratios"][mode].append(seconds[row["twin"]] / seconds[row["network"]])
                log(f"round {r + 1}: {mode}: {row['network']} {seconds[row['network']]:.3f} s, "
                    f"{row['twin']} {seconds[row['twin']]:.3f} s, ratio {row['ratios'][mode][-1]:.2f}")
    return {"pairs": rows, "rounds": rounds, "steps": steps, "threads": threads, "batch": step.BATCH}


def _spread(values: list[float]) -> str:
    return f"{statistics.median(values):.2f}x ({min(values):.2f}x to {max(values):.2f}x)"


def markdown(res: dict, machine_line: str, date: str, command: str) -> str:
    lines = [
        "## 6. The ablations' twins, side by side",
        "",
        f"Machine: {machine_line}. Date: {date}. Command: `{command}`.",
        "",
        f"Each chapter network against the twin of its controlled experiment (the book's ablations page), "
        f"batch {res['batch']} of 3x224x224 inputs on the CPU, {res['threads']} thread(s), each measurement in a "
        f"fresh process: the median of {res['steps']} timed repetitions after a warm-up. A training step is forward, "
        "backward and the chapter's optimizer step; a prediction is a forward pass in evaluation mode without "
        f"gradients. {res['rounds']} interleaved rounds, the two networks taking turns going first; each ratio is "
        "taken within a round, then its median and range. GFLOPs are `palm_utils.count_flops` of one image.",
        "",
        "| network | twin | GFLOPs | twin / network: GFLOPs | " + " | ".join(
            f"{mode} s (network, twin) | twin / network: {mode} (median, range)" for mode in MODES) + " |",
        "|---|---|---:|---:|" + "---:|---:|" * len(MODES),
    ]
    for row in res["pairs"]:
        flops = row["flops"]
        cells = [row["network"], row["twin"], f"{flops[0] / 1e9:.2f}, {flops[1] / 1e9:.2f}",
                 f"{flops[1] / flops[0]:.1f}x"]
        for mode in MODES:
            s = row["seconds"][mode]
            cells += [f"{statistics.median(s[row['network']]):.3f}, {statistics.median(s[row['twin']]):.3f}",
                      _spread(row["ratios"][mode])]
        lines.append("| " + " | ".join(cells) + " |")
    lines += ["", finding(res)]
    return "\n".join(lines) + "\n"


def finding(res: dict) -> str:
    """One sentence per pair: how the time grew against how the arithmetic grew."""
    parts = []
    for row in res["pairs"]:
        flops = row["flops"][1] / row["flops"][0]
        times = {mode: statistics.median(row["ratios"][mode]) for mode in MODES}
        every = all(min(r) > 1 for r in row["ratios"].values())
        parts.append(
            f"{row['twin']} does {flops:.1f}x the multiply-adds of {row['network']} and takes "
            + " and ".join(f"{t:.2f}x the time of a {mode}" for mode, t in times.items())
            + (" (slower in every round)" if every else " (not slower in every round)")
            + (": the time grows far less than the arithmetic" if max(times.values()) < flops / 2 else "")
        )
    return "Finding: " + "; ".join(parts) + "."
