import os
import subprocess
import sys
import warnings

import numpy as np
import pytest

from palm_utils import runtime
from palm_utils.runtime import paddle


def test_cpu_fallback_with_notice(monkeypatch, capsys):
    monkeypatch.setattr(runtime, "has_gpu", lambda: False)
    assert runtime.select_device() == "cpu"
    assert paddle.get_device() == "cpu"
    out = capsys.readouterr().out
    assert out.startswith("Device: cpu") and "no CUDA GPU found" in out and out.count("\n") == 1


def test_gpu_chosen_when_present(monkeypatch, capsys):
    chosen = []
    monkeypatch.setattr(runtime, "has_gpu", lambda: True)
    monkeypatch.setattr(paddle, "set_device", chosen.append)
    monkeypatch.setattr(paddle.device.cuda, "get_device_name", lambda i: "Tesla V100")
    assert runtime.select_device() == "gpu:0" and chosen == ["gpu:0"]
    assert "Tesla V100" in capsys.readouterr().out


def _fake_cuda(monkeypatch, compiled=True, count=1, names=("Tesla V100", "A100")):
    """A CUDA build of Paddle with ``count`` visible GPUs, as far as
    palm_utils can tell; returns the list ``paddle.set_device`` calls go to."""
    chosen = []
    monkeypatch.setattr(paddle.device, "is_compiled_with_cuda", lambda: compiled)
    monkeypatch.setattr(paddle.device.cuda, "device_count", lambda: count)
    monkeypatch.setattr(paddle.device.cuda, "get_device_name", lambda i=None: names[i or 0])
    monkeypatch.setattr(paddle, "set_device", chosen.append)
    monkeypatch.delenv("FLAGS_selected_gpus", raising=False)
    return chosen


@pytest.mark.parametrize("compiled, count, expected", [
    (False, 0, False),   # the CPU wheel
    (True, 0, False),    # a CUDA wheel on a machine without a GPU (or CUDA_VISIBLE_DEVICES="")
    (True, 1, True),
    (True, 2, True),
])
def test_has_gpu_needs_a_cuda_build_and_a_visible_gpu(monkeypatch, compiled, count, expected):
    _fake_cuda(monkeypatch, compiled, count)
    assert runtime.has_gpu() is expected


def test_has_gpu_false_when_the_driver_query_fails(monkeypatch):
    _fake_cuda(monkeypatch)

    def broken():
        raise RuntimeError("CUDA driver version is insufficient")

    monkeypatch.setattr(paddle.device.cuda, "device_count", broken)
    assert runtime.has_gpu() is False


def test_select_device_with_a_mocked_gpu(monkeypatch, capsys):
    chosen = _fake_cuda(monkeypatch, count=2)
    assert runtime.select_device() == "gpu:0" and chosen == ["gpu:0"]
    assert capsys.readouterr().out == "Device: gpu:0 (Tesla V100)\n"


def test_select_device_takes_the_gpu_the_launcher_selected(monkeypatch, capsys):
    """``paddle.distributed.launch --gpus 1`` sets FLAGS_selected_gpus=1,
    which Paddle itself takes as its default GPU: select_device keeps it."""
    chosen = _fake_cuda(monkeypatch, count=2)
    monkeypatch.setenv("FLAGS_selected_gpus", "1")
    assert runtime.select_device() == "gpu:1" and chosen == ["gpu:1"]
    assert "gpu:1 (A100)" in capsys.readouterr().out


@pytest.mark.parametrize("value, expected", [
    (None, 0), ("", 0), ("0", 0), ("1", 1), ("1,0", 1), (" 1 ", 1),
    ("2", 0),            # not one of the 2 visible GPUs
    ("-1", 0), ("gpu:1", 0),
])
def test_gpu_index(value, expected):
    env = {} if value is None else {"FLAGS_selected_gpus": value}
    assert runtime.gpu_index(env, count=2) == expected


def test_cuda_build_without_gpu_uses_the_cpu(monkeypatch, capsys):
    chosen = _fake_cuda(monkeypatch, count=0)
    monkeypatch.setattr(runtime, "configure_cpu", lambda threads=None: 2)
    assert runtime.select_device() == "cpu" and chosen == ["cpu"]
    assert "no CUDA GPU found" in capsys.readouterr().out


def test_select_device_quiet(monkeypatch, capsys):
    chosen = _fake_cuda(monkeypatch, count=1)
    assert runtime.select_device(verbose=False) == "gpu:0" and chosen == ["gpu:0"]
    _fake_cuda(monkeypatch, compiled=False, count=0)
    threads = []
    monkeypatch.setattr(runtime, "configure_cpu", lambda n=None: threads.append(1) or 2)
    assert runtime.select_device(verbose=False) == "cpu" and threads == [1]
    assert capsys.readouterr().out == ""


@pytest.mark.skipif(paddle.device.is_compiled_with_cuda(), reason="a CUDA build of Paddle")
@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
@pytest.mark.parametrize("level", ["O1", "O2"])
def test_autocast_on_the_cpu_is_float32_and_quiet(dtype, level):
    """Paddle's autocast works on CUDA, XPU and custom devices only: on the
    CPU it computes in float32 (bfloat16 included, though
    ``paddle.amp.is_bfloat16_supported()`` may say True there) and warns
    "amp_guard can only be enabled on CUDAPlace ...", which
    silence_known_warnings filters. GradScaler is disabled there too. This is
    why train_pm(amp=True) trains in float32 on a CPU."""
    paddle.set_device("cpu")
    conv = paddle.nn.Conv2D(3, 4, 3)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        runtime.silence_known_warnings()
        with paddle.amp.auto_cast(enable=True, level=level, dtype=dtype):
            out = conv(paddle.rand([1, 3, 8, 8]))
        scaler = paddle.amp.GradScaler()
    assert out.dtype == paddle.float32
    assert not scaler.is_enable()
    assert not caught, [str(w.message) for w in caught]


def test_has_gpu_false_on_this_cpu_build():
    if paddle.device.is_compiled_with_cuda():
        pytest.skip("a CUDA build of Paddle is installed")
    assert runtime.has_gpu() is False


def test_cpu_path_sets_threads(monkeypatch):
    calls = []
    monkeypatch.setattr(paddle.base.core, "set_num_threads", calls.append)
    monkeypatch.delenv("PALM_CPU_THREADS", raising=False)
    n = runtime.configure_cpu()
    assert n == runtime.cpu_threads() >= 1
    assert calls == [n] and os.environ["OMP_NUM_THREADS"] == str(n)
    monkeypatch.setenv("PALM_CPU_THREADS", "1")
    assert runtime.configure_cpu() == 1 and calls[-1] == 1


def test_set_seed_repeats_everything():
    import random

    def draw():
        return random.random(), np.random.rand(), paddle.rand([1]).item()

    runtime.set_seed(7)
    a = draw()
    runtime.set_seed(7)
    assert draw() == a


def test_known_warnings_silenced():
    runtime.silence_known_warnings()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("default")
        runtime.silence_known_warnings()
        warnings.warn("No ccache found. Please be aware ...", UserWarning)
        warnings.warn("When training, we now always track global mean and variance.", UserWarning)
        warnings.warn("something else", UserWarning)
    assert [str(w.message) for w in caught] == ["something else"]


def test_batchnorm_training_is_quiet():
    bn = paddle.nn.BatchNorm2D(3)
    bn.train()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        runtime.silence_known_warnings()
        bn(paddle.rand([2, 3, 4, 4]))
    assert not [w for w in caught if "track" in str(w.message)]


AMD = "vendor_id\t: AuthenticAMD\nflags\t\t: fpu sse2 avx fma avx2 avx512f\n"
INTEL = "vendor_id\t: GenuineIntel\nflags\t\t: fpu sse2 avx fma avx2 avx512f\n"
OLD_AMD = "vendor_id\t: AuthenticAMD\nflags\t\t: fpu sse2 avx\n"


@pytest.mark.parametrize("cpuinfo,environ,expected", [
    (AMD, {}, "5"),
    (INTEL, {}, None),                             # MKL already picks the right kernels
    (OLD_AMD, {}, None),                           # no AVX2: forcing it would crash
    (AMD, {"PALM_MKL_AVX2": "0"}, None),           # opt-out
    (AMD, {"MKL_DEBUG_CPU_TYPE": "2"}, "2"),       # the user's own choice stays
    ("", {}, None),                                # unknown CPU
])
def test_mkl_avx2_only_on_amd_with_avx2(cpuinfo, environ, expected):
    env = dict(environ)
    runtime.use_mkl_avx2_on_amd(env, cpuinfo=cpuinfo)
    assert env.get("MKL_DEBUG_CPU_TYPE") == expected


def test_import_sets_mkl_dispatch():
    """In a fresh interpreter, importing palm_utils (which imports Paddle)
    sets the variable on an AMD CPU with AVX2, and only there."""
    vendor, flags = runtime.cpu_vendor_and_flags()
    expected = "5" if vendor == "AuthenticAMD" and {"avx2", "fma"} <= flags else None
    env = {k: v for k, v in os.environ.items() if k not in ("MKL_DEBUG_CPU_TYPE", "PALM_MKL_AVX2")}
    code = ("import os, sys; import palm_utils.runtime as r; "
            "print(os.environ.get('MKL_DEBUG_CPU_TYPE')); print('paddle' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         check=True).stdout.split()
    assert out[-2] == str(expected) and out[-1] == "True"
