"""predict(): PALM-style table of PM risk, bad images reported not fatal;
predict_main(): the command line, with --model and with --net/--params."""
from __future__ import annotations


import cv2
import numpy as np
import pandas as pd
import pytest

from palm_utils.checkpoint import save_state
from palm_utils.deploy.export import export_model, load_predictor
from palm_utils.deploy.predict import COLUMNS, predict, predict_main, sigmoid
from palm_utils.reader import read_image, transform_img
from palm_utils.runtime import paddle, set_seed
from tiny_net import Tiny  # also the network that --net names below

GOOD = ["N0001.jpg", "P0002.jpg", "H0003.png", "P0004.jpeg"]


@pytest.fixture
def model():
    set_seed(0)
    net = Tiny(scale=20)  # the scale spreads the risks out
    net.eval()
    return net


@pytest.fixture
def folder(tmp_path):
    rng = np.random.default_rng(0)
    images = tmp_path / "images"
    images.mkdir()
    for i, name in enumerate(GOOD):
        img = np.full((300, 280, 3), 40 + 50 * i, np.uint8)
        cv2.circle(img, (140, 150), 40 + 10 * i, (200, 30 * i, 90), -1)
        img = (img + rng.integers(0, 20, img.shape)).astype(np.uint8)
        assert cv2.imwrite(str(images / name), img)
    (images / "C0005.jpg").write_bytes(b"\xff\xd8 not really a jpeg \xff\xd9")  # corrupt
    (images / "notes.txt").write_text("not an image")  # ignored: not an image suffix
    (images / ".DS_Store").write_bytes(b"\0")  # ignored: OS litter
    return images


def _expected_logits(model, paths):
    batch = np.stack([transform_img(read_image(p)) for p in paths])
    with paddle.no_grad():
        return model(paddle.to_tensor(batch)).numpy().ravel()


def test_folder_rows_probabilities_and_bad_file(model, folder):
    frame = predict(model, [folder], batch_size=3)
    assert list(frame.columns) == COLUMNS == ["FileName", "PM Risk", "Label"]
    assert sorted(GOOD) == list(frame["FileName"])  # sorted, corrupt one left out
    expected = 1 / (1 + np.exp(-_expected_logits(model, [folder / n for n in sorted(GOOD)])))
    np.testing.assert_allclose(frame["PM Risk"], expected, rtol=1e-6, atol=1e-7)
    assert list(frame["Label"]) == [int(p > 0.5) for p in expected]
    assert set(frame["Label"]) == {0, 1}, "the test model should give both classes"
    errors = frame.attrs["errors"]
    assert list(errors) == [str(folder / "C0005.jpg")]
    assert "C0005.jpg" in errors[str(folder / "C0005.jpg")]


def test_files_in_given_order_and_missing_file(model, folder):
    paths = [folder / "P0004.jpeg", folder / "missing.jpg", str(folder / "N0001.jpg")]
    frame = predict(model, paths)
    assert list(frame["FileName"]) == ["P0004.jpeg", "N0001.jpg"]
    assert list(frame.attrs["errors"]) == [str(folder / "missing.jpg")]


def test_empty_folder_is_reported(model, tmp_path):
    frame = predict(model, [tmp_path])
    assert len(frame) == 0 and list(frame.columns) == COLUMNS
    assert "no .jpg" in frame.attrs["errors"][str(tmp_path)]


def test_predictor_gives_the_same_table(model, folder, tmp_path):
    export_model(model, tmp_path / "export" / "tiny")
    eager = predict(model, [folder])
    exported = predict(load_predictor(tmp_path / "export" / "tiny", device="cpu"), [folder])
    assert list(exported["FileName"]) == list(eager["FileName"])
    np.testing.assert_allclose(exported["PM Risk"], eager["PM Risk"], atol=1e-6)


def test_plain_function_and_multi_logit_error(folder):
    frame = predict(lambda batch: np.zeros((len(batch), 1), np.float32), [folder])
    assert (frame["PM Risk"] == 0.5).all() and (frame["Label"] == 0).all()
    with pytest.raises(ValueError, match="one logit"):
        predict(lambda batch: np.zeros((len(batch), 2), np.float32), [folder])


def test_sigmoid_is_stable():
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        np.testing.assert_allclose(sigmoid(np.array([-1000.0, 0.0, 1000.0])), [0.0, 0.5, 1.0])
    from palm_utils import deploy

    assert deploy.sigmoid is sigmoid  # what chapter 9 imports
    logits = np.array([[-2.0], [0.5]], dtype=np.float32)
    np.testing.assert_allclose(sigmoid(logits), 1 / (1 + np.exp(-logits.astype(np.float64))))
    assert sigmoid(logits).shape == (2, 1)


def test_cli_with_exported_model(model, folder, tmp_path, capsys):
    export_model(model, tmp_path / "export" / "tiny")
    out = tmp_path / "results" / "classification_results.csv"
    status = predict_main(["--model", str(tmp_path / "export" / "tiny"), str(folder), "--out", str(out)])
    captured = capsys.readouterr()
    assert status == 1  # one bad file
    assert "C0005.jpg" in captured.err and captured.err.startswith("error: ")
    table = pd.read_csv(out)
    assert list(table.columns) == COLUMNS and list(table["FileName"]) == sorted(GOOD)
    np.testing.assert_allclose(table["PM Risk"], predict(model, [folder])["PM Risk"], atol=1e-6)
    assert not list(out.parent.glob("*.tmp"))  # written atomically


def test_cli_model_runs_load_predictors_defaults(model, folder, tmp_path, monkeypatch):
    """predict --model takes load_predictor's default engine (on the CPU:
    oneDNN where the build has it), which gives eager Paddle's probabilities."""
    from palm_utils.deploy import export

    made = []
    real = export.load_predictor
    monkeypatch.setattr(export, "load_predictor", lambda *a, **kw: made.append(real(*a, **kw)) or made[-1])
    export_model(model, tmp_path / "tiny")
    good = [str(folder / n) for n in GOOD]
    assert predict_main(["--model", str(tmp_path / "tiny"), *good, "--out", str(tmp_path / "out.csv")]) == 0
    (predictor,) = made
    if predictor.settings["device"] == "cpu":
        defaults = dict(export.CPU_DEFAULTS, onednn=export.CPU_DEFAULTS["onednn"] and export.onednn_available())
        assert {k: predictor.settings[k] for k in defaults} == defaults
    risk = pd.read_csv(tmp_path / "out.csv")["PM Risk"]
    eager = predict(model, good)["PM Risk"]
    np.testing.assert_allclose(risk, eager, atol=1e-6)
    assert ((risk > 0.5) == (eager > 0.5)).all()


def test_cli_with_net_and_params(model, folder, tmp_path, capsys):
    """--net is a netspec spec (palm_utils.netspec): here this test module's class (``module:Class``),
    with --net-arg passed to its constructor."""
    save_state(model.state_dict(), tmp_path / "tiny.pdparams")
    out = tmp_path / "out.csv"
    good = [str(folder / n) for n in GOOD]
    status = predict_main(["--net", f"{__name__}:Tiny", "--net-arg", "scale=20",
                           "--params", str(tmp_path / "tiny.pdparams"), *good, "--out", str(out)])
    assert status == 0, capsys.readouterr().err
    np.testing.assert_allclose(pd.read_csv(out)["PM Risk"], predict(model, good)["PM Risk"], atol=1e-6)


def test_cli_argument_errors(tmp_path, capsys):
    assert predict_main(["--params", "x.pdparams", str(tmp_path)]) == 2
    assert "--net" in capsys.readouterr().err
    assert predict_main(["--model", str(tmp_path / "none"), str(tmp_path)]) == 1
    assert "no exported model" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        predict_main([str(tmp_path)])  # neither --model nor --params
