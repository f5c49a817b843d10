import json
import math

import numpy as np
import pytest

from palm_utils import evaluation, load_history, quick, train_pm
from palm_utils.checkpoint import load_state
from palm_utils.cli.demo import TinyNet
from palm_utils.layout import CSV_NAME, TRAIN_DIR, VALID_DIR
from palm_utils.loaders import data_loader, valid_data_loader
from palm_utils.runtime import paddle, set_seed
from palm_utils.training import TrainingDiverged


def _loaders(root):
    """Train on the training images minus the held-out ones, choose on those,
    test on the validation folder (the series' test set)."""
    return (data_loader(root / TRAIN_DIR, batch_size=5, seed=0, part="fit"),
            data_loader(root / TRAIN_DIR, batch_size=10, mode="valid", part="holdout"),
            valid_data_loader(root / VALID_DIR, root / CSV_NAME, batch_size=10))


class _Counted:
    """A reader that counts how often it is read (one call = one pass)."""

    def __init__(self, reader):
        self.reader, self.calls = reader, 0
        self.num_batches = getattr(reader, "num_batches", None)

    def __call__(self):
        self.calls += 1
        return self.reader()


def _fresh(seed=0, lr=3e-3):
    set_seed(seed)
    model = TinyNet(width=8)
    return model, paddle.optimizer.Adam(learning_rate=lr, parameters=model.parameters())


@pytest.fixture(scope="module")
def trained(mini_palm, tmp_path_factory):
    save_dir = tmp_path_factory.mktemp("ck")
    with pytest.MonkeyPatch.context() as mp:  # module scope: runs before clean_env
        mp.setattr(quick, "LIMITS", None)
        model, opt = _fresh()
        train, valid, test = _loaders(mini_palm)
        test = _Counted(test)
        history = train_pm(model, opt, train, valid, epochs=4, save_dir=save_dir, progress=False,
                           test_loader=test)
    assert test.calls == 1   # the test set is read once, after the last epoch
    return model, history, save_dir


def test_loss_goes_down_and_history_is_complete(trained):
    _, history, _ = trained
    assert [h["epoch"] for h in history] == [1, 2, 3, 4]
    assert history[-1]["train_loss"] < history[0]["train_loss"]
    for h in history:
        assert set(h) == {"epoch", "train_loss", "val_loss", "val_acc", "val_auc", "seconds",
                          "val_seconds", "val_acc_ci", "val_auc_ci"}
        assert all(math.isfinite(v) for k, v in h.items() if not k.endswith("_ci"))
        lo, hi = h["val_acc_ci"]
        assert lo <= h["val_acc"] <= hi


def test_the_epoch_is_chosen_on_held_out_images_and_tested_once(trained, mini_palm):
    _, history, save_dir = trained
    saved = load_history(save_dir)
    test = saved["test"]
    assert test == json.loads(json.dumps(history.test))
    # the rule: best held-out accuracy, ties broken by the lower held-out loss
    chosen = max(history, key=lambda r: (r["val_acc"], -r["val_loss"]))
    assert test["epoch"] == chosen["epoch"]
    assert "held-out training images" in saved["meta"]["selection"]
    assert len(test["predictions"]["labels"]) == test["n"] == 20  # every test image
    predicted = (np.array(test["predictions"]["probs"]) > 0.5) == np.array(test["predictions"]["labels"])
    assert predicted.mean() == pytest.approx(test["accuracy"])
    assert test["accuracy_ci"][0] <= test["accuracy"] <= test["accuracy_ci"][1]
    # the per-epoch rows are the held-out images' (4 of the 20 training images)
    assert all(round(r["val_acc"] * 4) == pytest.approx(r["val_acc"] * 4) for r in history)


def test_select_last_reports_the_last_epoch(mini_palm, tmp_path):
    model, opt = _fresh()
    train, valid, test = _loaders(mini_palm)
    history = train_pm(model, opt, train, valid, epochs=2, save_dir=tmp_path, progress=False,
                       test_loader=test, select="last")
    assert history.test["epoch"] == 2 and "last of 2 epochs" in history.meta["selection"]


def test_training_on_the_held_out_images_is_refused(mini_palm, tmp_path):
    model, opt = _fresh()
    _, valid, test = _loaders(mini_palm)
    everything = data_loader(mini_palm / TRAIN_DIR, batch_size=5, part="all")
    with pytest.raises(ValueError, match="part='fit'"):
        train_pm(model, opt, everything, valid, epochs=1, save_dir=tmp_path, test_loader=test)
    assert not (tmp_path / "history.json").exists()


def test_choosing_on_the_test_set_is_labelled(mini_palm, tmp_path, capsys):
    model, opt = _fresh()
    train, _, test = _loaders(mini_palm)
    history = train_pm(model, opt, train, test, epochs=1, save_dir=tmp_path, progress=False)
    assert "biases its numbers upward" in capsys.readouterr().out
    assert "test set itself" in history.meta["selection"] and history.test is None


def test_checkpoints_and_history_written(trained):
    model, history, save_dir = trained
    for name in ("palm.pdparams", "palm.pdopt", "palm_best.pdparams", "history.json"):
        assert (save_dir / name).is_file(), name
    saved = load_history(save_dir)
    assert saved["epochs"] == json.loads(json.dumps(history))
    assert saved["meta"]["model"] == "TinyNet" and saved["meta"]["device"] == "cpu"
    assert not list(save_dir.glob("*.tmp"))  # no leftovers from atomic writes


def test_checkpoint_reloads_into_fresh_model(trained, mini_palm):
    model, history, save_dir = trained
    _, valid, test = _loaders(mini_palm)
    fresh, _ = _fresh(seed=99)
    result = evaluation(fresh, save_dir / "palm.pdparams", loader=valid, verbose=False)
    assert result["accuracy"] == pytest.approx(history[-1]["val_acc"])
    assert result["loss"] == pytest.approx(history[-1]["val_loss"], rel=1e-5)
    chosen = next(r for r in history if r["epoch"] == history.test["epoch"])
    assert evaluation(fresh, save_dir / "palm_best.pdparams", valid, verbose=False)["accuracy"] == \
        pytest.approx(chosen["val_acc"])
    again = evaluation(fresh, save_dir / "palm_best.pdparams", test, verbose=False)
    assert again["accuracy"] == pytest.approx(history.test["accuracy"])
    assert again["auc"] == pytest.approx(history.test["auc"])


def test_resume_matches_an_uninterrupted_run(mini_palm, tmp_path):
    """1 epoch + resume for 1 more == 2 epochs straight: the weights *and* the
    optimizer state (Adam moments) come back, into a freshly built network."""
    straight, opt = _fresh()
    train, valid, test = _loaders(mini_palm)
    train_pm(straight, opt, train, valid, epochs=2, save_dir=tmp_path / "a", progress=False,
             test_loader=test, select="last")

    model, opt = _fresh()
    train, valid, test = _loaders(mini_palm)
    train_pm(model, opt, train, valid, epochs=1, save_dir=tmp_path / "b", progress=False,
             test_loader=test, select="last")
    rebuilt, opt2 = _fresh(seed=5)  # new parameter names, other initial weights
    history = train_pm(rebuilt, opt2, train, valid, epochs=2, save_dir=tmp_path / "b",
                       resume=True, progress=False, test_loader=test, select="last")
    assert [h["epoch"] for h in history] == [1, 2]
    assert len(load_history(tmp_path / "b")["epochs"]) == 2
    assert history.test["epoch"] == 2 == load_history(tmp_path / "b")["test"]["epoch"]
    for (name, a), b in zip(straight.state_dict().items(), rebuilt.state_dict().values()):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-4, atol=1e-6, err_msg=name)
    # a finished run resumed again trains nothing and reads the test set no more
    counted = _Counted(test)
    again = train_pm(rebuilt, opt2, train, valid, epochs=2, save_dir=tmp_path / "b",
                     resume=True, progress=False, test_loader=counted, select="last")
    assert counted.calls == 0 and again.test == history.test


class _NanNet(paddle.nn.Layer):
    def __init__(self):
        super().__init__()
        self.fc = paddle.nn.Linear(3, 1)

    def forward(self, x):
        return self.fc(x.mean(axis=[2, 3])) * float("nan")


def test_nan_loss_stops_with_clear_message(mini_palm, tmp_path):
    model = _NanNet()
    opt = paddle.optimizer.SGD(learning_rate=0.1, parameters=model.parameters())
    train, valid, _ = _loaders(mini_palm)
    with pytest.raises(TrainingDiverged, match=r"Loss is nan at epoch 1/2, batch 1.*learning rate"):
        train_pm(model, opt, train, valid, epochs=2, save_dir=tmp_path, progress=False)
    assert not (tmp_path / "palm.pdparams").exists()


class _AuxNet(TinyNet):
    """TinyNet with a second head, returned only in training mode."""

    def __init__(self):
        super().__init__(width=8)
        self.aux = paddle.nn.Linear(32, 1)

    def forward(self, x):
        feats = paddle.flatten(self.pool(self.features(x)), 1)
        main = self.fc(feats)
        return (main, self.aux(feats)) if self.training else main


def test_auxiliary_heads_and_amp_request_on_cpu(mini_palm, tmp_path, capsys):
    set_seed(0)
    model = _AuxNet()
    opt = paddle.optimizer.Adam(learning_rate=1e-3, parameters=model.parameters())
    train, valid, _ = _loaders(mini_palm)
    history = train_pm(model, opt, train, valid, epochs=1, save_dir=tmp_path, amp=True,
                       progress=False)
    assert "Mixed precision needs a GPU" in capsys.readouterr().out
    assert math.isfinite(history[0]["train_loss"])


def test_paddle_dataloader_works_too(mini_palm, tmp_path):
    from palm_utils.loaders import PalmDataset

    model, opt = _fresh()
    train = paddle.io.DataLoader(PalmDataset.train(mini_palm / TRAIN_DIR, part="fit"), batch_size=5,
                                 shuffle=True)
    holdout = paddle.io.DataLoader(PalmDataset.train(mini_palm / TRAIN_DIR, part="holdout"),
                                   batch_size=10)
    test = paddle.io.DataLoader(PalmDataset.valid(mini_palm / VALID_DIR, mini_palm / CSV_NAME),
                                batch_size=10)
    history = train_pm(model, opt, train, holdout, epochs=1, save_dir=tmp_path, progress=False,
                       test_loader=test)
    assert history[0]["epoch"] == 1 and history.test["n"] == 20
    everything = paddle.io.DataLoader(PalmDataset.train(mini_palm / TRAIN_DIR), batch_size=5)
    with pytest.raises(ValueError, match="part='fit'"):   # the paddle.io form is checked too
        train_pm(model, opt, everything, holdout, epochs=1, save_dir=tmp_path / "x")


def test_train_classifier_on_digits(tmp_path, capsys):
    from palm_utils.datasets.mnist import load_mnist
    from palm_utils.training import train_classifier

    train, test = load_mnist("train", verbose=False), load_mnist("test", verbose=False)
    set_seed(0)
    model = paddle.nn.Sequential(paddle.nn.Flatten(), paddle.nn.Linear(784, 10))
    opt = paddle.optimizer.Adam(learning_rate=1e-3, parameters=model.parameters())
    train_loader = paddle.io.DataLoader(train, batch_size=50, shuffle=True)
    test_loader = paddle.io.DataLoader(test, batch_size=500)
    history = train_classifier(model, opt, train_loader, test_loader, epochs=2,
                               save_dir=tmp_path, progress=False)
    assert history[-1]["val_acc"] > 0.8  # a linear model on real digits
    assert history[1]["train_loss"] < history[0]["train_loss"]
    assert load_history(tmp_path)["meta"]["flops"] == 7840
    assert (tmp_path / "model.pdparams").is_file()
    assert "test acc" in capsys.readouterr().out


def test_train_classifier_resumes_like_train_pm(tmp_path):
    """train_classifier shares train_pm's loop and options: resume works."""
    from palm_utils.datasets.mnist import load_mnist
    from palm_utils.training import train_classifier

    train, test = load_mnist("train", verbose=False), load_mnist("test", verbose=False)
    loaders = (paddle.io.DataLoader(train, batch_size=100), paddle.io.DataLoader(test, batch_size=500))

    def fresh():
        set_seed(0)
        model = paddle.nn.Sequential(paddle.nn.Flatten(), paddle.nn.Linear(784, 10))
        return model, paddle.optimizer.Adam(learning_rate=1e-3, parameters=model.parameters())

    model, opt = fresh()
    train_classifier(model, opt, *loaders, epochs=1, save_dir=tmp_path, progress=False)
    model, opt = fresh()
    history = train_classifier(model, opt, *loaders, epochs=2, save_dir=tmp_path, resume=True,
                               progress=False)
    assert [h["epoch"] for h in history] == [1, 2]
    assert (tmp_path / "model.pdopt").is_file() and (tmp_path / "model_best.pdparams").is_file()


def test_quick_mode_is_announced_by_train_pm(mini_palm, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(quick, "LIMITS", quick.Limits())
    set_seed(0)
    model = TinyNet(width=4)
    opt = paddle.optimizer.Adam(learning_rate=1e-3, parameters=model.parameters())
    train = data_loader(mini_palm / TRAIN_DIR, batch_size=4)
    valid = valid_data_loader(mini_palm / VALID_DIR, mini_palm / CSV_NAME, batch_size=4)
    history = train_pm(model, opt, train, valid, epochs=5, save_dir=tmp_path, progress=False)
    assert len(history) == 1
    n = quick.LIMITS.train_batches  # training images are capped at n batches of 4
    per_epoch = "1 batch" if n == 1 else f"{n} batches"
    assert f"quick mode: 1 of 5 epochs, {per_epoch} per epoch" in capsys.readouterr().out


def test_label_smoothing_trains_against_softened_targets(mini_palm, tmp_path):
    from palm_utils.training import _bce_loss

    logits = paddle.to_tensor([[20.0], [-20.0]])
    labels = paddle.to_tensor([[1.0], [0.0]])
    assert _bce_loss(0.3)(logits, labels).item() < 1e-6        # confident and right: no loss
    smoothed = _bce_loss(0.3, label_smoothing=0.1)(logits, labels).item()
    assert smoothed == pytest.approx(0.05 * 20, rel=0.01)      # the 5 % of the other class costs
    model, opt = _fresh()
    train, valid, _ = _loaders(mini_palm)
    train_pm(model, opt, train, valid, epochs=1, save_dir=tmp_path, progress=False,
             label_smoothing=0.1)
    assert load_history(tmp_path)["meta"]["label_smoothing"] == 0.1
