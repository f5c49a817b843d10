"""``python -m benchmarks`` (from the checkout's root): the speed benchmark.

It times the chapters' networks (:mod:`palm_utils.models`, generated from
the notebooks) and writes its report into the checkout's ``docs/``, so it
lives in the checkout, outside the installed ``palm_utils`` package.

Six parts, each measured side by side in one run and reported as ratios
(absolute seconds on a shared machine mean little):

1. :mod:`~benchmarks.pipeline`  the course's reader against palm_utils'
   loader on original-size JPEGs, plus pixel agreement;
2. :mod:`~benchmarks.step`      one CPU training step of each chapter's
   network: Paddle's defaults, palm_utils' CPU settings, the levers tried,
   and PyTorch on the same source when it is installed;
3. the same step on a GPU with and without mixed precision, when one exists;
4. :mod:`~benchmarks.predict`   prediction throughput of one network on the
   CPU: eager Paddle, ``paddle.inference`` (with and without oneDNN and
   graph optimisation) and ONNX Runtime, with their agreement.
   ``python -m benchmarks --only predict`` runs this part alone and replaces
   just its section of the report.
5. :mod:`~benchmarks.batch`     training images per second at batch 10
   (the course's) and 32, for a few networks (``--only batch``).
6. :mod:`~benchmarks.twins`     each controlled experiment's twin that
   changes the arithmetic (MobileNetV2 with standard convolutions, GoogLeNet
   without 1x1 reductions) against its chapter network (``--only twins``).

:mod:`~benchmarks.report` turns the results into the Markdown table
written to ``docs/benchmarks.md``.
"""
from __future__ import annotations

import datetime
import tempfile
from pathlib import Path

from . import batch, machine, networks, pipeline, predict, report, step, twins
from palm_utils.runtime import cpu_threads, has_gpu, use_mkl_avx2_on_amd

DEFAULT_OUT = networks.CHECKOUT / "docs" / "benchmarks.md"

#: the network and rounds of part 4 (ResNet-50: slow enough to time well, quick enough to repeat)
PREDICT_NETWORK = "ResNet-50"
PREDICT_ROUNDS = 9
#: the lever row the others are compared with: palm_utils' CPU path as it is
LEVER_REFERENCE = "all cores + MKL AVX2 on AMD (palm_utils)"
#: What each lever sets, tried on one network against palm_utils' CPU path.
LEVERS = {
    "1 thread, MKL's own dispatch (Paddle's default)": dict(threads=1, mkl_avx2=False),
    "all cores, MKL's own dispatch": dict(mkl_avx2=False),
    LEVER_REFERENCE: dict(),
    "+ NHWC data_format": dict(layout="NHWC"),
    report.ONEDNN_LEVER: dict(flags={"FLAGS_use_mkldnn": True}),
    "+ paddle.jit.to_static": dict(to_static=True),
    "+ bfloat16 autocast": dict(amp="bfloat16"),
}


def run(images: int = 40, steps: int = 3, warmup: int = 1, nets=None, lever_net: str | None = "ResNet-50",
        out: Path | None = DEFAULT_OUT, log=print, lever_rounds: int = 2,
        predict_net: str | None = PREDICT_NETWORK, predict_rounds: int = PREDICT_ROUNDS) -> dict:
    """Run the benchmark, print the report, write it to ``out`` (None: don't)."""
    nets = list(nets or networks.CHAPTERS)  # every chapter's network; --networks picks some
    cores = cpu_threads()
    info = machine.detect()
    log(f"Machine: {info.describe()}")
    results = {"machine": info, "date": datetime.date.today().isoformat(),
               "images": images, "steps": steps, "warmup": warmup,
               "mkl_avx2": use_mkl_avx2_on_amd({})}  # would palm_utils set it on this CPU?

    log(f"1. Data pipeline: {images} stand-in JPEGs at {pipeline.ORIGINAL_SIZE[0]}x{pipeline.ORIGINAL_SIZE[1]}")
    with tempfile.TemporaryDirectory(prefix="palm-bench-") as tmp:
        folder = pipeline.make_images(Path(tmp) / "train", images)
        results["pipeline"] = pipeline.run(folder, log=log)

    log(f"2. CPU training step, batch {step.BATCH}, median of {steps} after {warmup} warm-up")
    torch_version = step.torch_available()
    rows = []
    for name in nets:
        row = {"name": name, "flops": _flops(name)}
        row["default"] = step.paddle_step_isolated(name, threads=1, mkl_avx2=False, steps=steps, warmup=warmup)
        row["palm"] = step.paddle_step_isolated(name, threads=cores, steps=steps, warmup=warmup,
                                                **step.CPU_DEFAULTS)
        row["torch"] = None
        if torch_version:
            try:  # the PyTorch stand-ins cover the names the chapters use; a gap is a result too
                row["torch"] = step.torch_step_isolated(name, cores, steps, warmup)
            except RuntimeError as exc:
                row["torch_error"] = str(exc).splitlines()[0][:120]
        log("  " + report.step_line(row))
        rows.append(row)
    results["steps_cpu"] = rows

    levers = []
    if lever_net:
        log(f"   levers on {lever_net} (best of {lever_rounds} interleaved rounds):")
        times: dict[str, list] = {label: [] for label in LEVERS}
        errors: dict[str, str] = {}
        for _ in range(lever_rounds):  # a round tries every lever once, so drift hits all alike
            for label, kwargs in LEVERS.items():
                if label in errors:
                    continue
                settings = dict(threads=cores, **step.CPU_DEFAULTS)
                settings.update(kwargs)
                try:
                    times[label].append(step.paddle_step_isolated(lever_net, steps=steps, warmup=warmup,
                                                                  **settings))
                except Exception as exc:  # a lever that fails is a result too
                    errors[label] = f"{type(exc).__name__}: {str(exc).splitlines()[0][:120]}"
        for label in LEVERS:
            seconds = min(times[label]) if times[label] else None
            levers.append({"lever": label, "seconds": seconds, "error": errors.get(label)})
            log(f"    {label}: " + (f"{seconds:.2f} s" if seconds else errors[label]))
    onednn = step.onednn_primitives() if lever_net else None
    results["levers"] = {"network": lever_net, "rows": levers, "onednn_primitives": onednn,
                         "reference": LEVER_REFERENCE, "rounds": lever_rounds}

    if has_gpu():
        log("3. GPU step")
        results["gpu"] = _gpu(nets, steps, warmup, results["pipeline"])
    else:
        results["gpu"] = None
        log("3. GPU: skipped (no CUDA GPU in this Paddle build or machine)")

    results["predict"] = None
    if predict_net:
        log(f"4. Prediction throughput of {predict_net}, {predict_rounds} interleaved rounds")
        results["predict"] = predict.run(predict_net, rounds=predict_rounds, log=log)

    text = report.markdown(results)
    if out is not None:
        report.write_atomic(Path(out), text)
        log(f"Report written to {out}")
    return results


def run_predict_only(network: str = PREDICT_NETWORK, rounds: int = PREDICT_ROUNDS,
                     out: Path | None = DEFAULT_OUT, log=print, **options) -> dict:
    """Part 4 alone (``python -m benchmarks --only predict``): measure, print,
    and replace only section 4 of ``out`` (the other sections stay as they
    are; a missing report is started with this section)."""
    info = machine.detect()
    log(f"Machine: {info.describe()}")
    log(f"4. Prediction throughput of {network}, {rounds} interleaved rounds")
    results = predict.run(network, rounds=rounds, log=log, **options)
    section = report.predict_markdown(results, info.describe(), datetime.date.today().isoformat(),
                                      "python -m benchmarks --only predict")
    _write_section(section, 4, out, log)
    return results


def _write_section(section: str, number: int, out: Path | None, log=print) -> None:
    """Print ``section`` and put it in place of its namesake in ``out`` (the
    other sections stay as they are; a missing report is started with it)."""
    log(section)
    if out is not None:
        out = Path(out)
        old = out.read_text(encoding="utf-8") if out.is_file() else "# Benchmarks\n"
        report.write_atomic(out, report.replace_section(old, section))
        log(f"Section {number} written to {out}")


def run_batch_only(networks=batch.NETWORKS, rounds: int = batch.ROUNDS, out: Path | None = DEFAULT_OUT,
                   log=print, **options) -> dict:
    """Part 5 alone (``python -m benchmarks --only batch``): training images
    per second at batch 10 and 32, replacing only section 5 of ``out``."""
    info = machine.detect()
    log(f"Machine: {info.describe()}")
    results = batch.run(networks, rounds=rounds, log=log, **options)
    section = batch.markdown(results, info.describe(), datetime.date.today().isoformat(),
                             "python -m benchmarks --only batch")
    _write_section(section, 5, out, log)
    return results


def run_twins_only(rounds: int = twins.ROUNDS, out: Path | None = DEFAULT_OUT, log=print, **options) -> dict:
    """Part 6 alone (``python -m benchmarks --only twins``): the ablations'
    twins against their chapter networks, replacing only section 6 of ``out``."""
    info = machine.detect()
    log(f"Machine: {info.describe()}")
    results = twins.run(rounds=rounds, log=log, **options)
    section = twins.markdown(results, info.describe(), datetime.date.today().isoformat(),
                             "python -m benchmarks --only twins")
    _write_section(section, 6, out, log)
    return results


def _flops(name: str) -> int:
    from palm_utils.summary import count_flops

    return count_flops(networks.build(name))


def _gpu(nets, steps, warmup, pipe) -> list[dict]:  # pragma: no cover - needs a GPU
    loader_rate = pipe["palm_utils, epoch 2"]["images"] / pipe["palm_utils, epoch 2"]["seconds"]
    rows = []
    for name in nets:
        fp32 = step.paddle_step(name, threads=1, steps=steps, warmup=warmup, device="gpu")
        fp16 = step.paddle_step(name, threads=1, steps=steps, warmup=warmup, device="gpu", amp="float16")
        rows.append({"name": name, "fp32": fp32, "amp": fp16,
                     "demand": step.BATCH / min(fp32, fp16), "loader": loader_rate})
    return rows
