"""The benchmark's results as Markdown (``docs/benchmarks.md``)."""
from __future__ import annotations

import statistics
from pathlib import Path

#: The targets of the speed issue, checked in the report.
TARGET_FIRST_EPOCH = 5.0
TARGET_LATER_EPOCHS = 30.0
TARGET_MEAN_DIFF = 1.0


def _rate(entry: dict) -> float:
    return entry["images"] / entry["seconds"]


def train_gflops(flops_per_image: int, seconds: float, batch: int = 10) -> float:
    """Achieved GFLOP/s of a training step. ``flops_per_image`` is
    ``paddle.flops``'s count of multiply-accumulates for one forward pass;
    a MAC is 2 FLOPs and a training step costs about 3 forward passes
    (forward, gradient w.r.t. activations, gradient w.r.t. weights)."""
    return 3 * 2 * flops_per_image * batch / seconds / 1e9


def step_line(row: dict) -> str:
    torch = f", PyTorch {row['torch']:.2f} s" if row.get("torch") else ""
    return (f"{row['name']}: Paddle default {row['default']:.2f} s, palm_utils {row['palm']:.2f} s "
            f"({row['default'] / row['palm']:.2f}x){torch}")


def _versus(ref: float, seconds: float) -> str:
    """'1.30x faster' / '1.30x slower' / 'same' for ``seconds`` against ``ref``."""
    if abs(seconds - ref) / ref < 0.005:
        return "same (reference)" if seconds == ref else "same"
    return f"{ref / seconds:.2f}x faster" if seconds < ref else f"{seconds / ref:.2f}x slower"


def _mkl_sentence(applied) -> str:
    if applied:
        return ("on this AMD CPU with AVX2, MKL's AVX2 kernels (`MKL_DEBUG_CPU_TYPE=5`; Paddle's MKL 2019 "
                "otherwise runs its generic SSE kernels on non-Intel CPUs).")
    return "MKL's own kernel choice (the AVX2 override applies to AMD CPUs only; not this one)."


#: the lever row that sets FLAGS_use_mkldnn (a key of ``benchmarks.LEVERS``)
ONEDNN_LEVER = "+ oneDNN (FLAGS_use_mkldnn)"


def noise_sentence(rows: list[dict], ref: float) -> str:
    """What the oneDNN row says about noise when no oneDNN kernel ran.

    That row then runs the very kernels of the reference row, so the gap
    between them is run-to-run noise. It is one sample of that noise, so a
    '+' row is called indistinguishable from the reference while its gap is
    at most twice as large (on a log scale: ratio <= noise squared).
    """
    same = next((r["seconds"] for r in rows if r["lever"] == ONEDNN_LEVER), None)
    if same is None:
        return ""
    def gap(seconds: float) -> float:
        return max(seconds, ref) / min(seconds, ref)

    noise = gap(same)
    within = [r["lever"][2:] for r in rows if r["lever"].startswith("+ ") and r["lever"] != ONEDNN_LEVER
              and r["seconds"] and gap(r["seconds"]) <= noise ** 2]
    text = (f"The oneDNN row therefore ran the reference's own kernels, and the {noise:.2f}x between those "
            "two rows is this table's run-to-run noise.")
    if within:
        text += (" A gap of up to twice that is not a measured difference here: "
                 + ", ".join(within) + ".")
    return text


def _ok(value: float, target: float, higher: bool = True) -> str:
    good = value >= target if higher else value <= target
    return "met" if good else "**not met**"


def markdown(res: dict) -> str:
    m = res["machine"]
    p = res["pipeline"]
    base1 = _rate(p["course, epoch 1"])
    lines = [
        "# Benchmarks",
        "",
        f"Produced by `python -m benchmarks` on {res['date']}. Every figure below comes from one run;",
        "the comparisons were measured side by side in that run (interleaved where possible), so the ratios",
        "are what to read. Absolute seconds depend on the machine and on what else ran on it.",
        "",
        f"- Machine: {m.describe()}",
        f"- FP32 peak: {m.peak_formula()} (the FMA pipe count is an assumption; the CPU does not report it)",
        "",
        "## 1. Data pipeline",
        "",
        f"{res['images']} generated stand-in fundus JPEGs at 2124x2056, quality 95, read as one training epoch in",
        f"batches of 10; each figure is the median of {p.get('repeats', 1)} interleaved repetitions. Baseline: the course's reader (full-size `cv2.imread`, `cv2.resize` to 224,",
        "transpose, scale; one thread; every epoch). palm_utils: `data_loader` with a fresh image cache each repetition",
        "(JPEG decoded at the smallest libjpeg scale with >= 224 px a side, 1/8 here, then an area resize",
        "that weights each 8x8 block by what it covers; one decoding thread per core; then the cache).",
        "",
        "| reader | epoch | images/s | vs course epoch 1 | images decoded | target |",
        "|---|---|---:|---:|---:|---|",
    ]
    for label in ("course, epoch 1", "course, epoch 2", "palm_utils, epoch 1", "palm_utils, epoch 2"):
        who, epoch = label.split(", ")
        entry = p[label]
        ratio = _rate(entry) / base1
        decodes = entry["decodes"] if who == "palm_utils" else entry["images"]
        target = ""
        if label == "palm_utils, epoch 1":
            target = f">= {TARGET_FIRST_EPOCH:.0f}x: {_ok(ratio, TARGET_FIRST_EPOCH)}"
        elif label == "palm_utils, epoch 2":
            ratio2 = _rate(entry) / _rate(p["course, epoch 2"])
            target = f">= {TARGET_LATER_EPOCHS:.0f}x: {_ok(ratio2, TARGET_LATER_EPOCHS)} ({ratio2:.0f}x vs course epoch 2)"
        lines.append(f"| {who} | {epoch.split()[-1]} | {_rate(entry):.1f} | {ratio:.1f}x | {decodes} | {target} |")
    px = p["pixels"]
    lines += [
        "",
        "Pixel agreement with the reference (full decode, `cv2.INTER_AREA` to 224x224), 0-255 scale:",
        "",
        "| reader | mean abs diff | max abs diff | target |",
        "|---|---:|---:|---|",
        f"| palm_utils | {px['palm_utils']['mean']:.2f} | {px['palm_utils']['max']} | "
        f"mean <= {TARGET_MEAN_DIFF}: {_ok(px['palm_utils']['mean'], TARGET_MEAN_DIFF, higher=False)} |",
        f"| course (bilinear resize) | {px['course']['mean']:.2f} | {px['course']['max']} | |",
        "",
        "## 2. CPU training step",
        "",
        f"Batch 10 of random 3x224x224 inputs, forward + backward + optimizer step (the chapter's optimizer),",
        f"median of {res['steps']} steps after {res['warmup']} warm-up. Each network is its chapter's own class",
        "(`palm_utils.models`, saved from the notebooks; the PyTorch column runs the same source through a name mapping).",
        "'Paddle default' is a plain `import paddle`: one thread in eager mode, MKL choosing its own kernels.",
        "'palm_utils' is the CPU path every chapter takes (`import palm_utils`, `select_device`): all cores, and",
        f"{_mkl_sentence(res.get('mkl_avx2'))} Each cell is measured in a fresh child process.",
        "GFLOP/s = 3 x 2 x MACs per image x 10 / seconds.",
        "",
        "| network | GMACs/img | Paddle default s/step | palm_utils s/step | speed-up | img/s | GFLOP/s | % of peak | PyTorch s/step | palm_utils / PyTorch time |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in res["steps_cpu"]:
        gflops = train_gflops(row["flops"], row["palm"])
        torch = (f"{row['torch']:.2f}" if row.get("torch")
                 else f"failed: {row['torch_error']}" if row.get("torch_error") else "not installed")
        vs = f"{row['palm'] / row['torch']:.2f}x" if row.get("torch") else ""
        lines.append(
            f"| {row['name']} | {row['flops'] / 1e9:.2f} | {row['default']:.2f} | {row['palm']:.2f} | "
            f"{row['default'] / row['palm']:.2f}x | {10 / row['palm']:.1f} | {gflops:.1f} | "
            f"{100 * gflops / m.peak_gflops:.0f}% | {torch} | {vs} |")
    if not m.torch:
        lines += ["", "PyTorch is not installed here, so there is no outside reference in this run "
                  "(`pip install torch` and re-run to add it)."]
    lev = res["levers"]
    if lev["rows"]:
        ref_label = lev.get("reference")
        ref = next((r["seconds"] for r in lev["rows"] if r["lever"] == ref_label), None)
        lines += ["", f"### Levers tried on {lev['network']}", "",
                  f"Each cell is the faster of {lev.get('rounds', 1)} rounds; a round runs every row once, each in its own",
                  "child process. The first two rows show where palm_utils started from; the rows starting",
                  "with + add one setting to palm_utils' CPU path. Ratios are against that path.",
                  "", "| lever | s/step | vs palm_utils |", "|---|---:|---:|"]
        for r in lev["rows"]:
            if r["seconds"] is None:
                lines.append(f"| {r['lever']} | failed: {r['error']} | |")
            else:
                ratio = _versus(ref, r["seconds"]) if ref else ""
                lines.append(f"| {r['lever']} | {r['seconds']:.2f} | {ratio} |")
        if lev.get("onednn_primitives") is not None:
            lines += ["", f"oneDNN primitives executed by an eager conv forward + backward with `FLAGS_use_mkldnn=1` "
                      f"(counted from `ONEDNN_VERBOSE`): {lev['onednn_primitives']}."
                      + (" This Paddle build runs its own CPU kernels in eager mode whatever the flag says."
                         if lev["onednn_primitives"] == 0 else "")]
            noise = noise_sentence(lev["rows"], ref) if lev["onednn_primitives"] == 0 and ref else ""
            if noise:
                lines += ["", noise]
    lines += ["", "## 3. GPU", ""]
    if res["gpu"] is None:
        lines.append("Skipped: no CUDA GPU was available to this Paddle build on the machine above.")
    else:  # pragma: no cover - needs a GPU
        lines += ["| network | FP32 s/step | AMP (float16) s/step | step demand img/s | loader (cached) img/s |",
                  "|---|---:|---:|---:|---:|"]
        for r in res["gpu"]:
            lines.append(f"| {r['name']} | {r['fp32']:.3f} | {r['amp']:.3f} | {r['demand']:.0f} | {r['loader']:.0f} |")
    text = "\n".join(lines) + "\n"
    if res.get("predict"):
        text += "\n" + predict_markdown(res["predict"], m.describe(), res["date"], "python -m benchmarks")
    return text


def write_atomic(path: Path, text: str) -> None:
    from palm_utils.atomic import atomic_write_bytes

    atomic_write_bytes(path, text.encode("utf-8"))


# ---------------------------------------------------------------- section 4

PREDICT_HEADING = "## 4. Prediction throughput"
#: how much faster ONNX Runtime must be than the best paddle.inference setting
#: to be worth a second engine behind ``predict --model``
ONNX_WORTH = 1.15


def _is_default(row: dict, pred: dict) -> bool:
    defaults = pred.get("cpu_defaults") or {}
    return (row["engine"].startswith("paddle.inference") and bool(defaults)
            and row.get("onednn") == (defaults.get("onednn") and pred.get("onednn_available"))
            and row.get("ir_optim") == defaults.get("ir_optim"))


def _load_text(load) -> str:
    return ", ".join(f"{x:.2f}" for x in load) if load else "unknown"


def predict_markdown(pred: dict, machine_line: str, date: str, command: str) -> str:
    """Section 4 of the report: prediction throughput per engine."""
    sizes = [str(b) for b in pred["batch_sizes"]]
    big = sizes[-1]
    shape = "x".join(map(str, pred["shape"]))
    spread = pred.get("logit_spread") or [0, 0]
    origin = " (its chapter's class in `palm_utils.models`)" if pred.get("chapter") else ""
    lines = [
        PREDICT_HEADING,
        "",
        f"Produced by `{command}` on {date}, on: {machine_line}."
        + (" The sections above may come from another run on another machine: compare ratios within a section."
           if "--only" in command else ""),
        f"Load average (1, 5, 15 min) before: {_load_text(pred.get('load_before'))}; "
        f"after: {_load_text(pred.get('load_after'))} (other jobs shared the cores).",
        "",
        f"{pred['network']}{origin} predicting batches of {shape} float32 inputs on the CPU; decoding and resizing are not included (section 1 measures them).",
        f"Each engine runs in a child process of its own with {pred['threads']} threads (the cores): eager Paddle as `model.eval()` under",
        "`paddle.no_grad()`; `paddle.inference` on the `export_model` files through `load_predictor` with",
        "`set_cpu_math_library_num_threads`, oneDNN on or off and the graph (IR) optimisation on or off; ONNX Runtime",
        "on the `export_onnx` (paddle2onnx) file with as many intra-op threads.",
        f"Every figure is the median images/s of {pred['rounds']} interleaved rounds; a round gives every engine one",
        f"turn per batch size (at least {pred['images']} images), the engine going first rotating from round to round.",
        "A ratio is the median over the rounds of the engine's rate over eager Paddle's in the same round.",
        f"Agreement: the probabilities (`sigmoid(logit)`) of a check batch of {pred['batch_sizes'][-1]} images against",
        f"eager Paddle's; *safe* means at most {pred['safe']:g} apart and the same class at 0.5 for every image.",
        "The network is randomly initialised (nothing to download), with its BatchNorm statistics set from one batch",
        "of inputs and the bias of its last layer shifted so that the logits look like a trained network's",
        f"(here {spread[0]:.2f} to {spread[1]:.2f} on the check batch).",
        "",
        "| engine | " + " | ".join(f"batch {b} img/s | vs eager" for b in sizes)
        + " | max abs diff of probability | same class at 0.5 | safe |",
        "|---|" + "---:|---:|" * len(sizes) + "---:|---:|---|",
    ]
    for row in pred["rows"]:
        name = row["engine"] + (" **(predict --model's default)**" if _is_default(row, pred) else "")
        if row.get("skipped"):
            lines.append(f"| {name} | skipped: {row['skipped']} |" + " |" * (2 * len(sizes) + 2))
            continue
        cells = " | ".join(f"{row['rate'][b]:.2f} | {row['ratio'][b]:.2f}x" for b in sizes)
        lines.append(f"| {name} | {cells} | {row['prob_diff']:.1e} | {row['same_class']}/{row['checked']} | "
                     f"{'yes' if row['safe'] else '**no**'} |")
    lines += ["", *_predict_findings(pred, big)]
    return "\n".join(lines) + "\n"


def _predict_findings(pred: dict, big: str) -> list[str]:
    rows = [r for r in pred["rows"] if not r.get("skipped")]
    safe = [r for r in rows if r["safe"]]
    text = []
    d = pred.get("config_defaults") or {}
    if d:
        on = lambda flag: "on" if flag else "off"  # noqa: E731
        text.append(
            f"A bare `paddle.inference.Config` of Paddle {pred.get('paddle', '')} on this `{d.get('program')}` program "
            f"already has oneDNN {on(d.get('onednn'))} and the IR optimisation {on(d.get('ir_optim'))}, with "
            f"{d.get('threads')} CPU thread(s)."
            + (" A `.json` program runs on Paddle 3's new IR (PIR) and executor whatever `new_ir_enabled()` says "
               f"(`{d.get('new_ir_flag')}` here; `enable_new_ir` concerns `.pdmodel` programs)."
               if d.get("program") == ".json" else ""))
    inference = [r for r in safe if r["engine"].startswith("paddle.inference")]
    default = next((r for r in rows if _is_default(r, pred)), None)
    unsettled = False

    def versus(row, ref):
        nonlocal unsettled
        parts = []
        for b in row["rate"]:
            gain, low, high = _gain(row, ref, b)
            unsettled |= low < 1 < high
            parts.append(f"batch {b} {gain:.2f}x" + (f" ({low:.2f}x to {high:.2f}x)" if high > low else ""))
        return ", ".join(parts)

    if inference:
        best = max(inference, key=lambda r: r["ratio"][big])  # per-round ratios: drift cancels
        text.append(f"Fastest safe `paddle.inference` setting at batch {big}: {_setting(best)} "
                    f"({best['rate'][big]:.2f} img/s, {best['ratio'][big]:.2f}x eager).")
        if default is not None and not default["safe"]:
            text.append("`predict --model`'s default setting is **not safe** here.")
        elif default is best:
            text.append("That is `load_predictor`'s default on the CPU, which `predict --model` uses.")
        elif default is not None:
            text.append(f"`load_predictor`'s default on the CPU ({_setting(default)}, which `predict --model` uses) "
                        "against it, the median of the rounds' ratios (lowest to highest): " + versus(default, best) + ".")
    ort = next((r for r in rows if r["engine"] == "ONNX Runtime"), None)
    if ort is not None and ort["safe"] and default is not None and default["safe"]:
        text.append("ONNX Runtime against `load_predictor`'s default, the same way: " + versus(ort, default) + ".")
    if unsettled:
        text.append("A range on both sides of 1.00x is a difference this run does not settle: the ratios move "
                    "from round to round with the other jobs on the machine.")
    if default is not None:
        text.append("`predict --model` runs `paddle.inference` with `load_predictor`'s defaults; why it does not "
                    f"switch to ONNX Runtime (a second engine must be at least {ONNX_WORTH - 1:.0%} faster at batch "
                    f"{big}{predict_default_batch_note(big)}, reliably, to be worth it), with the runs behind that "
                    "choice, is written at `CPU_DEFAULTS` in `palm_utils/deploy/export.py`.")
    unsafe = [r["engine"] for r in rows if not r["safe"]]
    if unsafe:
        text.append("Not safe (probabilities further than the tolerance from eager Paddle's): " + ", ".join(unsafe) + ".")
    return [" ".join(text)] if text else []


def _gain(row: dict, ref: dict, batch: str) -> tuple[float, float, float]:
    """``row``'s speed over ``ref``'s at ``batch``: the median, lowest and
    highest of the ratios round by round (both ran in every round), or the
    ratio of their ratios to eager when the samples are not there."""
    pairs = list(zip(row.get("samples", {}).get(batch, []), ref.get("samples", {}).get(batch, [])))
    if not pairs:
        gain = row["ratio"][batch] / ref["ratio"][batch]
        return gain, gain, gain
    ratios = [a / b for a, b in pairs]
    return statistics.median(ratios), min(ratios), max(ratios)


def predict_default_batch_note(batch: str) -> str:
    return " (`predict`'s default batch size)" if batch == "10" else ""


def _setting(row: dict) -> str:
    return row["engine"][len("paddle.inference, "):]


def replace_section(text: str, section: str) -> str:
    """``text`` with the section that starts with ``section``'s first line
    (a ``## `` heading) replaced by ``section``, up to the next ``## ``
    heading; appended at the end when there is none. Nothing else changes."""
    heading = section.splitlines()[0]
    lines = text.splitlines(keepends=True)
    start = next((i for i, line in enumerate(lines) if line.rstrip("\n") == heading), None)
    section = section.rstrip("\n") + "\n"
    if start is None:
        body = text.rstrip("\n")
        return (body + "\n\n" if body else "") + section
    end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("## ")), len(lines))
    tail = "".join(lines[end:])
    return "".join(lines[:start]) + section + ("\n" + tail if tail else "")
