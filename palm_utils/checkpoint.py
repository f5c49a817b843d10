"""Checkpoints: save and load parameters and optimizer state.

Saves go through :func:`~palm_utils.atomic.atomic_write_bytes`, so an
interrupted save leaves the previous file intact. Optimizer state is keyed
by structured parameter names, so it loads into a freshly built network.
"""
from __future__ import annotations

import io
from pathlib import Path

from .atomic import atomic_write_bytes, atomic_write_json  # noqa: F401  (re-exported)
from .runtime import paddle


def save_state(state: dict, path: str | Path) -> Path:
    """``paddle.save`` a state dict atomically."""
    buf = io.BytesIO()
    paddle.save(state, buf)
    return atomic_write_bytes(path, buf.getvalue())


def load_state(path: str | Path) -> dict:
    """``paddle.load`` with an error that names the file and says what to do."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(
            f"{path}: checkpoint not found. Train first (train_pm saves it), or "
            "pass the path of an existing .pdparams file."
        )
    try:
        return paddle.load(str(path))
    except Exception as exc:
        raise ValueError(
            f"{path}: cannot load this checkpoint ({exc}). It may be truncated or "
            "from another program; delete it and train again."
        ) from exc


def load_params(model, path: str | Path) -> None:
    """Load parameters into ``model``; a shape mismatch names the file."""
    state = load_state(path)
    missing, unexpected = [], []
    own = model.state_dict()
    for k in own:
        if k not in state:
            missing.append(k)
    for k in state:
        if k not in own:
            unexpected.append(k)
    if missing or unexpected:
        raise ValueError(
            f"{path}: parameters do not match {type(model).__name__} "
            f"(missing {missing[:3]}, unexpected {unexpected[:3]}); was it saved "
            "from another network?"
        )
    model.set_state_dict(state)


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
    time a network is built) -> stable structured names (``features.0.weight``)."""
    return {p.name: f"@{n}" for n, p in model.named_parameters()}


def save_optimizer(optimizer, model, path: str | Path) -> Path:
    """Save optimizer state keyed by structured parameter names, so that it
    loads into a freshly built copy of the network (resume in a new kernel
    or after re-running a notebook cell)."""
    return save_state(_rename_keys(optimizer.state_dict(), _param_names(model)), path)


def load_optimizer(optimizer, model, path: str | Path) -> None:
    back = {v: k for k, v in _param_names(model).items()}
    optimizer.set_state_dict(_rename_keys(load_state(path), back))
