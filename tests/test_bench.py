"""The benchmark's parts, without timing anything."""
import numpy as np
import pytest

import benchmarks as bench
from benchmarks import machine, networks, pipeline, report, step
from palm_utils.runtime import paddle
from palm_utils.summary import count_params

# The parameter counts each chapter prints (and the course spec gives).
CHAPTER_PARAMS = {"LeNet": 19_233_841, "AlexNet": 71_916_929, "VGG-16": 134_264_641,
                  "GoogLeNet": 5_974_577, "ResNet-50": 23_563_201, "ResNet-18": 11_186_625,
                  "NiN": 3_456_321, "DenseNet-121": 7_038_529, "Inception v3": 21_822_049,
                  "SE-ResNet-50": 26_094_193, "MobileNetV2": 2_259_265, "EfficientNet-B0": 4_050_845}


def trainable(model, torch=False):
    if torch:
        return sum(p.numel() for p in model.parameters() if p.requires_grad)
    return sum(int(p.size) for p in model.parameters() if not p.stop_gradient)


def test_networks_are_palm_utils_models_own_classes():
    from palm_utils import models

    assert type(networks.build("ResNet-18")) is models.ResNet  # the class a chapter imports
    assert {cls for cls, _ in networks.CHAPTERS.values()} <= set(models.SAVED_FROM)
    # the other namespaces run the module's text, its imports left out
    scope = networks.run_models_source(networks.paddle_namespace("NHWC"))
    assert set(models.SAVED_FROM) <= set(scope) and scope["nn"] is not paddle.nn
    assert scope["VGG16_ARCH"] == models.VGG16_ARCH and scope["ResNet"] is not models.ResNet


@pytest.mark.parametrize("name", list(networks.CHAPTERS))
def test_chapter_networks_build_with_the_chapters_parameter_counts(name):
    model = networks.build(name)
    assert count_params(model) == CHAPTER_PARAMS[name]


@pytest.mark.parametrize("name", list(networks.CHAPTERS))
def test_pytorch_runs_the_same_source(name):
    torch = pytest.importorskip("torch", reason="PyTorch not installed; the benchmark reports it absent")
    pd_model = networks.build(name)
    pt_model = networks.build(name, networks.torch_namespace())
    assert trainable(pt_model, torch=True) == trainable(pd_model)
    out = pt_model.eval()(torch.zeros(2, 3, 224, 224))
    assert tuple(out.shape) == (2, 1)


def test_nhwc_namespace_builds_channels_last():
    model = networks.build("ResNet-50", networks.paddle_namespace("NHWC"))
    model.eval()  # returns None on Paddle 2.6, self on 3.x
    with paddle.no_grad():
        out = model(paddle.zeros([1, 64, 64, 3]))
    assert out.shape == [1, 1]


def test_pipeline_second_epoch_decodes_nothing_and_pixels_agree(tmp_path):
    folder = pipeline.make_images(tmp_path / "train", 3)
    assert sorted(p.name for p in folder.iterdir()) == ["N0001.jpg", "P0000.jpg", "P0002.jpg"]
    res = pipeline.run(folder, log=lambda *_: None)
    assert res["palm_utils, epoch 1"]["decodes"] == 3
    assert res["palm_utils, epoch 2"]["decodes"] == 0
    assert res["course, epoch 2"]["images"] == 3
    assert res["pixels"]["palm_utils"]["mean"] < report.TARGET_MEAN_DIFF
    # the course's bilinear resize from full size aliases more than ours
    assert res["pixels"]["course"]["mean"] > res["pixels"]["palm_utils"]["mean"]


def test_course_reader_matches_course_preprocessing(tmp_path):
    folder = pipeline.make_images(tmp_path / "train", 2)
    x, y = next(pipeline.course_reader(folder, batch_size=2)())
    assert x.shape == (2, 3, 224, 224) and x.dtype == np.float32
    assert -1.0 <= x.min() and x.max() <= 1.0
    assert y.ravel().tolist() == [0.0, 1.0]  # N0001, P0000 in name order


def test_step_restores_threads_and_flags():
    from palm_utils import runtime

    runtime.configure_cpu(2)
    step.paddle_step("LeNet", threads=1, steps=1, warmup=0, flags={"FLAGS_use_mkldnn": True})
    assert paddle.get_flags(["FLAGS_use_mkldnn"])["FLAGS_use_mkldnn"] is False
    assert paddle.get_device() == "cpu"


def test_peak_formula():
    m = machine.Machine(cpu="x", cores=2, clock_ghz=2.5, isa="AVX2 + FMA", fma_pipes=2, lanes=8,
                        paddle="3", torch=None)
    assert m.peak_gflops == 160.0
    assert "2 cores x 2.50 GHz x 2 FMA pipes x 8 FP32 lanes" in m.peak_formula()
    assert report.train_gflops(10**9, 1.0) == 60.0


@pytest.mark.parametrize("vendor,family,model,flags,lanes", [
    ("AuthenticAMD", 23, 1, "avx avx2 fma", 4),        # Zen 1: 128-bit FP units
    ("AuthenticAMD", 23, 49, "avx avx2 fma", 8),       # Zen 2
    ("AuthenticAMD", 25, 17, "avx2 fma avx512f", 8),   # Zen 4: AVX-512 double-pumped
    ("GenuineIntel", 6, 85, "avx2 fma avx512f", 16),
    ("GenuineIntel", 6, 60, "avx2 fma", 8),
])
def test_detect_lanes(monkeypatch, vendor, family, model, flags, lanes):
    info = (f"vendor_id\t: {vendor}\ncpu family\t: {family}\nmodel\t\t: {model}\n"
            f"model name\t: Some CPU @ 2.00GHz\nflags\t\t: fpu sse sse2 {flags}\n")
    monkeypatch.setattr(machine, "_cpuinfo", lambda: info)
    m = machine.detect()
    assert (m.lanes, m.clock_ghz) == (lanes, 2.0)


def test_noise_sentence_uses_the_onednn_row_as_the_noise_floor():
    rows = [{"lever": "all cores + MKL AVX2 on AMD (palm_utils)", "seconds": 7.76},
            {"lever": "+ NHWC data_format", "seconds": 11.56},
            {"lever": "+ oneDNN (FLAGS_use_mkldnn)", "seconds": 6.98},
            {"lever": "+ paddle.jit.to_static", "seconds": 6.81},
            {"lever": "+ bfloat16 autocast", "seconds": 6.91}]
    text = report.noise_sentence(rows, 7.76)
    assert "1.11x between those two rows" in text
    # 1.14x and 1.12x are within 1.11x squared; NHWC's 1.49x is not
    assert text.endswith("not a measured difference here: paddle.jit.to_static, bfloat16 autocast.")
    rows[2]["seconds"] = 7.70  # a 1.01x noise floor: every other row is a measured difference
    text = report.noise_sentence(rows, 7.76)
    assert "1.01x" in text and "not a measured difference" not in text
    assert report.noise_sentence(rows[:2], 7.76) == ""  # no oneDNN row, nothing to say


def test_run_writes_a_complete_report(tmp_path, monkeypatch):
    out = tmp_path / "docs" / "benchmarks.md"
    monkeypatch.setattr(step, "torch_available", lambda: None)
    res = bench.run(images=2, steps=1, warmup=0, nets=["LeNet"], lever_net=None, out=out, log=lambda *_: None)
    text = out.read_text()
    for heading in ("## 1. Data pipeline", "## 2. CPU training step", "## 3. GPU"):
        assert heading in text
    assert "| LeNet | 0.15 |" in text
    assert "not installed" in text and "Skipped: no CUDA GPU" in text
    assert res["pipeline"]["palm_utils, epoch 2"]["decodes"] == 0


def test_child_processes_choose_mkl_dispatch(monkeypatch):
    monkeypatch.setenv("MKL_DEBUG_CPU_TYPE", "5")
    assert "MKL_DEBUG_CPU_TYPE" not in step.child_env(True)  # the child decides, as palm_utils does
    assert "PALM_MKL_AVX2" not in step.child_env(True)
    baseline = step.child_env(False)
    assert baseline["PALM_MKL_AVX2"] == "0" and "MKL_DEBUG_CPU_TYPE" not in baseline


def test_isolated_step_runs_in_a_child():
    seconds = step.paddle_step_isolated("LeNet", threads=1, mkl_avx2=False, steps=1, warmup=0)
    assert seconds > 0
