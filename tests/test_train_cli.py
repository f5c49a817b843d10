"""``python -m palm_utils train`` in subprocesses: one process in quick mode on
the generated stand-in, and two data-parallel CPU processes (gloo) started by
``paddle.distributed.launch``."""
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import copy_standin, make_mini_palm
from palm_utils import find_dataset
from palm_utils import netspec
from palm_utils.checkpoint import load_state
from palm_utils.distributed import fingerprint
from palm_utils.evaluation import evaluate_model, validation_row
from palm_utils.loaders import data_loader, valid_data_loader
from palm_utils.runtime import paddle
from palm_utils.cli.train import build_parser, build_optimizer
from test_netspec import write_network_file

TRAIN = ("-m", "palm_utils", "train")
REPO = Path(__file__).resolve().parent.parent
SHA = re.compile(r"rank (\d)/(\d): parameters sha256 ([0-9a-f]{64})")


def run(cmd, tmp_path, timeout, **env):
    t0 = time.perf_counter()
    # the checkout's palm_utils also where it is not installed (the AI Studio-like line)
    path = os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH")) if p)
    proc = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, "PYTHONPATH": path, **env})
    seconds = time.perf_counter() - t0
    print(f"{' '.join(cmd[:6])} ...: {seconds:.1f} s")
    assert proc.returncode == 0, f"exit {proc.returncode}\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return proc, seconds


def test_parser_defaults_and_optimizers():
    args = build_parser().parse_args(["--net", "resnet50"])
    assert (args.epochs, args.batch_size, args.lr, args.optimizer, args.momentum, args.weight_decay,
            args.seed, args.augment, args.amp, args.resume) == (5, 10, 0.001, "momentum", 0.9, 0.0,
                                                                 2024, False, False, False)
    args = build_parser().parse_args(["--net", "x.py:Net", "--net-arg", "width=8",
                                      "--net-arg", "name=abc", "--optimizer", "adam"])
    assert args.net_arg == [("width", 8), ("name", "abc")]
    params = paddle.nn.Linear(2, 1).parameters()
    assert type(build_optimizer("sgd", params, 0.1, weight_decay=1e-4)).__name__ == "SGD"
    assert type(build_optimizer("momentum", params, 0.1)).__name__ == "Momentum"
    with pytest.raises(SystemExit):
        build_parser().parse_args(["--net", "resnet50", "--optimizer", "rmsprop"])


def test_train_one_epoch_quick_on_the_standin(tmp_path, standin_palm):
    nb = write_network_file(tmp_path / "tiny.py")
    save = tmp_path / "ck"
    # the session's stand-in where PALM_HOME keeps it (generating it again takes most of a minute)
    home_standin = copy_standin(standin_palm, tmp_path / "home" / "PALM-standin")
    proc, seconds = run([sys.executable, *TRAIN, "--net", f"{nb}:TinyBN", "--net-arg", "width=4",
                         "--epochs", "3", "--optimizer", "adam", "--save-dir", str(save), "--no-test"],
                        tmp_path, timeout=300, PALM_QUICK="1", PALM_OFFLINE="1",
                        PALM_HOME=str(tmp_path / "home"))
    assert seconds < 120
    for name in ("config.json", "history.json", "train.log", "palm.pdparams", "palm.pdopt",
                 "palm_best.pdparams"):
        assert (save / name).is_file(), name
    assert not list(save.glob("*.tmp")) and not list(save.glob(".*"))

    config = json.loads((save / "config.json").read_text())
    assert config["args"]["net"] == f"{nb}:TinyBN" and config["args"]["epochs"] == 3
    assert config["args"]["optimizer"] == "adam" and config["network_kwargs"] == {"width": 4}
    assert config["args"]["no_test"] is True
    assert config["versions"]["paddle"] == paddle.__version__
    assert config["device"] == "cpu" and config["world_size"] == 1
    assert config["data"]["standin"] and config["quick"] and config["epochs_done"] == 1
    assert config["data"]["root"] == str(home_standin)   # the one under PALM_HOME, not the repo's

    history = json.loads((save / "history.json").read_text())
    assert [h["epoch"] for h in history["epochs"]] == [1]      # quick mode: one epoch
    assert history["meta"]["model"] == "TinyBN"
    assert history.get("test") is None          # --no-test: the test set was never read
    log = (save / "train.log").read_text()
    assert re.search(r"^epoch 1/1  train loss [\d.]+  val loss [\d.]+  acc [\d.]+", log, re.M)
    assert "Network: class TinyBN from file" in log and "\r" not in log
    assert log.splitlines()[-2:] == proc.stdout.splitlines()[-2:]


def _launch(tmp_path, log_dir, *args):
    return [sys.executable, "-m", "paddle.distributed.launch", "--nproc_per_node", "2",
            "--log_dir", str(log_dir), sys.executable, *TRAIN, *args]


def _fingerprints(log_dir: Path) -> dict:
    found = {}
    for i in (0, 1):
        text = (log_dir / f"workerlog.{i}").read_text(errors="replace")
        ranks = SHA.findall(text)
        assert ranks, f"workerlog.{i} has no checksum line:\n{text[-2000:]}"
        rank, world, sha = ranks[-1]
        assert (int(rank), int(world)) == (i, 2)
        found[i] = sha
    return found


@pytest.mark.skipif(not paddle.is_compiled_with_distribute(),
                    reason="this Paddle build has no distributed support (gloo)")
@pytest.mark.skipif(not sys.platform.startswith("linux"),
                    reason="paddle.distributed.launch with gloo on the CPU is tested on Linux only")
def test_two_processes_on_the_cpu_stay_identical_and_validate_everything(tmp_path):
    data = make_mini_palm(tmp_path / "palm", n_train=24, n_valid=21)   # 21: unequal shares
    nb = write_network_file(tmp_path / "tiny.py")                       # with BatchNorm
    save = tmp_path / "ck"
    common = ["--net", f"{nb}:TinyBN", "--data", str(data), "--batch-size", "4", "--lr", "0.01",
              "--save-dir", str(save), "--no-progress", "--augment"]
    env = dict(PALM_OFFLINE="1", PALM_HOME=str(tmp_path / "home"))

    _, first = run(_launch(tmp_path, tmp_path / "log1", *common, "--epochs", "2"), tmp_path, 240, **env)
    sha = _fingerprints(tmp_path / "log1")
    assert sha[0] == sha[1]                                  # both ranks hold the same network
    history = json.loads((save / "history.json").read_text())
    assert [h["epoch"] for h in history["epochs"]] == [1, 2]
    assert history["meta"]["world_size"] == 2

    # only rank 0 prints the epochs and writes
    assert "epoch 2/2  train loss" in (tmp_path / "log1" / "workerlog.0").read_text()
    assert "epoch 2/2  train loss" not in (tmp_path / "log1" / "workerlog.1").read_text()
    config = json.loads((save / "config.json").read_text())
    assert config["world_size"] == 2 and config["backend"] == "gloo"

    # resume: a third epoch, both ranks from the saved state
    _, second = run(_launch(tmp_path, tmp_path / "log2", *common, "--epochs", "3", "--resume"),
                    tmp_path, 240, **env)
    sha = _fingerprints(tmp_path / "log2")
    assert sha[0] == sha[1]
    history = json.loads((save / "history.json").read_text())["epochs"]
    assert [h["epoch"] for h in history] == [1, 2, 3]
    log = (save / "train.log").read_text()
    assert all(f"epoch {e}/" in log for e in (1, 2, 3)) and "Resuming after epoch 2" in log

    # both ranks end holding the chosen epoch's network (palm_best), and the
    # recorded test numbers are those of the whole test set (21 images), in
    # its order, gathered from both ranks
    model = netspec.load_network(f"{nb}:TinyBN")
    model.set_state_dict(load_state(save / "palm_best.pdparams"))
    assert fingerprint(model) == sha[0]
    info = find_dataset(data, verbose=False)
    test = json.loads((save / "history.json").read_text())["test"]
    result = evaluate_model(model, valid_data_loader(info.valid_dir, info.label_file, batch_size=5),
                            keep_predictions=True)
    assert result["n"] == test["n"] == 21
    assert test["predictions"]["labels"] == result["predictions"]["labels"]
    assert result["accuracy"] == pytest.approx(test["accuracy"])
    assert result["loss"] == pytest.approx(test["loss"], rel=1e-4)

    # the held-out rows: the same keys as a one-process train_pm records, and
    # the numbers of the whole held-out set
    holdout = data_loader(info.train_dir, batch_size=5, mode="valid", part="holdout")
    model.set_state_dict(load_state(save / "palm.pdparams"))
    single = validation_row(evaluate_model(model, holdout))
    assert set(history[-1]) == {"epoch", "train_loss", "seconds", "val_seconds", *single}
    assert single["val_acc"] == pytest.approx(history[-1]["val_acc"])
    assert single["val_loss"] == pytest.approx(history[-1]["val_loss"], rel=1e-4)
    assert first + second < 120, f"2-process runs took {first:.0f} s + {second:.0f} s"
