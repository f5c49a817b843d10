"""palm_utils.checkpoint: every load is checked before anything is set.

A parameters file whose layer names match but whose shapes do not (the same
network built with another width, or another number of classes in its head)
must not load silently: Paddle's ``set_state_dict`` only warns "Skip loading
for ..." and leaves those tensors at their random initial values. Here it
raises :class:`ParamsMismatch` naming the file and the tensors, and the
network and the optimizer keep what they had. Real small networks, saved with
one width and loaded into another; Adam and Momentum state."""
from __future__ import annotations

import warnings

import numpy as np
import pytest

from palm_utils import checkpoint
from palm_utils.checkpoint import (
    ParamsMismatch, check_optimizer_state, check_state, load_checkpoint, load_optimizer,
    load_params, load_state, save_optimizer, save_state,
)
from palm_utils.runtime import paddle, set_seed

nn = paddle.nn
# Paddle's notice for every BatchNorm forward in training mode.
pytestmark = pytest.mark.filterwarnings("ignore:When training, we now always track")

OPTIMIZERS = {
    "Adam": lambda params: paddle.optimizer.Adam(learning_rate=0.01, parameters=params),
    "Momentum": lambda params: paddle.optimizer.Momentum(learning_rate=0.01, momentum=0.9,
                                                         parameters=params),
}


class ConvNet(nn.Layer):
    """Conv-BN-ReLU, a NiN-style head (1x1 conv to ``classes`` channels,
    global average pooling) and a linear layer to one logit."""

    def __init__(self, width: int = 4, classes: int = 3):
        super().__init__()
        self.features = nn.Sequential(nn.Conv2D(3, width, 3, padding=1), nn.BatchNorm2D(width),
                                      nn.ReLU())
        self.head = nn.Conv2D(width, classes, 1)
        self.fc = nn.Linear(classes, 1)

    def forward(self, x):
        x = self.head(self.features(x)).mean(axis=[2, 3])
        return self.fc(x)


class NiNLike(nn.Layer):
    """A NiN block and NiN's head: the last 1x1 conv has one channel per
    class, then global average pooling gives the logits."""

    def __init__(self, num_classes: int = 1):
        super().__init__()
        self.block = nn.Sequential(nn.Conv2D(3, 8, 3, padding=1), nn.ReLU(),
                                   nn.Conv2D(8, 8, 1), nn.ReLU())
        self.head = nn.Conv2D(8, num_classes, 1)

    def forward(self, x):
        return self.head(self.block(x)).mean(axis=[2, 3])


def _batch(seed=0):
    rng = np.random.default_rng(seed)
    return paddle.to_tensor(rng.normal(size=(2, 3, 8, 8)).astype("float32"))


def _step(model, optimizer, seed=0):
    loss = (model(_batch(seed)) ** 2).mean()
    loss.backward()
    optimizer.step()
    optimizer.clear_grad()


def _values(model) -> dict:
    return {k: v.numpy().copy() for k, v in model.state_dict().items()}


def _same(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a)


@pytest.fixture
def no_skip_warnings():
    """Fails the test if Paddle warned "Skip loading" (we check first)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        yield
    skipped = [str(w.message) for w in caught if "Skip loading" in str(w.message)]
    assert not skipped, skipped


# -- parameters -----------------------------------------------------------------


def test_width_mismatch_is_refused_and_the_model_is_untouched(tmp_path, no_skip_warnings):
    set_seed(0)
    save_state(ConvNet(width=4).state_dict(), tmp_path / "w4.pdparams")
    model = ConvNet(width=8)
    before = _values(model)
    with pytest.raises(ParamsMismatch) as info:
        load_params(model, tmp_path / "w4.pdparams")
    message = str(info.value)
    assert isinstance(info.value, ValueError)  # the CLI and evaluation catch ValueError
    assert "\n" not in message
    assert message.startswith(f"{tmp_path / 'w4.pdparams'}: parameters do not match ConvNet")
    # the first few with both shapes (file vs network), how many, what to do
    assert "features.0.weight: file [4, 3, 3, 3] vs network [8, 3, 3, 3]" in message
    assert "features.0.bias: file [4] vs network [8]" in message
    assert "7 of 10 tensors do not fit" in message and "(and 4 more)" in message
    assert "arguments it was trained with" in message and "--net-arg" in message
    assert info.value.path == tmp_path / "w4.pdparams" and len(info.value.problems) == 7
    assert _same(_values(model), before)


def test_nin_head_width_mismatch_names_the_head(tmp_path, no_skip_warnings):
    """num_classes=2 saved, num_classes=1 built: only the head differs."""
    set_seed(0)
    save_state(NiNLike(num_classes=2).state_dict(), tmp_path / "nin.pdparams")
    model = NiNLike(num_classes=1)
    before = _values(model)
    with pytest.raises(ParamsMismatch) as info:
        load_params(model, tmp_path / "nin.pdparams")
    message = str(info.value)
    assert "2 of 6 tensors do not fit" in message and "more)" not in message
    assert "head.weight: file [2, 8, 1, 1] vs network [1, 8, 1, 1]" in message
    assert "head.bias: file [2] vs network [1]" in message
    assert _same(_values(model), before)


def test_matching_file_loads_every_tensor(tmp_path, no_skip_warnings):
    set_seed(0)
    trained = ConvNet(width=4)
    _step(trained, OPTIMIZERS["Adam"](trained.parameters()))
    save_state(trained.state_dict(), tmp_path / "w4.pdparams")
    model = ConvNet(width=4)
    load_params(model, tmp_path / "w4.pdparams")
    assert _same(_values(model), _values(trained))


def test_missing_and_unexpected_names_are_counted(tmp_path):
    save_state(nn.Linear(2, 2).state_dict(), tmp_path / "lin.pdparams")
    model = NiNLike()
    with pytest.raises(ParamsMismatch) as info:
        load_params(model, tmp_path / "lin.pdparams")
    message = str(info.value)
    assert "parameters do not match NiNLike: 8 of 8 tensors do not fit" in message
    assert "block.0.weight: file missing vs network [8, 3, 3, 3]" in message
    problems = {name: (have, need) for name, have, need in info.value.problems}
    assert problems["weight"] == ([2, 2], "absent") and problems["bias"] == ([2], "absent")


def test_dtype_mismatch_is_refused_before_anything_is_set(tmp_path):
    """Paddle 3 asserts on the first tensor of another dtype, after setting
    the ones before it; Paddle 2.6 may take the dtype of the file."""
    set_seed(0)
    state = {k: paddle.cast(v, "float64") if k == "fc.weight" else v
             for k, v in ConvNet().state_dict().items()}
    save_state(state, tmp_path / "f64.pdparams")
    model = ConvNet()
    before = _values(model)
    with pytest.raises(ParamsMismatch, match=r"1 of 10 tensors do not fit: fc.weight: "
                                             r"file float64 vs network float32"):
        load_params(model, tmp_path / "f64.pdparams")
    assert _same(_values(model), before)
    assert model.fc.weight.dtype == paddle.float32


def test_check_state_sets_nothing():
    set_seed(0)
    model, other = ConvNet(width=4), ConvNet(width=4)
    before = _values(model)
    check_state(model, other.state_dict(), "other")  # fits: no error, nothing set
    assert _same(_values(model), before)
    with pytest.raises(ParamsMismatch, match=r"^mem: parameters do not match"):
        check_state(model, ConvNet(width=2).state_dict(), "mem")


def test_not_a_state_dict(tmp_path):
    save_state({"a": 1}, tmp_path / "ok.pdparams")
    paddle.save([1, 2], str(tmp_path / "list.pdparams"))
    with pytest.raises(ValueError, match="list.pdparams: not a state dict"):
        load_state(tmp_path / "list.pdparams")


def test_predict_cli_names_the_file_and_net_arg(tmp_path, capsys):
    """The command line (predict --net --params) prints the one-line error."""
    from palm_utils.cli.demo import TinyNet
    from palm_utils.deploy.predict import predict_main

    save_state(TinyNet(width=8).state_dict(), tmp_path / "tiny.pdparams")
    status = predict_main(["--net", "palm_utils.cli.demo:TinyNet", "--net-arg", "width=4",
                           "--params", str(tmp_path / "tiny.pdparams"), str(tmp_path)])
    err = capsys.readouterr().err
    assert status == 1
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "tiny.pdparams: parameters do not match TinyNet" in lines[0]
    assert "file [8, 3, 5, 5] vs network [4, 3, 5, 5]" in lines[0] and "--net-arg" in lines[0]


# -- optimizer state ------------------------------------------------------------


def _trained(width=4, classes=3, optimizer="Adam", model_cls=ConvNet, **kwargs):
    set_seed(0)
    model = model_cls(width, classes) if model_cls is ConvNet else model_cls(**kwargs)
    opt = OPTIMIZERS[optimizer](model.parameters())
    _step(model, opt)
    return model, opt


def _opt_values(optimizer) -> dict:
    return {k: v.numpy().copy() for k, v in optimizer.state_dict().items()
            if hasattr(v, "numpy")}


@pytest.mark.parametrize("optimizer", sorted(OPTIMIZERS))
def test_resume_continues_exactly(tmp_path, optimizer, no_skip_warnings):
    """Save after one step, load into a freshly built network and optimizer:
    the next step gives the same weights as the uninterrupted run."""
    model, opt = _trained(optimizer=optimizer)
    save_state(model.state_dict(), tmp_path / "m.pdparams")
    save_optimizer(opt, model, tmp_path / "m.pdopt")
    resumed = ConvNet(4, 3)
    resumed_opt = OPTIMIZERS[optimizer](resumed.parameters())
    load_checkpoint(resumed, resumed_opt, tmp_path / "m.pdparams", tmp_path / "m.pdopt")
    _step(model, opt, seed=1)
    _step(resumed, resumed_opt, seed=1)
    for k, v in _values(model).items():
        np.testing.assert_allclose(_values(resumed)[k], v, rtol=1e-6, atol=1e-7, err_msg=k)


@pytest.mark.parametrize("optimizer", sorted(OPTIMIZERS))
def test_new_optimizer_on_the_same_network(tmp_path, optimizer):
    """A second optimizer for the same network object (re-running a notebook
    cell) gets accumulator names ending in _1: the state still loads, where
    the plain renaming failed at the first step ("Optimizer set error")."""
    model, opt = _trained(optimizer=optimizer)
    save_optimizer(opt, model, tmp_path / "m.pdopt")
    saved = _opt_values(opt)
    again = OPTIMIZERS[optimizer](model.parameters())
    load_optimizer(again, model, tmp_path / "m.pdopt")
    _step(model, again, seed=1)  # no assertion from Paddle
    assert len(_opt_values(again)) == len(saved)


@pytest.mark.parametrize("optimizer", sorted(OPTIMIZERS))
def test_optimizer_width_mismatch_names_the_pdopt(tmp_path, optimizer, no_skip_warnings):
    model, opt = _trained(width=4, optimizer=optimizer)
    save_optimizer(opt, model, tmp_path / "w4.pdopt")
    other = ConvNet(width=8)
    other_opt = OPTIMIZERS[optimizer](other.parameters())
    with pytest.raises(ParamsMismatch) as info:
        load_optimizer(other_opt, other, tmp_path / "w4.pdopt")
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(f"{tmp_path / 'w4.pdopt'}: optimizer state does not match "
                              f"ConvNet and {optimizer}")
    kind = "moment1" if optimizer == "Adam" else "velocity"
    assert f"@features.0.weight_{kind}_0: file [4, 3, 3, 3] vs network [8, 3, 3, 3]" in message
    # the shapes that differ: conv weight and bias, BN weight and bias, head weight;
    # Adam has two moments per parameter, its beta powers are one number each
    per_kind = 5
    count = per_kind * (2 if optimizer == "Adam" else 1)
    assert f"{count} of " in message and "delete this .pdopt" in message
    # nothing set: the optimizer steps as a fresh one
    assert other_opt.state_dict() == {} or not _opt_values(other_opt)
    _step(other, other_opt)


@pytest.mark.parametrize("optimizer", sorted(OPTIMIZERS))
def test_optimizer_nin_head_mismatch(tmp_path, optimizer):
    set_seed(0)
    model = NiNLike(num_classes=2)
    opt = OPTIMIZERS[optimizer](model.parameters())
    _step(model, opt)
    save_optimizer(opt, model, tmp_path / "nin.pdopt")
    other = NiNLike(num_classes=1)
    with pytest.raises(ParamsMismatch) as info:
        load_optimizer(OPTIMIZERS[optimizer](other.parameters()), other, tmp_path / "nin.pdopt")
    kind = "moment1" if optimizer == "Adam" else "velocity"
    assert f"@head.weight_{kind}_0: file [2, 8, 1, 1] vs network [1, 8, 1, 1]" in str(info.value)
    assert f"@head.bias_{kind}_0: file [2] vs network [1]" in str(info.value)


@pytest.mark.parametrize("optimizer", sorted(OPTIMIZERS))
def test_missing_and_extra_optimizer_entries(tmp_path, optimizer):
    set_seed(0)
    # saved by an optimizer that trained only the head: the others' state is missing
    model = ConvNet()
    opt = OPTIMIZERS[optimizer](model.head.parameters())
    _step(model, opt)
    save_optimizer(opt, model, tmp_path / "head.pdopt")
    full = OPTIMIZERS[optimizer](model.parameters())
    with pytest.raises(ParamsMismatch) as info:
        load_optimizer(full, model, tmp_path / "head.pdopt")
    kind = "moment1" if optimizer == "Adam" else "velocity"
    assert f"@features.0.weight_{kind}: file missing vs network needed" in str(info.value)
    # state of a parameter the network does not have
    state = load_state(tmp_path / "head.pdopt")
    state[f"@extra.weight_{kind}_0"] = state[f"@head.weight_{kind}_0"]
    save_state(state, tmp_path / "extra.pdopt")
    head_opt = OPTIMIZERS[optimizer](model.head.parameters())
    with pytest.raises(ParamsMismatch, match=rf"@extra.weight_{kind}_0: file present vs "
                                             "network no such parameter"):
        load_optimizer(head_opt, model, tmp_path / "extra.pdopt")


def test_scheduler_state_missing(tmp_path):
    model, opt = _trained(optimizer="Momentum")
    save_optimizer(opt, model, tmp_path / "m.pdopt")
    sched = paddle.optimizer.lr.StepDecay(0.1, step_size=2)
    with pytest.raises(ParamsMismatch, match="LR_Scheduler: file missing vs network StepDecay"):
        check_optimizer_state(paddle.optimizer.Momentum(learning_rate=sched,
                                                        parameters=model.parameters()),
                              model, load_state(tmp_path / "m.pdopt"), "m.pdopt")


def test_load_checkpoint_sets_neither_when_the_optimizer_state_mismatches(tmp_path):
    """The parameters fit, the optimizer state does not (another width's
    .pdopt beside them): the model keeps its weights too."""
    model, opt = _trained(width=4)
    save_state(model.state_dict(), tmp_path / "m.pdparams")
    wide, wide_opt = _trained(width=8)
    save_optimizer(wide_opt, wide, tmp_path / "m.pdopt")
    set_seed(1)
    fresh = ConvNet(4, 3)
    fresh_opt = OPTIMIZERS["Adam"](fresh.parameters())
    before = _values(fresh)
    with pytest.raises(ParamsMismatch, match="m.pdopt: optimizer state does not match"):
        load_checkpoint(fresh, fresh_opt, tmp_path / "m.pdparams", tmp_path / "m.pdopt")
    assert _same(_values(fresh), before)
    assert not _opt_values(fresh_opt)


def test_load_checkpoint_refuses_mismatched_params_first(tmp_path):
    model, opt = _trained(width=4)
    save_state(model.state_dict(), tmp_path / "m.pdparams")
    save_optimizer(opt, model, tmp_path / "m.pdopt")
    wide = ConvNet(8, 3)
    with pytest.raises(ParamsMismatch, match="m.pdparams: parameters do not match"):
        load_checkpoint(wide, OPTIMIZERS["Adam"](wide.parameters()),
                        tmp_path / "m.pdparams", tmp_path / "m.pdopt")


def test_exports():
    assert issubclass(checkpoint.ParamsMismatch, ValueError)
    for name in ("check_state", "check_optimizer_state", "load_checkpoint", "load_params",
                 "load_optimizer"):
        assert name in checkpoint.__all__
