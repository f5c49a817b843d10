#!/usr/bin/env python
"""The comparisons' runs: one (recipe, network, seed) per process, resumable.

    python scripts/experiments.py plan    [--recipe R] [--networks N ...] [--seeds S ...]
    python scripts/experiments.py run     [same selection] [--budget-minutes M] [--dry-run]
    python scripts/experiments.py status
    python scripts/experiments.py sweep     (the sweep's held-out table and its choice)
    python scripts/experiments.py ablations (each idea against its twin, paired)

Every run is ``python -m palm_utils train`` in a child process, on the real
data in ``../shared/data/palm224`` (or ``$PALM_DATA_DIR``): the training
images minus the fixed held-out fifth for training, the held-out images for
choosing the epoch, the 400 validation images (the test set) once, for the
chosen epoch. Its checkpoints live in ``build/runs/<recipe>/<network>/seed<S>/``
(resumed after an interruption, never committed); when it has finished, its
``history.json`` (with the test set's per-image predictions) and the run's
description are written atomically to
``results/runs/<recipe>/<network>/seed<S>.json``. A run whose result file
exists is skipped, so ``run`` can be called again and again, in pieces that
each fit in a working session: ``--budget-minutes`` starts a run only when
the time measured for that network so far (or the estimate in
:data:`NETWORKS`) still fits.

Run it on an otherwise idle machine: the seconds per epoch it stores are
the networks' costs. Each record keeps the machine's 1-minute load average
during the run (``run.load_1min``), so a run slowed by other work shows.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import signal
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SHARED_PALM = REPO.parent / "shared" / "data" / "palm224"
RESULTS = REPO / "results" / "runs"
WORK = REPO / "build" / "runs"


@dataclass(frozen=True)
class Network:
    spec: str                    #: ``--net``
    kwargs: dict = field(default_factory=dict)   #: ``--net-arg``
    chapter: int = 0
    minutes_per_epoch: float = 1.0   #: a first estimate (2-core CPU), replaced by measurements


#: The networks of the series, as the chapters build them for PALM.
NETWORKS = {
    "lenet": Network("palm_utils.models:LeNet",
                     {"in_channels": 3, "num_classes": 1, "flat_features": 120 * 50 * 50}, 1, 0.3),
    "alexnet": Network("palm_utils.models:AlexNet", {}, 2, 0.7),
    "vgg16": Network("palm_utils.models:VGG", {}, 3, 9.0),
    "googlenet": Network("palm_utils.models:GoogLeNet", {}, 4, 1.4),
    "resnet18": Network("palm_utils.models:ResNet", {"depth": 18}, 5, 0.6),
    "resnet50": Network("palm_utils.models:ResNet", {"depth": 50}, 5, 1.7),
    "nin": Network("palm_utils.models:NiN", {}, 6, 1.0),
    "densenet121": Network("palm_utils.models:DenseNet", {}, 6, 3.0),
    "inception_v3": Network("palm_utils.models:InceptionV3", {}, 7, 1.6),
    "se_resnet50": Network("palm_utils.models:SEResNet", {"depth": 50}, 7, 1.8),
    "mobilenet_v2": Network("palm_utils.models:MobileNetV2", {}, 8, 0.8),
    "efficientnet_b0": Network("palm_utils.models:EfficientNet", {}, 8, 1.1),
}


@dataclass(frozen=True)
class Ablation:
    """One chapter's idea as a controlled experiment: the leaderboard network
    ``base`` (its runs of the shared recipe) against ``twin``, the same network
    without the idea, trained with the same recipe and seeds (recipe
    ``ablation``; ``changes``: what the twin's run changes in the recipe
    instead of the network). With the same seed both start from the same
    weights in every layer they share and read the data in the same order.
    ``twin_has_idea``: the twin adds the idea (the shared recipe has no
    augmentation and no label smoothing, GoogLeNet no auxiliary heads)
    instead of removing it."""

    chapter: int
    idea: str
    base: str
    twin: str
    twin_network: Network
    changes: dict = field(default_factory=dict)
    twin_has_idea: bool = False

    @property
    def arms(self) -> tuple[tuple[str, str], tuple[str, str]]:
        """(network, recipe) of the arm with the idea, then of the arm without it."""
        base, twin = (self.base, "shared"), (self.twin, "ablation")
        return (twin, base) if self.twin_has_idea else (base, twin)


_RESNET = "palm_utils.models:ResNet"
#: The ablations, in chapter order.
ABLATIONS = (
    Ablation(2, "dropout", "alexnet", "alexnet-no-dropout",
             Network("palm_utils.models:AlexNet", {"dropout": 0.0}, 2, 0.7)),
    Ablation(2, "augmentation", "alexnet", "alexnet-augment",
             NETWORKS["alexnet"], {"augment": True}, twin_has_idea=True),
    Ablation(4, "auxiliary heads", "googlenet", "googlenet-aux",
             Network("palm_utils.models:GoogLeNet", {"aux_logits": True}, 4, 1.5), twin_has_idea=True),
    Ablation(4, "1x1 reductions", "googlenet", "googlenet-no-reductions",
             Network("palm_utils.models:GoogLeNet", {"reductions": False}, 4, 3.5)),
    Ablation(5, "residual connections", "resnet50", "resnet50-plain",
             Network(_RESNET, {"depth": 50, "residual": False}, 5, 1.6)),
    Ablation(5, "batch normalisation", "resnet18", "resnet18-no-bn",
             Network(_RESNET, {"depth": 18, "batchnorm": False}, 5, 0.6)),
    Ablation(6, "global average pooling", "nin", "nin-fc-head",
             Network("palm_utils.models:NiN", {"head": "fc"}, 6, 1.0)),
    Ablation(7, "label smoothing", "inception_v3", "inception_v3-label-smoothing",
             NETWORKS["inception_v3"], {"label_smoothing": 0.1}, twin_has_idea=True),
    Ablation(7, "squeeze-and-excitation", "se_resnet50", "se_resnet50-no-se",
             Network("palm_utils.models:SEResNet", {"depth": 50, "se": False}, 7, 1.7)),
    Ablation(8, "depthwise-separable convolutions", "mobilenet_v2", "mobilenet_v2-standard-conv",
             Network("palm_utils.models:MobileNetV2", {"depthwise": False}, 8, 4.0)),
)
NETWORKS.update({a.twin: a.twin_network for a in ABLATIONS})


@dataclass(frozen=True)
class Recipe:
    optimizer: str = "momentum"
    lr: float = 0.001
    momentum: float = 0.9
    weight_decay: float = 0.0
    epochs: int = 5
    batch_size: int = 10
    augment: bool = False
    label_smoothing: float = 0.0
    select: str = "best"
    test: bool = True    #: measure the chosen epoch on the test set (False: a sweep's run)
    networks: tuple = tuple(NETWORKS)  #: the networks this recipe is run for
    seeds: tuple = (1, 2, 3)
    #: network -> fields that differ for it (the chapters' own recipes)
    per_network: dict = field(default_factory=dict)

    def for_network(self, network: str) -> "Recipe":
        changes = self.per_network.get(network, {})
        fields = {k: v for k, v in asdict(self).items() if k != "per_network"}
        return Recipe(**{**fields, **changes})

    def args(self) -> list[str]:
        out = ["--optimizer", self.optimizer, "--lr", repr(self.lr), "--momentum", repr(self.momentum),
               "--weight-decay", repr(self.weight_decay), "--epochs", str(self.epochs),
               "--batch-size", str(self.batch_size), "--select", self.select]
        if self.label_smoothing:
            out += ["--label-smoothing", repr(self.label_smoothing)]
        if not self.test:
            out.append("--no-test")
        return out + (["--augment"] if self.augment else [])


_ADAM = {"optimizer": "adam"}
_DECAY = {"weight_decay": 0.001}

#: The recipes.
#: ``chapter``: each network with its chapter's recipe, as the course set it
#: (batch 10, 5 epochs, no augmentation; Momentum 0.001 or Adam 0.001, weight
#: decay where the chapter has it, label smoothing for Inception v3).
#: The shared recipe of the leaderboard is added once the learning-rate
#: sweep on the held-out images has chosen it.
RECIPES = {
    "chapter": Recipe(per_network={
        "alexnet": _ADAM, "nin": _ADAM, "mobilenet_v2": _ADAM, "efficientnet_b0": _ADAM,
        "googlenet": _DECAY, "resnet18": _DECAY, "resnet50": _DECAY, "densenet121": _DECAY,
        "se_resnet50": _DECAY, "inception_v3": {**_DECAY, "label_smoothing": 0.1}}),
}


#: The sweep that chooses the shared recipe. Its runs never read the test
#: set (``test=False``); they are compared on the held-out training images
#: only. The rule, fixed before any sweep run: a setting's score is the mean,
#: over the sweep's networks, of the held-out accuracy of the epoch each run
#: chose (its best held-out epoch, as every run chooses); a tie (within one
#: image of 80) goes to the higher mean held-out AUC. Stage 1 chooses the
#: optimizer and learning rate among four (the course's Momentum 0.001, a
#: ten times larger one, and Adam at 0.001 and 0.0003), all at the course's
#: batch 10 (see docs/benchmarks.md, section 5), 5 epochs, no augmentation,
#: no weight decay. Stage 2 tries the winner with augmentation.
SWEEP_NETWORKS = ("resnet18", "mobilenet_v2")
SWEEP_SEED = 101   #: not one of the leaderboard's seeds


def _sweep(**fields) -> Recipe:
    return Recipe(networks=SWEEP_NETWORKS, seeds=(SWEEP_SEED,), test=False, **fields)


STAGE1 = {
    "sweep-momentum-0.001": _sweep(optimizer="momentum", lr=0.001),
    "sweep-momentum-0.01": _sweep(optimizer="momentum", lr=0.01),
    "sweep-adam-0.001": _sweep(optimizer="adam", lr=0.001),
    "sweep-adam-0.0003": _sweep(optimizer="adam", lr=0.0003),
}
RECIPES.update(STAGE1)


def add_stage2() -> str | None:
    """Once stage 1 has finished: its winner with augmentation, as the
    recipe ``<winner>-augment`` (returned; None while stage 1 runs)."""
    winner = sweep_winner(sweep_rows(STAGE1))
    if winner is None:
        return None
    name = f"{winner}-augment"
    RECIPES.setdefault(name, replace(RECIPES[winner], augment=True))
    return name


#: The leaderboard's networks in the order a seed is run: the eight the
#: comparisons need first, the slowest (VGG-16: about 9 min an epoch on 2
#: cores) last, so that a budget cut leaves them with fewer seeds.
SHARED_ORDER = ("alexnet", "resnet18", "mobilenet_v2", "nin", "efficientnet_b0", "googlenet",
                "inception_v3", "resnet50", "lenet", "se_resnet50", "densenet121", "vgg16")


def add_shared() -> str | None:
    """Once the whole sweep has finished: the recipe ``shared`` of the
    leaderboard, the sweep's winner by its rule, for every network with
    seeds 1-3 and the test set measured once per run (None before)."""
    stage2 = add_stage2()
    if stage2 is None:
        return None
    rows = sweep_rows({**STAGE1, stage2: RECIPES[stage2]})
    if any(r["done"] < r["runs"] for r in rows):
        return None
    winner = sweep_winner(rows)
    RECIPES.setdefault("shared", replace(RECIPES[winner], networks=SHARED_ORDER, seeds=(1, 2, 3), test=True))
    return winner


def add_ablation() -> bool:
    """Once the shared recipe exists: the recipe ``ablation``, the shared
    recipe for every ablation's twin (with its ``changes``), the same seeds."""
    if "shared" not in RECIPES:
        return False
    RECIPES.setdefault("ablation", replace(RECIPES["shared"], networks=tuple(a.twin for a in ABLATIONS),
                                           per_network={a.twin: a.changes for a in ABLATIONS if a.changes}))
    return True


def ablation_rows() -> list[dict]:
    """One row per ablation with runs of both arms for a common seed:
    :func:`palm_utils.results.ablation` of the arm with the idea (A) against
    the arm without it (B): per-seed table, cost, and the paired comparison
    (seed means; a paired permutation test over the test images for
    accuracy, a paired bootstrap for AUC)."""
    from palm_utils.results import ablation

    if "ablation" not in RECIPES or not Path(RESULTS).is_dir():   # nothing has run yet
        return []
    rows = []
    for a in ABLATIONS:
        (with_, with_recipe), (without, without_recipe) = a.arms
        result = ablation(RESULTS, (with_recipe, with_), (without_recipe, without))
        if result.comparison is None:
            continue
        rows.append({"chapter": a.chapter, "idea": a.idea, "with": with_, "without": without,
                     "seeds": list(result.table.index), "comparison": result.comparison, "cost": result.cost})
    return rows


def sweep_rows(recipes: dict | None = None) -> list[dict]:
    """One row per sweep recipe (``test=False``): each network's chosen epoch
    on the held-out images, and the means the rule compares."""
    from palm_utils.results import best_epoch

    rows = []
    for name, recipe in (recipes or RECIPES).items():
        if recipe.test:
            continue
        chosen = {}
        for net in recipe.networks:
            for seed in recipe.seeds:
                path = result_path(name, net, seed)
                if path.is_file():
                    history = json.loads(path.read_text(encoding="utf-8"))["history"]
                    chosen[(net, seed)] = best_epoch(history)
        wanted = len(recipe.networks) * len(recipe.seeds)
        row = {"recipe": name, "done": len(chosen), "runs": wanted, "chosen": chosen}
        if chosen:
            for key in ("val_acc", "val_auc", "val_loss"):
                row[key] = sum(c[key] for c in chosen.values()) / len(chosen)
        rows.append(row)
    return rows


def sweep_winner(rows: list[dict], tie: float = 1 / 80) -> str | None:
    """The rule: among finished settings the highest mean held-out accuracy;
    those within ``tie`` of it are decided by the higher mean held-out AUC."""
    done = [r for r in rows if r["done"] == r["runs"] and r["runs"]]
    if not done:
        return None
    top = max(r["val_acc"] for r in done)
    return max((r for r in done if r["val_acc"] >= top - tie - 1e-12), key=lambda r: r["val_auc"])["recipe"]


def print_sweep() -> None:
    rows = sweep_rows()
    nets = [n for n in SWEEP_NETWORKS]
    print("| setting | " + " | ".join(f"{n} held-out acc / AUC (epoch)" for n in nets)
          + " | mean acc | mean AUC | runs |")
    print("|---|" + "---|" * len(nets) + "---:|---:|---:|")
    for r in rows:
        cells = []
        for n in nets:
            c = next((v for (net, _), v in r["chosen"].items() if net == n), None)
            cells.append(f"{c['val_acc']:.4f} / {c['val_auc']:.4f} ({c['epoch']})" if c else "–")
        means = (f"{r['val_acc']:.4f} | {r['val_auc']:.4f}" if r["done"] else "– | –")
        print(f"| {r['recipe']} | " + " | ".join(cells) + f" | {means} | {r['done']}/{r['runs']} |")
    winner = sweep_winner(rows)
    print(f"\nChosen by the rule: {winner}" if winner else "\nNo setting has finished yet.")
    if "shared" in RECIPES:
        print("The shared recipe: " + " ".join(RECIPES["shared"].args()))


def run_id(recipe: str, network: str, seed: int) -> str:
    return f"{recipe}/{network}/seed{seed}"


def result_path(recipe: str, network: str, seed: int) -> Path:
    return RESULTS / recipe / network / f"seed{seed}.json"


def work_dir(recipe: str, network: str, seed: int) -> Path:
    return WORK / recipe / network / f"seed{seed}"


def selected(args) -> list[tuple[str, str, int]]:
    """(recipe, network, seed) of every run the arguments select, in order:
    by seed first, so that a partial set still has every network once."""
    recipes = args.recipe or list(RECIPES)
    runs = []
    for name in recipes:
        if name not in RECIPES:
            sys.exit(f"error: --recipe {name}: unknown; recipes: {', '.join(RECIPES)}")
        recipe = RECIPES[name]
        networks = [n for n in (args.networks or recipe.networks) if n in recipe.networks]
        for n in args.networks or []:
            if n not in NETWORKS:
                sys.exit(f"error: --networks {n}: unknown; networks: {', '.join(NETWORKS)}")
        for seed in args.seeds or recipe.seeds:
            runs += [(name, n, seed) for n in networks]
    return runs


def measured_minutes(network: str) -> float | None:
    """Minutes per epoch (training and held-out validation) of the finished
    runs of ``network`` on this machine kind, if any."""
    per_epoch = []
    for path in RESULTS.glob(f"*/{network}/seed*.json"):
        rows = json.loads(path.read_text(encoding="utf-8"))["history"]["epochs"]
        per_epoch += [(r["seconds"] + r.get("val_seconds", 0)) / 60 for r in rows]
    return sum(per_epoch) / len(per_epoch) if per_epoch else None


def estimate_minutes(recipe: str, network: str) -> float:
    per_epoch = measured_minutes(network) or NETWORKS[network].minutes_per_epoch
    return per_epoch * RECIPES[recipe].epochs + 0.5


def _commit() -> str:
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO, capture_output=True, text=True)
        dirty = subprocess.run(["git", "status", "--porcelain", "palm_utils"], cwd=REPO,
                               capture_output=True, text=True).stdout.strip()
        return out.stdout.strip() + ("+dirty" if dirty else "")
    except OSError:
        return "unknown"


def _machine() -> str:
    name = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                name = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{name}, {os.cpu_count()} cores"


def _load_summary(samples: list[float]) -> dict:
    """The machine's 1-minute load average during a run (this run alone keeps
    it near the number of cores; more means other work ran beside it and its
    seconds per epoch are not the network's cost)."""
    if not samples:
        return {"samples": 0, "cores": os.cpu_count()}
    ordered = sorted(samples)
    return {"samples": len(samples), "cores": os.cpu_count(),
            "median": round(ordered[len(ordered) // 2], 2), "max": round(ordered[-1], 2)}


def train_one(recipe: str, network: str, seed: int, data: Path) -> Path:
    """Train (or resume) one run in a child process; on success write its
    result file atomically and return its path."""
    from palm_utils.atomic import atomic_write_json

    net, rec, work = NETWORKS[network], RECIPES[recipe].for_network(network), work_dir(recipe, network, seed)
    command = [sys.executable, "-m", "palm_utils", "train", "--net", net.spec,
               *sum((["--net-arg", f"{k}={v!r}"] for k, v in net.kwargs.items()), []),
               *rec.args(), "--seed", str(seed), "--data", str(data), "--save-dir", str(work),
               "--no-progress"]
    if (work / "history.json").is_file():
        command.append("--resume")
    env = {k: v for k, v in os.environ.items() if k != "PALM_QUICK"}
    started, load = time.time(), []
    done = subprocess.Popen(command, cwd=REPO, env=env)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))   # `kill` stops the training too
    try:
        while True:   # the 1-minute load average every 15 s: were the timings taken on an idle machine?
            try:
                done.wait(timeout=15)
                break
            except subprocess.TimeoutExpired:
                load.append(os.getloadavg()[0])
    except BaseException:   # interrupted: stop the child too (its checkpoints stay for --resume)
        done.kill()
        done.wait()
        raise
    if done.returncode != 0:
        raise RuntimeError(f"{run_id(recipe, network, seed)}: training exited {done.returncode}; "
                           f"run again to resume from {work}")
    history = json.loads((work / "history.json").read_text(encoding="utf-8"))
    if (rec.test and not history.get("test")) or len(history["epochs"]) != rec.epochs:
        raise RuntimeError(f"{run_id(recipe, network, seed)}: {work}/history.json is not a finished "
                           "run; run again to resume")
    settings = {k: v for k, v in asdict(rec).items() if k not in ("networks", "seeds", "per_network")}
    record = {"run": {"recipe": recipe, "network": network, "seed": seed, **settings,
                      "spec": net.spec, "net_kwargs": net.kwargs, "code": _commit(),
                      "machine": _machine(), "data": str(data),
                      "wall_minutes": round((time.time() - started) / 60, 2),
                      "load_1min": _load_summary(load)},
              "history": history}
    return atomic_write_json(result_path(recipe, network, seed), record)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("command", choices=("plan", "run", "status", "sweep", "ablations"))
    parser.add_argument("--recipe", action="append", help="a recipe of RECIPES (repeatable; default all)")
    parser.add_argument("--networks", nargs="+", help="networks (default: the recipe's)")
    parser.add_argument("--seeds", nargs="+", type=int, help="seeds (default: the recipe's)")
    parser.add_argument("--budget-minutes", type=float, default=None,
                        help="start a run only while its estimate fits in what is left")
    parser.add_argument("--dry-run", action="store_true", help="say what would run")
    args = parser.parse_args(argv)

    add_shared()
    add_ablation()
    if args.command == "sweep":
        print_sweep()
        return 0
    if args.command == "ablations":
        rows = ablation_rows()
        for row in rows:
            print(f"chapter {row['chapter']}, {row['idea']} (seeds {', '.join(map(str, row['seeds']))}): "
                  f"{row['comparison']}")
        print(f"{len(rows)} of {len(ABLATIONS)} ablations have runs of both arms.")
        return 0
    runs = selected(args) if args.command != "status" else selected(
        argparse.Namespace(recipe=None, networks=None, seeds=None))
    pending = [r for r in runs if not result_path(*r).is_file()]
    if args.command in ("plan", "status"):
        hours = sum(estimate_minutes(rec, net) for rec, net, _ in pending) / 60
        print(f"{len(runs) - len(pending)} of {len(runs)} runs done; {len(pending)} to go, "
              f"about {hours:.1f} h on this machine")
        for rec, net, seed in pending:
            print(f"  {run_id(rec, net, seed):40s} ~{estimate_minutes(rec, net):5.1f} min"
                  + ("  (resumable)" if (work_dir(rec, net, seed) / "history.json").is_file() else ""))
        return 0

    data = Path(os.environ.get("PALM_DATA_DIR", SHARED_PALM))
    if not data.is_dir():
        sys.exit(f"error: {data} (PALM_DATA_DIR or ../shared/data/palm224) is not a folder: "
                 "the comparisons need the real data.")
    deadline = None if args.budget_minutes is None else time.time() + 60 * args.budget_minutes
    for rec, net, seed in pending:
        need = estimate_minutes(rec, net)
        if deadline is not None and time.time() + 60 * need > deadline:
            print(f"{run_id(rec, net, seed)}: skipped, ~{need:.0f} min does not fit in the budget")
            continue
        print(f"{run_id(rec, net, seed)}: started {time.strftime('%H:%M:%S')} (~{need:.0f} min)",
              flush=True)
        if args.dry_run:
            continue
        path = train_one(rec, net, seed, data)
        shown = path.relative_to(REPO) if path.is_relative_to(REPO) else path
        print(f"{run_id(rec, net, seed)}: wrote {shown}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
