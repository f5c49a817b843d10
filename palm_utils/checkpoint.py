"""Checkpoints: save and load parameters and optimizer state.

Saves go through :func:`~palm_utils.atomic.atomic_write_bytes`, so an
interrupted save leaves the previous file intact. Optimizer state is keyed
by structured parameter names, so it loads into a freshly built network.

Every load is checked before anything is set: names, shapes and dtypes of
the parameters (:func:`check_state`), and for optimizer state the shape of
every accumulator against its parameter (:func:`check_optimizer_state`).
Paddle's own ``set_state_dict`` only warns "Skip loading for ..." and leaves
such tensors at their random initial values, or fails half-way on a dtype or
at the first optimizer step; here a mismatch raises :class:`ParamsMismatch`
and the network and the optimizer are left exactly as they were.

Which function to call:

- parameters into a network (evaluation, predict, a notebook):
  :func:`load_params` ``(model, path)``;
- resuming training: :func:`load_checkpoint`
  ``(model, optimizer, params_path, opt_path)``, which checks both files
  before it sets either;
- a state dict already in memory: :func:`check_state`
  ``(model, state, path)`` (and :func:`check_optimizer_state`), then
  ``set_state_dict``.
"""
from __future__ import annotations

import io
import re
from pathlib import Path

from .atomic import atomic_write_bytes, atomic_write_json  # noqa: F401  (re-exported)
from .runtime import paddle

__all__ = [
    "ParamsMismatch", "check_optimizer_state", "check_state", "load_checkpoint",
    "load_optimizer", "load_params", "load_state", "save_optimizer", "save_state",
]

#: How many mismatched tensors a message names (the rest are counted).
SHOWN = 3

_FIX = ("Build the network with the arguments it was trained with (e.g. the same "
        "width or num_classes; with the command line, pass the matching --net-arg "
        "KEY=VALUE), or give a file saved from this network.")


class ParamsMismatch(ValueError):
    """A parameters (``.pdparams``) or optimizer-state (``.pdopt``) file does
    not fit the network it is loaded into. ``path`` is the file; ``problems``
    lists every mismatch as ``(name, what the file has, what the network
    needs)``; the message (one line) names the first few and what to do."""

    def __init__(self, message: str, path=None, problems=()):
        super().__init__(message)
        self.path = path
        self.problems = list(problems)


def save_state(state: dict, path: str | Path) -> Path:
    """``paddle.save`` a state dict atomically."""
    buf = io.BytesIO()
    paddle.save(state, buf)
    return atomic_write_bytes(path, buf.getvalue())


def load_state(path: str | Path) -> dict:
    """``paddle.load`` with an error that names the file and says what to do.
    Nothing is checked against a network: see :func:`check_state`."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(
            f"{path}: checkpoint not found. Train first (train_pm saves it), or "
            "pass the path of an existing .pdparams file."
        )
    try:
        state = paddle.load(str(path))
    except Exception as exc:
        raise ValueError(
            f"{path}: cannot load this checkpoint ({exc}). It may be truncated or "
            "from another program; delete it and train again."
        ) from exc
    if not isinstance(state, dict):
        raise ValueError(f"{path}: not a state dict (a {type(state).__name__}); was it "
                         "saved with paddle.save(model.state_dict(), ...)?")
    return state


# -- comparing ----------------------------------------------------------------


def _shape(value) -> list[int] | None:
    """The shape of a Paddle tensor or NumPy array as a list, None for
    anything else (a nested dict, a number)."""
    shape = getattr(value, "shape", None)
    if shape is None or callable(shape):
        return None
    try:
        return [int(n) for n in shape]
    except TypeError:
        return None


def _dtype(value) -> str:
    """``float32`` for a Paddle tensor (2.6 or 3.x) or a NumPy array."""
    name = str(getattr(value, "dtype", ""))
    return name.rsplit(".", 1)[-1].lower()


def _numel(shape: list[int]) -> int:
    n = 1
    for d in shape:
        n *= d
    return n


def _describe(problems, what: str, total: int) -> str:
    """``3 of 8 tensors do not fit: a: file [4] vs network [8]; ... (and 1 more)``."""
    shown = "; ".join(f"{name}: file {have} vs network {need}"
                      for name, have, need in problems[:SHOWN])
    more = f" (and {len(problems) - SHOWN} more)" if len(problems) > SHOWN else ""
    return f"{len(problems)} of {total} {what} do not fit: {shown}{more}"


def check_state(model, state: dict, path: str | Path = "<state>") -> None:
    """Raise :class:`ParamsMismatch` unless ``state`` (a parameters state dict,
    e.g. from :func:`load_state`) fits ``model`` exactly: the same names, and
    for each the same shape and dtype. Sets nothing. ``path`` names the file
    in the message."""
    own = model.state_dict()
    problems = []
    for name, param in own.items():
        if name not in state:
            problems.append((name, "missing", _shape(param)))
            continue
        value = state[name]
        have, need = _shape(value), _shape(param)
        if have is None:
            problems.append((name, f"a {type(value).__name__}", need))
        elif have != need:
            problems.append((name, have, need))
        elif _dtype(value) != _dtype(param):
            problems.append((name, _dtype(value), _dtype(param)))
    problems += [(name, _shape(state[name]), "absent") for name in state if name not in own]
    if problems:
        raise ParamsMismatch(
            f"{path}: parameters do not match {type(model).__name__}: "
            + _describe(problems, "tensors", len(set(own) | set(state)))
            + ". " + _FIX, path, problems)


def load_params(model, path: str | Path) -> None:
    """Load the parameters file ``path`` into ``model``, checked first
    (:func:`check_state`): a file that does not fit (another network, or the
    same one built with another width or number of classes) raises
    :class:`ParamsMismatch` naming the file and the tensors, and ``model``
    keeps its parameters."""
    state = load_state(path)
    check_state(model, state, path)
    model.set_state_dict(state)


# -- optimizer state ----------------------------------------------------------

_COUNTER = re.compile(r"_\d+$")


def _rename_keys(state: dict, mapping: dict) -> dict:
    """Replace parameter-name prefixes of optimizer-state keys via ``mapping``
    (longest match first); nested dicts such as ``master_weights`` too."""
    names = sorted(mapping, key=len, reverse=True)
    out = {}
    for key, value in state.items():
        if isinstance(value, dict):
            value = _rename_keys(value, mapping)
        for name in names:
            if key == name or key.startswith(name + "_"):
                key = mapping[name] + key[len(name):]
                break
        out[key] = value
    return out


def _param_names(model) -> dict:
    """Paddle's unique parameter names (``conv2d_9.w_0``, which change each
    time a network is built) -> stable structured names (``@features.0.weight``)."""
    return {p.name: f"@{n}" for n, p in model.named_parameters()}


def save_optimizer(optimizer, model, path: str | Path) -> Path:
    """Save optimizer state keyed by structured parameter names, so that it
    loads into a freshly built copy of the network (resume in a new kernel
    or after re-running a notebook cell)."""
    return save_state(_rename_keys(optimizer.state_dict(), _param_names(model)), path)


def _optimized(optimizer, model) -> list:
    """The parameters ``optimizer`` updates (its groups flattened)."""
    groups = getattr(optimizer, "_param_groups", None) or getattr(optimizer, "_parameter_list", None)
    if not groups:
        return list(model.parameters())
    out = []
    for group in groups:
        out += list(group["params"]) if isinstance(group, dict) else [group]
    return out


def _accumulator_name(optimizer, param, kind: str) -> str:
    """The name Paddle gives ``param``'s accumulator ``kind`` (``moment1``) in
    ``optimizer``: that of the accumulator it already has, else the one it
    will generate (``linear_0.w_0_moment1_0``; ``_1`` when another optimizer
    of this process already made one for the same parameter)."""
    existing = getattr(optimizer, "_accumulators", {}).get(kind, {}).get(param.name)
    if existing is not None:
        return existing.name
    key = f"{param.name}_{kind}"
    try:
        from paddle.base import unique_name
        count = unique_name.generator.ids.get(key, 0)
    except (ImportError, AttributeError):  # another Paddle: the first name
        count = 0
    return f"{key}_{count}"


def _resolve_optimizer_state(optimizer, model, state: dict, path) -> dict:
    """Check ``state`` (as :func:`save_optimizer` wrote it) against
    ``optimizer`` and ``model`` and return it keyed the way ``optimizer``
    will look its accumulators up. Raises :class:`ParamsMismatch`."""
    by_struct = {f"@{n}": p for n, p in model.named_parameters()}
    by_struct.update({p.name: p for p in model.parameters()})  # files keyed by Paddle names
    prefixes = sorted(by_struct, key=len, reverse=True)

    def owner(key: str):
        for prefix in prefixes:
            if key.startswith(prefix + "_"):
                return by_struct[prefix], key[len(prefix) + 1:]
        return None, None

    entries, extra, problems = [], [], []
    for key, value in state.items():
        if key in ("LR_Scheduler", "master_weights"):
            continue
        param, rest = owner(key)
        if param is None:
            extra.append(key)
            continue
        entries.append((key, param, _COUNTER.sub("", rest), value))
    # A kind whose entries all hold one number whatever the parameter's size
    # (Adam's beta1_pow_acc) is per-parameter scalar state; every other kind
    # has the shape of its parameter.
    kinds = {kind for _, _, kind, _ in entries}
    scalar = {k for k in kinds if all(_numel(_shape(v) or [0]) == 1 for _, _, kind, v in entries
                                      if kind == k)
              and any(_numel(p.shape) > 1 for _, p, kind, _ in entries if kind == k)}
    out, have = {}, set()
    for key, param, kind, value in entries:
        shape = _shape(value)
        need = [int(n) for n in param.shape]
        if shape is None or (kind not in scalar and shape != need):
            problems.append((key, shape if shape is not None else f"a {type(value).__name__}", need))
        have.add((param.name, kind))
        out[_accumulator_name(optimizer, param, kind)] = value
    masters = state.get("master_weights")
    if isinstance(masters, dict):
        renamed = {}
        for key, value in masters.items():
            param = by_struct.get(key)
            if param is None:
                extra.append(f"master_weights/{key}")
            elif _shape(value) != [int(n) for n in param.shape]:
                problems.append((f"master_weights/{key}", _shape(value), list(param.shape)))
            else:
                renamed[param.name] = value
        out["master_weights"] = renamed
    # Every parameter the optimizer trains needs each kind the file has, and
    # each accumulator the optimizer already holds.
    kinds |= {k for k, accs in getattr(optimizer, "_accumulators", {}).items() if accs}
    struct = {p.name: n for n, p in model.named_parameters()}
    missing = [f"@{struct.get(p.name, p.name)}_{kind}" for p in _optimized(optimizer, model)
               if not p.stop_gradient for kind in sorted(kinds) if (p.name, kind) not in have]
    problems += [(name, "missing", "needed") for name in missing]
    problems += [(name, "present", "no such parameter") for name in extra]
    lr = getattr(optimizer, "_learning_rate", None)
    if "LR_Scheduler" in state:
        out["LR_Scheduler"] = state["LR_Scheduler"]
    elif isinstance(lr, paddle.optimizer.lr.LRScheduler) and not isinstance(
            lr, paddle.optimizer.lr.LambdaDecay):
        problems.append(("LR_Scheduler", "missing", type(lr).__name__))
    if problems:
        raise ParamsMismatch(
            f"{path}: optimizer state does not match {type(model).__name__} and "
            f"{type(optimizer).__name__}: "
            + _describe(problems, "entries", len(entries) + len(missing) + len(extra))
            + ". Resume with the network, its arguments and the optimizer the run was "
            "started with, or delete this .pdopt file (and its .pdparams) to train from "
            "the start.", path, problems)
    return out


def check_optimizer_state(optimizer, model, state: dict, path: str | Path = "<state>") -> None:
    """Raise :class:`ParamsMismatch` unless ``state`` (optimizer state as
    :func:`save_optimizer` writes it, e.g. from :func:`load_state`) fits
    ``optimizer`` on ``model``: every accumulator belongs to a parameter of
    ``model`` and has its shape, every parameter the optimizer trains has
    each kind of accumulator the file has. Sets nothing."""
    _resolve_optimizer_state(optimizer, model, state, path)


def load_optimizer(optimizer, model, path: str | Path) -> None:
    """Load optimizer state saved by :func:`save_optimizer`, checked first
    (:func:`check_optimizer_state`): a mismatch raises :class:`ParamsMismatch`
    naming the ``.pdopt`` file and leaves ``optimizer`` as it was."""
    optimizer.set_state_dict(_resolve_optimizer_state(optimizer, model, load_state(path), path))


def load_checkpoint(model, optimizer, params_path: str | Path, opt_path: str | Path) -> None:
    """Resume: load ``params_path`` into ``model`` and ``opt_path`` into
    ``optimizer``. Both files are read and checked first (:func:`check_state`,
    :func:`check_optimizer_state`); on any mismatch :class:`ParamsMismatch`
    names the file, and neither the model nor the optimizer is changed."""
    state = load_state(params_path)
    check_state(model, state, params_path)
    opt_state = _resolve_optimizer_state(optimizer, model, load_state(opt_path), opt_path)
    model.set_state_dict(state)
    optimizer.set_state_dict(opt_state)
