import json

import pytest

from palm_utils.checkpoint import atomic_write_json
from palm_utils.cli.demo import TinyNet
from palm_utils.results import REFERENCE, comparison_table
from palm_utils.runtime import paddle
from palm_utils.summary import (conv_weights, count_flops, count_params, count_trainable, fc_params,
                                layer_table)


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


def test_conv_weights_match_paddle_layers():
    for kernel, padding in [(3, 1), (5, 2), ((1, 7), (0, 3)), ((7, 1), (3, 0))]:
        conv = paddle.nn.Conv2D(16, 8, kernel, padding=padding, bias_attr=False)
        assert conv_weights(16, 8, kernel) == count_params(conv), kernel
    assert conv_weights(192, 32, 5) == 5 * 5 * 192 * 32


def test_fc_params_match_paddle_layers():
    mlp = paddle.nn.Sequential(paddle.nn.Linear(12, 7), paddle.nn.ReLU(), paddle.nn.Linear(7, 1))
    assert fc_params([12, 7, 1]) == count_params(mlp) == 12 * 7 + 7 + 7 * 1 + 1
    assert fc_params(iter([5, 3])) == 18 and fc_params([5]) == 0


def test_count_trainable_leaves_out_batchnorm_statistics():
    bn = paddle.nn.BatchNorm2D(8)           # weight, bias; running mean, variance
    assert count_params(bn) == 4 * 8 and count_trainable(bn) == 2 * 8
    net = paddle.nn.Sequential(paddle.nn.Conv2D(3, 8, 3, bias_attr=False), bn)
    assert count_trainable(net) == conv_weights(3, 8, 3) + 2 * 8
    net[0].weight.stop_gradient = True      # frozen: not trained
    assert count_trainable(net) == 2 * 8


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
    # an old history: the epoch was chosen on the images it reports, and says so
    assert row["test acc"] == 0.9 and row["epoch"] == 2 and row["test AUC"] == 0.91
    assert row["chosen on"] == "test set"
    assert row["s/epoch"] == 20.0 and row["params (M)"] == 2.5 and row["GFLOPs"] == 0.7
    assert table.loc["vgg", "epochs"] == 1
    assert comparison_table(tmp_path / "none").empty


def test_comparison_table_reports_the_test_block_of_held_out_selection(tmp_path):
    """train_pm today: rows on the held-out images, the chosen epoch measured
    once on the test set (``test``), and the table reports that, not the rows."""
    labels, probs = _predictions()
    m = binary_metrics(labels, probs)
    rows = [{"epoch": 1, "train_loss": 0.6, "val_loss": 0.5, "val_acc": 0.95, "val_auc": 0.99,
             "seconds": 3.0},
            {"epoch": 2, "train_loss": 0.4, "val_loss": 0.3, "val_acc": 0.95, "val_auc": 0.98,
             "seconds": 5.0}]
    atomic_write_json(tmp_path / "run" / "history.json",
                      {"meta": {"model": "R", "params": 1, "data": "real PALM", "quick": False,
                                "selection": "the best of 2 epochs by accuracy (ties: loss) on "
                                             "the 80 held-out training images"},
                       "epochs": rows,
                       "test": {"epoch": 2, **m, "predictions": {"labels": labels.tolist(),
                                                                 "probs": probs.tolist()}}})
    row = comparison_table(tmp_path).loc["run"]
    assert row["epoch"] == 2 and row["chosen on"] == "held-out"   # the tie: lower held-out loss
    assert row["test acc"] == round(m["accuracy"], 4) != 0.95
    assert row["test AUC"] == round(m["auc"], 4)
    assert row["acc 95 % CI"] == "{:.3f}-{:.3f}".format(*m["accuracy_ci"])
    assert best_epoch(json.loads((tmp_path / "run" / "history.json").read_text()))["epoch"] == 2


def test_comparison_table_accepts_runs_without_auc(tmp_path):
    """train_classifier (MNIST, 10 classes) records no AUC."""
    _write_run(tmp_path, "lenet_mnist", [0.9], [5], 4e5)
    history = json.loads((tmp_path / "lenet_mnist" / "history.json").read_text())
    del history["epochs"][0]["val_auc"]
    atomic_write_json(tmp_path / "lenet_mnist" / "history.json", history)
    assert comparison_table(tmp_path).loc["lenet_mnist", "test AUC"] is None


def test_reference_figures_cover_the_chapters():
    assert set(REFERENCE) == {"LeNet (MNIST)", "LeNet (PALM)", "AlexNet", "VGG-16", "GoogLeNet",
                              "ResNet-50"}
    assert "0.5275" in REFERENCE["LeNet (PALM)"]


# ---- conv_out ----------------------------------------------------------------

from pathlib import Path

import numpy as np

from palm_utils.metrics import binary_metrics, bootstrap_ci, wilson_interval
from palm_utils.results import (NOT_IN_COURSE, RUNS, best_epoch, best_epoch_intervals,
                                course_reference, reference_table)
from palm_utils.summary import conv_out

REPO = Path(__file__).resolve().parent.parent


def test_conv_out_walkthroughs_of_the_chapters():
    # chapter 1, LeNet: 28 -> 24 -> 12 -> 8 -> 4 -> 1 and 224 -> 220 -> 110 -> 106 -> 53 -> 50
    for size, expected in ((28, [24, 12, 8, 4, 1]), (224, [220, 110, 106, 53, 50])):
        sides = []
        for kernel, stride in ((5, 1), (2, 2), (5, 1), (2, 2), (4, 1)):
            size = conv_out(size, kernel, stride=stride)
            sides.append(size)
        assert sides == expected
    # chapter 2, AlexNet conv1: 11x11, stride 4, padding 5
    assert conv_out(224, 11, stride=4, padding=5) == 56


@pytest.mark.parametrize("size,kernel,stride,padding,dilation",
                         [(224, 11, 4, 5, 1), (224, 7, 2, 3, 1), (56, 3, 2, 1, 1), (14, 5, 3, 0, 1),
                          (28, 3, 1, 2, 2), (9, 2, 2, 0, 1)])
def test_conv_out_agrees_with_paddle(size, kernel, stride, padding, dilation):
    conv = paddle.nn.Conv2D(1, 1, kernel, stride=stride, padding=padding, dilation=dilation)
    shape = conv(paddle.zeros([1, 1, size, size])).shape
    assert conv_out(size, kernel, stride=stride, padding=padding, dilation=dilation) == shape[-1]


def test_conv_out_refuses_positional_stride_and_impossible_sizes():
    with pytest.raises(TypeError):
        conv_out(224, 11, 5, 4)  # the notebooks' old order was (padding, stride)
    with pytest.raises(ValueError, match="does not fit"):
        conv_out(3, 5)
    with pytest.raises(ValueError, match="stride"):
        conv_out(28, 5, stride=0)


# ---- best epoch, intervals, tables -----------------------------------------

def _rows(accs, aucs=None):
    return [{"epoch": i + 1, "train_loss": 0.5, "val_loss": 0.4, "val_acc": a,
             "val_auc": (aucs[i] if aucs else a + 0.01), "seconds": 1.0}
            for i, a in enumerate(accs)]


def test_best_epoch_is_the_first_highest_accuracy():
    rows = _rows([0.6, 0.9, 0.8, 0.9])
    best = best_epoch(rows)
    assert best["epoch"] == 2 and best["val_acc"] == 0.9
    assert best_epoch({"meta": {}, "epochs": rows}) == best
    best["val_acc"] = 0.0  # a copy: the history is left alone
    assert rows[1]["val_acc"] == 0.9
    with pytest.raises(ValueError, match="no epochs"):
        best_epoch([])


def test_a_run_that_reports_its_last_epoch_chose_nothing():
    """train_classifier (MNIST) reports the last epoch: the table names that
    epoch, not the best one on the images it reports, and says nothing was
    chosen."""
    from palm_utils.results import chosen_on, chosen_on_test_set

    history = {"meta": {"selection": "the last of 4 epochs (nothing chosen)"},
               "epochs": _rows([0.6, 0.9, 0.8, 0.85]), "test": None}
    assert best_epoch(history)["epoch"] == 4
    assert chosen_on(history) == "last epoch" and not chosen_on_test_set(history)
    table = reference_table({"lenet_mnist": history})
    assert table.iloc[0]["epoch"] == "4" and table.iloc[0]["chosen on"] == "last epoch"
    # the same rows chosen by the best rule on the images reported: epoch 2
    best = {"meta": {"selection": "the best of 4 epochs by accuracy (ties: loss) on "
                                  "the test set itself (biased: the course's way, not to be reported)"},
            "epochs": history["epochs"], "test": None}
    assert best_epoch(best)["epoch"] == 2 and chosen_on(best) == "test set"


def _predictions(n=400, acc=0.945, seed=0):
    rng = np.random.default_rng(seed)
    labels = (np.arange(n) < 211).astype(int)
    probs = np.where(labels == 1, rng.uniform(0.6, 1, n), rng.uniform(0, 0.4, n))
    wrong = rng.choice(n, round(n * (1 - acc)), replace=False)
    probs[wrong] = 1 - probs[wrong]
    return labels, probs


def test_intervals_from_best_predictions_then_rows_then_wilson():
    labels, probs = _predictions()
    m = binary_metrics(labels, probs)
    rows = _rows([0.8, m["accuracy"]], [0.9, m["auc"]])
    meta = {"data": "real PALM", "quick": False}
    saved = {"epoch": 2, "labels": labels.tolist(), "probs": probs.tolist()}

    ci = best_epoch_intervals({"meta": meta, "epochs": rows, "best_predictions": saved})
    assert ci == {"accuracy_ci": m["accuracy_ci"], "auc_ci": m["auc_ci"], "ci_method": "bootstrap"}

    # predictions of another epoch are not used; the rows' own intervals are
    stale = {**saved, "epoch": 1}
    rows_ci = [dict(r, val_acc_ci=[0.1, 0.2], val_auc_ci=[0.3, 0.4]) for r in rows]
    ci = best_epoch_intervals({"meta": meta, "epochs": rows_ci, "best_predictions": stale})
    assert ci == {"accuracy_ci": (0.1, 0.2), "auc_ci": (0.3, 0.4), "ci_method": "bootstrap"}

    # an old history: Wilson for the accuracy over PALM's 400 images, no AUC interval
    ci = best_epoch_intervals({"meta": meta, "epochs": rows})
    assert ci["ci_method"] == "Wilson (accuracy only)" and ci["auc_ci"] is None
    assert ci["accuracy_ci"] == pytest.approx(m["accuracy_ci"], abs=0.006)
    # unknown size (quick mode, MNIST, a list from train_pm): nothing
    for history in ({"meta": {**meta, "quick": True}, "epochs": rows},
                    {"meta": {"data": "$PALM_MNIST_DIR", "quick": False}, "epochs": rows}, rows):
        assert best_epoch_intervals(history)["ci_method"] is None
    assert best_epoch_intervals(rows, n_valid=400)["accuracy_ci"] == ci["accuracy_ci"]


def test_comparison_table_interval_columns(tmp_path):
    labels, probs = _predictions()
    m = binary_metrics(labels, probs)
    atomic_write_json(tmp_path / "new" / "history.json",
                      {"meta": {"model": "New", "params": 1, "data": "real PALM", "quick": False},
                       "epochs": _rows([m["accuracy"]], [m["auc"]]),
                       "best_predictions": {"epoch": 1, "labels": labels.tolist(),
                                            "probs": probs.tolist()}})
    _write_run(tmp_path, "old", [0.945], [5], 1e9)  # stand-in, full run: 400 images
    atomic_write_json(tmp_path / "quick" / "history.json",
                      {"meta": {"model": "Q", "data": "real PALM", "quick": True},
                       "epochs": _rows([0.9])})
    table = comparison_table(tmp_path, reference=True)
    lo, hi = m["accuracy_ci"]
    assert table.loc["new", "acc 95 % CI"] == f"{lo:.3f}-{hi:.3f}"
    assert table.loc["new", "AUC 95 % CI"] == "{:.3f}-{:.3f}".format(*m["auc_ci"])
    assert table.loc["new", "CI"] == "bootstrap"
    assert table.loc["old", "acc 95 % CI"] == "0.918-0.963"  # Wilson, 378 of 400
    assert table.loc["old", "AUC 95 % CI"] == "–" and table.loc["old", "CI"] == "Wilson (accuracy only)"
    assert (table.loc["quick", ["acc 95 % CI", "AUC 95 % CI", "CI"]] == "–").all()
    assert table.loc["new", "course reference"] == ""  # not a chapter's run


def test_committed_full_runs_get_bootstrap_intervals():
    # every committed PALM full run keeps its reported epoch's 400 predictions:
    # the table's intervals are the bootstrap over them, around its accuracy
    root = REPO / "results" / "full-run"
    table = comparison_table(root, reference=True)
    palm = [run for run in table.index if table.loc[run, "data"] == "real PALM"]
    assert "resnet50" in palm and "lenet_mnist" not in palm
    for run in palm:
        history = json.loads((root / run / "history.json").read_text())
        # today's runs: the chosen epoch's test block; older ones: the best epoch's predictions
        saved = (history.get("test") or {}).get("predictions") or history["best_predictions"]
        assert len(saved["labels"]) == len(saved["probs"]) == 400, run
        ci = bootstrap_ci(saved["labels"], saved["probs"])
        assert table.loc[run, "acc 95 % CI"] == "{:.3f}-{:.3f}".format(*ci["accuracy"]), run
        assert table.loc[run, "AUC 95 % CI"] == "{:.3f}-{:.3f}".format(*ci["auc"]), run
        assert table.loc[run, "CI"] == "bootstrap", run
        assert ci["accuracy"][0] <= table.loc[run, "test acc"] <= ci["accuracy"][1], run
    assert table.loc["lenet_mnist", "acc 95 % CI"] == "–"
    assert table.loc["alexnet_aug", "course reference"] == REFERENCE["AlexNet"]


def test_reference_table_of_a_chapter(tmp_path):
    _write_run(tmp_path, "alexnet", [0.6, 0.9, 0.8], [10, 20, 30], 7e8)
    table = reference_table(2, root=tmp_path)
    assert list(table.index) == ["AlexNet", "AlexNet + augmentation"]
    row = table.loc["AlexNet"]
    assert row["course reference"] == REFERENCE["AlexNet"]
    per_epoch = "this run (accuracy per epoch where the epoch is chosen)"
    assert row[per_epoch] == "0.6000 -> 0.9000 -> 0.8000"
    assert row["epoch"] == "2" and row["chosen on"] == "test set"
    assert row["test acc"] == "0.9000 (95 % CI 0.867-0.926)"  # Wilson over 400 images
    assert row["test AUC"] == "0.9100"
    aug = table.loc["AlexNet + augmentation"]
    assert aug["course reference"] == NOT_IN_COURSE
    assert aug[per_epoch] == "(not run yet)"
    # the same from a network name, and from histories in memory
    assert reference_table("AlexNet", root=tmp_path).equals(table)
    in_memory = reference_table({"alexnet": _rows([0.6, 0.9])})
    assert in_memory.loc["AlexNet", "test acc"] == "0.9000"  # no size known: no interval
    with pytest.raises(ValueError, match="No chapter 9"):
        reference_table(9)  # chapter 9 trains no network of its own for the tables


def test_every_chapter_has_runs_with_references():
    assert sorted({run.chapter for run in RUNS.values()}) == [1, 2, 3, 4, 5, 6, 7, 8]
    assert all(run.reference in REFERENCE for run in RUNS.values() if run.course)
    assert course_reference("densenet121") == course_reference("resnet18") == NOT_IN_COURSE
    assert course_reference("lenet_palm") == REFERENCE["LeNet (PALM)"]
    assert course_reference("lenet_mnist_relu") == NOT_IN_COURSE
    assert course_reference("lenet_mnist_relu", variations=True) == REFERENCE["LeNet (MNIST)"]
    assert course_reference("mine") == ""


def test_no_wilson_interval_when_the_accuracies_do_not_fit_400_images():
    meta = {"data": "real PALM", "quick": False}
    assert best_epoch_intervals({"meta": meta, "epochs": _rows([0.9, 1 / 3])})["ci_method"] is None
    assert best_epoch_intervals({"meta": {**meta, "n_valid": 3}, "epochs": _rows([1 / 3])})[
        "accuracy_ci"] == pytest.approx(wilson_interval(1 / 3, 3))


def _seed_record(tmp_path, recipe, network, seed, acc, auc, epoch=3, seconds=10.0, load=None):
    import json

    path = tmp_path / recipe / network / f"seed{seed}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    history = {"meta": {"params": 2_000_000, "flops": 3e8, "selection": "held-out"},
               "epochs": [{"epoch": e, "seconds": seconds, "val_acc": 0.9, "val_loss": 0.3}
                          for e in range(1, 6)],
               "test": {"epoch": epoch, "accuracy": acc, "auc": auc}}
    run = {"seed": seed, "recipe": recipe, "network": network}
    if load is not None:
        run["load_1min"] = {"samples": 10, "cores": 2, "median": load, "max": load}
    path.write_text(json.dumps({"run": run,
                                "history": history}))


def test_seed_leaderboard_means_spread_and_chapter_column(tmp_path):
    from palm_utils.results import seed_leaderboard

    for seed, acc, auc in ((1, 0.95, 0.98), (2, 0.96, 0.99), (3, 0.97, 0.985)):
        _seed_record(tmp_path, "shared", "resnet18", seed, acc, auc, seconds=40.0)
    _seed_record(tmp_path, "shared", "resnet18", 4, 0.96, 0.985, seconds=400.0)   # slowed by other work
    _seed_record(tmp_path, "shared", "lenet", 1, 0.5275, 0.6)
    _seed_record(tmp_path, "chapter", "resnet18", 1, 0.94, 0.97)
    table = seed_leaderboard(tmp_path, "shared")
    assert list(table.index) == ["ResNet-18", "LeNet (PALM)"]        # best mean first, chapters' labels
    row = table.loc["ResNet-18"]
    assert row["seeds"] == 4 and row["test acc (mean ± sd)"] == "0.9600 ± 0.0082"
    assert row["acc range"] == "0.9500–0.9700" and row["test AUC (mean ± sd)"] == "0.9850 ± 0.0041"
    assert row["epochs chosen"] == "3, 3, 3, 3" and row["s/epoch"] == 40.0   # the median run's
    assert row["chapter recipe: acc"] == "0.9400 (1 run)" and row["chapter recipe: AUC"] == "0.9700"
    assert table.loc["LeNet (PALM)", "test acc (mean ± sd)"] == "0.5275"   # one seed: no sd
    assert table.loc["LeNet (PALM)", "chapter recipe: acc"] == "–"
    assert seed_leaderboard(tmp_path, "nothing").empty


def test_seconds_per_epoch_come_from_runs_alone_on_the_machine(tmp_path):
    from palm_utils.results import seed_leaderboard

    _seed_record(tmp_path, "shared", "alexnet", 1, 0.9, 0.95, seconds=90.0)              # no load record
    _seed_record(tmp_path, "shared", "alexnet", 2, 0.9, 0.95, seconds=60.0, load=4.1)    # tests beside it
    _seed_record(tmp_path, "shared", "alexnet", 3, 0.9, 0.95, seconds=31.0, load=2.2)    # alone
    _seed_record(tmp_path, "shared", "nin", 1, 0.9, 0.95, seconds=50.0, load=3.9)
    _seed_record(tmp_path, "shared", "nin", 2, 0.9, 0.95, seconds=70.0)
    _seed_record(tmp_path, "shared", "vgg16", 1, 0.9, 0.95, seconds=500.0, load=4.0)
    table = seed_leaderboard(tmp_path, "shared", chapter_recipe=None)
    assert table.loc["AlexNet", "s/epoch"] == 31.0      # the idle run only
    assert table.loc["NiN", "s/epoch"] == 70.0          # no idle run: the one without a record
    assert table.loc["VGG-16", "s/epoch"] == "500.0 (busy)"


def _ablation_record(root, recipe, network, seed, wrong, loss):
    """A runner record whose test predictions get the first ``wrong`` of 400 images wrong."""
    import json

    labels = [i % 2 for i in range(400)]
    probs = [(0.2 if y else 0.8) if i < wrong else (0.9 if y else 0.1) for i, y in enumerate(labels)]
    acc = 1 - wrong / 400
    history = {"meta": {"params": 3_000_000, "flops": 9e8},
               "epochs": [{"epoch": e, "seconds": 20.0, "train_loss": loss} for e in (1, 2)],
               "test": {"epoch": 2, "accuracy": acc, "auc": 1.0,
                        "predictions": {"labels": labels, "probs": probs}}}
    path = root / recipe / network / f"seed{seed}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"run": {"seed": seed, "recipe": recipe, "network": network},
                                "history": history}))


def test_ablation_pairs_the_seeds_both_arms_have(tmp_path):
    from palm_utils.results import ablation

    for seed, wrong in ((1, 20), (2, 30)):
        _ablation_record(tmp_path, "shared", "net", seed, wrong, loss=0.1)
    for seed, wrong in ((1, 60), (2, 70), (3, 0)):      # seed 3 has no partner: left out
        _ablation_record(tmp_path, "ablation", "net-without", seed, wrong, loss=0.4)
    result = ablation(tmp_path, ("shared", "net"), ("ablation", "net-without"), names=("with", "without"))
    assert list(result.table.index) == [1, 2]
    assert list(result.table["with: test acc"]) == [0.95, 0.925]
    assert list(result.table["without: last train loss"]) == [0.4, 0.4]
    c = result.comparison
    assert (c.acc_a.n, c.acc_b.n) == (2, 2)
    assert c.acc_diff == pytest.approx((0.95 + 0.925) / 2 - (0.85 + 0.825) / 2)
    assert c.acc_p < 0.001                               # 40 images more wrong on average, none fewer
    assert result.cost.loc["with", "GFLOPs"] == 0.9 and result.cost.loc["without", "s/epoch"] == 20.0
    assert {name: sorted(seeds) for name, seeds in result.histories.items()} == {"with": [1, 2], "without": [1, 2]}
    assert result.histories["without"][2]["test"]["accuracy"] == 0.825   # seed 2's own record
    nothing = ablation(tmp_path, ("shared", "net"), ("ablation", "missing"))
    assert nothing.comparison is None and nothing.table.empty
    with pytest.raises(FileNotFoundError, match=r"no-runs: no such folder of stored runs; run the chapter from"):
        ablation(tmp_path / "no-runs", ("shared", "net"), ("ablation", "net-without"))


def test_chapter_column_adds_the_chapters_own_run_when_it_chose_on_held_out_images(tmp_path):
    import json

    from palm_utils.results import seed_leaderboard

    for network in ("resnet18", "alexnet", "lenet"):
        _seed_record(tmp_path / "runs", "shared", network, 1, 0.9, 0.95)
    _seed_record(tmp_path / "runs", "chapter", "resnet18", 1, 0.94, 0.97)
    full = tmp_path / "full-run"
    for run, test in (("resnet18", {"epoch": 4, "accuracy": 0.96, "auc": 0.99}),   # held-out selection
                      ("lenet_palm", {"epoch": 5, "accuracy": 0.5275, "auc": 0.5})):
        (full / run).mkdir(parents=True)
        (full / run / "history.json").write_text(json.dumps({"epochs": [], "test": test}))
    (full / "alexnet").mkdir()
    (full / "alexnet" / "history.json").write_text(json.dumps({"epochs": []}))   # chose on the test set
    table = seed_leaderboard(tmp_path / "runs", "shared", full_runs=full)
    assert table.loc["ResNet-18", "chapter recipe: acc"] == "0.9500 (2 runs)"
    assert table.loc["ResNet-18", "chapter recipe: AUC"] == "0.9800"
    assert table.loc["LeNet (PALM)", "chapter recipe: acc"] == "0.5275 (1 run)"   # the runner's name, lenet
    assert table.loc["AlexNet", "chapter recipe: acc"] == "–"
