import json

import pytest

from palm_utils.checkpoint import atomic_write_json
from palm_utils.demo import TinyNet
from palm_utils.results import REFERENCE, comparison_table
from palm_utils.runtime import paddle
from palm_utils.summary import count_flops, count_params, layer_table


def test_layer_table_shapes_and_params():
    text = layer_table(TinyNet(width=16)).splitlines()
    assert text[2].split() == ["features.0", "Conv2D", "[1,", "16,", "112,", "112]", "1,216"]
    assert text[-1].split() == ["total", "24,417"]
    assert len(text) == 2 + 11 + 2  # header, 11 leaf layers, footer
    top = layer_table(TinyNet(width=16), depth=1).splitlines()
    assert [l.split()[0] for l in top[2:-2]] == ["features", "pool", "fc"]


def test_conv_flops_by_hand():
    conv = paddle.nn.Conv2D(3, 6, 5)
    # one multiply-accumulate per kernel weight per output pixel (+ bias)
    by_hand = 6 * 220 * 220 * (3 * 5 * 5 + 1)
    assert count_flops(conv) == pytest.approx(by_hand, rel=0.02)
    assert count_params(conv) == 6 * 3 * 25 + 6


def _write_run(root, name, accs, seconds, flops):
    epochs = [{"epoch": i + 1, "train_loss": 0.5, "val_loss": 0.4, "val_acc": a,
               "val_auc": a + 0.01, "seconds": s} for i, (a, s) in enumerate(zip(accs, seconds))]
    atomic_write_json(root / name / "history.json",
                      {"meta": {"model": name.title(), "params": 2_500_000, "flops": flops,
                                "data": "stand-in", "device": "cpu", "quick": False},
                       "epochs": epochs})


def test_comparison_table_from_saved_histories(tmp_path):
    _write_run(tmp_path, "alexnet", [0.6, 0.9, 0.8], [10, 20, 30], 7e8)
    _write_run(tmp_path, "vgg", [0.7], [100], 1.5e10)
    table = comparison_table(tmp_path, runs=["vgg", "alexnet", "missing"])
    assert list(table.index) == ["vgg", "alexnet"]
    row = table.loc["alexnet"]
    assert row["best acc"] == 0.9 and row["last acc"] == 0.8 and row["AUC (best epoch)"] == 0.91
    assert row["s/epoch"] == 20.0 and row["params (M)"] == 2.5 and row["GFLOPs"] == 0.7
    assert table.loc["vgg", "epochs"] == 1
    assert comparison_table(tmp_path / "none").empty


def test_comparison_table_accepts_runs_without_auc(tmp_path):
    """train_classifier (MNIST, 10 classes) records no AUC."""
    _write_run(tmp_path, "lenet_mnist", [0.9], [5], 4e5)
    history = json.loads((tmp_path / "lenet_mnist" / "history.json").read_text())
    del history["epochs"][0]["val_auc"]
    atomic_write_json(tmp_path / "lenet_mnist" / "history.json", history)
    assert comparison_table(tmp_path).loc["lenet_mnist", "AUC (best epoch)"] is None


def test_reference_figures_cover_the_chapters():
    assert set(REFERENCE) == {"LeNet (MNIST)", "LeNet (PALM)", "AlexNet", "VGG-16", "GoogLeNet",
                              "ResNet-50"}
    assert "0.5275" in REFERENCE["LeNet (PALM)"]
