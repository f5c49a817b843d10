"""One training step (batch 10 unless asked: forward, backward, optimizer step), timed.

Each measurement builds the network afresh, runs ``warmup`` untimed steps
and reports the median of ``steps`` timed ones. Paddle runs in this process
with its settings switched per measurement (threads, flags, layout, static
graph); PyTorch, when installed, runs the same source (palm_utils/models.py) through
:func:`~benchmarks.networks.torch_namespace`.
"""
from __future__ import annotations

import contextlib
import json
import os
import statistics
import subprocess
import sys
import time
import warnings

import numpy as np

from . import networks

CHECKOUT = networks.CHECKOUT
from palm_utils.runtime import configure_cpu, paddle

BATCH = 10
#: What palm_utils' CPU path adds to the thread count and MKL's AVX2
#: dispatch on AMD (both set by :mod:`palm_utils.runtime`), as ``paddle_step``
#: options. Empty: none of the other levers measured helped beyond run-to-run noise
#: (see docs/benchmarks.md).
CPU_DEFAULTS: dict = {}
#: the optimizer each chapter uses (the course's choice)
OPTIMIZERS = {"LeNet": "Momentum", "AlexNet": "Adam", "VGG-16": "Momentum",
              "GoogLeNet": "Momentum", "ResNet-50": "Momentum", "ResNet-18": "Momentum",
              "NiN": "Adam", "DenseNet-121": "Momentum", "Inception v3": "Momentum",
              "SE-ResNet-50": "Momentum", "MobileNetV2": "Adam", "EfficientNet-B0": "Adam"}


@contextlib.contextmanager
def paddle_settings(threads: int, flags: dict | None = None):
    """Paddle's CPU thread count and global flags for the duration."""
    old_flags = paddle.get_flags(list(flags)) if flags else {}
    configure_cpu(threads)
    if flags:
        paddle.set_flags(flags)
    try:
        yield
    finally:
        if old_flags:
            paddle.set_flags(old_flags)


def _median_time(step, steps: int, warmup: int) -> float:
    for _ in range(warmup):
        step()
    times = []
    for _ in range(steps):
        t0 = time.perf_counter()
        step()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def _batch(layout: str = "NCHW", seed: int = 0, batch: int = BATCH):
    rng = np.random.default_rng(seed)
    x = rng.uniform(-1, 1, (batch, 3, 224, 224)).astype("float32")
    if layout == "NHWC":
        x = np.ascontiguousarray(x.transpose(0, 2, 3, 1))
    y = rng.integers(0, 2, (batch, 1)).astype("float32")
    return x, y


def paddle_step(name: str, threads: int, steps: int = 3, warmup: int = 1, layout: str = "NCHW",
                flags: dict | None = None, to_static: bool = False, amp: str | None = None,
                device: str = "cpu", batch: int = BATCH, forward_only: bool = False) -> float:
    """Median seconds per training step of chapter network ``name`` in Paddle
    on ``batch`` images. ``amp`` is an autocast dtype (``"float16"`` on a
    GPU, ``"bfloat16"``). ``forward_only``: time a prediction instead (the
    network in evaluation mode, no gradients)."""
    previous = paddle.get_device()
    paddle.set_device(device)
    try:
        with paddle_settings(threads, flags):
            if forward_only:
                return _paddle_forward(name, steps, warmup, batch)
            return _paddle_step(name, steps, warmup, layout, to_static, amp, batch)
    finally:
        paddle.set_device(previous)


def _paddle_forward(name, steps, warmup, batch=BATCH):
    paddle.seed(0)
    model = networks.build(name)
    model.eval()
    x = paddle.to_tensor(_batch(batch=batch)[0])

    def forward():
        with paddle.no_grad():
            float(model(x).sum())  # wait for the result

    return _median_time(forward, steps, warmup)


def _paddle_step(name, steps, warmup, layout, to_static, amp, batch=BATCH):
    paddle.seed(0)
    model = networks.build(name, networks.paddle_namespace(layout))
    model.train()
    optimizer = OPTIMIZERS[networks.chapter_of(name)]
    opt_cls = getattr(paddle.optimizer, optimizer)
    kwargs = {"momentum": 0.9} if optimizer == "Momentum" else {}
    opt = opt_cls(learning_rate=0.001, parameters=model.parameters(), **kwargs)
    forward = model
    if to_static:
        forward = paddle.jit.to_static(model)
        warnings.filterwarnings("ignore", message=".*'place' interface for pir.*")
    scaler = paddle.amp.GradScaler() if amp == "float16" else None
    x, y = (paddle.to_tensor(a) for a in _batch(layout, batch=batch))

    def step():
        with paddle.amp.auto_cast(enable=bool(amp), dtype=amp or "float16", level="O1"):
            logits = forward(x)
        loss = paddle.nn.functional.binary_cross_entropy_with_logits(logits.astype("float32"), y)
        if scaler is not None:
            scaler.scale(loss).backward()
            scaler.step(opt)
            scaler.update()
        else:
            loss.backward()
            opt.step()
        opt.clear_grad()
        float(loss)  # wait for the result

    return _median_time(step, steps, warmup)


def paddle_step_isolated(name: str, threads: int, mkl_avx2: bool = True, **options) -> float:
    """:func:`paddle_step` in a child process, so that one measurement cannot
    change the next (MKL reads its CPU dispatch once per process; OpenMP
    thread pools persist) and MKL's dispatch can differ between rows.
    ``mkl_avx2=False`` leaves MKL to its own choice, as a plain
    ``import paddle`` does (see :func:`~palm_utils.runtime.use_mkl_avx2_on_amd`)."""
    args = json.dumps(dict(name=name, threads=threads, **options))
    code = ("import json, sys; from benchmarks.step import paddle_step; "
            "print(paddle_step(**json.loads(sys.argv[1])))")
    return _child(code, args, child_env(mkl_avx2), f"Paddle step of {name}")


def child_env(mkl_avx2: bool) -> dict:
    """This process's environment for a child that imports palm_utils: with
    ``mkl_avx2`` the child decides MKL's dispatch as palm_utils does; without,
    MKL keeps its own choice."""
    env = {k: v for k, v in os.environ.items() if k not in ("MKL_DEBUG_CPU_TYPE", "PALM_MKL_AVX2")}
    if not mkl_avx2:
        env["PALM_MKL_AVX2"] = "0"
    return env


def _child(code: str, arg: str, env: dict | None, what: str) -> float:
    """Run ``code`` with ``arg`` as ``sys.argv[1]``; its last line of output is the result."""
    proc = subprocess.run([sys.executable, "-c", code, arg], capture_output=True, text=True, env=env,
                          cwd=CHECKOUT)  # so that the child imports this `benchmarks` package
    if proc.returncode != 0:
        raise RuntimeError(f"{what} failed:\n{proc.stderr[-2000:]}")
    return float(proc.stdout.strip().splitlines()[-1])


def torch_available() -> str | None:
    """PyTorch's version if installed, read from its metadata: importing it
    here would load its OpenMP runtime into the Paddle process."""
    from importlib import metadata

    try:
        return metadata.version("torch")
    except metadata.PackageNotFoundError:
        return None


def torch_step_isolated(name: str, threads: int, steps: int = 3, warmup: int = 1) -> float:
    """:func:`torch_step` in a child process. PyTorch (GNU OpenMP) and Paddle
    (Intel OpenMP) in one process leave each other's idle worker threads
    spinning, which slowed Paddle's multi-threaded steps by 2x in a trial."""
    code = ("import json, sys; from benchmarks.step import torch_step; "
            "print(torch_step(*json.loads(sys.argv[1])))")
    # PyTorch as it comes (its own, newer MKL ignores the variable anyway)
    return _child(code, json.dumps([name, threads, steps, warmup]), child_env(False), f"PyTorch step of {name}")


def torch_step(name: str, threads: int, steps: int = 3, warmup: int = 1) -> float:
    """The same network and step in PyTorch (CPU)."""
    import torch

    old = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        torch.manual_seed(0)
        model = networks.build(name, networks.torch_namespace())
        model.train()
        if OPTIMIZERS[name] == "Momentum":
            opt = torch.optim.SGD(model.parameters(), lr=0.001, momentum=0.9)
        else:
            opt = torch.optim.Adam(model.parameters(), lr=0.001)
        x, y = (torch.from_numpy(a) for a in _batch())

        def step():
            loss = torch.nn.functional.binary_cross_entropy_with_logits(model(x), y)
            loss.backward()
            opt.step()
            opt.zero_grad()
            loss.item()  # wait for the result

        return _median_time(step, steps, warmup)
    finally:
        torch.set_num_threads(old)


_ONEDNN_PROBE = """
import paddle
paddle.set_flags({"FLAGS_use_mkldnn": True})
conv = paddle.nn.Conv2D(3, 8, 3)
x = paddle.randn([2, 3, 32, 32])
x.stop_gradient = False
conv(x).sum().backward()
"""


def onednn_primitives() -> int | None:
    """How many oneDNN primitives a conv forward + backward executes in eager
    mode with ``FLAGS_use_mkldnn`` on (counted from ``ONEDNN_VERBOSE``, in a
    subprocess). 0 means the flag does not reach eager kernels; None: the
    probe failed."""
    env = dict(os.environ, ONEDNN_VERBOSE="1", DNNL_VERBOSE="1", FLAGS_use_mkldnn="1")
    try:
        proc = subprocess.run([sys.executable, "-c", _ONEDNN_PROBE], env=env, capture_output=True,
                              text=True, timeout=300)
    except (OSError, subprocess.TimeoutExpired):
        return None
    if proc.returncode != 0:
        return None
    return sum(1 for line in (proc.stdout + proc.stderr).splitlines()
               if "_verbose" in line and ",exec," in line)
