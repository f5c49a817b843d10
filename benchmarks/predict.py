"""Prediction throughput: one chapter network, every way this series can run
it on the CPU, side by side.

The engines (:data:`ENGINES`):

- eager Paddle: the network itself, ``model.eval()`` under ``paddle.no_grad()``
  (what ``predict --net NET --params FILE`` runs);
- ``paddle.inference`` on what :func:`~palm_utils.deploy.export_model` wrote,
  through :func:`~palm_utils.deploy.load_predictor` (what ``predict --model``
  runs), with and without oneDNN and Paddle's graph (IR) optimisation;
- ONNX Runtime on the :func:`~palm_utils.deploy.export_onnx` file, when
  ``onnxruntime`` and ``paddle2onnx`` are installed (a row that says why not
  otherwise).

Each engine lives in a child process of its own for the whole run (so that
no engine's thread pool competes with another's and MKL's CPU dispatch is
decided as palm_utils decides it). The parent then asks them in turn to
predict the same in-memory batches: a round gives every engine one turn per
batch size, the first engine of a round rotating, with a short pause
between turns for the previous engine's idle threads to stop spinning. Every
rate is the median over the rounds; a ratio is the median over the rounds
of the engine's rate over eager Paddle's in the same round, so that a load
that changes between rounds cancels out. Decoding is not included: the inputs are
random 3x224x224 float32 arrays, as the loader would deliver them.

Agreement: every engine predicts one check batch; the probabilities
(``sigmoid(logit)``) are compared with eager Paddle's. The network is
randomly initialised, so that nothing needs downloading; to make its outputs
look like a trained network's, its BatchNorm statistics are set from one
batch of inputs and the bias of its last linear layer is shifted so that the
median logit on that batch is 0. An engine is *safe* when its probabilities
are within :data:`SAFE` of eager Paddle's and give the same class at 0.5.
"""
from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from . import networks
from .step import CHECKOUT, child_env

#: largest |probability - eager probability| that counts as agreeing
SAFE = 1e-4
EAGER = "eager Paddle"
ONNX = "ONNX Runtime"
#: label -> what the child process runs. ``onednn``/``ir_optim``: the
#: ``load_predictor`` options.
ENGINES = {
    EAGER: {"kind": "eager"},
    "paddle.inference, oneDNN, IR optim": {"kind": "inference", "onednn": True, "ir_optim": True},
    "paddle.inference, oneDNN, no IR optim": {"kind": "inference", "onednn": True, "ir_optim": False},
    "paddle.inference, no oneDNN, IR optim": {"kind": "inference", "onednn": False, "ir_optim": True},
    "paddle.inference, no oneDNN, no IR optim": {"kind": "inference", "onednn": False, "ir_optim": False},
    ONNX: {"kind": "onnxruntime"},
}
_MARK = "@@predict-bench "  # the children's protocol lines; anything else they print is ignored


# ---------------------------------------------------------------- the parent

def run(network: str = "ResNet-50", batch_sizes=(1, 10), images: int = 20, rounds: int = 5,
        warmup: int = 2, shape=(3, 224, 224), engines=None, threads: int | None = None,
        pause: float = 0.3, log=print) -> dict:
    """Measure ``network`` (a name of :data:`benchmarks.networks.CHAPTERS` or a
    :func:`palm_utils.netspec.load_network` spec) on every engine of
    ``engines`` (labels of :data:`ENGINES`; default all). A turn predicts at
    least ``images`` images (``images // batch`` batches) after ``warmup``
    untimed batches per batch size at start-up. Returns the results for
    :func:`benchmarks.report.predict_markdown`."""
    from palm_utils.deploy import export
    from palm_utils.runtime import cpu_threads, paddle

    threads = threads or cpu_threads()
    labels = list(engines or ENGINES)
    if EAGER not in labels:
        labels.insert(0, EAGER)  # the reference
    batch_sizes = sorted(set(int(b) for b in batch_sizes))
    res = {"network": network, "chapter": network in networks.CHAPTERS, "shape": list(shape), "batch_sizes": batch_sizes, "images": images,
           "rounds": rounds, "warmup": warmup, "threads": threads, "safe": SAFE, "paddle": paddle.__version__,
           "load_before": _load(), "cpu_defaults": dict(export.CPU_DEFAULTS),
           "onednn_available": export.onednn_available(), "config_defaults": None}
    with tempfile.TemporaryDirectory(prefix="palm-predict-") as tmp:
        files = prepare(network, Path(tmp), shape, check=max(batch_sizes), log=log)
        res["config_defaults"] = files.pop("config_defaults")
        res["logit_spread"] = files.pop("logit_spread")
        skipped = {}
        if ONNX in labels and "onnx" not in files:
            skipped[ONNX] = files.pop("onnx_error")
        if not res["onednn_available"]:
            for label in labels:
                if ENGINES[label].get("onednn"):
                    skipped[label] = "this Paddle build has no oneDNN"
        common = dict(files, network=network, shape=list(shape), threads=threads,
                      batch_sizes=batch_sizes, warmup=warmup, check=max(batch_sizes))
        children = {}
        try:
            for label in labels:  # started together: they load while the others load
                if label not in skipped:
                    children[label] = Child(label, dict(common, **ENGINES[label]))
            outputs, info = {}, {}
            for label, child in list(children.items()):
                try:
                    ready = child.receive()
                    outputs[label], info[label] = np.asarray(ready["logits"], np.float64), ready.get("info")
                except RuntimeError as exc:
                    skipped[label] = str(exc)
                    child.close()
                    del children[label]
            if EAGER not in children:
                raise RuntimeError(f"eager Paddle failed: {skipped.get(EAGER)}")
            log(f"   engines ready: {', '.join(children)}" + (f"; skipped: {', '.join(skipped)}" if skipped else ""))
            times = {label: {b: [] for b in batch_sizes} for label in children}
            order = list(children)
            for r in range(rounds):
                turn = order[r % len(order):] + order[:r % len(order)]  # rotate who goes first
                for b in batch_sizes:
                    batches = max(1, images // b)
                    for label in turn:
                        seconds = children[label].ask({"batch": b, "batches": batches})["seconds"]
                        times[label][b].append(b * batches / seconds)  # images per second
                        time.sleep(pause)
                log(f"   round {r + 1}/{rounds}: " + ", ".join(
                    f"{label} {times[label][batch_sizes[-1]][-1]:.1f}" for label in order) + " img/s")
        finally:
            for child in children.values():
                child.close()
    res["load_after"] = _load()
    res["rows"] = _rows(labels, times, outputs, info, skipped, batch_sizes)
    return res


def _rows(labels, times, outputs, info, skipped, batch_sizes) -> list[dict]:
    from palm_utils.deploy.predict import sigmoid

    ref = sigmoid(outputs[EAGER])
    rows = []
    for label in labels:
        row = {"engine": label, **{k: v for k, v in ENGINES[label].items() if k != "kind"}}
        if label in skipped:
            rows.append(dict(row, skipped=skipped[label]))
            continue
        rate = {b: statistics.median(times[label][b]) for b in batch_sizes}
        probs = sigmoid(outputs[label])
        diff = float(np.abs(probs - ref).max())
        same = int(((probs > 0.5) == (ref > 0.5)).sum())
        row.update(rate={str(b): rate[b] for b in batch_sizes},
                   samples={str(b): times[label][b] for b in batch_sizes},
                   ratio={str(b): statistics.median(r / e for r, e in zip(times[label][b], times[EAGER][b]))
                          for b in batch_sizes},  # within each round, then the median: drift cancels
                   prob_diff=diff, logit_diff=float(np.abs(outputs[label] - outputs[EAGER]).max()),
                   same_class=same, checked=int(ref.size), info=info.get(label),
                   safe=diff <= SAFE and same == ref.size)
        rows.append(row)
    return rows


def _load() -> list[float] | None:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except (AttributeError, OSError):
        return None


def prepare(network: str, folder: Path, shape, check: int, log=print) -> dict:
    """Build ``network``, give it trained-looking statistics (see the module
    docstring), and write what the engines load into ``folder``: its
    parameters (eager), the ``export_model`` files, the ONNX file when
    possible. Returns their paths plus ``config_defaults``, what a bare
    ``inference.Config`` of this Paddle sets, and ``onnx_error`` when there
    is no ONNX file."""
    from palm_utils.deploy import export
    from palm_utils.runtime import paddle

    paddle.seed(0)
    model = build(network)
    calibrate(model, _inputs(shape, check, seed=1))
    out = {"params": str(folder / "model.pdparams"), "prefix": str(folder / "model")}
    paddle.save(model.state_dict(), out["params"])
    program = export.export_model(model, out["prefix"], tuple(shape))
    with paddle.no_grad():
        logits = model(paddle.to_tensor(_inputs(shape, check))).numpy().ravel()
    out["logit_spread"] = [float(logits.min()), float(logits.max())]
    out["config_defaults"] = config_defaults(program, Path(f"{out['prefix']}{export.PARAMS_SUFFIX}"))
    try:
        import onnxruntime  # noqa: F401  (only whether it is there)
    except ImportError:
        out["onnx_error"] = "onnxruntime is not installed (pip install onnxruntime)"
        return out
    try:
        out["onnx"] = str(export.export_onnx(model, folder / "model.onnx", tuple(shape)))
    except ImportError as exc:
        out["onnx_error"] = str(exc)
    return out


def build(network: str):
    if network in networks.CHAPTERS:
        return networks.build(network)
    from palm_utils.netspec import load_network

    return load_network(network)


def calibrate(model, batch: np.ndarray) -> None:
    """Set every BatchNorm's running statistics to those of ``batch`` (one
    forward pass in training mode with momentum 0) and shift the bias of the
    last linear layer so that the median logit on ``batch`` is 0."""
    from palm_utils.runtime import paddle

    norms = [layer for layer in model.sublayers() if hasattr(layer, "_momentum") and hasattr(layer, "_mean")]
    momenta = [layer._momentum for layer in norms]
    model.train()
    try:
        for layer in norms:
            layer._momentum = 0.0
        with paddle.no_grad():
            model(paddle.to_tensor(batch))
    finally:
        for layer, momentum in zip(norms, momenta):
            layer._momentum = momentum
        model.eval()
    linears = [layer for layer in model.sublayers() if isinstance(layer, paddle.nn.Linear)
               and layer.bias is not None]
    if linears:
        with paddle.no_grad():
            median = float(np.median(model(paddle.to_tensor(batch)).numpy()))
            linears[-1].bias.set_value(linears[-1].bias.numpy() - median)


def config_defaults(program: Path, params: Path) -> dict:
    """What a bare ``inference.Config`` of this Paddle turns on by itself."""
    from paddle import inference

    config = inference.Config(str(program), str(params))
    found = {"onednn": bool(config.mkldnn_enabled()), "ir_optim": bool(config.ir_optim()),
             "threads": int(config.cpu_math_library_num_threads())}
    if hasattr(config, "new_ir_enabled"):  # Paddle 3; a .json program runs on PIR regardless
        found["new_ir_flag"] = bool(config.new_ir_enabled())
    found["program"] = program.suffix
    return found


def _inputs(shape, n: int, seed: int = 0) -> np.ndarray:
    """``n`` random inputs in the loader's range, the same in every process."""
    return np.random.default_rng(seed).uniform(-1, 1, (n, *shape)).astype("float32")


class Child:
    """One engine in a child process, answering JSON requests line by line."""

    def __init__(self, label: str, spec: dict):
        self.label = label
        self.stderr = tempfile.TemporaryFile(mode="w+")
        self.proc = subprocess.Popen(
            [sys.executable, "-c", "from benchmarks.predict import serve; serve()", json.dumps(spec)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.stderr, text=True,
            env=child_env(True), cwd=CHECKOUT)  # MKL's dispatch as palm_utils sets it

    def receive(self) -> dict:
        for line in self.proc.stdout:
            if line.startswith(_MARK):
                return json.loads(line[len(_MARK):])
        self.proc.wait()
        self.stderr.seek(0)
        lines = [l for l in self.stderr.read().splitlines() if l.strip()]
        raise RuntimeError(f"{self.label} failed: " + (lines[-1][:200] if lines else f"exit {self.proc.returncode}"))

    def ask(self, request: dict) -> dict:
        self.proc.stdin.write(json.dumps(request) + "\n")
        self.proc.stdin.flush()
        return self.receive()

    def close(self) -> None:
        if self.proc.poll() is None:
            try:
                self.proc.stdin.close()
                self.proc.wait(timeout=30)
            except (OSError, subprocess.TimeoutExpired):
                self.proc.kill()
                self.proc.wait()
        self.stderr.close()


# ---------------------------------------------------------------- the children

def engine(spec: dict):
    """The function ``batch -> logits`` for ``spec`` (an entry of
    :data:`ENGINES` plus the files of :func:`prepare`), and what it runs."""
    threads = spec["threads"]
    if spec["kind"] == "eager":
        from palm_utils.runtime import configure_cpu, paddle

        paddle.set_device("cpu")
        configure_cpu(threads)
        model = build(spec["network"])
        model.set_state_dict(paddle.load(spec["params"]))
        model.eval()

        def run(x):
            with paddle.no_grad():
                return model(paddle.to_tensor(x)).numpy()
        return run, {"threads": threads}
    if spec["kind"] == "inference":
        from palm_utils.deploy.export import load_predictor

        predictor = load_predictor(spec["prefix"], device="cpu", threads=threads,
                                   onednn=spec["onednn"], ir_optim=spec["ir_optim"])
        return predictor, predictor.settings
    if spec["kind"] == "onnxruntime":
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.log_severity_level = 3  # not the warnings about unused initializers
        session = ort.InferenceSession(spec["onnx"], options, providers=["CPUExecutionProvider"])
        name = session.get_inputs()[0].name

        def run(x):
            return session.run(None, {name: x})[0]
        return run, {"threads": threads, "onnxruntime": ort.__version__,
                     "optimization": str(options.graph_optimization_level).split(".")[-1]}
    raise ValueError(f"unknown engine kind {spec['kind']!r}")


def serve(argv=None) -> None:
    """The child's side: set the engine up, predict the check batch, warm up
    every batch size, then time requests ``{"batch": B, "batches": N}`` from
    stdin until it closes, answering ``{"seconds": ...}``."""
    spec = json.loads((argv or sys.argv)[1])
    x = _inputs(spec["shape"], max(spec["batch_sizes"]))

    def say(message: dict) -> None:
        sys.stdout.write(_MARK + json.dumps(message) + "\n")
        sys.stdout.flush()

    run, info = engine(spec)
    logits = np.asarray(run(x[:spec["check"]]), np.float64).ravel()
    for b in spec["batch_sizes"]:
        for _ in range(spec["warmup"]):
            run(x[:b])
    say({"logits": logits.tolist(), "info": info})
    for line in sys.stdin:
        request = json.loads(line)
        batch = x[:request["batch"]]
        start = time.perf_counter()
        for _ in range(request["batches"]):
            np.asarray(run(batch))  # eager results are copied to NumPy, as predict() does
        say({"seconds": time.perf_counter() - start})
