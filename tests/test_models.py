"""palm_utils.models: the chapters' networks, generated from their ``#@save``
cells by scripts/save_models.py."""
import importlib.util
import inspect
import json
import sys
from pathlib import Path

import pytest

from palm_utils import models
from palm_utils.runtime import paddle
from palm_utils.summary import count_params

REPO = Path(__file__).resolve().parent.parent
_spec = importlib.util.spec_from_file_location("save_models", REPO / "scripts" / "save_models.py")
save_models = importlib.util.module_from_spec(_spec)
sys.modules.setdefault("save_models", save_models)  # dataclasses look their module up
_spec.loader.exec_module(save_models)

#: how each network is built here: one logit for a 3 x 224 x 224 image; smaller
#: than the chapter's network where that one is slow to build or run
BUILD = {
    "LeNet": dict(in_channels=3, num_classes=1, flat_features=120 * 50 * 50),
    "AlexNet": {},
    "VGG": dict(arch=[(1, 8), (1, 8), (1, 16), (1, 16), (1, 16)]),
    "GoogLeNet": {},
    "ResNet": dict(depth=18),
    "NiN": {},
    "DenseNet": dict(blocks=(2, 2, 2, 2)),
    "InceptionV3": {},
    "SEResNet": dict(depth=50),
    "MobileNetV2": {},
    "EfficientNet": dict(width_mult=0.5, depth_mult=0.5),
}


def network_classes() -> list[str]:
    """The saved Layer classes that build without arguments: the networks
    (blocks need their channel counts)."""
    found = []
    for name in models.SAVED_FROM:
        obj = getattr(models, name)
        if inspect.isclass(obj) and issubclass(obj, paddle.nn.Layer):
            params = [p for p in inspect.signature(obj).parameters.values()
                      if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
            if all(p.default is not p.empty for p in params):
                found.append(name)
    return found


def test_committed_module_is_what_the_chapters_save():
    diff = save_models.check()
    assert not diff, ("palm_utils/models.py differs from the chapters' #@save cells; run "
                      "python scripts/save_models.py\n" + diff[:3000])


def test_saved_from_names_every_definition_with_its_chapter():
    defined = {name for name, obj in vars(models).items()
               if (inspect.isclass(obj) or inspect.isfunction(obj)) and obj.__module__ == models.__name__}
    constants = {name for name in vars(models) if name.isupper() and len(name) > 1} - {"SAVED_FROM"}
    assert set(models.SAVED_FROM) == defined | constants
    chapters = {path.stem for path in save_models.chapters()}
    assert set(models.SAVED_FROM.values()) <= chapters
    assert models.SAVED_FROM["ResNet"] == "05_resnet"
    assert models.SAVED_FROM["SEResNet"] == "07_inception_v3_senet"


def test_saved_cells_hold_only_definitions():
    for notebook in save_models.chapters():
        for cell in save_models.saved_cells(notebook):
            assert save_models.non_definitions(cell) == [], cell.where


def test_every_network_has_a_build_here():
    assert sorted(network_classes()) == sorted(BUILD)


@pytest.mark.parametrize("name", list(BUILD))
def test_network_maps_an_image_to_one_logit(name):
    model = getattr(models, name)(**BUILD[name])
    model.eval()
    with paddle.no_grad():
        out = model(paddle.zeros([1, 3, 224, 224]))
    assert out.shape == [1, 1]


def test_se_resnet_extends_chapter_5s_classes():
    """Chapter 7 imports chapter 5's Bottleneck and ResNet instead of copying
    them: SE-ResNet-50 has ResNet-50's parameter names plus each block's ``se``."""
    assert issubclass(models.SEBottleneck, models.Bottleneck)
    assert issubclass(models.SEResNet, models.ResNet)
    plain, se = models.ResNet(50), models.SEResNet(50)
    added = set(se.state_dict()) - set(plain.state_dict())
    assert set(plain.state_dict()) < set(se.state_dict())
    assert {name.split(".se.")[1] for name in added} == {"fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias"}
    assert len(added) == 4 * 16  # one SE block in each of the 16 bottlenecks
    assert count_params(se) - count_params(plain) == 2_530_992  # as chapter 7 prints
    with pytest.raises(ValueError, match=r"depth must be one of \[50, 101, 152\]"):
        models.SEResNet(18)


# -- the generator, on notebooks of its own ----------------------------------

def write_chapter(folder: Path, name: str, *cells: str) -> Path:
    nb = {"nbformat": 4, "nbformat_minor": 5, "metadata": {},
          "cells": [{"cell_type": "markdown", "metadata": {}, "source": ["# A chapter\n"]}]
          + [{"cell_type": "code", "metadata": {}, "execution_count": None, "outputs": [],
              "source": source.splitlines(True)} for source in cells]}
    folder.mkdir(exist_ok=True)
    path = folder / name
    path.write_text(json.dumps(nb), encoding="utf-8")
    return path


BLOCK = "#@save\nclass Block(nn.Layer):\n    def forward(self, x):\n        return F.relu(x)"


def test_generator_keeps_saved_cells_in_chapter_order(tmp_path):
    write_chapter(tmp_path, "02_later.ipynb", "#@save\nWIDTH = 3\n\n\nclass Net(Block):\n    pass",
                  "net = Net()\nprint(net)")
    write_chapter(tmp_path, "01_first.ipynb", "import paddle", BLOCK,
                  "#@save\ndef scale(x):\n    return np.sqrt(x)  # numpy: imported only when used")
    text = save_models.generate(tmp_path)
    assert text.startswith('"""') and "Do not edit this file\nby hand" in text
    assert "import math\n\nimport numpy as np\nimport paddle\nimport paddle.nn as nn\n" in text
    first, later = text.index("# " + "-" * 20 + " notebooks/01_first.ipynb"), text.index("notebooks/02_later.ipynb")
    assert first < text.index("class Block") < text.index("def scale") < later < text.index("class Net")
    assert "\n#@save" not in text and "print(net)" not in text and "import paddle\n\n\n" not in text
    namespace = {}
    exec(compile(text, "models.py", "exec"), namespace)  # the generated text is a module that runs
    assert namespace["SAVED_FROM"] == {"Block": "01_first", "scale": "01_first", "WIDTH": "02_later",
                                       "Net": "02_later"}
    assert "import numpy" not in save_models.generate(write_chapter(tmp_path / "b", "01_a.ipynb", BLOCK).parent)


def test_generator_refuses_a_saved_cell_with_statements(tmp_path):
    write_chapter(tmp_path, "01_a.ipynb", BLOCK + "\n\n\nblock = Block()\nprint(block)")
    with pytest.raises(save_models.SaveError,
                       match=r"01_a.ipynb cell 1: .* move line 7: block = Block\(\); line 8: print\(block\) into a cell"):
        save_models.generate(tmp_path)


def test_generator_refuses_a_name_saved_twice(tmp_path):
    write_chapter(tmp_path, "01_a.ipynb", BLOCK)
    write_chapter(tmp_path, "02_b.ipynb", BLOCK)
    with pytest.raises(save_models.SaveError,
                       match=r"02_b.ipynb cell 1 saves 'Block', which 01_a.ipynb cell 1 already saves"):
        save_models.generate(tmp_path)


def test_generator_refuses_names_the_module_does_not_have(tmp_path):
    write_chapter(tmp_path, "01_a.ipynb", "#@save\nclass Early(Later):\n    pass")
    write_chapter(tmp_path, "02_b.ipynb", BLOCK.replace("Block", "Later"),
                  "#@save\ndef table(model):\n    return pu.layer_table(model)")
    with pytest.raises(save_models.SaveError, match=r"01_a.ipynb: its #@save cells use Later"):
        save_models.generate(tmp_path)
    write_chapter(tmp_path, "01_a.ipynb", "#@save\nclass Early(nn.Layer):\n    pass")
    with pytest.raises(save_models.SaveError, match=r"02_b.ipynb: its #@save cells use pu,"):
        save_models.generate(tmp_path)


def test_check_prints_a_diff_and_exits_1(tmp_path, monkeypatch, capsys):
    write_chapter(tmp_path, "01_a.ipynb", BLOCK)
    module = tmp_path / "models.py"
    monkeypatch.setattr(save_models, "NOTEBOOKS", tmp_path)
    monkeypatch.setattr(save_models, "MODULE", module)
    monkeypatch.setattr(save_models, "REPO", tmp_path)
    assert save_models.main([]) == 0 and "written (1 names from 1 chapters)" in capsys.readouterr().out
    assert save_models.main(["--check"]) == 0
    module.write_text(module.read_text().replace("F.relu(x)", "x  # edited by hand"))
    assert save_models.main(["--check"]) == 1
    out, err = capsys.readouterr()
    assert "-        return x  # edited by hand\n+        return F.relu(x)\n" in out
    assert "run: python scripts/save_models.py" in err


@pytest.mark.parametrize("momentum", [0.9, 0.5])
def test_batchnorm_from_scratch_matches_paddles_in_both_modes(momentum):
    """Chapter 5's BatchNormScratch against nn.BatchNorm2D: outputs, moving
    averages and gradients over several training batches, then evaluation."""
    import numpy as np

    from palm_utils.models import BatchNormScratch
    from palm_utils.runtime import paddle

    paddle.seed(3)
    ours, ref = BatchNormScratch(6, momentum=momentum), paddle.nn.BatchNorm2D(6, momentum=momentum)
    with paddle.no_grad():   # the same, non-trivial affine parameters in both
        for layer in (ours, ref):
            layer.weight.set_value(paddle.linspace(0.5, 1.5, 6))
            layer.bias.set_value(paddle.linspace(-1, 1, 6))
    rng = np.random.default_rng(0)
    for _ in range(4):
        batch = rng.normal(2.0, 3.0, (5, 6, 7, 7)).astype("float32")
        xs = [paddle.to_tensor(batch, stop_gradient=False) for _ in range(2)]
        ya, yb = ours(xs[0]), ref(xs[1])
        np.testing.assert_allclose(ya.numpy(), yb.numpy(), atol=2e-5)
        upstream = paddle.to_tensor(rng.normal(size=batch.shape).astype("float32"))
        (ya * upstream).sum().backward()
        (yb * upstream).sum().backward()
        np.testing.assert_allclose(xs[0].grad.numpy(), xs[1].grad.numpy(), atol=2e-5)
        np.testing.assert_allclose(ours.weight.grad.numpy(), ref.weight.grad.numpy(), rtol=1e-4, atol=1e-4)
        np.testing.assert_allclose(ours.bias.grad.numpy(), ref.bias.grad.numpy(), rtol=1e-4, atol=1e-4)
        for layer in (ours, ref):
            layer.clear_gradients()
        np.testing.assert_allclose(ours._mean.numpy(), ref._mean.numpy(), atol=1e-5)
        np.testing.assert_allclose(ours._variance.numpy(), ref._variance.numpy(), rtol=1e-5, atol=1e-5)
    ours.eval()
    ref.eval()
    x = paddle.to_tensor(rng.normal(2.0, 3.0, (1, 6, 7, 7)).astype("float32"))
    np.testing.assert_allclose(ours(x).numpy(), ref(x).numpy(), atol=2e-5)
    assert not np.allclose(ours._mean.numpy(), 0)      # the averages moved away from their start


@pytest.mark.parametrize("network", ["ResNet", "SEResNet"])
def test_the_resnet_twins_lose_one_thing_and_keep_the_same_initial_weights(network):
    """Chapter 5's controlled-experiment twins: ``residual=False`` drops every
    shortcut (a block computes ReLU of its branch alone), ``batchnorm=False``
    every BatchNorm; all other weights equal the ResNet's for the same seed."""
    import numpy as np

    from palm_utils import models
    from palm_utils.runtime import paddle

    cls = getattr(models, network)
    nets = {}
    for name, kwargs in [("resnet", {}), ("plain", {"residual": False}), ("no_bn", {"batchnorm": False})]:
        paddle.seed(11)
        nets[name] = cls(50, **kwargs)
        nets[name].eval()
    full = nets["resnet"].state_dict()
    for name in ("plain", "no_bn"):
        state = nets[name].state_dict()
        assert set(state) < set(full)
        assert all(np.array_equal(v.numpy(), full[k].numpy()) for k, v in state.items())
    dropped = set(full) - set(nets["plain"].state_dict())
    assert dropped and all(".shortcut." in k for k in dropped)
    assert not [k for k in full if ".shortcut." in k and k in nets["plain"].state_dict()]
    assert not any(isinstance(m, paddle.nn.BatchNorm2D) for m in nets["no_bn"].sublayers())
    assert not set(nets["resnet"].state_dict()) - set(nets["no_bn"].state_dict()) - {
        k for k in full if "bn." in k or k.endswith(("_mean", "_variance"))}

    # a plain block outputs ReLU of its residual branch alone; the ResNet's adds the shortcut
    x = paddle.rand([1, 3, 64, 64])
    for name, adds in (("plain", False), ("resnet", True)):
        seen = []
        block = nets[name].layer1[1]   # an identity-shortcut block
        hook = block.register_forward_post_hook(lambda layer, inputs, out: seen.append((inputs[0], out)))
        with paddle.no_grad():
            nets[name](x)
            block_in, block_out = seen[0]
            branch = block.conv3(block.conv2(block.conv1(block_in)))
            if hasattr(block, "se"):
                branch = block.se(branch)
        hook.remove()
        expected = paddle.nn.functional.relu(branch + block_in if adds else branch)
        np.testing.assert_allclose(block_out.numpy(), expected.numpy(), atol=1e-5)
    # the plain twin of ResNet-50 has ResNet-50's parameters minus its projection shortcuts (exercise 5.2)
    projections = sum(count_params(b.shortcut) for b in nets["resnet"].sublayers()
                      if isinstance(getattr(b, "shortcut", None), models.ConvBN))
    assert count_params(nets["plain"]) == count_params(nets["resnet"]) - projections


def _twins(cls, kwargs, twin_kwargs, seed=5):
    paddle.seed(seed)
    base = cls(**kwargs)
    paddle.seed(seed)
    twin = cls(**kwargs, **twin_kwargs)
    base.eval()
    twin.eval()
    return base, twin


@pytest.mark.parametrize("name, kwargs, twin_kwargs", [
    ("GoogLeNet", {}, {"reductions": False}),
    ("GoogLeNet", {"aux_logits": True}, {"reductions": False}),
    ("NiN", {}, {"head": "fc"}),
    ("SEResNet", {"depth": 50}, {"se": False}),
    ("MobileNetV2", {}, {"depthwise": False}),
])
def test_each_chapters_twin_differs_in_its_one_thing_and_starts_from_the_same_weights(name, kwargs, twin_kwargs):
    """The ablations' twins (chapters 4, 6, 7, 8): every parameter the twin
    shares with the network (same name and shape) has the same initial value
    for the same seed; what differs is the one thing, checked structurally."""
    import numpy as np

    base, twin = _twins(getattr(models, name), kwargs, twin_kwargs)
    ours, theirs = twin.state_dict(), base.state_dict()
    shared = [k for k in ours if k in theirs and ours[k].shape == theirs[k].shape]
    assert len(shared) >= 20
    assert all(np.array_equal(ours[k].numpy(), theirs[k].numpy()) for k in shared)
    assert count_params(twin) != count_params(base)
    x = paddle.rand([1, 3, 224, 224])
    with paddle.no_grad():
        assert twin(x).shape == [1, 1]
    layers = twin.sublayers()
    if "reductions" in twin_kwargs:   # the 3x3 and 5x5 paths read the block's input directly
        blocks = [b for b in layers if isinstance(b, models.Inception)]
        assert len(blocks) == 9 and all(
            b.path2.conv.weight.shape[1] == b.path3.conv.weight.shape[1] == b.path1.conv.weight.shape[1]
            and b.path2.conv.weight.shape[2:] == [3, 3] and b.path3.conv.weight.shape[2:] == [5, 5] for b in blocks)
        assert count_flops_ratio(base, twin) > 2
    if "head" in twin_kwargs:         # a learned weight per position instead of the average
        seen = []
        hook = twin.block4.register_forward_post_hook(lambda layer, inputs, out: seen.append(out))
        with paddle.no_grad():
            out = twin(x)
        hook.remove()
        np.testing.assert_allclose(out.numpy(), twin.fc(paddle.flatten(seen[0], 1)).numpy(), atol=1e-6)
        assert count_params(twin) - count_params(base) == 5 * 5 + 1
        with pytest.raises(ValueError, match="head"):
            models.NiN(head="max")
    if "se" in twin_kwargs:           # no SE left: ResNet-50's parameters exactly
        assert not any(isinstance(b, models.SEBlock) for b in layers)
        assert set(ours) < set(theirs) and count_params(twin) == count_params(models.ResNet(50))
    if "depthwise" in twin_kwargs:    # no grouped convolution left
        convs = [c for c in layers if isinstance(c, paddle.nn.Conv2D)]
        assert all(c._groups == 1 for c in convs)
        assert any(c._groups > 1 for c in base.sublayers() if isinstance(c, paddle.nn.Conv2D))


def count_flops_ratio(base, twin):
    from palm_utils.summary import count_flops

    return count_flops(twin) / count_flops(base)
