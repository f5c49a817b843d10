"""Bad input to ``python -m palm_utils``: one line on stderr, ``error: ...``,
naming the argument or file, a non-zero exit status, no traceback, and no
output left behind.

Each row of CASES is one bad input: an id, the command line (``{name}``
fields are filled in from ``paths`` below), a piece of the error line, and
the paths that must not exist afterwards. Adding an argument means adding
rows. The rows run in-process through ``palm_utils.cli.main`` (the parser's
own errors raise SystemExit(2), the others return 1); two cases run as real
processes to check the exit status and that stderr is exactly one line.
Nothing here trains except ``test_valid_runs_still_work`` (one epoch on a
mini dataset): a row that could train fails before training starts.
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from palm_utils.cli import main

REPO = Path(__file__).resolve().parent.parent
TINY = "palm_utils.cli.demo:TinyNet"   # width=16 by default
NB = "{repo}/notebooks/05_resnet.ipynb"


def case(id, argv, expect, absent=()):
    return pytest.param(argv.split() if isinstance(argv, str) else argv, expect, absent, id=id)


CASES = [
    # -- the command itself
    case("no-command", [], "command"),
    case("unknown-command", "fly", "invalid choice"),

    # -- info
    case("info-data-missing", "info --data {tmp}/nope", "--data"),
    case("info-data-is-file", "info --data {file}", "--data"),
    case("info-data-not-a-dataset", "info --data {empty}", "not a PALM dataset root"),

    # -- demo
    case("demo-epochs-zero", "demo --epochs 0", "--epochs"),
    case("demo-epochs-negative", "demo --epochs -1", "--epochs"),
    case("demo-epochs-text", "demo --epochs abc", "--epochs"),
    case("demo-data-missing", "demo --data {tmp}/nope", "--data"),
    case("demo-save-dir-under-file", "demo --save-dir {file}/demo", "--save-dir"),
    case("demo-save-dir-is-file", "demo --save-dir {file}", "--save-dir"),
    case("demo-data-not-a-dataset", "demo --data {empty} --save-dir {tmp}/demo",
         "not a PALM dataset root", ["{tmp}/demo"]),

    # -- prepare
    case("prepare-src-missing", "prepare --src {tmp}/nope --dest {tmp}/PALM", "--src", ["{tmp}/PALM"]),
    case("prepare-src-is-file", "prepare --src {file} --dest {tmp}/PALM", "--src", ["{tmp}/PALM"]),
    case("prepare-src-without-zips", "prepare --src {empty} --dest {tmp}/PALM", "Missing", ["{tmp}/PALM"]),
    case("prepare-default-src-without-zips", "prepare --dest {tmp}/PALM", "Missing", ["{tmp}/PALM"]),
    case("prepare-dest-under-file", "prepare --src {empty} --dest {file}/PALM", "--dest"),

    # -- synth
    case("synth-size-trailing-x", "synth --size 7x --dest {tmp}/s", "--size", ["{tmp}/s"]),
    case("synth-size-too-small", "synth --size 16 --dest {tmp}/s", "--size", ["{tmp}/s"]),
    case("synth-size-zero", "synth --size 0x224 --dest {tmp}/s", "--size", ["{tmp}/s"]),
    case("synth-size-text", "synth --size big --dest {tmp}/s", "--size", ["{tmp}/s"]),
    case("synth-size-three-sides", "synth --size 64x64x3 --dest {tmp}/s", "--size", ["{tmp}/s"]),
    case("synth-seed-negative", "synth --seed -1 --dest {tmp}/s", "--seed", ["{tmp}/s"]),
    case("synth-seed-too-large", "synth --seed 4294967296 --dest {tmp}/s", "--seed", ["{tmp}/s"]),
    case("synth-seed-text", "synth --seed x --dest {tmp}/s", "--seed", ["{tmp}/s"]),
    case("synth-dest-under-file", "synth --dest {file}/s", "--dest"),
    case("synth-dest-is-file", "synth --dest {file}", "--dest"),
    case("synth-dest-occupied", "synth --dest {occupied}", "not a generated stand-in"),

    # -- train: --net and --net-arg
    case("train-net-missing", "train --epochs 1", "--net"),
    case("train-net-empty", ["train", "--net", ""], "--net"),
    case("train-net-blank", ["train", "--net", "  "], "--net"),
    case("train-net-notebook-without-class", "train --net notebooks/05_resnet.ipynb",
         "notebooks/05_resnet.ipynb:ResNet"),
    case("train-net-file-without-class", "train --net {tmp}/net.py", ":ClassName"),
    case("train-net-module-without-class", "train --net palm_utils.cli.demo", ":ClassName"),
    case("train-net-malformed", ["train", "--net", "a b"], "not a network spec"),
    case("train-net-bad-class-name", "train --net x.py:1Net", "not a class name"),
    case("train-net-unknown-model", "train --net resnet999 --data {data}", "resnet999",
         ["{tmp}/checkpoints"]),
    case("train-net-missing-notebook", "train --net notebooks/99_none.ipynb:Net --data {data}",
         "not found", ["{tmp}/checkpoints"]),
    case("train-net-class-not-saved", f"train --net {NB}:Nope --data {{data}}", "saves no 'Nope'",
         ["{tmp}/checkpoints"]),
    case("train-net-missing-file", "train --net {tmp}/missing.py:Net --data {data}", "not found",
         ["{tmp}/checkpoints"]),
    case("train-net-missing-module", "train --net no_such_module:Net --data {data}", "cannot import",
         ["{tmp}/checkpoints"]),
    case("train-net-missing-class", "train --net palm_utils.cli.demo:Nope --data {data}", "has no 'Nope'",
         ["{tmp}/checkpoints"]),
    case("train-net-not-callable", "train --net {repo}/notebooks/03_vgg.ipynb:VGG16_ARCH --data {data}",
         "not a class or function", ["{tmp}/checkpoints"]),
    case("train-net-class-needs-arguments", f"train --net {NB}:ConvBN --data {{data}}",
         "missing a required argument", ["{tmp}/checkpoints"]),
    case("train-net-arg-without-equals", f"train --net {TINY} --net-arg x", "--net-arg"),
    case("train-net-arg-bad-key", f"train --net {TINY} --net-arg 1x=2", "--net-arg"),
    case("train-net-arg-unknown", f"train --net {TINY} --net-arg depth=3 --data {{data}} "
         "--save-dir {tmp}/ck",
         "TinyNet takes: width=16", ["{tmp}/ck"]),
    case("train-net-arg-rejected-value", f"train --net {TINY} --net-arg width=-3 --data {{data}} "
         "--save-dir {tmp}/ck", "TinyNet(width=-3)", ["{tmp}/ck"]),
    case("train-net-arg-vision-model", "train --net resnet18 --net-arg foo=1 --data {data} "
         "--save-dir {tmp}/ck",
         "resnet18(foo=1)", ["{tmp}/ck"]),

    # -- train: numbers
    case("train-epochs-zero", f"train --net {TINY} --epochs 0", "--epochs"),
    case("train-epochs-negative", f"train --net {TINY} --epochs -1", "--epochs"),
    case("train-epochs-text", f"train --net {TINY} --epochs abc", "--epochs"),
    case("train-epochs-fraction", f"train --net {TINY} --epochs 1.5", "--epochs"),
    case("train-batch-size-zero", f"train --net {TINY} --batch-size 0", "--batch-size"),
    case("train-batch-size-text", f"train --net {TINY} --batch-size ten", "--batch-size"),
    case("train-lr-negative", f"train --net {TINY} --lr -1", "--lr"),
    case("train-lr-zero", f"train --net {TINY} --lr 0", "--lr"),
    case("train-lr-text", f"train --net {TINY} --lr fast", "--lr"),
    case("train-lr-nan", f"train --net {TINY} --lr nan", "--lr"),
    case("train-momentum-negative", f"train --net {TINY} --momentum -0.1", "--momentum"),
    case("train-weight-decay-negative", f"train --net {TINY} --weight-decay -1", "--weight-decay"),
    case("train-weight-decay-inf", f"train --net {TINY} --weight-decay inf", "--weight-decay"),
    case("train-optimizer-unknown", f"train --net {TINY} --optimizer rmsprop", "--optimizer"),
    case("train-label-smoothing-one", f"train --net {TINY} --label-smoothing 1", "--label-smoothing"),
    case("train-label-smoothing-negative", f"train --net {TINY} --label-smoothing -0.1",
         "--label-smoothing"),
    case("train-select-unknown", f"train --net {TINY} --select first", "--select"),
    case("train-seed-negative", f"train --net {TINY} --seed -1", "--seed"),
    case("train-seed-text", f"train --net {TINY} --seed x", "--seed"),

    # -- train: paths
    case("train-save-dir-under-file", f"train --net {TINY} --save-dir {{file}}/ck", "--save-dir"),
    case("train-save-dir-is-file", f"train --net {TINY} --save-dir {{file}}", "--save-dir"),
    case("train-data-missing", f"train --net {TINY} --data {{tmp}}/nope", "--data", ["{tmp}/checkpoints"]),
    case("train-data-is-file", f"train --net {TINY} --data {{file}}", "--data", ["{tmp}/checkpoints"]),
    case("train-data-not-a-dataset", f"train --net {TINY} --data {{empty}} --save-dir {{tmp}}/ck",
         "not a PALM dataset root", ["{tmp}/ck"]),
    case("train-resume-nothing", f"train --net {TINY} --resume --data {{data}} --save-dir {{tmp}}/ck",
         "--resume: nothing to resume", ["{tmp}/ck"]),
    case("train-resume-default-dir", f"train --net {TINY} --resume --data {{data}}",
         "nothing to resume in checkpoints/tinynet", ["{tmp}/checkpoints"]),
    case("train-unknown-option", f"train --net {TINY} --fast", "unrecognized arguments: --fast"),

    # -- predict: which model
    case("predict-no-model", "predict {images}", "--model", ["{tmp}/classification_results.csv"]),
    case("predict-model-and-params", "predict --model {tmp}/m --params {tiny} {images}", "not allowed with"),
    case("predict-params-without-net", "predict --params {tiny} {images} --out {tmp}/o.csv", "--net",
         ["{tmp}/o.csv"]),
    case("predict-net-with-model", "predict --model {tmp}/m --net resnet18 {images} --out {tmp}/o.csv",
         "--params FILE with --net", ["{tmp}/o.csv"]),
    case("predict-model-missing", "predict --model {tmp}/none {images}", "no exported model",
         ["{tmp}/classification_results.csv"]),
    case("predict-params-missing", f"predict --net {TINY} --params {{tmp}}/none.pdparams {{images}} "
         "--out {tmp}/o.csv", "checkpoint not found", ["{tmp}/o.csv"]),
    case("predict-params-not-a-checkpoint", f"predict --net {TINY} --params {{file}} {{images}} "
         "--out {tmp}/o.csv", "cannot load this checkpoint", ["{tmp}/o.csv"]),
    case("predict-params-of-another-network", f"predict --net {TINY} --params {{other}} {{images}} "
         "--out {tmp}/o.csv", "parameters do not match TinyNet", ["{tmp}/o.csv"]),
    case("predict-params-other-width", f"predict --net {TINY} --net-arg width=8 --params {{tiny}} "
         "{images} --out {tmp}/o.csv", "--net-arg", ["{tmp}/o.csv"]),
    case("predict-net-empty", ["predict", "--net", "", "--params", "{tiny}", "{images}"], "--net"),
    case("predict-net-notebook-without-class", "predict --net notebooks/05_resnet.ipynb --params {tiny} "
         "{images}", ":ResNet"),
    case("predict-net-unknown-model", "predict --net resnet999 --params {tiny} {images} --out {tmp}/o.csv",
         "resnet999", ["{tmp}/o.csv"]),
    case("predict-net-arg-without-equals", f"predict --net {TINY} --net-arg x --params {{tiny}} {{images}}",
         "--net-arg"),
    case("predict-net-arg-unknown", f"predict --net {TINY} --net-arg depth=3 --params {{tiny}} {{images}} "
         "--out {tmp}/o.csv", "TinyNet takes: width=16", ["{tmp}/o.csv"]),

    # -- predict: inputs and output
    case("predict-input-missing", "predict --params {tiny} --net " + TINY + " {tmp}/missing.jpg "
         "--out {tmp}/o.csv", "missing.jpg: no such file", ["{tmp}/o.csv"]),
    case("predict-input-not-an-image", f"predict --net {TINY} --params {{tiny}} {{file}} --out {{tmp}}/o.csv",
         "file.txt", ["{tmp}/o.csv"]),
    case("predict-folder-without-images", f"predict --net {TINY} --params {{tiny}} {{empty}} "
         "--out {tmp}/o.csv", "no .jpg", ["{tmp}/o.csv"]),
    case("predict-out-under-file", f"predict --net {TINY} --params {{tiny}} {{images}} --out {{file}}/o.csv",
         "--out"),
    case("predict-out-is-folder", f"predict --net {TINY} --params {{tiny}} {{images}} --out {{empty}}",
         "--out"),
    case("predict-batch-size-zero", f"predict --net {TINY} --params {{tiny}} {{images}} --batch-size 0 "
         "--out {tmp}/o.csv", "--batch-size", ["{tmp}/o.csv"]),
    case("predict-batch-size-text", f"predict --net {TINY} --params {{tiny}} {{images}} --batch-size x "
         "--out {tmp}/o.csv", "--batch-size", ["{tmp}/o.csv"]),
]


@pytest.fixture(scope="module")
def inputs(tmp_path_factory, mini_palm):
    """Read-only inputs the rows name: a regular file, an empty folder, a
    folder with two images, a folder that is not a stand-in, a TinyNet
    checkpoint and one of another network."""
    from palm_utils.checkpoint import save_state
    from palm_utils.cli.demo import TinyNet
    from palm_utils.runtime import paddle

    root = tmp_path_factory.mktemp("inputs")
    (root / "file.txt").write_text("not an image, not a folder, not a checkpoint\n")
    (root / "empty").mkdir()
    (root / "images").mkdir()
    for i in range(2):
        assert cv2.imwrite(str(root / "images" / f"P{i:04d}.jpg"), np.full((64, 64, 3), 60 * i, np.uint8))
    (root / "occupied").mkdir()
    (root / "occupied" / "notes.txt").write_text("mine")
    save_state(TinyNet().state_dict(), root / "tiny.pdparams")
    save_state(paddle.nn.Linear(3, 1).state_dict(), root / "other.pdparams")
    return {"file": root / "file.txt", "empty": root / "empty", "images": root / "images",
            "occupied": root / "occupied", "tiny": root / "tiny.pdparams",
            "other": root / "other.pdparams", "data": mini_palm, "repo": REPO}


@pytest.fixture
def paths(inputs, tmp_path, monkeypatch):
    """The ``{name}`` fields of the rows; ``{tmp}`` is this test's own folder,
    also the working directory (where default outputs would go)."""
    monkeypatch.chdir(tmp_path)
    return {**{k: str(v) for k, v in inputs.items()}, "tmp": str(tmp_path)}


def run_main(argv) -> int:
    try:
        return main(argv)
    except SystemExit as exc:  # the parser's own errors
        return exc.code


def one_error_line(err: str) -> str:
    lines = err.splitlines()
    assert len(lines) == 1, f"expected one line on stderr, got:\n{err}"
    assert lines[0].startswith("error: "), lines[0]
    return lines[0]


@pytest.mark.parametrize("argv, expect, absent", CASES)
def test_bad_input_gives_one_error_line(argv, expect, absent, paths, capsys):
    argv = [a.format(**paths) for a in argv]
    status = run_main(argv)
    err = capsys.readouterr().err
    assert "Traceback" not in err
    line = one_error_line(err)
    assert status in (1, 2), status
    assert expect.format(**paths) in line
    for path in absent:
        assert not Path(path.format(**paths)).exists(), f"{path} was left behind"


def test_every_documented_argument_has_a_row():
    """Every option of every subcommand appears in a row of that subcommand:
    a new option needs its rows."""
    import argparse

    from palm_utils.cli import build_parser

    used = {}
    for param in CASES:
        argv = param.values[0]
        if argv:
            used.setdefault(argv[0], set()).update(argv)
    flags = {"--help", "--force", "--augment", "--amp", "--no-progress", "--no-test"}  # no value to get wrong
    commands = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction)).choices
    missing = [f"{name} {action.option_strings[-1]}" for name, sub in commands.items()
               for action in sub._actions
               if action.option_strings and action.option_strings[-1] not in flags | used.get(name, set())]
    assert not missing, f"no row for: {', '.join(missing)}"


def _subprocess(args, cwd):
    path = os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH")) if p)
    env = {**os.environ, "PYTHONPATH": path}
    # configure_cpu() in this process exported OMP_NUM_THREADS, and Paddle
    # prints a warning at import when it is above 1: a fresh shell has none
    env.pop("OMP_NUM_THREADS", None)
    return subprocess.run([sys.executable, "-m", "palm_utils", *args], cwd=cwd, capture_output=True,
                          text=True, timeout=120, env=env)


@pytest.mark.parametrize("args, status, expect", [
    pytest.param(["train", "--net", TINY, "--epochs", "0"], 2, "argument --epochs: must be at least 1",
                 id="parser-error"),
    pytest.param(["predict", "--net", TINY, "--net-arg", "depth=3", "--params", "{tiny}", "{images}",
                  "--out", "{tmp}/o.csv"], 1, "TinyNet(depth=3): got an unexpected keyword argument",
                 id="runtime-error"),
])
def test_real_process_exit_status_and_one_line(args, status, expect, paths, tmp_path):
    proc = _subprocess([a.format(**paths) for a in args], tmp_path)
    assert proc.returncode == status, proc.stderr
    assert expect in one_error_line(proc.stderr)
    assert not (tmp_path / "o.csv").exists()


def test_valid_runs_still_work(paths, tmp_path, capsys):
    """One epoch of TinyNet on the mini dataset, predict with its checkpoint;
    then a resume with another width fails before it rewrites anything."""
    save = tmp_path / "ck"
    assert run_main(["train", "--net", TINY, "--epochs", "1", "--data", paths["data"],
                     "--save-dir", str(save), "--no-progress"]) == 0, capsys.readouterr().err
    assert (save / "config.json").is_file() and (save / "palm.pdparams").is_file()
    out = tmp_path / "out" / "o.csv"
    assert run_main(["predict", "--net", TINY, "--params", str(save / "palm_best.pdparams"),
                     paths["images"], "--out", str(out)]) == 0, capsys.readouterr().err
    assert out.read_text().splitlines()[0] == "FileName,PM Risk,Label"
    capsys.readouterr()

    before = {name: (save / name).read_bytes() for name in ("config.json", "train.log", "history.json")}
    status = run_main(["train", "--net", TINY, "--net-arg", "width=8", "--epochs", "2", "--resume",
                       "--data", paths["data"], "--save-dir", str(save)])
    line = one_error_line(capsys.readouterr().err)
    assert status == 1 and "palm.pdparams: parameters do not match TinyNet" in line
    assert {name: (save / name).read_bytes() for name in before} == before


def test_an_unexpected_exception_keeps_its_traceback(monkeypatch, capsys):
    """Only the expected kinds (palm_utils.cli.args.EXPECTED) become one line:
    a bug is not hidden."""
    from palm_utils.cli import demo

    def broken(**kwargs):
        raise RuntimeError("a bug")

    monkeypatch.setattr(demo, "run_demo", broken)
    with pytest.raises(RuntimeError, match="a bug"):
        main(["demo"])
    assert "error:" not in capsys.readouterr().err
