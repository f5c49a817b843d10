"""Networks named by a string: ``load_network(spec, **kwargs)``.

Three forms of ``spec``:

``path/to/notebook.ipynb:ClassName``
    The class as a chapter notebook defines it. The notebook is *read*, not
    run: of its code cells only the top-level definitions are kept (classes,
    functions, UPPER_CASE constants, via :mod:`ast`), and of those only the
    ones ``ClassName`` needs, directly or through other definitions, with
    the imports they use. They run in a fresh namespace that already holds
    ``paddle``, ``nn``, ``F``, ``np`` and ``math``; training cells never run.
    (A ``path/to/file.py:ClassName`` is imported from that file.)
``package.module:ClassName``
    Imported, e.g. ``palm_utils.cli.demo:TinyNet``.
``resnet50``
    A function of ``paddle.vision.models``, called with ``num_classes=1`` and
    ``pretrained=False`` (keyword arguments override them).

The class (or function) is then called with ``**kwargs``. Nothing but the
file named in the spec is read.

:func:`definitions` and :func:`exec_notebook` are the general form of what
the speed benchmark does with the chapter notebooks.
"""
from __future__ import annotations

import ast
import difflib
import importlib
import linecache
import importlib.util
import json
import math
import re
import sys
from dataclasses import dataclass
from pathlib import Path

from ..runtime import paddle

_MAGIC = re.compile(r"^\s*[%!]")
_IDENT = re.compile(r"^[A-Za-z_]\w*$")
_MODULE = re.compile(r"^[A-Za-z_]\w*(\.[A-Za-z_]\w*)*$")


class NetworkSpecError(ValueError):
    """The spec cannot be resolved to a network (bad form, unknown name, a
    class the notebook does not define)."""


# --------------------------------------------------------------------------
# Reading notebooks
# --------------------------------------------------------------------------

def _code_cells(notebook: Path) -> list[str]:
    notebook = Path(notebook)
    if not notebook.is_file():
        raise FileNotFoundError(f"{notebook}: notebook not found.")
    try:
        nb = json.loads(notebook.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise NetworkSpecError(f"{notebook}: not a Jupyter notebook ({exc}).") from None
    if not isinstance(nb, dict) or not isinstance(nb.get("cells"), list):
        raise NetworkSpecError(f"{notebook}: not a Jupyter notebook in nbformat 4 (no 'cells').")
    cells = []
    for cell in nb["cells"]:
        if cell.get("cell_type") != "code":
            continue
        source = cell.get("source", "")
        cells.append("".join(source) if isinstance(source, list) else str(source))
    return cells


def _without_magics(source: str) -> str:
    """IPython ``%magic`` / ``!shell`` lines commented out (line numbers kept)."""
    return "\n".join("# " + line if _MAGIC.match(line) else line for line in source.split("\n"))


def _is_constant(node) -> bool:
    if isinstance(node, ast.Assign):
        return all(isinstance(t, ast.Name) and t.id.isupper() for t in node.targets)
    if isinstance(node, ast.AnnAssign):
        return isinstance(node.target, ast.Name) and node.target.id.isupper() and node.value is not None
    return False


def _defined_names(node) -> set[str]:
    if isinstance(node, (ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
        return {node.name}
    if isinstance(node, ast.Assign):
        return {t.id for t in node.targets}
    if isinstance(node, ast.AnnAssign):
        return {node.target.id}
    if isinstance(node, (ast.Import, ast.ImportFrom)):
        return {(a.asname or a.name).split(".")[0] for a in node.names if a.name != "*"}
    return set()


def _used_names(node) -> set[str]:
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}


def _segment(lines: list[str], node) -> str:
    """The statement's source, decorators included (``ast.get_source_segment``
    starts at the ``class`` / ``def`` line); like it, without a trailing comment."""
    first = min([node.lineno] + [d.lineno for d in getattr(node, "decorator_list", [])])
    chunk = lines[first - 1:node.end_lineno]
    chunk[-1] = chunk[-1].encode("utf-8")[:node.end_col_offset].decode("utf-8", "replace")
    return "\n".join(chunk)


def _top_level(notebook: Path, imports: bool):
    """(source, defined names, used names, kind) of each kept top-level
    statement of the notebook's code cells, in order."""
    items = []
    for cell in _code_cells(notebook):
        source = _without_magics(cell)
        try:
            tree = ast.parse(source)
        except SyntaxError:  # cell magics (%%bash ...): never definitions
            continue
        lines = source.split("\n")
        for node in tree.body:
            if isinstance(node, (ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
                kind = "class" if isinstance(node, ast.ClassDef) else "def"
            elif _is_constant(node):
                kind = "constant"
            elif imports and isinstance(node, (ast.Import, ast.ImportFrom)):
                kind = "import"
            else:
                continue
            items.append((_segment(lines, node), _defined_names(node), _used_names(node), kind))
    return items


def notebook_classes(notebook: str | Path) -> list[str]:
    """Names of the classes defined at the top level of ``notebook``."""
    seen = []
    for _, names, _, kind in _top_level(Path(notebook), imports=False):
        if kind == "class" and next(iter(names)) not in seen:
            seen.append(next(iter(names)))
    return seen


def definitions(notebook: str | Path, names=None, imports: bool = False) -> str:
    """Source of the top-level classes, functions and UPPER_CASE constants
    defined in ``notebook``'s code cells, in order (what
    ``benchmarks/networks.py`` executes).

    ``names``: keep only the definitions these names need, followed
    transitively through the names each definition uses. ``imports=True``
    also keeps the top-level ``import`` statements (with ``names``, only
    those that bind a needed name). Training and plotting statements are
    never kept."""
    items = _top_level(Path(notebook), imports)
    if names is not None:
        needed, keep, changed = set(names), [False] * len(items), True
        while changed:
            changed = False
            for i, (_, defined, used, _) in enumerate(items):
                if not keep[i] and defined & needed:
                    keep[i], changed = True, True
                    needed |= used
        items = [item for item, k in zip(items, keep) if k]
    return "\n\n".join(source for source, *_ in items)


def default_namespace() -> dict:
    """What notebook code may use without importing it: ``paddle``, ``nn``,
    ``F``, ``np``, ``math``."""
    import numpy as np

    return {"paddle": paddle, "nn": paddle.nn, "F": paddle.nn.functional, "np": np, "math": math}


def exec_notebook(notebook: str | Path, namespace: dict | None = None, names=None,
                  imports: bool = True) -> dict:
    """Execute :func:`definitions` of ``notebook`` in a fresh copy of
    ``namespace`` (default :func:`default_namespace`) and return it."""
    notebook = Path(notebook)
    scope = dict(default_namespace() if namespace is None else namespace)
    scope.setdefault("__name__", f"notebook:{notebook.stem}")
    source = definitions(notebook, names=names, imports=imports)
    # A name of its own, with the source in linecache, so that inspect (and
    # with it paddle.jit.save / to_static) can read the classes' code: the
    # notebook file itself is JSON, not Python.
    filename = f"<notebook {notebook.name}>"
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    exec(compile(source, filename, "exec"), scope)
    return scope


# --------------------------------------------------------------------------
# Specs
# --------------------------------------------------------------------------

@dataclass(frozen=True)
class NetSpec:
    kind: str     # "notebook", "file", "module" or "vision"
    source: str   # notebook / file path, module name, or "paddle.vision.models"
    name: str     # class (or function) name

    def __str__(self) -> str:
        return describe(self)


def vision_models() -> list[str]:
    """The network functions of ``paddle.vision.models`` (``resnet50``, ...)."""
    models = paddle.vision.models
    return [n for n in getattr(models, "__all__", dir(models))
            if n[:1].islower() and callable(getattr(models, n, None))]


def parse_spec(spec: str | NetSpec) -> NetSpec:
    """Split ``spec`` into its :class:`NetSpec` (no file is read)."""
    if isinstance(spec, NetSpec):
        return spec
    spec = str(spec).strip()
    if not spec:
        raise NetworkSpecError("empty network spec; give e.g. notebooks/05_resnet.ipynb:ResNet, "
                               "palm_utils.cli.demo:TinyNet or resnet50.")
    if ":" in spec:
        source, name = spec.rsplit(":", 1)
        if not _IDENT.match(name):
            raise NetworkSpecError(f"{spec!r}: {name!r} after the ':' is not a class name.")
        if source.endswith(".ipynb"):
            return NetSpec("notebook", source, name)
        if source.endswith(".py"):
            return NetSpec("file", source, name)
        if _MODULE.match(source):
            return NetSpec("module", source, name)
        raise NetworkSpecError(
            f"{spec!r}: before the ':' give a notebook (.ipynb), a .py file or a dotted module name.")
    if _IDENT.match(spec):
        return NetSpec("vision", "paddle.vision.models", spec)
    raise NetworkSpecError(
        f"{spec!r} is not a network spec: use path/to/notebook.ipynb:ClassName, "
        "package.module:ClassName or a paddle.vision.models name such as resnet50.")


def parse_net_arg(text: str) -> tuple[str, object]:
    """``--net-arg KEY=VALUE`` -> ``(key, value)``; the value is a Python
    literal where it parses as one (``depth=101``), else the string."""
    import argparse
    import ast

    key, sep, value = text.partition("=")
    if not sep or not key.strip().isidentifier():
        raise argparse.ArgumentTypeError(f"{text!r}: expected KEY=VALUE, e.g. depth=101")
    try:
        return key.strip(), ast.literal_eval(value)
    except (ValueError, SyntaxError):
        return key.strip(), value


def describe(spec: str | NetSpec) -> str:
    """One line saying where the network of ``spec`` comes from."""
    s = parse_spec(spec)
    if s.kind == "notebook":
        return f"class {s.name} defined in notebook {s.source}"
    if s.kind == "file":
        return f"class {s.name} from file {s.source}"
    if s.kind == "module":
        return f"class {s.name} from module {s.source}"
    return f"paddle.vision.models.{s.name}(num_classes=1, pretrained=False)"


def _layer_classes(scope: dict) -> list[str]:
    return sorted(k for k, v in scope.items() if isinstance(v, type)
                  and issubclass(v, paddle.nn.Layer) and not k.startswith("_"))


def _resolve(s: NetSpec):
    """The class or factory function a spec names."""
    if s.kind == "notebook":
        path = Path(s.source).expanduser()
        if not path.is_file():
            raise FileNotFoundError(f"{s.source}: notebook not found (network spec "
                                    f"{s.source}:{s.name}).")
        classes = notebook_classes(path)
        if s.name not in classes:
            raise NetworkSpecError(
                f"{s.source} defines no class {s.name!r}; its classes: "
                f"{', '.join(classes) if classes else '(none)'}.")
        try:
            scope = exec_notebook(path, names={s.name})
        except NameError as exc:
            raise NetworkSpecError(
                f"{s.source}: defining {s.name} failed ({exc}). Only classes, functions, "
                "UPPER_CASE constants and imports are taken from a notebook; define the "
                "missing name in one of those.") from exc
        return scope[s.name]
    if s.kind in ("file", "module"):
        if s.kind == "file":
            path = Path(s.source).expanduser()
            if not path.is_file():
                raise FileNotFoundError(f"{s.source}: file not found (network spec {s.source}:{s.name}).")
            mod_name = f"_palm_netspec_{abs(hash(str(path.resolve())))}"
            loader_spec = importlib.util.spec_from_file_location(mod_name, path)
            module = importlib.util.module_from_spec(loader_spec)
            sys.modules[mod_name] = module
            loader_spec.loader.exec_module(module)
        else:
            try:
                module = importlib.import_module(s.source)
            except ModuleNotFoundError as exc:
                raise NetworkSpecError(f"cannot import module {s.source!r} ({exc}).") from exc
        if not hasattr(module, s.name):
            classes = _layer_classes(vars(module))
            raise NetworkSpecError(
                f"{s.source} has no {s.name!r}; its network classes: "
                f"{', '.join(classes) if classes else '(none)'}.")
        return getattr(module, s.name)
    names = vision_models()
    if s.name not in names:
        close = difflib.get_close_matches(s.name.lower(), names, n=3)
        hint = f" Did you mean {', '.join(close)}?" if close else ""
        raise NetworkSpecError(
            f"unknown model name {s.name!r}: not a network function of paddle.vision.models."
            f"{hint} Known: {', '.join(names)}. (For your own class use "
            "path/to/notebook.ipynb:ClassName or package.module:ClassName.)")
    return getattr(paddle.vision.models, s.name)


def load_network(spec: str | NetSpec, **kwargs) -> paddle.nn.Layer:
    """Build the network ``spec`` names (see the module docstring), called
    with ``**kwargs``."""
    s = parse_spec(spec)
    factory = _resolve(s)
    if s.kind == "vision":
        kwargs = {"num_classes": 1, "pretrained": False, **kwargs}
    if not callable(factory):
        raise NetworkSpecError(f"{s.source}:{s.name} is not a class or function.")
    model = factory(**kwargs)
    if not isinstance(model, paddle.nn.Layer):
        raise NetworkSpecError(
            f"{describe(s)} gave a {type(model).__name__}, not a paddle.nn.Layer.")
    return model
