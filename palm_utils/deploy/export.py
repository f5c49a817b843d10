"""Export a trained network for deployment, and load it back without Python
model code.

- :func:`export_model`: ``paddle.jit.save`` with a free batch size. Paddle 3
  writes ``PREFIX.json`` (the PIR program) and ``PREFIX.pdiparams``; Paddle
  2.6 writes ``PREFIX.pdmodel`` and ``PREFIX.pdiparams``.
- :func:`load_predictor`: the exported files in a ``paddle.inference``
  predictor, called like a function on a NumPy batch.
- :func:`export_onnx`: an ONNX file (needs the ``paddle2onnx`` package) for
  ONNX Runtime, OpenVINO, TensorRT, ...

A predictor goes wherever a model does in :func:`~palm_utils.deploy.predict.predict`.
"""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np

from .. import runtime
from ..checkpoint import atomic_write_bytes
from ..runtime import paddle

PROGRAM_SUFFIXES = (".json", ".pdmodel")  # Paddle 3 (PIR), Paddle 2.x
PARAMS_SUFFIX = ".pdiparams"


def export_model(model, path_prefix, input_shape=(3, 224, 224)) -> Path:
    """Save ``model`` (in eval mode) as a static program plus parameters,
    for inputs of shape ``[batch, *input_shape]`` with any batch size.
    Returns the program file's path."""
    path_prefix = Path(path_prefix)
    path_prefix.parent.mkdir(parents=True, exist_ok=True)
    spec = paddle.static.InputSpec([None, *input_shape], "float32", "image")
    for suffix in PROGRAM_SUFFIXES:  # a program of the other format would be loaded instead
        Path(f"{path_prefix}{suffix}").unlink(missing_ok=True)
    was_training = model.training
    model.eval()
    try:
        paddle.jit.save(model, str(path_prefix), input_spec=[spec])
    finally:
        if was_training:
            model.train()
    return program_file(path_prefix)


def program_file(path_prefix) -> Path:
    """``PREFIX.json`` or ``PREFIX.pdmodel``, whichever exists (this Paddle's
    own format first: Paddle 2.6 cannot read Paddle 3's ``.json``)."""
    own = ".json" if int(paddle.__version__.split(".")[0]) >= 3 else ".pdmodel"
    for suffix in sorted(PROGRAM_SUFFIXES, key=lambda s: s != own):
        candidate = Path(f"{path_prefix}{suffix}")
        if candidate.is_file():
            return candidate
    raise FileNotFoundError(
        f"{path_prefix}: no exported model here (looked for "
        f"{' and '.join(Path(path_prefix).name + s for s in PROGRAM_SUFFIXES)}); "
        "export one with palm_utils.deploy.export_model(model, PREFIX)."
    )


class Predictor:
    """A ``paddle.inference`` predictor called like a model on NumPy:
    ``predictor(batch)`` -> the first output (logits) as an array."""

    def __init__(self, predictor, path_prefix):
        self.predictor = predictor
        self.path_prefix = Path(path_prefix)
        self.input_name = predictor.get_input_names()[0]
        self.output_name = predictor.get_output_names()[0]

    def __call__(self, batch) -> np.ndarray:
        batch = np.ascontiguousarray(batch, dtype=np.float32)
        handle = self.predictor.get_input_handle(self.input_name)
        handle.reshape(list(batch.shape))
        handle.copy_from_cpu(batch)
        self.predictor.run()
        return self.predictor.get_output_handle(self.output_name).copy_to_cpu()

    def __repr__(self) -> str:
        return f"Predictor({str(self.path_prefix)!r})"


def load_predictor(path_prefix, device: str | None = None, threads: int | None = None) -> Predictor:
    """Load what :func:`export_model` wrote into a ``paddle.inference``
    predictor. ``device``: ``"cpu"``, ``"gpu"`` or ``None`` (the GPU when
    there is one). ``threads``: CPU threads (default: every core)."""
    from paddle import inference

    model_file = program_file(path_prefix)
    params_file = Path(f"{path_prefix}{PARAMS_SUFFIX}")
    if not params_file.is_file():
        raise FileNotFoundError(f"{params_file}: parameters of the exported model not found.")
    config = inference.Config(str(model_file), str(params_file))
    if (device or ("gpu" if runtime.has_gpu() else "cpu")).startswith("gpu"):
        config.enable_use_gpu(256, 0)
    else:
        config.disable_gpu()
        config.set_cpu_math_library_num_threads(threads or runtime.cpu_threads())
    config.disable_glog_info()
    return Predictor(inference.create_predictor(config), path_prefix)


def export_onnx(model, path, input_shape=(3, 224, 224), opset_version: int = 11) -> Path:
    """Export ``model`` to the ONNX file ``path`` (batch size free) through
    :func:`export_model` and ``paddle2onnx``. Returns ``path``."""
    hint = ("pip install paddle2onnx on Paddle 3, pip install 'paddle2onnx<2' on Paddle 2.6 "
            "(and onnxruntime to run the result)")
    try:
        import paddle2onnx
    except ImportError as exc:
        raise ImportError(f"export_onnx needs the paddle2onnx package: {hint}.") from exc
    except ValueError as exc:  # paddle2onnx 2.x refuses Paddle 2.x when imported
        raise ImportError(f"this paddle2onnx does not work with Paddle {paddle.__version__} "
                          f"({exc}); {hint}.") from exc
    with tempfile.TemporaryDirectory() as tmp:
        prefix = os.path.join(tmp, "model")
        model_file = export_model(model, prefix, input_shape)
        # Without save_file paddle2onnx returns the bytes and skips its optional
        # optimizers (paddle2onnx 2.x's Polygraphy pip-installs packages on the fly).
        data = paddle2onnx.export(str(model_file), prefix + PARAMS_SUFFIX,
                                  opset_version=opset_version, enable_onnx_checker=True)
    return atomic_write_bytes(path, data)
