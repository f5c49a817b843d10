"""The benchmark's parts, without timing anything."""
from pathlib import Path

import numpy as np
import pytest

import benchmarks as bench
from benchmarks import machine, networks, pipeline, predict, report, step
from conftest import real_experiments
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
    res = bench.run(images=2, steps=1, warmup=0, nets=["LeNet"], lever_net=None, out=out, log=lambda *_: None,
                    predict_net=None)
    text = out.read_text()
    for heading in ("## 1. Data pipeline", "## 2. CPU training step", "## 3. GPU"):
        assert heading in text
    assert report.PREDICT_HEADING not in text and res["predict"] is None
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


# ---------------------------------------------------------------- part 4: prediction throughput

TINY = str(Path(__file__).with_name("tiny_net.py")) + ":Tiny"
DEFAULT_ENGINE = "paddle.inference, oneDNN, IR optim"


def test_predict_section_runs_on_a_tiny_network():
    res = predict.run(TINY, batch_sizes=(1, 2), images=2, rounds=2, warmup=0, shape=(3, 64, 64),
                      engines=[DEFAULT_ENGINE, predict.ONNX], pause=0, log=lambda *_: None)
    rows = {r["engine"]: r for r in res["rows"]}
    assert list(rows) == [predict.EAGER, DEFAULT_ENGINE, predict.ONNX]  # eager added as the reference
    eager = rows[predict.EAGER]
    assert eager["ratio"] == {"1": 1.0, "2": 1.0} and eager["prob_diff"] == 0 and eager["safe"]
    for label, row in rows.items():
        if row.get("skipped"):  # ONNX Runtime or paddle2onnx missing, or no oneDNN in this build
            assert label != predict.EAGER and row["skipped"]
            continue
        assert all(len(row["samples"][b]) == 2 and row["rate"][b] > 0 for b in ("1", "2"))
        assert row["checked"] == 2 and row["same_class"] == 2
        assert row["safe"], f"{label}: {row['prob_diff']}"
    assert res["config_defaults"]["program"] in (".json", ".pdmodel")
    text = report.predict_markdown(res, "some machine", "2026-01-01", "python -m benchmarks --only predict")
    assert text.startswith(report.PREDICT_HEADING + "\n")
    assert "| eager Paddle | " in text and "(predict --model's default)" in text
    assert "batch 2 img/s" in text and "another machine" in text


def test_calibration_spreads_the_logits_around_zero():
    paddle.seed(0)
    model = networks.build("ResNet-18")
    x = predict._inputs((3, 64, 64), 8, seed=1)
    predict.calibrate(model, x)
    assert not model.training
    with paddle.no_grad():
        logits = model(paddle.to_tensor(x)).numpy().ravel()
    assert abs(float(np.median(logits))) < 1e-3 and logits.min() < 0 < logits.max()


SECTIONS = "# Benchmarks\n\nintro\n\n## 1. Data pipeline\n\ntable 1\n\n## 3. GPU\n\nSkipped.\n"


def test_replace_section_touches_nothing_else():
    first = report.PREDICT_HEADING + "\n\nold numbers\n"
    text = report.replace_section(SECTIONS, first)
    assert text == SECTIONS + "\n" + first  # appended
    second = report.PREDICT_HEADING + "\n\nnew numbers\n"
    assert report.replace_section(text, second) == SECTIONS + "\n" + second
    later = text + "\n## 5. Later\n\nkept\n"  # a section after it stays
    assert report.replace_section(later, second) == SECTIONS + "\n" + second + "\n## 5. Later\n\nkept\n"
    assert report.replace_section("", second) == second


def _fake_predict_results():
    rows = [{"engine": predict.EAGER, "rate": {"1": 3.0, "10": 6.0}, "ratio": {"1": 1.0, "10": 1.0},
             "prob_diff": 0.0, "same_class": 10, "checked": 10, "safe": True},
            {"engine": DEFAULT_ENGINE, "onednn": True, "ir_optim": True, "rate": {"1": 6.0, "10": 11.0},
             "ratio": {"1": 2.0, "10": 11 / 6}, "prob_diff": 3e-7, "same_class": 10, "checked": 10, "safe": True},
            {"engine": "paddle.inference, no oneDNN, IR optim", "onednn": False, "ir_optim": True,
             "rate": {"1": 3.0, "10": 5.0}, "ratio": {"1": 1.0, "10": 5 / 6}, "prob_diff": 0.0,
             "same_class": 10, "checked": 10, "safe": True},
            {"engine": predict.ONNX, "rate": {"1": 6.3, "10": 8.0}, "ratio": {"1": 2.1, "10": 8 / 6},
             "prob_diff": 2e-7, "same_class": 10, "checked": 10, "safe": True}]
    return {"network": "ResNet-50", "chapter": True, "shape": [3, 224, 224], "batch_sizes": [1, 10],
            "images": 20, "rounds": 7, "warmup": 2, "threads": 2, "safe": predict.SAFE, "paddle": "3.3.1",
            "load_before": [1.0, 1.0, 1.0], "load_after": [2.0, 1.5, 1.0], "onednn_available": True,
            "cpu_defaults": {"onednn": True, "ir_optim": True}, "logit_spread": [-2.0, 3.0],
            "config_defaults": {"onednn": True, "ir_optim": True, "threads": 1, "new_ir_flag": False,
                                "program": ".json"}, "rows": rows}


def test_findings_name_the_default_and_the_onnx_verdict():
    text = report.predict_markdown(_fake_predict_results(), "m", "d", "python -m benchmarks")
    assert "another machine" not in text
    assert "Fastest safe `paddle.inference` setting at batch 10: oneDNN, IR optim (11.00 img/s, 1.83x eager)" in text
    assert "That is `load_predictor`'s default" in text
    assert "ONNX Runtime against `load_predictor`'s default, the same way: batch 1 1.05x, batch 10 0.73x." in text
    assert "at least 15% faster at batch 10 (`predict`'s default batch size), reliably" in text
    assert "runs on Paddle 3's new IR (PIR)" in text and "Not safe" not in text and "does not settle" not in text
    # round by round: the default 10% behind the fastest in one round, 20% ahead in the other
    res = _fake_predict_results()
    rows = res["rows"]
    rows[2].update(ratio={"1": 1.0, "10": 2.0}, samples={"1": [3.0, 3.0], "10": [10.0, 10.0]})
    rows[1]["samples"] = {"1": [6.0, 6.0], "10": [9.0, 12.0]}
    rows[3]["samples"] = {"1": [6.3, 6.3], "10": [9.0, 6.0]}
    text = report.predict_markdown(res, "m", "d", "python -m benchmarks")
    assert "setting at batch 10: no oneDNN, IR optim (5.00 img/s, 2.00x eager)" in text
    assert ("default on the CPU (oneDNN, IR optim, which `predict --model` uses) against it, the median of the "
            "rounds' ratios (lowest to highest): batch 1 2.00x, batch 10 1.05x (0.90x to 1.20x).") in text
    assert "batch 10 0.75x (0.50x to 1.00x)" in text and "does not settle" in text


def test_only_predict_replaces_just_its_section(tmp_path, monkeypatch):
    from benchmarks.__main__ import main

    out = tmp_path / "benchmarks.md"
    out.write_text(SECTIONS)
    calls = []
    monkeypatch.setattr(predict, "run", lambda network, **kw: calls.append((network, kw)) or _fake_predict_results())
    main(["--only", "predict", "--predict-network", "ResNet-18", "--predict-rounds", "3", "--out", str(out)])
    assert calls[0][0] == "ResNet-18" and calls[0][1]["rounds"] == 3
    text = out.read_text()
    assert text.startswith(SECTIONS) and report.PREDICT_HEADING in text
    assert "| paddle.inference, oneDNN, IR optim **(predict --model's default)** | 6.00 | 2.00x | 11.00 |" in text
    main(["--only", "predict", "--out", str(out)])  # again: replaced, not added
    assert calls[1][0] == bench.PREDICT_NETWORK
    assert out.read_text().count(report.PREDICT_HEADING) == 1 and out.read_text().startswith(SECTIONS)


def test_batch_section_measures_both_batches_and_reports_ratios(monkeypatch):
    from benchmarks import batch

    seen = []

    def fake_step(name, threads, steps, warmup, batch):
        seen.append((name, batch))
        return {10: 1.0, 32: 2.0}[batch] if name == "A" else {10: 1.0, 32: 4.0}[batch]

    monkeypatch.setattr(batch.step, "paddle_step_isolated", fake_step)
    res = batch.run(["A", "B"], rounds=2, threads=2, log=lambda *_: None)
    # every pair once a round, the batch sizes taking turns going first
    assert seen == [("A", 10), ("A", 32), ("B", 10), ("B", 32), ("A", 32), ("A", 10), ("B", 32), ("B", 10)]
    assert res["networks"]["A"]["ratios"] == [1.6, 1.6]   # 16 img/s over 10 img/s
    assert res["networks"]["B"]["ratios"] == [0.8, 0.8]   # 8 over 10
    text = batch.markdown(res, "m", "d", "python -m benchmarks --only batch")
    assert text.startswith("## 5. Batch size\n")
    assert "| A | 10.0 | 16.0 | 1.60x (1.60x to 1.60x) |" in text
    assert "batch 32 trains more images per second than batch 10 in every round (by more than 5 %) for A" in text
    assert "batch 32 trains fewer images per second than batch 10 in every round (by more than 5 %) for B" in text
    assert "batch 10 stays" not in text   # A gained
    res["networks"].pop("A")
    assert "does not use this CPU better for any of them: batch 10 stays." in batch.markdown(res, "m", "d", "c")


def test_batch_step_really_uses_the_batch_size():
    from benchmarks import step

    x, y = step._batch(batch=4)
    assert x.shape == (4, 3, 224, 224) and y.shape == (4, 1)


def test_twins_are_the_networks_the_ablation_runs_trained():
    """Part 6 must time the twin the runner trained, not a look-alike."""
    from palm_utils import models

    trained = [a.twin_network.kwargs for a in real_experiments().ABLATIONS]
    for network, twin in bench.twins.pairs():
        cls, kwargs = networks.CHAPTERS[network]
        twin_kwargs = {**kwargs, **networks.TWINS[twin][1]}
        assert twin_kwargs in trained
        built = networks.build(twin)
        assert type(built) is getattr(models, cls)
        assert count_params(built) == count_params(getattr(models, cls)(**twin_kwargs)) != CHAPTER_PARAMS[network]
    assert networks.chapter_of("MobileNetV2, standard 3x3 convolutions") == "MobileNetV2"
    assert networks.chapter_of("ResNet-50") == "ResNet-50"


def test_twins_section_interleaves_the_pair_and_reports_ratios(monkeypatch):
    import palm_utils.summary

    seen = []

    def fake_step(name, threads, steps, warmup, forward_only):
        seen.append((name, forward_only))
        return {("A", False): 1.0, ("A2", False): 3.0, ("A", True): 0.5, ("A2", True): 0.5}[name, forward_only]

    monkeypatch.setattr(bench.twins.step, "paddle_step_isolated", fake_step)
    monkeypatch.setattr(bench.twins.networks, "build", lambda name: name)
    monkeypatch.setattr(palm_utils.summary, "count_flops", lambda name: {"A": 1e9, "A2": 10e9}[name])
    res = bench.twins.run([("A", "A2")], rounds=2, threads=2, log=lambda *_: None)
    # both networks in every round and mode, the twin going first in the second round
    assert seen == [("A", False), ("A2", False), ("A", True), ("A2", True),
                    ("A2", False), ("A", False), ("A2", True), ("A", True)]
    assert res["pairs"][0]["ratios"] == {"training step": [3.0, 3.0], "prediction": [1.0, 1.0]}
    text = bench.twins.markdown(res, "m", "d", "python -m benchmarks --only twins")
    assert text.startswith("## 6. The ablations' twins, side by side\n")
    assert "| A | A2 | 1.00, 10.00 | 10.0x | 1.000, 3.000 | 3.00x (3.00x to 3.00x) | 0.500, 0.500 | 1.00x (1.00x to 1.00x) |" in text
    assert ("A2 does 10.0x the multiply-adds of A and takes 3.00x the time of a training step and 1.00x the time "
            "of a prediction (not slower in every round): the time grows far less than the arithmetic.") in text


def test_forward_only_times_a_prediction_in_evaluation_mode(monkeypatch):
    calls = []

    class Probe(paddle.nn.Layer):
        def __init__(self):
            super().__init__()
            self.fc = paddle.nn.Linear(3 * 224 * 224, 1)

        def forward(self, x):
            calls.append((self.training, paddle.is_grad_enabled(), x.shape[0]))
            return self.fc(paddle.flatten(x, 1))

    monkeypatch.setattr(step.networks, "build", lambda name, namespace=None: Probe())
    seconds = step.paddle_step("probe", threads=1, steps=2, warmup=1, forward_only=True, batch=4)
    assert seconds > 0 and calls == [(False, False, 4)] * 3   # eval mode, no gradients, warm-up + 2 timed
