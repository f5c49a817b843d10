"""palm_utils.cli.netspec: networks named by a string (notebook class, module
class, paddle.vision.models name)."""
import json
from pathlib import Path

import pytest

from palm_utils.cli import netspec
from palm_utils.cli.netspec import NetworkSpecError, describe, load_network, parse_spec
from palm_utils.runtime import paddle
from palm_utils.summary import count_params

REPO = Path(__file__).resolve().parent.parent

# A notebook the way the chapters write them: imports, a helper function and
# an UPPER_CASE constant the class needs, a magic, a class that would fail if
# it were defined (it is not needed), and cells that must never run.
CELLS = [
    ("markdown", "# A tiny network\nNot code."),
    ("code", "%matplotlib inline\nimport numpy as np\nimport paddle\nimport paddle.nn as nn\n"
             "import this_module_does_not_exist_anywhere as never_needed"),
    ("code", "WIDTH = 4\n\ndef conv_bn(cin, cout):\n"
             "    return nn.Sequential(nn.Conv2D(cin, cout, 3, stride=2, padding=1), "
             "nn.BatchNorm2D(cout), nn.ReLU())"),
    ("code", "class TinyBN(nn.Layer):\n"
             "    def __init__(self, width=WIDTH):\n"
             "        super().__init__()\n"
             "        self.features = nn.Sequential(conv_bn(3, width), nn.MaxPool2D(4, 4), "
             "conv_bn(width, 2 * width))\n"
             "        self.pool = nn.AdaptiveAvgPool2D(1)\n"
             "        self.fc = nn.Linear(2 * width, 1)\n\n"
             "    def forward(self, x):\n"
             "        return self.fc(paddle.flatten(self.pool(self.features(x)), 1))"),
    ("code", "class Unused(nn.Layer):\n    broken = undefined_name_at_class_level\n"),
    ("code", "model = TinyBN()\nraise RuntimeError('a training cell ran')"),
    ("code", "%%bash\necho this cell is not Python"),
]


def write_notebook(path: Path, cells=CELLS) -> Path:
    nb = {"nbformat": 4, "nbformat_minor": 5, "metadata": {},
          "cells": [{"cell_type": kind, "metadata": {}, "source": source.splitlines(True),
                     **({"outputs": [], "execution_count": None} if kind == "code" else {})}
                    for kind, source in cells]}
    path.write_text(json.dumps(nb), encoding="utf-8")
    return path


@pytest.fixture
def notebook(tmp_path):
    return write_notebook(tmp_path / "tiny.ipynb")


def logits(model, size=64):
    model.eval()
    with paddle.no_grad():
        return model(paddle.zeros([2, 3, size, size]))


# -- notebooks ---------------------------------------------------------------

def test_notebook_class_is_built_without_running_other_cells(notebook):
    model = load_network(f"{notebook}:TinyBN")
    assert type(model).__name__ == "TinyBN" and isinstance(model, paddle.nn.Layer)
    assert logits(model).shape == [2, 1]
    assert model.fc.weight.shape == [8, 1]          # WIDTH = 4 from the notebook


def test_notebook_kwargs_reach_the_class(notebook):
    assert load_network(f"{notebook}:TinyBN", width=3).fc.weight.shape == [6, 1]


def test_only_the_definitions_the_class_needs_are_taken(notebook):
    source = netspec.definitions(notebook, names={"TinyBN"}, imports=True)
    assert "class TinyBN" in source and "def conv_bn" in source and "WIDTH = 4" in source
    assert "import paddle.nn as nn" in source
    for absent in ("Unused", "numpy", "this_module_does_not_exist", "raise RuntimeError", "echo"):
        assert absent not in source, absent
    everything = netspec.definitions(notebook)       # the benchmark's view: all definitions
    assert "class Unused" in everything and "import " not in everything
    assert netspec.notebook_classes(notebook) == ["TinyBN", "Unused"]


def test_decorated_definitions_keep_their_decorator(tmp_path):
    nb = write_notebook(tmp_path / "deco.ipynb", [
        ("code", "import functools\nimport paddle.nn as nn"),
        ("code", "@functools.lru_cache()\ndef width():\n    return 5\n\n"
                 "class Lin(nn.Layer):\n    def __init__(self):\n        super().__init__()\n"
                 "        self.fc = nn.Linear(width(), 1)\n\n"
                 "    def forward(self, x):\n        return self.fc(x)"),
    ])
    assert load_network(f"{nb}:Lin").fc.weight.shape == [5, 1]


def test_missing_notebook_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="nowhere.ipynb: notebook not found"):
        load_network(f"{tmp_path}/nowhere.ipynb:TinyBN")


def test_missing_class_lists_the_notebook_classes(notebook):
    with pytest.raises(NetworkSpecError, match=r"defines no class 'ResNet'; its classes: TinyBN, Unused"):
        load_network(f"{notebook}:ResNet")


def test_a_file_that_is_not_a_notebook(tmp_path):
    bad = tmp_path / "bad.ipynb"
    bad.write_text("not json")
    with pytest.raises(NetworkSpecError, match="not a Jupyter notebook"):
        load_network(f"{bad}:X")


def test_chapter_notebook_builds_with_its_parameter_count():
    chapter = REPO / "notebooks" / "04_googlenet.ipynb"
    if not chapter.is_file():
        pytest.skip("chapter notebooks not in this checkout")
    assert count_params(load_network(f"{chapter}:GoogLeNet")) == 5_974_577


# -- modules and files -------------------------------------------------------

def test_module_class(tmp_path, monkeypatch):
    (tmp_path / "my_nets.py").write_text(
        "import paddle\n\nclass Lin(paddle.nn.Layer):\n"
        "    def __init__(self, n=3):\n        super().__init__()\n        self.fc = paddle.nn.Linear(n, 1)\n\n"
        "    def forward(self, x):\n        return self.fc(x)\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    assert load_network("my_nets:Lin", n=7).fc.weight.shape == [7, 1]
    assert load_network(f"{tmp_path / 'my_nets.py'}:Lin").fc.weight.shape == [3, 1]
    assert type(load_network("palm_utils.cli.demo:TinyNet", width=4)).__name__ == "TinyNet"
    with pytest.raises(NetworkSpecError, match=r"my_nets has no 'Conv'; its network classes: Lin"):
        load_network("my_nets:Conv")
    with pytest.raises(NetworkSpecError, match="cannot import module 'no_such_module_xyz'"):
        load_network("no_such_module_xyz:Net")


def test_something_that_is_not_a_layer(tmp_path, monkeypatch):
    (tmp_path / "not_nets.py").write_text("def make():\n    return 42\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(NetworkSpecError, match="not a paddle.nn.Layer"):
        load_network("not_nets:make")


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
    assert parse_spec("pkg.mod:Net") == netspec.NetSpec("module", "pkg.mod", "Net")
    assert parse_spec("resnet50") == netspec.NetSpec("vision", "paddle.vision.models", "resnet50")
    assert describe("notebooks/05_resnet.ipynb:ResNet") == \
        "class ResNet defined in notebook notebooks/05_resnet.ipynb"
    assert describe("palm_utils.cli.demo:TinyNet") == "class TinyNet from module palm_utils.cli.demo"
    assert describe("resnet50") == "paddle.vision.models.resnet50(num_classes=1, pretrained=False)"
    assert "\n" not in describe("x.py:Net")


@pytest.mark.parametrize("spec", ["", "a b", "nb.ipynb:", "nb.ipynb:1Net", "some/dir:Net"])
def test_malformed_specs(spec):
    with pytest.raises(NetworkSpecError):
        parse_spec(spec)
