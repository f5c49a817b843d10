"""Saved results: the course's reference figures and the comparison table
built from the ``history.json`` files that ``train_pm`` writes."""
from __future__ import annotations

from pathlib import Path

from .training import HISTORY_FILE, load_history

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


def load_histories(root: str | Path = "checkpoints") -> dict[str, dict]:
    """Every ``*/history.json`` under ``root``, keyed by the run's folder."""
    root = Path(root)
    return {p.parent.name: load_history(p) for p in sorted(root.glob(f"*/{HISTORY_FILE}"))}


def comparison_table(root: str | Path = "checkpoints", runs: list[str] | None = None):
    """One row per saved run: parameters, FLOPs, seconds per epoch and the
    validation metrics of the best epoch and of the last one."""
    import pandas as pd

    histories = load_histories(root)
    rows = []
    for run in runs or list(histories):
        if run not in histories:
            continue
        meta, epochs = histories[run]["meta"], histories[run]["epochs"]
        best = max(epochs, key=lambda r: r["val_acc"])
        rows.append({
            "run": run,
            "network": meta.get("model"),
            "params (M)": round(meta.get("params", 0) / 1e6, 2),
            "GFLOPs": round(meta["flops"] / 1e9, 2) if meta.get("flops") else None,
            "epochs": len(epochs),
            "s/epoch": round(sum(r["seconds"] for r in epochs) / len(epochs), 1),
            "last acc": round(epochs[-1]["val_acc"], 4),
            "best acc": round(best["val_acc"], 4),
            "AUC (best epoch)": (round(best["val_auc"], 4) if "val_auc" in best else None),
            "data": meta.get("data"),
            "device": meta.get("device"),
            "quick": meta.get("quick"),
        })
    return pd.DataFrame(rows).set_index("run") if rows else pd.DataFrame()
