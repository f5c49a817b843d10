"""Saved results: the course's reference figures, the chosen epoch of a
run, and the tables built from the ``history.json`` files that ``train_pm``
writes (:func:`comparison_table` across runs, :func:`reference_table` for
one chapter against the course).

A run of ``train_pm`` chooses its epoch on held-out training images and
keeps the test-set result of that epoch as ``test`` (with the per-image
predictions); the tables report that. Histories written before the series
chose epochs that way hold only per-epoch numbers on the test set and
``best_predictions``: they are still read, and labelled as chosen on the
test set.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, NamedTuple

from .layout import VALID_COUNT
from .metrics import bootstrap_ci, format_ci, format_estimate, wilson_interval
from .training import HISTORY_FILE, _better, load_history

#: Validation accuracy the source course (and public reruns of it) report,
#: same setup: 5 epochs, batch 10, the course's optimizers.
REFERENCE = {
    "LeNet (MNIST)": "test acc 0.84 after epoch 1, about 0.96 after epoch 5",
    "LeNet (PALM)": "0.5275 every epoch: predicts one class (does not learn)",
    "AlexNet": "0.91-0.94 after 5 epochs (rerun: 0.905, 0.9425 by epoch 6)",
    "VGG-16": "0.93-0.95 (rerun: 0.94 by epoch 7)",
    "GoogLeNet": "0.94-0.95, unstable between epochs (rerun: 0.9525 at epoch 5)",
    "ResNet-50": "0.93-0.96 (rerun: 0.955 at epoch 5; up to 0.975 in 20 epochs)",
}

NOT_IN_COURSE = "(not in the course)"


class Run(NamedTuple):
    """A run a chapter saves under ``checkpoints/<folder>``."""
    chapter: int
    label: str       #: row name in the tables
    reference: str | None  #: key of :data:`REFERENCE`: the course network it compares with
    course: bool     #: True: the course's own setup; False: a variation of it


#: The runs the chapters save, by ``save_dir`` folder name. Networks the
#: course does not have (ResNet-18, chapters 6-8) have no reference.
RUNS = {
    "lenet_mnist": Run(1, "LeNet (MNIST)", "LeNet (MNIST)", True),
    "lenet_mnist_relu": Run(1, "LeNet (MNIST), ReLU + Adam", "LeNet (MNIST)", False),
    "lenet_palm": Run(1, "LeNet (PALM)", "LeNet (PALM)", True),
    "alexnet": Run(2, "AlexNet", "AlexNet", True),
    "alexnet_aug": Run(2, "AlexNet + augmentation", "AlexNet", False),
    "vgg16": Run(3, "VGG-16", "VGG-16", True),
    "googlenet": Run(4, "GoogLeNet", "GoogLeNet", True),
    "resnet50": Run(5, "ResNet-50", "ResNet-50", True),
    "resnet18": Run(5, "ResNet-18", None, False),
    "nin": Run(6, "NiN", None, False),
    "densenet121": Run(6, "DenseNet-121", None, False),
    "inception_v3": Run(7, "Inception v3", None, False),
    "se_resnet50": Run(7, "SE-ResNet-50", None, False),
    "mobilenet_v2": Run(8, "MobileNetV2", None, False),
    "efficientnet_b0": Run(8, "EfficientNet-B0", None, False),
}


def load_histories(root: str | Path = "checkpoints") -> dict[str, dict]:
    """Every ``*/history.json`` under ``root``, keyed by the run's folder."""
    root = Path(root)
    return {p.parent.name: load_history(p) for p in sorted(root.glob(f"*/{HISTORY_FILE}"))}


def _epochs(history) -> list[dict]:
    return history["epochs"] if isinstance(history, dict) else list(history)


def best_epoch(history) -> dict:
    """The epoch row ``train_pm`` chose: the one whose result it reported
    (``test["epoch"]``; the last epoch when the run chose nothing,
    ``select="last"``; in an old history, without ``meta["selection"]``,
    the first with the highest ``val_acc``), else the best by its rule (highest ``val_acc``,
    ties: lower ``val_loss``; the first one on a full tie, the epoch whose
    weights it saved as ``palm_best.pdparams``).

    ``history``: what ``train_pm`` returns (a :class:`~palm_utils.training.History`)
    or a loaded ``history.json`` (``{"meta": ..., "epochs": [...]}``). Returns a copy.
    """
    rows = _epochs(history)
    if not rows:
        raise ValueError("The history has no epochs: nothing to choose from.")
    result = test_result(history)
    if result is not None:
        return dict(next(r for r in rows if r["epoch"] == result["epoch"]))
    if chosen_last(history):
        return dict(rows[-1])
    if isinstance(history, dict) and "selection" not in history.get("meta", {}):
        return dict(max(rows, key=lambda r: r["val_acc"]))  # an old history's rule
    chosen = None
    for row in rows:
        chosen = row if _better(row, chosen) else chosen
    return dict(chosen)


def test_result(history) -> dict | None:
    """The test-set result ``train_pm`` kept for the chosen epoch (accuracy,
    AUC, intervals, confusion matrix, ``predictions``), or ``None`` for a
    history written before the series held images out to choose the epoch."""
    if isinstance(history, dict):
        return history.get("test")
    return getattr(history, "test", None)


def _selection_of(history) -> str:
    meta = history.get("meta", {}) if isinstance(history, dict) else getattr(history, "meta", {})
    return str(meta.get("selection", ""))


def chosen_last(history) -> bool:
    """True for a run that reports its last epoch, nothing chosen
    (``select="last"``, as ``train_classifier`` does on MNIST)."""
    return _selection_of(history).startswith("the last")


def chosen_on_test_set(history) -> bool:
    """True for a run whose epoch was chosen on the images it reports (an
    old history without ``test``, or one whose selection says so); a run
    that reports its last epoch chose nothing."""
    if chosen_last(history):
        return False
    return test_result(history) is None or "test set" in _selection_of(history)


def chosen_on(history) -> str:
    """How the reported epoch was chosen, for a table: ``held-out`` (on
    held-out training images), ``last epoch`` (nothing chosen) or
    ``test set`` (on the images reported: an old history, biased upward)."""
    if chosen_last(history):
        return "last epoch"
    return "test set" if chosen_on_test_set(history) else "held-out"


def _valid_images(meta: dict, rows: list[dict]) -> int | None:
    """How many validation images a saved run was measured on, when the
    metadata tells: ``n_valid``, or the full PALM (or stand-in) validation
    set outside quick mode, provided every accuracy is a whole number of
    images out of it."""
    if meta.get("n_valid"):
        return int(meta["n_valid"])
    if meta.get("data") in ("real PALM", "stand-in") and meta.get("quick") is False:
        counts = [r["val_acc"] * VALID_COUNT for r in rows]
        if all(abs(c - round(c)) < 1e-6 for c in counts):
            return VALID_COUNT
    return None


def best_epoch_intervals(history, n_valid: int | None = None) -> dict:
    """95 % intervals of the reported accuracy and AUC, from what the
    history holds. Returns ``{"accuracy_ci", "auc_ci", "ci_method"}``:

    0. the ``test`` result's per-image predictions (``train_pm`` today):
       percentile bootstrap over the test images;
    1. (older histories) ``best_predictions`` of the best epoch:
       percentile bootstrap of both, as :func:`~palm_utils.metrics.binary_metrics`;
    2. else ``val_acc_ci`` / ``val_auc_ci`` stored in the epoch's row;
    3. else, for accuracy only, the Wilson interval over ``n_valid`` images
       (given, or known from the run's metadata: 400 for a full run on PALM);
    4. else ``None`` (shown as "–").
    """
    result = test_result(history)
    if result is not None and result.get("predictions"):
        ci = bootstrap_ci(result["predictions"]["labels"], result["predictions"]["probs"])
        return {"accuracy_ci": ci["accuracy"], "auc_ci": ci["auc"], "ci_method": "bootstrap"}
    best = best_epoch(history)
    saved = history.get("best_predictions") if isinstance(history, dict) else None
    if saved and saved.get("epoch", best["epoch"]) == best["epoch"]:
        ci = bootstrap_ci(saved["labels"], saved["probs"])
        return {"accuracy_ci": ci["accuracy"], "auc_ci": ci["auc"], "ci_method": "bootstrap"}
    if best.get("val_acc_ci"):
        return {"accuracy_ci": tuple(best["val_acc_ci"]),
                "auc_ci": tuple(best["val_auc_ci"]) if best.get("val_auc_ci") else None,
                "ci_method": "bootstrap"}
    meta = history.get("meta", {}) if isinstance(history, dict) else {}
    n = n_valid or _valid_images(meta, _epochs(history))
    if n:
        return {"accuracy_ci": wilson_interval(best["val_acc"], n), "auc_ci": None,
                "ci_method": "Wilson (accuracy only)"}
    return {"accuracy_ci": None, "auc_ci": None, "ci_method": None}


def course_reference(run: str, variations: bool = False) -> str:
    """The course's figure for a run folder (``"alexnet"``, ...), ``""`` for
    a run not in :data:`RUNS`. A variation the course does not have
    (``alexnet_aug``, ``lenet_mnist_relu``) gets ``"(not in the course)"``,
    or with ``variations=True`` the figure of its network."""
    info = RUNS.get(run)
    if info is None:
        return ""
    if info.reference is None:
        return NOT_IN_COURSE
    return REFERENCE[info.reference] if (info.course or variations) else NOT_IN_COURSE


def comparison_table(root: str | Path = "checkpoints", runs: list[str] | None = None,
                     reference: bool = False):
    """One row per saved run: parameters, FLOPs, seconds per epoch, the
    epoch chosen and how, and the test-set accuracy and AUC of that epoch
    with 95 % intervals (see :func:`best_epoch_intervals`; the ``CI`` column
    says which kind, "–" where the history allows none). ``chosen on``
    says how the epoch was chosen (:func:`chosen_on`).
    ``reference=True`` adds the course's figure for each run."""
    import pandas as pd

    histories = load_histories(root)
    rows = []
    for run in runs or list(histories):
        if run not in histories:
            continue
        history = histories[run]
        meta, epochs = history["meta"], history["epochs"]
        best = best_epoch(history)
        ci = best_epoch_intervals(history)
        result = test_result(history)
        acc = result["accuracy"] if result else best["val_acc"]
        auc = result.get("auc") if result else best.get("val_auc")
        row = {
            "run": run,
            "network": meta.get("model"),
            "params (M)": round(meta.get("params", 0) / 1e6, 2),
            "GFLOPs": round(meta["flops"] / 1e9, 2) if meta.get("flops") else None,
            "epochs": len(epochs),
            "s/epoch": round(sum(r["seconds"] for r in epochs) / len(epochs), 1),
            "epoch": best["epoch"],
            "chosen on": chosen_on(history),
            "test acc": round(acc, 4),
            "acc 95 % CI": format_ci(ci["accuracy_ci"]),
            "test AUC": round(auc, 4) if auc is not None else None,
            "AUC 95 % CI": format_ci(ci["auc_ci"]),
            "CI": ci["ci_method"] or "–",
            "data": meta.get("data"),
            "device": meta.get("device"),
            "quick": meta.get("quick"),
        }
        if reference:
            row["course reference"] = course_reference(run, variations=True)
        rows.append(row)
    return pd.DataFrame(rows).set_index("run") if rows else pd.DataFrame()


def _select_runs(what) -> list[str]:
    if isinstance(what, int):
        runs = [run for run, info in RUNS.items() if info.chapter == what]
        if not runs:
            raise ValueError(f"No chapter {what}: the chapters are "
                             f"{sorted({i.chapter for i in RUNS.values()})}.")
        return runs
    if isinstance(what, str):
        by_network = [run for run, info in RUNS.items() if info.reference == what]
        return by_network or [what]
    return list(what)


def _label(run: str, history) -> str:
    if run in RUNS:
        return RUNS[run].label
    meta = history.get("meta", {}) if isinstance(history, dict) else {}
    return meta.get("model") or run


def reference_table(chapter_or_runs, root: str | Path = "checkpoints"):
    """This run against the course, one row per run: the course's figure,
    the accuracy of every epoch on the images the epoch was chosen on, the
    chosen epoch, and its test-set accuracy and AUC with 95 % intervals
    (:func:`best_epoch_intervals`).

    ``chapter_or_runs``: a chapter number (``2``: ``alexnet`` and
    ``alexnet_aug``), a network of :data:`REFERENCE` (``"AlexNet"``), a run
    folder or a list of them (read from ``root/<run>/history.json``), or a
    dict ``{run: history}`` of histories in memory. A run not trained yet
    keeps its row, with the course's figure only.
    """
    import pandas as pd

    if isinstance(chapter_or_runs, dict):
        histories = dict(chapter_or_runs)
    else:
        runs, saved = _select_runs(chapter_or_runs), load_histories(root)
        histories = {run: saved.get(run) for run in runs}
    per_epoch = "this run (accuracy per epoch where the epoch is chosen)"
    rows = []
    for run, history in histories.items():
        row = {"network": _label(run, history), "course reference": course_reference(run) or "–"}
        if history is None or not _epochs(history):
            row.update({per_epoch: "(not run yet)", "epoch": "–", "chosen on": "–",
                        "test acc": "–", "test AUC": "–"})
        else:
            best, ci, result = best_epoch(history), best_epoch_intervals(history), test_result(history)
            acc = result["accuracy"] if result else best["val_acc"]
            auc = result.get("auc") if result else best.get("val_auc")
            row.update({
                per_epoch: " -> ".join(f"{r['val_acc']:.4f}" for r in _epochs(history)),
                "epoch": str(best["epoch"]),
                "chosen on": chosen_on(history),
                "test acc": format_estimate(acc, ci["accuracy_ci"]),
                "test AUC": format_estimate(auc, ci["auc_ci"]) if auc is not None else "–",
            })
        rows.append(row)
    return pd.DataFrame(rows).set_index("network")


#: The runner's network names (``scripts/experiments.py``) that differ from
#: the chapters' run folders of :data:`RUNS`.
_RUNNER_RUNS = {"lenet": "lenet_palm"}


def _runner_label(network: str) -> str:
    run = _RUNNER_RUNS.get(network, network)
    return RUNS[run].label if run in RUNS else network


def load_seed_runs(root: str | Path, recipe: str, network: str = "*") -> dict[str, dict[int, dict]]:
    """``{network: {seed: record}}`` of the runner's finished runs of
    ``recipe`` (``<root>/<recipe>/<network>/seed<S>.json``; a record holds
    ``run``, the settings, and ``history``); ``network`` names one network's
    folder to read only its runs."""
    import json

    out: dict = {}
    for path in sorted(Path(root, recipe).glob(f"{network}/seed*.json")):
        record = json.loads(path.read_text(encoding="utf-8"))
        out.setdefault(path.parent.name, {})[int(record["run"]["seed"])] = record
    return {net: dict(sorted(seeds.items())) for net, seeds in out.items()}


def _mean_sd(values) -> str:
    import statistics

    if len(values) == 1:
        return f"{values[0]:.4f}"
    return f"{statistics.mean(values):.4f} ± {statistics.stdev(values):.4f}"


def _busy(record: dict) -> bool | None:
    """Whether other work shared the machine during a run: the 1-minute load
    average the runner recorded rose above the cores plus 0.5 at some point
    (a run alone keeps it near the cores: 2.07 to 2.16 for NiN on 2 cores);
    None when the run predates the record."""
    load = record["run"].get("load_1min") or {}
    if not load.get("samples"):
        return None
    return load["max"] > load["cores"] + 0.5


def _seconds_per_epoch(runs: list[dict]) -> str | float:
    """The median over ``runs`` of each run's mean seconds per epoch, from the
    runs on an idle machine when there are any, else from those with no load
    record; from busy runs only, marked "(busy)"."""
    import statistics

    def per_epoch(r):
        return statistics.mean(row["seconds"] for row in r["history"]["epochs"])

    for busy in (False, None):
        chosen = [per_epoch(r) for r in runs if _busy(r) is busy]
        if chosen:
            return round(statistics.median(chosen), 1)
    return f"{statistics.median(per_epoch(r) for r in runs):.1f} (busy)"


def _chapter_tests(network: str, runner: dict, full_runs: str | Path | None) -> list[dict]:
    """The test blocks of a network's runs with its chapter's recipe: the
    runner's (recipe ``chapter``) and the chapter's own stored full run in
    ``full_runs`` (``<run>/history.json``) when its epoch was chosen on the
    held-out images (a ``test`` block; older runs chose on the test set and
    are left out)."""
    tests = [r["history"]["test"] for r in runner.get(network, {}).values()]
    if full_runs is not None:
        path = Path(full_runs) / _RUNNER_RUNS.get(network, network) / HISTORY_FILE
        if path.is_file():
            test = load_history(path).get("test")
            if test:
                tests.append(test)
    return tests


def seed_leaderboard(root: str | Path, recipe: str, chapter_recipe: str | None = "chapter",
                     full_runs: str | Path | None = None):
    """The leaderboard of several seeds: one row per network trained with
    ``recipe`` by the runner, best mean test accuracy first. Test accuracy
    and AUC are the mean ± sample standard deviation over the seeds (the
    test-set numbers of each run's epoch chosen on the held-out images),
    with their range; ``s/epoch`` is the median over the seeds of each run's
    mean training time per epoch, from the runs the load average shows alone
    on the machine when there are any (see :func:`_seconds_per_epoch`; each
    record's ``run.machine`` says where). With ``chapter_recipe``, two columns give the
    mean test accuracy and AUC of the network's runs with its chapter's
    recipe, and how many runs they average: the runner's runs of that recipe
    and, with ``full_runs`` (e.g. ``results/full-run``), the chapter's own
    stored run when it chose its epoch on the held-out images."""
    import statistics

    import pandas as pd

    runs = load_seed_runs(root, recipe)
    chapter = load_seed_runs(root, chapter_recipe) if chapter_recipe else {}
    rows = []
    for network, seeds in runs.items():
        tests = [r["history"]["test"] for r in seeds.values()]
        acc = [t["accuracy"] for t in tests]
        auc = [t["auc"] for t in tests]
        meta = next(iter(seeds.values()))["history"]["meta"]
        row = {
            "network": _runner_label(network),
            "seeds": len(seeds),
            "test acc (mean ± sd)": _mean_sd(acc),
            "acc range": f"{min(acc):.4f}–{max(acc):.4f}",
            "test AUC (mean ± sd)": _mean_sd(auc),
            "AUC range": f"{min(auc):.4f}–{max(auc):.4f}",
            "epochs chosen": ", ".join(str(t["epoch"]) for t in tests),
            "params (M)": round(meta.get("params", 0) / 1e6, 2),
            "GFLOPs": round(meta["flops"] / 1e9, 2) if meta.get("flops") else None,
            "s/epoch": _seconds_per_epoch(list(seeds.values())),
            "_mean": statistics.mean(acc),
        }
        if chapter_recipe:
            own = _chapter_tests(network, chapter, full_runs)
            row["chapter recipe: acc"] = (f"{statistics.mean(t['accuracy'] for t in own):.4f} "
                                          f"({len(own)} run{'s' if len(own) > 1 else ''})") if own else "–"
            row["chapter recipe: AUC"] = f"{statistics.mean(t['auc'] for t in own):.4f}" if own else "–"
        rows.append(row)
    if not rows:
        return pd.DataFrame()
    table = pd.DataFrame(rows).sort_values("_mean", ascending=False, kind="stable")
    return table.drop(columns="_mean").set_index("network")


class AblationResult(NamedTuple):
    """One controlled experiment from the runner's stored runs (:func:`ablation`)."""

    table: Any          # pandas.DataFrame: one row per common seed
    cost: Any           # pandas.DataFrame: params, GFLOPs and s/epoch of each arm
    comparison: Any     # compare.NetworkComparison over the common seeds, or None
    histories: dict     # {arm name: {seed: history}} over the common seeds (plots.plot_seed_losses)


def ablation(root: str | Path, with_: tuple[str, str], without: tuple[str, str],
             names: tuple[str, str] | None = None) -> AblationResult:
    """A chapter's idea tested by its twin: the network with the idea
    (``with_`` = ``(recipe, network)`` of the runner, e.g. ``("shared",
    "resnet50")``) against the same network without it (e.g. ``("ablation",
    "resnet50-plain")``), over the seeds both have run. The same seed gives
    both the same data order and the same initial weights in every layer
    they share, so each seed is a pair.

    ``table``: one row per common seed, each arm's chosen epoch (on the
    held-out images), test accuracy and AUC, and the last epoch's training
    loss. ``cost``: each arm's parameters, GFLOPs and seconds per epoch (as
    in :func:`seed_leaderboard`). ``histories``: each arm's stored history
    per common seed, ``{name: {seed: history}}``, for
    :func:`palm_utils.plots.plot_seed_losses`. ``comparison``:
    :func:`palm_utils.compare.compare_networks` of the arm with the idea (A)
    against the arm without it (B) over those seeds, paired over the test
    images; ``None`` while no seed has both arms. A ``root`` that is not a folder
    raises :class:`FileNotFoundError` naming it."""
    import pandas as pd

    from .compare import _test_predictions, compare_networks

    if not Path(root).is_dir():
        raise FileNotFoundError(f"{root}: no such folder of stored runs; run the chapter from the checkout's "
                                "notebooks/ folder, next to results/runs/")
    names = names or (with_[1], without[1])
    arms = [load_seed_runs(root, recipe, network).get(network, {}) for recipe, network in (with_, without)]
    seeds = sorted(set(arms[0]) & set(arms[1]))
    rows = []
    for seed in seeds:
        row = {"seed": seed}
        for name, arm in zip(names, arms):
            history = arm[seed]["history"]
            test = history["test"]
            row.update({f"{name}: epoch": test["epoch"], f"{name}: test acc": test["accuracy"],
                        f"{name}: test AUC": test["auc"],
                        f"{name}: last train loss": history["epochs"][-1]["train_loss"]})
        rows.append(row)
    table = pd.DataFrame(rows).set_index("seed") if rows else pd.DataFrame()
    cost = []
    for name, arm in zip(names, arms):
        runs = [arm[s] for s in seeds]
        meta = runs[0]["history"]["meta"] if runs else {}
        cost.append({"network": name, "params (M)": round(meta.get("params", 0) / 1e6, 2) if runs else None,
                     "GFLOPs": round(meta["flops"] / 1e9, 2) if meta.get("flops") else None,
                     "s/epoch": _seconds_per_epoch(runs) if runs else None})
    comparison = None
    if seeds:
        comparison = compare_networks(*({s: _test_predictions(arm[s]["history"]) for s in seeds} for arm in arms),
                                      names=names)
    histories = {name: {s: arm[s]["history"] for s in seeds} for name, arm in zip(names, arms)}
    return AblationResult(table, pd.DataFrame(cost).set_index("network"), comparison, histories)
