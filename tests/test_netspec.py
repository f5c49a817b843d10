"""palm_utils.netspec: networks named by a string (a class a chapter saves,
file.py:Class, module:Class, a paddle.vision.models name)."""
import ast
from pathlib import Path

import pytest

from palm_utils import models, netspec
from palm_utils.netspec import NetworkSpecError, describe, load_network, parse_spec
from palm_utils.runtime import paddle
from palm_utils.summary import count_params

REPO = Path(__file__).resolve().parent.parent
PACKAGE = REPO / "palm_utils"
CHAPTERS = REPO / "notebooks"

# A network of one's own in a .py file, with a helper function and an
# UPPER_CASE constant it needs and BatchNorm (the data-parallel test averages
# its statistics).
TINY_BN = '''import paddle
import paddle.nn as nn

WIDTH = 4


def conv_bn(cin, cout):
    return nn.Sequential(nn.Conv2D(cin, cout, 3, stride=2, padding=1), nn.BatchNorm2D(cout), nn.ReLU())


class TinyBN(nn.Layer):
    def __init__(self, width=WIDTH):
        super().__init__()
        self.features = nn.Sequential(conv_bn(3, width), nn.MaxPool2D(4, 4), conv_bn(width, 2 * width))
        self.pool = nn.AdaptiveAvgPool2D(1)
        self.fc = nn.Linear(2 * width, 1)

    def forward(self, x):
        return self.fc(paddle.flatten(self.pool(self.features(x)), 1))
'''


def write_network_file(path: Path, source: str = TINY_BN) -> Path:
    """``path`` holding ``source`` (default: :data:`TINY_BN`), for ``path:TinyBN`` specs."""
    path.write_text(source, encoding="utf-8")
    return path


def logits(model, size=64):
    model.eval()
    with paddle.no_grad():
        return model(paddle.zeros([2, 3, size, size]))


needs_chapters = pytest.mark.skipif(not (CHAPTERS / "05_resnet.ipynb").is_file(),
                                    reason="chapter notebooks not in this checkout")


# -- classes the chapters save -----------------------------------------------

@needs_chapters
def test_chapter_class_is_palm_utils_models_class(monkeypatch):
    model = load_network(f"{CHAPTERS}/05_resnet.ipynb:ResNet", depth=18)
    assert type(model) is models.ResNet and count_params(model) == 11_186_625
    monkeypatch.chdir(REPO)   # the README's form, relative to the checkout
    assert count_params(load_network("notebooks/04_googlenet.ipynb:GoogLeNet")) == 5_974_577
    assert type(load_network("notebooks/07_inception_v3_senet.ipynb:SEResNet")) is models.SEResNet


def test_a_chapter_spec_does_not_read_the_notebook(tmp_path):
    """Only the file's name matters: the class is palm_utils.models', so even a
    file that is not JSON gives chapter 5's ResNet."""
    (tmp_path / "05_resnet.ipynb").write_text("not a notebook")
    assert type(load_network(f"{tmp_path}/05_resnet.ipynb:ResNet", depth=18)) is models.ResNet


def test_missing_notebook_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="05_resnet.ipynb: notebook not found"):
        load_network(f"{tmp_path}/05_resnet.ipynb:ResNet")


def test_a_class_the_chapter_does_not_save(tmp_path):
    (tmp_path / "05_resnet.ipynb").write_text("{}")
    with pytest.raises(NetworkSpecError) as info:
        load_network(f"{tmp_path}/05_resnet.ipynb:InceptionV3")
    message = str(info.value)
    assert message == (
        "05_resnet.ipynb saves no 'InceptionV3' (InceptionV3 is saved by 07_inception_v3_senet.ipynb); "
        "it saves ConvBN, BatchNormScratch, Bottleneck, BasicBlock, ResNet. For a notebook of your own: save its classes "
        "in a .py file and give file.py:InceptionV3.")
    with pytest.raises(NetworkSpecError, match=r"saves no 'Mine'; it saves ConvBN, .*file.py:Mine\.$"):
        load_network(f"{tmp_path}/05_resnet.ipynb:Mine")


@pytest.mark.parametrize("name", ["tiny.ipynb", "09_use.ipynb"])
def test_a_notebook_that_saves_no_network(tmp_path, name):
    (tmp_path / name).write_text("{}")
    with pytest.raises(NetworkSpecError) as info:
        load_network(f"{tmp_path}/{name}:TinyBN")
    message = str(info.value)
    assert message.startswith(f"{name} is not a chapter that saves networks (those are 01_lenet.ipynb, ")
    assert message.endswith("a notebook of your own: save its classes in a .py file and give file.py:TinyBN.")
    assert "\n" not in message


def test_the_package_runs_no_notebook_code():
    """No exec/eval/compile, linecache or notebook JSON anywhere in palm_utils:
    every network is ordinary imported Python."""
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
                    and node.func.id in ("exec", "eval", "compile")):
                found.append(f"{path.name}:{node.lineno} {node.func.id}()")
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                names = [a.name for a in node.names] + [getattr(node, "module", None) or ""]
                found += [f"{path.name}:{node.lineno} import {n}" for n in names
                          if n.split(".")[0] in ("linecache", "nbformat", "nbclient")]
            if isinstance(node, ast.Constant) and node.value in ("cells", "cell_type"):
                found.append(f"{path.name}:{node.lineno} notebook JSON key {node.value!r}")
    assert not found, found


# -- files and modules -------------------------------------------------------

def test_file_class_with_its_helpers(tmp_path):
    spec = f"{write_network_file(tmp_path / 'mine.py')}:TinyBN"
    model = load_network(spec)
    assert type(model).__name__ == "TinyBN" and logits(model).shape == [2, 1]
    assert model.fc.weight.shape == [8, 1]                     # WIDTH = 4 from the file
    assert load_network(spec, width=3).fc.weight.shape == [6, 1]
    with pytest.raises(FileNotFoundError, match="nowhere.py: file not found"):
        load_network(f"{tmp_path}/nowhere.py:TinyBN")


def test_module_class(tmp_path, monkeypatch):
    (tmp_path / "my_nets.py").write_text(
        "import paddle\n\nclass Lin(paddle.nn.Layer):\n"
        "    def __init__(self, n=3):\n        super().__init__()\n        self.fc = paddle.nn.Linear(n, 1)\n\n"
        "    def forward(self, x):\n        return self.fc(x)\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    assert load_network("my_nets:Lin", n=7).fc.weight.shape == [7, 1]
    assert load_network(f"{tmp_path / 'my_nets.py'}:Lin").fc.weight.shape == [3, 1]
    assert type(load_network("palm_utils.cli.demo:TinyNet", width=4)).__name__ == "TinyNet"
    assert type(load_network("palm_utils.models:NiN")) is models.NiN
    with pytest.raises(NetworkSpecError, match=r"my_nets has no 'Conv'; its network classes: Lin"):
        load_network("my_nets:Conv")
    with pytest.raises(NetworkSpecError, match="cannot import module 'no_such_module_xyz'"):
        load_network("no_such_module_xyz:Net")


def test_something_that_is_not_a_layer(tmp_path, monkeypatch):
    (tmp_path / "not_nets.py").write_text("def make():\n    return 42\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(NetworkSpecError, match="not a paddle.nn.Layer"):
        load_network("not_nets:make")
    (tmp_path / "03_vgg.ipynb").write_text("{}")
    with pytest.raises(NetworkSpecError, match="03_vgg.ipynb:VGG16_ARCH is not a class or function"):
        load_network(f"{tmp_path}/03_vgg.ipynb:VGG16_ARCH")


# -- paddle.vision.models ----------------------------------------------------

def test_vision_model_has_one_logit():
    model = load_network("resnet18")
    assert logits(model).shape == [2, 1]
    assert load_network("resnet18", num_classes=2).fc.weight.shape[1] == 2


def test_unknown_model_name_suggests_close_ones():
    with pytest.raises(NetworkSpecError, match=r"unknown model name 'resnet51'.*Did you mean resnet50"):
        load_network("resnet51")


# -- spec forms and describe -------------------------------------------------

def test_parse_and_describe():
    assert parse_spec("a/b/c.ipynb:Net") == netspec.NetSpec("notebook", "a/b/c.ipynb", "Net")
    assert parse_spec("a/b/c.py:Net") == netspec.NetSpec("file", "a/b/c.py", "Net")
    assert parse_spec("pkg.mod:Net") == netspec.NetSpec("module", "pkg.mod", "Net")
    assert parse_spec("resnet50") == netspec.NetSpec("vision", "paddle.vision.models", "resnet50")
    assert describe("notebooks/05_resnet.ipynb:ResNet") == \
        "class ResNet saved by notebook notebooks/05_resnet.ipynb (palm_utils.models.ResNet)"
    assert describe("palm_utils.cli.demo:TinyNet") == "class TinyNet from module palm_utils.cli.demo"
    assert describe("resnet50") == "paddle.vision.models.resnet50(num_classes=1, pretrained=False)"
    assert "\n" not in describe("x.py:Net")


@pytest.mark.parametrize("spec", ["", "a b", "nb.ipynb:", "nb.ipynb:1Net", "some/dir:Net"])
def test_malformed_specs(spec):
    with pytest.raises(NetworkSpecError):
        parse_spec(spec)
