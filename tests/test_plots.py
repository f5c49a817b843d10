import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
from matplotlib.collections import PolyCollection  # noqa: E402

from palm_utils.plots import plot_history, plot_runs, plot_seed_losses  # noqa: E402


def _history(accs, ci=False):
    rows = []
    for i, a in enumerate(accs):
        row = {"epoch": i + 1, "train_loss": 1.0 / (i + 1), "val_loss": 1.2 / (i + 1),
               "val_acc": a, "val_auc": min(1.0, a + 0.03)}
        if ci:
            row.update(val_acc_ci=[a - 0.02, a + 0.02], val_auc_ci=[a, min(1.0, a + 0.05)])
        rows.append(row)
    return rows


def _lines(ax):
    return {line.get_label(): line for line in ax.get_lines()}


def test_plot_runs_draws_every_run_with_one_colour_each():
    hist, hist_aug = _history([0.5, 0.8, 0.9]), _history([0.6, 0.85, 0.88])
    fig = plot_runs({"no augmentation": hist, "augmentation": {"meta": {}, "epochs": hist_aug}},
                    title="two runs", baseline=0.5275, log_loss=True)
    loss_ax, acc_ax = fig.axes
    loss = _lines(loss_ax)
    assert set(loss) == {"train, no augmentation", "validation, no augmentation",
                         "train, augmentation", "validation, augmentation"}
    assert loss["train, augmentation"].get_color() == loss["validation, augmentation"].get_color()
    assert loss_ax.get_yscale() == "log"
    acc = _lines(acc_ax)
    assert list(acc["augmentation"].get_ydata()) == [0.6, 0.85, 0.88]
    assert acc["majority baseline 0.5275"].get_ydata()[0] == 0.5275
    assert acc["no augmentation"].get_color() != acc["augmentation"].get_color()
    assert not any(isinstance(c, PolyCollection) for c in acc_ax.collections)  # no intervals stored
    auc_fig = plot_runs({"a": hist}, metric="val_auc")
    assert auc_fig.axes[1].get_ylabel() == "validation AUC"
    plt.close("all")


def test_intervals_in_the_history_are_drawn_as_bands():
    fig = plot_history(_history([0.5, 0.8, 0.9], ci=True))
    bands = [c for c in fig.axes[1].collections if isinstance(c, PolyCollection)]
    assert len(bands) == 2  # accuracy and AUC
    fig = plot_runs({"a": _history([0.5, 0.8], ci=True), "b": _history([0.6, 0.7])})
    assert len([c for c in fig.axes[1].collections if isinstance(c, PolyCollection)]) == 1
    plt.close("all")


def test_baseline_from_the_labels():
    fig = plot_history(_history([0.5, 0.8]), baseline=[1, 1, 1, 0])
    assert "majority baseline 0.7500" in _lines(fig.axes[1])
    fig = plot_history(_history([0.5, 0.8]), baseline={1: 211, 0: 189})
    assert _lines(fig.axes[1])["majority baseline 0.5275"].get_ydata()[0] == pytest.approx(0.5275)
    plt.close("all")


def test_held_out_rows_are_labelled_held_out():
    """Runs that kept a test result validated on held-out training images:
    both panels say so; a run without one keeps the word "validation"."""
    held = {"meta": {}, "epochs": _history([0.6, 0.8]), "test": {"epoch": 2, "accuracy": 0.9}}
    fig = plot_runs({"a": held, "b": dict(held)})
    assert fig.axes[1].get_ylabel() == "held-out accuracy"
    assert "held-out, a" in _lines(fig.axes[0])
    assert plot_runs({"a": held}, metric="val_auc").axes[1].get_ylabel() == "held-out AUC"
    assert plot_runs({"a": held, "old": _history([0.5, 0.7])}).axes[1].get_ylabel() == "validation accuracy"
    plt.close("all")


def test_plot_seed_losses_draws_each_seed_of_each_arm_with_its_own_losses():
    arms = {"residual": {2: _history([0.5, 0.8]), 1: {"meta": {}, "epochs": _history([0.6, 0.7, 0.9])}},
            "plain": {1: _history([0.4, 0.5, 0.6])}}
    arms["plain"][1][0]["train_loss"] = 3.0
    fig = plot_seed_losses(arms, title="residual or not", log_loss=True)
    ax = fig.axes[0]
    lines = _lines(ax)
    assert sorted(lines) == ["plain, seed 1", "residual, seed 1", "residual, seed 2"]
    assert list(lines["plain, seed 1"].get_ydata()) == [3.0, 0.5, 1.0 / 3]
    assert list(lines["residual, seed 2"].get_xdata()) == [1, 2]
    # one colour per arm, the seeds of an arm told apart by their markers
    assert lines["residual, seed 1"].get_color() == lines["residual, seed 2"].get_color() != lines["plain, seed 1"].get_color()
    assert lines["residual, seed 1"].get_marker() != lines["residual, seed 2"].get_marker()
    assert ax.get_yscale() == "log" and ax.get_title() == "residual or not"
    assert list(ax.get_xticks()) == [1, 2, 3]
    plt.close(fig)
