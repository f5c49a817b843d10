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
