"""Paddle at run time: a quiet import, the device, CPU threads and seeds.

Everything that touches global Paddle state lives here, so a notebook calls
:func:`select_device` and :func:`set_seed` and never hard-codes ``gpu:0``.
"""
from __future__ import annotations

import logging
import os
import random
import warnings

import numpy as np

_INSTALL_HINT = (
    "PaddlePaddle is not installed. CPU: pip install 'palm-utils[cpu]' (or "
    "pip install paddlepaddle); GPU: keep your paddlepaddle-gpu, or pip install "
    "'palm-utils[gpu]'."
)


def silence_known_warnings() -> None:
    """Filter Paddle warnings that carry no information for a student.

    - the ``No ccache found`` notice printed when Paddle is imported;
    - BatchNorm's ``always track the global mean and var`` notice;
    - AMP's notice that mixed precision is unavailable on the CPU.
    """
    for pattern in (
        r".*No ccache found.*",
        r".*always track (the )?global mean and var.*",
        r".*(AMP|auto_cast|amp).*(only support|not supported|CPU|cpu).*",
    ):
        warnings.filterwarnings("ignore", message=pattern)
    # Paddle 3 logs the AMP notice through `logging` instead of `warnings`;
    # matplotlib logs "generated new fontManager" once on a fresh machine.
    logging.getLogger("paddle").setLevel(logging.ERROR)
    logging.getLogger("matplotlib").setLevel(logging.WARNING)


def cpu_vendor_and_flags(cpuinfo: str | None = None) -> tuple[str, set[str]]:
    """The CPU's vendor string (``GenuineIntel``, ``AuthenticAMD``, ...) and
    its feature flags, from ``/proc/cpuinfo`` (Linux; empty elsewhere)."""
    if cpuinfo is None:
        try:
            with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
                cpuinfo = f.read(65536)
        except OSError:
            return "", set()
    vendor, flags = "", set()
    for line in cpuinfo.splitlines():
        key, _, value = line.partition(":")
        key = key.strip()
        if key == "vendor_id" and not vendor:
            vendor = value.strip()
        elif key == "flags" and not flags:
            flags = set(value.split())
        if vendor and flags:
            break
    return vendor, flags


def use_mkl_avx2_on_amd(environ=None, cpuinfo: str | None = None) -> bool:
    """Make MKL use its AVX2 kernels on AMD CPUs; return whether it was set.

    Paddle's CPU wheels do their matrix products (every conv and linear
    layer) in Intel MKL 2019, which picks its slow generic SSE kernels on
    any non-Intel CPU. ``MKL_DEBUG_CPU_TYPE=5`` makes it take the AVX2 path
    instead; one ResNet-50 training step on both cores of an AMD EPYC took
    1.75x less time on Zen 1 (docs/benchmarks.md) and 2.65x less on a newer
    EPYC with AVX-512 (an earlier run). Set only on AMD CPUs that have AVX2
    and FMA (on others it could select instructions the CPU lacks), never over
    a value the user set, and not when ``PALM_MKL_AVX2=0``. MKL reads the
    variable at its first call, so this runs before Paddle is imported.
    """
    env = os.environ if environ is None else environ
    if env.get("PALM_MKL_AVX2", "1") == "0" or "MKL_DEBUG_CPU_TYPE" in env:
        return False
    vendor, flags = cpu_vendor_and_flags(cpuinfo)
    if vendor != "AuthenticAMD" or not {"avx2", "fma"} <= flags:
        return False
    env["MKL_DEBUG_CPU_TYPE"] = "5"
    return True


def import_paddle():
    """Import paddle quietly, or fail with one line that says how to install it."""
    silence_known_warnings()
    # Paddle's C++ warnings (glog level 1) reach a notebook's stderr, e.g. one
    # during paddle.jit.save on Paddle 3; errors still show. A user's value wins.
    os.environ.setdefault("GLOG_minloglevel", "2")
    use_mkl_avx2_on_amd()
    try:
        import paddle
    except ImportError as exc:  # pragma: no cover - exercised in a subprocess test
        raise ImportError(_INSTALL_HINT) from exc
    return paddle


paddle = import_paddle()

_CPU_THREADS: int | None = None


def cpu_threads() -> int:
    """Cores this process may use (respects cgroup/affinity limits)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        return os.cpu_count() or 1


def cpu_threads_in_use() -> int | None:
    """The CPU thread count :func:`configure_cpu` set, or None before it ran."""
    return _CPU_THREADS


def configure_cpu(threads: int | None = None) -> int:
    """Let Paddle's CPU kernels use every core.

    Paddle sets ``OMP_NUM_THREADS=1`` at import unless it was already set (and
    prints a warning when it was set above 1). Calling
    ``core.set_num_threads`` after the import gives the same effect without
    the warning. Returns the thread count in force.
    """
    global _CPU_THREADS
    n = int(threads or os.environ.get("PALM_CPU_THREADS", 0) or cpu_threads())
    os.environ["OMP_NUM_THREADS"] = str(n)
    try:
        paddle.base.core.set_num_threads(n)
    except AttributeError:  # very old builds: fall back to the environment only
        pass
    _CPU_THREADS = n
    return n


def has_gpu() -> bool:
    """True when this Paddle build has CUDA and a GPU is visible."""
    try:
        return bool(paddle.device.is_compiled_with_cuda()) and paddle.device.cuda.device_count() > 0
    except Exception:
        return False


def gpu_index(environ=None, count: int | None = None) -> int:
    """The GPU this process should use: the first of ``FLAGS_selected_gpus``
    (what ``paddle.distributed.launch --gpus`` sets, and what Paddle itself
    takes as its default GPU) when it names one of the ``count`` visible
    GPUs, else 0."""
    env = os.environ if environ is None else environ
    first = env.get("FLAGS_selected_gpus", "").split(",")[0].strip()
    try:
        index = int(first)
    except ValueError:
        return 0
    if count is None:
        count = paddle.device.cuda.device_count()
    return index if 0 <= index < count else 0


def select_device(verbose: bool = True) -> str:
    """Use the GPU when Paddle was built with CUDA and one is present
    (:func:`gpu_index`: GPU 0 unless ``FLAGS_selected_gpus`` names another),
    otherwise the CPU on all cores (with a one-line notice). Returns the
    device string given to ``paddle.set_device``."""
    if has_gpu():
        index = gpu_index()
        device = f"gpu:{index}"
        paddle.set_device(device)
        if verbose:
            print(f"Device: {device} ({paddle.device.cuda.get_device_name(index)})")
    else:
        device = "cpu"
        paddle.set_device(device)
        n = configure_cpu()
        if verbose:
            print(f"Device: cpu, {n} threads (no CUDA GPU found; training will be slower)")
    return device


def set_seed(seed: int = 2024) -> int:
    """Seed Paddle, NumPy and ``random`` so that runs repeat."""
    random.seed(seed)
    np.random.seed(seed)
    paddle.seed(seed)
    return seed
