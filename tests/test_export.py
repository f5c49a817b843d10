"""Exported networks give the eager network's logits: through
paddle.inference (PREFIX.json on Paddle 3, PREFIX.pdmodel on 2.6) and, where
paddle2onnx and onnxruntime are installed, through ONNX."""
from __future__ import annotations

import numpy as np
import pytest

from palm_utils.deploy.export import (CPU_DEFAULTS, PROGRAM_SUFFIXES, Predictor, export_model, export_onnx,
                                      load_predictor, onednn_available, program_file)
from palm_utils.deploy.predict import sigmoid
from palm_utils.runtime import paddle, set_seed

nn = paddle.nn
F = paddle.nn.functional
SHAPE = (3, 64, 64)
TOLERANCE = 1e-5


class TinyCNN(nn.Layer):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2D(3, 8, 3, stride=2, padding=1)
        self.bn = nn.BatchNorm2D(8)
        self.fc = nn.Linear(8, 1)

    def forward(self, x):
        return self.fc(F.relu(self.bn(self.conv(x))).mean(axis=[2, 3]))


class ConvBN(nn.Layer):
    def __init__(self, cin, cout, k, stride=1, act=True):
        super().__init__()
        self.conv = nn.Conv2D(cin, cout, k, stride=stride, padding=(k - 1) // 2, bias_attr=False)
        self.bn = nn.BatchNorm2D(cout)
        self.act = act

    def forward(self, x):
        y = self.bn(self.conv(x))
        return F.relu(y) if self.act else y


class Bottleneck(nn.Layer):
    def __init__(self, cin, c, stride=1):
        super().__init__()
        self.conv1, self.conv2 = ConvBN(cin, c, 1), ConvBN(c, c, 3, stride)
        self.conv3 = ConvBN(c, 4 * c, 1, act=False)
        self.shortcut = ConvBN(cin, 4 * c, 1, stride, act=False) if stride != 1 or cin != 4 * c else None

    def forward(self, x):
        identity = x if self.shortcut is None else self.shortcut(x)
        return F.relu(self.conv3(self.conv2(self.conv1(x))) + identity)


class MiniResNet(nn.Layer):
    """Chapter 5's ResNet in miniature (stem, max pool, bottlenecks, global
    average pool, one logit), with a GoogLeNet-style auxiliary head returned
    as a tuple in training mode: the export must keep only the main logit."""

    def __init__(self):
        super().__init__()
        self.stem = ConvBN(3, 8, 7, stride=2)
        self.maxpool = nn.MaxPool2D(3, stride=2, padding=1)
        self.layer1 = nn.Sequential(Bottleneck(8, 4), Bottleneck(16, 4))
        self.layer2 = nn.Sequential(Bottleneck(16, 8, stride=2))
        self.avgpool = nn.AdaptiveAvgPool2D(1)
        self.fc = nn.Linear(32, 1)
        self.aux = nn.Linear(16, 1)

    def forward(self, x):
        x = self.layer1(self.maxpool(self.stem(x)))
        logit = self.fc(paddle.flatten(self.avgpool(self.layer2(x)), 1))
        if self.training:
            return logit, self.aux(paddle.flatten(self.avgpool(x), 1))
        return logit


def _trained_a_little(model):
    """A few steps so BatchNorm's running statistics are not the defaults."""
    opt = paddle.optimizer.SGD(learning_rate=1e-3, parameters=model.parameters())
    rng = np.random.default_rng(0)
    model.train()
    for _ in range(3):
        out = model(paddle.to_tensor(rng.uniform(-1, 1, (4, *SHAPE)).astype("float32")))
        out = out[0] if isinstance(out, tuple) else out
        (out ** 2).mean().backward()
        opt.step()
        opt.clear_grad()
    model.eval()
    return model


def _eager(model, x):
    with paddle.no_grad():
        return model(paddle.to_tensor(x)).numpy()


@pytest.fixture(scope="module", params=[TinyCNN, MiniResNet])
def exported(request, tmp_path_factory):
    set_seed(0)
    model = _trained_a_little(request.param())
    prefix = tmp_path_factory.mktemp("export") / request.param.__name__
    program = export_model(model, prefix, SHAPE)
    return model, prefix, program


def test_export_writes_program_and_params(exported):
    model, prefix, program = exported
    expected = ".json" if program.suffix == ".json" else ".pdmodel"
    assert program == program_file(prefix) and program.suffix in PROGRAM_SUFFIXES
    assert program.name == prefix.name + expected
    assert prefix.with_name(prefix.name + ".pdiparams").is_file()
    assert not model.training


@pytest.mark.parametrize("batch", [1, 3])
def test_inference_predictor_matches_eager(exported, batch):
    model, prefix, _ = exported
    predictor = load_predictor(prefix, device="cpu")
    assert isinstance(predictor, Predictor)
    x = np.random.default_rng(batch).uniform(-1, 1, (batch, *SHAPE)).astype("float32")
    expected, got = _eager(model, x), predictor(x)
    assert got.shape == expected.shape == (batch, 1)
    diff = float(np.abs(got - expected).max())
    print(f"{prefix.name} batch {batch}: max |eager - inference| = {diff:.2e}")
    assert diff < TOLERANCE


def test_default_cpu_predictor_gives_eager_probabilities(exported):
    """What predict --model runs on the CPU: load_predictor's defaults
    (oneDNN where the build has it, graph optimisation, every core)."""
    model, prefix, _ = exported
    predictor = load_predictor(prefix, device="cpu")
    expected = dict(CPU_DEFAULTS, onednn=CPU_DEFAULTS["onednn"] and onednn_available())
    assert {k: predictor.settings[k] for k in expected} == expected
    assert predictor.settings["device"] == "cpu" and predictor.settings["threads"] >= 1
    x = np.random.default_rng(7).uniform(-1, 1, (5, *SHAPE)).astype("float32")
    eager, got = sigmoid(_eager(model, x)), sigmoid(predictor(x))
    assert np.abs(got - eager).max() < 1e-6
    assert ((got > 0.5) == (eager > 0.5)).all()


@pytest.mark.parametrize("onednn", [False, True])
@pytest.mark.parametrize("ir_optim", [False, True])
def test_every_cpu_setting_matches_eager(exported, onednn, ir_optim):
    """The settings the benchmark compares (docs/benchmarks.md, section 4)."""
    if onednn and not onednn_available():
        pytest.skip("this Paddle build has no oneDNN")
    model, prefix, _ = exported
    predictor = load_predictor(prefix, device="cpu", threads=1, onednn=onednn, ir_optim=ir_optim)
    assert predictor.settings == {"device": "cpu", "threads": 1, "onednn": onednn, "ir_optim": ir_optim}
    x = np.random.default_rng(8).uniform(-1, 1, (2, *SHAPE)).astype("float32")
    assert np.abs(predictor(x) - _eager(model, x)).max() < TOLERANCE


def test_onednn_on_a_build_without_it_is_a_clear_error(exported, monkeypatch):
    from palm_utils.deploy import export

    monkeypatch.setattr(export, "onednn_available", lambda: False)
    _, prefix, _ = exported
    with pytest.raises(ValueError, match="no oneDNN"):
        load_predictor(prefix, device="cpu", onednn=True)
    assert load_predictor(prefix, device="cpu").settings["onednn"] is False  # the default falls back


def test_training_mode_is_restored_after_export(tmp_path):
    set_seed(0)
    model = TinyCNN()
    model.train()
    export_model(model, tmp_path / "m", SHAPE)
    assert model.training


def test_missing_export_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"nothere\.json and nothere\.pdmodel"):
        load_predictor(tmp_path / "nothere")


def test_export_onnx_without_paddle2onnx_names_the_package(monkeypatch, tmp_path):
    import builtins

    real_import = builtins.__import__

    def no_paddle2onnx(name, *args, **kwargs):
        if name == "paddle2onnx":
            raise ImportError("No module named 'paddle2onnx'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_paddle2onnx)
    with pytest.raises(ImportError, match="needs the paddle2onnx package: pip install paddle2onnx"):
        export_onnx(TinyCNN(), tmp_path / "m.onnx", SHAPE)


def test_onnx_round_trip(exported, tmp_path):
    ort = pytest.importorskip("onnxruntime", reason="running ONNX needs onnxruntime (pip install onnxruntime)")
    model, prefix, _ = exported
    try:  # paddle2onnx may be missing, or (2.x on Paddle 2.6) refuse this Paddle
        path = export_onnx(model, tmp_path / f"{prefix.name}.onnx", SHAPE)
    except ImportError as exc:
        pytest.skip(f"ONNX export needs a paddle2onnx for this Paddle: {exc}")
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    (inp,) = session.get_inputs()
    assert inp.name == "image" and list(inp.shape[1:]) == list(SHAPE)
    for batch in (1, 3):
        x = np.random.default_rng(10 + batch).uniform(-1, 1, (batch, *SHAPE)).astype("float32")
        (got,) = session.run(None, {inp.name: x})
        diff = float(np.abs(got - _eager(model, x)).max())
        print(f"{prefix.name} batch {batch}: max |eager - onnx| = {diff:.2e}")
        assert got.shape == (batch, 1) and diff < TOLERANCE


def test_networks_named_by_a_spec_export(tmp_path):
    """What --net names exports: a class a chapter saves (palm_utils.models) and
    one loaded from a .py file of one's own; jit.save reads their forward() source."""
    from test_netspec import write_network_file

    from palm_utils.netspec import load_network

    (tmp_path / "01_lenet.ipynb").write_text("{}")  # a chapter spec names the notebook, never reads it
    lenet = dict(in_channels=3, num_classes=1, flat_features=120 * 10 * 10)  # for 64 x 64 inputs
    for spec, kwargs in [(f"{tmp_path}/01_lenet.ipynb:LeNet", lenet),
                         (f"{write_network_file(tmp_path / 'mine.py')}:TinyBN", {})]:
        set_seed(0)
        model = load_network(spec, **kwargs)
        model.eval()
        prefix = tmp_path / spec.rsplit(":", 1)[1]
        export_model(model, prefix, SHAPE)
        x = np.random.default_rng(0).uniform(-1, 1, (2, *SHAPE)).astype("float32")
        got, expected = load_predictor(prefix, device="cpu")(x), _eager(model, x)
        assert got.shape == expected.shape == (2, 1) and np.abs(got - expected).max() < TOLERANCE, spec


def test_export_replaces_a_program_of_the_other_format(tmp_path):
    """A stale PREFIX.json (Paddle 3) beside a new PREFIX.pdmodel (2.6), or the
    other way round, would be loaded instead of the new export."""
    set_seed(0)
    model = TinyCNN()
    for suffix in PROGRAM_SUFFIXES:
        (tmp_path / f"m{suffix}").write_text("stale")
    written = export_model(model, tmp_path / "m", SHAPE)
    assert sorted(p.name for p in tmp_path.glob("m.*") if p.suffix in PROGRAM_SUFFIXES) == [written.name]
    assert program_file(tmp_path / "m") == written
