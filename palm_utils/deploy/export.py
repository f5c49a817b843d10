"""Export a trained network for deployment, and load it back without Python
model code.

- :func:`export_model`: ``paddle.jit.save`` with a free batch size. Paddle 3
  writes ``PREFIX.json`` (the PIR program) and ``PREFIX.pdiparams``; Paddle
  2.6 writes ``PREFIX.pdmodel`` and ``PREFIX.pdiparams``.
- :func:`load_predictor`: the exported files in a ``paddle.inference``
  predictor, called like a function on a NumPy batch. On the CPU it runs
  with oneDNN and Paddle's graph optimisation on every core
  (:data:`CPU_DEFAULTS`): about twice as fast as eager Paddle, with its
  probabilities (``docs/benchmarks.md``, section 4).
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


#: How :func:`load_predictor` sets up ``paddle.inference`` on the CPU (with
#: every core as ``cpu_math_library_num_threads``, which is 1 by default).
#: Measured with ``python -m benchmarks --only predict`` (docs/benchmarks.md,
#: section 4: ResNet-50, 2 Xeon cores shared with other jobs):
#:
#: - oneDNN: about 2x eager Paddle at batch 1 and 10 (1.9x to 2.3x over five
#:   runs on Paddle 3.3; 1.8x and 2.5x on 2.6), probabilities within 1e-5 of
#:   eager's. Without it, paddle.inference ran at 0.8x to 1.2x eager.
#: - ``ir_optim``: Paddle 2.6 places its oneDNN kernels in a graph pass, so
#:   without it 2.6 runs no oneDNN at all (1.0x eager). On Paddle 3 (PIR) the
#:   two ran within noise of each other (without: 0.92x to 1.15x at batch 10
#:   over five runs), so it stays on, as on 2.6.
#: - ONNX Runtime (``export_onnx``) against these settings, six runs: batch
#:   10 from 0.89x (load 4 to 6 on the 2 cores) to 1.33x (a quiet machine),
#:   median 1.13x; batch 1 from 0.63x to 1.23x, median 0.94x. Below the 15 %
#:   that would pay for a second engine (an extra export, an extra package,
#:   and a stale ``.onnx`` beside a newer export to guard against), so
#:   ``predict --model`` stays on paddle.inference.
#:
#: Both are also what a bare ``inference.Config`` sets on Paddle 2.6 and 3.x
#: (x86 builds); they are set explicitly all the same.
CPU_DEFAULTS = {"onednn": True, "ir_optim": True}


def onednn_available() -> bool:
    """Whether this Paddle build has oneDNN (formerly MKL-DNN): x86 builds do;
    ARM and macOS builds may not."""
    core = paddle.base.core
    check = getattr(core, "is_compiled_with_onednn", None) or getattr(core, "is_compiled_with_mkldnn", None)
    return bool(check and check())


def _set_onednn(config, on: bool) -> None:
    # Paddle 3 names it oneDNN (enable_onednn, and keeps the old names);
    # Paddle 2.6 has only enable_mkldnn / disable_mkldnn.
    verb = "enable" if on else "disable"
    (getattr(config, f"{verb}_onednn", None) or getattr(config, f"{verb}_mkldnn"))()


class Predictor:
    """A ``paddle.inference`` predictor called like a model on NumPy:
    ``predictor(batch)`` -> the first output (logits) as an array.
    ``settings``: the device and, on the CPU, threads, oneDNN and graph
    optimisation it was created with."""

    def __init__(self, predictor, path_prefix, settings: dict | None = None):
        self.predictor = predictor
        self.path_prefix = Path(path_prefix)
        self.settings = dict(settings or {})
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


def load_predictor(path_prefix, device: str | None = None, threads: int | None = None,
                   onednn: bool | None = None, ir_optim: bool | None = None) -> Predictor:
    """Load what :func:`export_model` wrote into a ``paddle.inference``
    predictor. ``device``: ``"cpu"``, ``"gpu"``, ``"gpu:N"`` or ``None`` (the
    GPU when there is one; ``"gpu"`` is the one :func:`~palm_utils.runtime.gpu_index`
    names, as in training). On the CPU: ``threads`` (default: every core), ``onednn``
    and ``ir_optim`` (default: :data:`CPU_DEFAULTS`; oneDNN only where the
    build has it). ``ir_optim`` also applies on the GPU.

    Paddle 3 runs a ``.json`` program on its new IR (PIR) and executor by
    itself; Paddle 2.6 reads ``.pdmodel`` programs only."""
    from paddle import inference

    model_file = program_file(path_prefix)
    params_file = Path(f"{path_prefix}{PARAMS_SUFFIX}")
    if not params_file.is_file():
        raise FileNotFoundError(f"{params_file}: parameters of the exported model not found.")
    config = inference.Config(str(model_file), str(params_file))
    ir_optim = CPU_DEFAULTS["ir_optim"] if ir_optim is None else bool(ir_optim)
    device = device or ("gpu" if runtime.has_gpu() else "cpu")
    if device.startswith("gpu"):
        index = int(device.split(":")[1]) if ":" in device else runtime.gpu_index()
        config.enable_use_gpu(256, index)
        settings = {"device": f"gpu:{index}"}
    else:
        if onednn and not onednn_available():
            raise ValueError(f"this Paddle build ({paddle.__version__}) has no oneDNN.")
        if onednn is None:
            onednn = CPU_DEFAULTS["onednn"] and onednn_available()
        config.disable_gpu()
        threads = threads or runtime.cpu_threads()
        config.set_cpu_math_library_num_threads(threads)
        _set_onednn(config, onednn)
        settings = {"device": "cpu", "threads": threads, "onednn": bool(onednn)}
    config.switch_ir_optim(ir_optim)
    config.disable_glog_info()
    return Predictor(inference.create_predictor(config), path_prefix, dict(settings, ir_optim=ir_optim))


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
