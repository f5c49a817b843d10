"""scripts/experiments.py: one (recipe, network, seed) per process, results
written atomically, finished runs skipped, interrupted ones resumed."""
from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import make_mini_palm, real_experiments

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture()
def experiments(tmp_path, monkeypatch):
    spec = importlib.util.spec_from_file_location("experiments", REPO / "scripts" / "experiments.py")
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "experiments", module)  # dataclasses look their module up
    spec.loader.exec_module(module)
    monkeypatch.setattr(module, "RESULTS", tmp_path / "results")
    monkeypatch.setattr(module, "WORK", tmp_path / "work")
    monkeypatch.setattr(module, "NETWORKS", {
        "tiny": module.Network("palm_utils.cli.demo:TinyNet", {"width": 4}, 0, 0.1),
        "tiny8": module.Network("palm_utils.cli.demo:TinyNet", {"width": 8}, 0, 0.1)})
    monkeypatch.setattr(module, "RECIPES", {
        "test": module.Recipe(epochs=2, batch_size=5, networks=("tiny", "tiny8"), seeds=(1, 2),
                              per_network={"tiny8": {"optimizer": "adam"}})})
    monkeypatch.setenv("PALM_DATA_DIR", str(make_mini_palm(tmp_path / "palm")))
    return module


def _args(**kwargs):
    import argparse

    return argparse.Namespace(**{"recipe": None, "networks": None, "seeds": None, **kwargs})


def test_selection_goes_seed_by_seed_and_refuses_unknown_names(experiments):
    assert experiments.selected(_args()) == [("test", "tiny", 1), ("test", "tiny8", 1),
                                             ("test", "tiny", 2), ("test", "tiny8", 2)]
    assert experiments.selected(_args(networks=["tiny8"], seeds=[3])) == [("test", "tiny8", 3)]
    with pytest.raises(SystemExit, match="--recipe nope: unknown"):
        experiments.selected(_args(recipe=["nope"]))
    with pytest.raises(SystemExit, match="--networks vgg: unknown"):
        experiments.selected(_args(networks=["vgg"]))
    recipe = experiments.RECIPES["test"]
    assert recipe.for_network("tiny8").optimizer == "adam" and recipe.for_network("tiny").optimizer == "momentum"
    assert "--label-smoothing" not in recipe.args()


def test_a_run_is_written_once_and_then_skipped(experiments, capsys):
    assert experiments.main(["run", "--networks", "tiny", "--seeds", "1"]) == 0
    path = experiments.result_path("test", "tiny", 1)
    record = json.loads(path.read_text())
    run, history = record["run"], record["history"]
    assert (run["recipe"], run["network"], run["seed"], run["epochs"]) == ("test", "tiny", 1, 2)
    assert run["optimizer"] == "momentum" and run["net_kwargs"] == {"width": 4}
    assert run["load_1min"]["cores"] == os.cpu_count()   # sampled every 15 s: none in a short run
    assert len(history["epochs"]) == 2 and history["test"]["n"] == 20
    assert "held-out training images" in history["meta"]["selection"]
    assert len(history["test"]["predictions"]["probs"]) == 20
    assert not list(path.parent.glob("*.tmp"))
    capsys.readouterr()
    mtime = path.stat().st_mtime_ns
    assert experiments.main(["run", "--networks", "tiny", "--seeds", "1"]) == 0
    assert path.stat().st_mtime_ns == mtime and "started" not in capsys.readouterr().out
    experiments.main(["plan"])
    assert "1 of 4 runs done; 3 to go" in capsys.readouterr().out


def test_an_interrupted_run_resumes(experiments, monkeypatch):
    """A work folder holding epoch 1 of 2 (as an interrupted run leaves it) is
    resumed with --resume, not started again."""
    work = experiments.work_dir("test", "tiny", 2)
    first = [sys.executable, "-m", "palm_utils", "train", "--net", "palm_utils.cli.demo:TinyNet",
             "--net-arg", "width=4", *experiments.RECIPES["test"].args(), "--epochs", "1",
             "--seed", "2", "--save-dir", str(work), "--no-progress"]
    subprocess.run(first, cwd=REPO, check=True, capture_output=True)
    seen = []
    real_popen = subprocess.Popen

    def spy(command, *args, **kwargs):
        seen.append(command)
        return real_popen(command, *args, **kwargs)

    monkeypatch.setattr(experiments.subprocess, "Popen", spy)
    experiments.train_one("test", "tiny", 2, Path(experiments.os.environ["PALM_DATA_DIR"]))
    trainings = [c for c in seen if "train" in c and "-m" in c]
    assert len(trainings) == 1 and "--resume" in trainings[0]
    history = json.loads(experiments.result_path("test", "tiny", 2).read_text())["history"]
    assert [r["epoch"] for r in history["epochs"]] == [1, 2]


def test_a_sweep_run_never_reads_the_test_set_and_the_rule_picks_on_held_out(experiments):
    experiments.RECIPES["sweep-a"] = experiments.Recipe(epochs=1, batch_size=5, networks=("tiny",),
                                                        seeds=(7,), test=False)
    assert "--no-test" in experiments.RECIPES["sweep-a"].args()
    assert experiments.main(["run", "--recipe", "sweep-a"]) == 0
    record = json.loads(experiments.result_path("sweep-a", "tiny", 7).read_text())
    assert record["run"]["test"] is False and record["history"]["test"] is None
    rows = experiments.sweep_rows({"sweep-a": experiments.RECIPES["sweep-a"]})
    assert rows[0]["done"] == 1 and 0 <= rows[0]["val_acc"] <= 1

    def row(name, acc, auc, done=2):
        return {"recipe": name, "done": done, "runs": 2, "val_acc": acc, "val_auc": auc}

    # the higher held-out accuracy wins; within one image of 80 the higher AUC does
    assert experiments.sweep_winner([row("a", 0.90, 0.99), row("b", 0.95, 0.90)]) == "b"
    assert experiments.sweep_winner([row("a", 0.94, 0.99), row("b", 0.95, 0.90)]) == "a"
    # an unfinished setting is not chosen
    assert experiments.sweep_winner([row("a", 0.99, 0.99, done=1), row("b", 0.90, 0.90)]) == "b"
    assert experiments.sweep_winner([row("a", 0.99, 0.99, done=0)]) is None


def test_stage_two_is_the_stage_one_winner_with_augmentation(experiments, monkeypatch):
    stage1 = {"sweep-x": experiments.Recipe(epochs=1, batch_size=5, networks=("tiny",), seeds=(7,),
                                            test=False)}
    monkeypatch.setattr(experiments, "STAGE1", stage1)
    experiments.RECIPES.update(stage1)
    assert experiments.add_stage2() is None              # stage 1 has not run
    assert experiments.main(["run", "--recipe", "sweep-x"]) == 0
    assert experiments.add_stage2() == "sweep-x-augment"
    recipe = experiments.RECIPES["sweep-x-augment"]
    assert recipe.augment and not recipe.test and recipe.epochs == 1 and "--augment" in recipe.args()


def test_the_shared_recipe_is_the_whole_sweeps_winner(experiments, monkeypatch):
    stage1 = {"sweep-x": experiments.Recipe(epochs=1, batch_size=5, networks=("tiny",), seeds=(7,),
                                            test=False, lr=0.01)}
    monkeypatch.setattr(experiments, "STAGE1", stage1)
    monkeypatch.setattr(experiments, "SHARED_ORDER", ("tiny", "tiny8"))
    experiments.RECIPES.update(stage1)
    assert experiments.main(["run", "--recipe", "sweep-x"]) == 0
    assert experiments.add_shared() is None and "shared" not in experiments.RECIPES   # stage 2 to run
    assert experiments.main(["run", "--recipe", "sweep-x-augment"]) == 0
    winner = experiments.add_shared()
    assert winner in ("sweep-x", "sweep-x-augment")
    shared = experiments.RECIPES["shared"]
    assert shared.test and shared.networks == ("tiny", "tiny8") and shared.seeds == (1, 2, 3)
    assert (shared.lr, shared.augment) == (0.01, winner.endswith("-augment"))


def test_the_load_during_a_run_is_summarised(experiments):
    summary = experiments._load_summary([2.1, 3.9, 2.0, 2.2])
    assert (summary["samples"], summary["median"], summary["max"]) == (4, 2.2, 3.9)
    assert experiments._load_summary([]) == {"samples": 0, "cores": os.cpu_count()}


def test_an_ablation_pairs_the_twin_with_its_network_under_the_shared_recipe(experiments, monkeypatch):
    """The twin runs with the shared recipe (plus its changes) and the same
    seeds; ``ablations`` compares it with the network's shared runs, paired."""
    experiments.NETWORKS["tiny-wide"] = experiments.Network("palm_utils.cli.demo:TinyNet", {"width": 8}, 0, 0.1)
    monkeypatch.setattr(experiments, "ABLATIONS", (
        experiments.Ablation(1, "width", "tiny", "tiny-wide", experiments.NETWORKS["tiny-wide"]),
        experiments.Ablation(1, "smoothing", "tiny", "tiny-smooth", experiments.NETWORKS["tiny"],
                             {"label_smoothing": 0.1}, twin_has_idea=True),
    ))
    experiments.NETWORKS["tiny-smooth"] = experiments.NETWORKS["tiny"]
    assert not experiments.add_ablation()                 # no shared recipe yet
    experiments.RECIPES["shared"] = experiments.Recipe(epochs=1, batch_size=5, networks=("tiny",), seeds=(1, 2))
    assert experiments.add_ablation()
    ablation = experiments.RECIPES["ablation"]
    assert ablation.networks == ("tiny-wide", "tiny-smooth") and ablation.seeds == (1, 2)
    assert ablation.for_network("tiny-smooth").label_smoothing == 0.1
    assert ablation.for_network("tiny-wide").args() == experiments.RECIPES["shared"].args()
    assert experiments.ablation_rows() == []               # nothing has run
    assert experiments.main(["run", "--recipe", "shared", "--seeds", "1"]) == 0
    assert experiments.main(["run", "--recipe", "ablation", "--networks", "tiny-wide", "--seeds", "1", "2"]) == 0
    rows = experiments.ablation_rows()
    assert [(r["idea"], r["seeds"]) for r in rows] == [("width", [1])]   # seeds both arms have
    result = rows[0]["comparison"]
    assert (result.name_a, result.name_b, result.n) == ("tiny", "tiny-wide", 20)
    assert 0 <= result.acc_p <= 1 and result.acc_a.n == result.acc_b.n == 1
    # a twin that adds the idea is the "with" arm, A of the comparison
    assert experiments.main(["run", "--recipe", "ablation", "--networks", "tiny-smooth", "--seeds", "1"]) == 0
    smooth = [r for r in experiments.ablation_rows() if r["idea"] == "smoothing"][0]
    assert (smooth["with"], smooth["without"]) == ("tiny-smooth", "tiny")
    assert smooth["comparison"].name_a == "tiny-smooth"


def test_every_ablation_twin_is_a_network_its_class_accepts():
    import importlib
    import inspect

    module = real_experiments()
    for a in module.ABLATIONS:
        assert a.base in module.SHARED_ORDER and a.twin not in module.SHARED_ORDER
        assert set(a.changes) <= set(inspect.signature(module.Recipe).parameters)
        path, name = a.twin_network.spec.split(":")
        cls = getattr(importlib.import_module(path), name)
        inspect.signature(cls).bind(**a.twin_network.kwargs)   # raises TypeError if not accepted
        assert a.changes or a.twin_network != module.NETWORKS[a.base]   # the twin differs in something


def test_an_ablation_that_changes_the_recipe_adds_the_idea_to_its_twin():
    """The shared recipe has no augmentation and no label smoothing, so a
    twin whose recipe differs switches one of them on: the twin is the arm
    with the idea. The label-smoothing ablation once said otherwise, and the
    book's table put Inception v3 without smoothing in its "with" column."""
    module = real_experiments()
    assert module.add_shared()
    shared = module.RECIPES["shared"]
    changed = [a for a in module.ABLATIONS if a.changes]
    assert {a.idea for a in changed} == {"augmentation", "label smoothing"}
    for a in changed:
        assert all(not getattr(shared, key) and value for key, value in a.changes.items()), a.twin
        assert a.twin_has_idea and a.arms[0] == (a.twin, "ablation"), a.twin


def test_every_ablation_twin_can_be_measured_as_the_runner_does_before_training():
    """``train_pm`` records each network's parameters and FLOPs (``paddle.flops``,
    which hooks every layer's output) before its first step; a twin whose
    layer returns a plain number (the plain ResNet's shortcut once returned
    0.0) broke that, and the runner's ``resnet50-plain`` run stopped there."""
    from palm_utils import count_flops, count_params
    from palm_utils.netspec import load_network

    module = real_experiments()
    measured = {}
    for a in module.ABLATIONS:
        net = a.twin_network
        key = (net.spec, tuple(sorted(net.kwargs.items())))
        if key in measured:
            continue
        model = load_network(net.spec, **net.kwargs)   # as the runner's `train --net` builds it
        measured[key] = (count_params(model), count_flops(model, (1, 3, 224, 224)))
        assert measured[key][0] > 0 and measured[key][1] > 0, a.twin
    plain = next(v for k, v in measured.items() if dict(k[1]).get("residual") is False)
    from palm_utils.models import ResNet

    resnet = ResNet(50)
    assert plain[0] < count_params(resnet) and plain[1] < count_flops(resnet, (1, 3, 224, 224))
