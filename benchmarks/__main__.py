"""``python -m benchmarks [--images 40] [--steps 3] [--networks LeNet ...]``,
run from the root of a checkout: writes docs/benchmarks.md.
``python -m benchmarks --only predict`` runs part 4 (prediction throughput)
alone and replaces only its section; ``--only batch`` does the same for
part 5 (batch 10 against 32), and ``--only twins`` for part 6 (the
ablations' twins against their chapter networks)."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import benchmarks as bench


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=bench.__doc__.split("\n\n")[0])
    parser.add_argument("--images", type=int, default=40, help="original-size JPEGs for the pipeline part")
    parser.add_argument("--steps", type=int, default=3, help="timed training steps per measurement")
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--networks", nargs="+", metavar="NAME", choices=list(bench.networks.CHAPTERS),
                        help="subset of the chapter networks")
    parser.add_argument("--lever-network", default="ResNet-50", help="network for the levers table ('' to skip)")
    parser.add_argument("--predict-network", default=bench.PREDICT_NETWORK,
                        help="network for the prediction throughput (part 4; '' to skip)")
    parser.add_argument("--predict-rounds", type=int, default=bench.PREDICT_ROUNDS)
    parser.add_argument("--only", choices=["predict", "batch", "twins"],
                        help="run part 4 (predict), part 5 (batch) or part 6 (twins) only and replace just its section")
    parser.add_argument("--out", default=None, help="Markdown report (default docs/benchmarks.md)")
    args = parser.parse_args(argv)
    out = Path(args.out) if args.out else bench.DEFAULT_OUT
    try:
        if args.only == "twins":
            bench.run_twins_only(out=out)
            return
        if args.only == "batch":
            bench.run_batch_only(out=out)
            return
        if args.only == "predict":
            bench.run_predict_only(args.predict_network or bench.PREDICT_NETWORK, rounds=args.predict_rounds,
                                   out=out)
            return
        bench.run(images=args.images, steps=args.steps, warmup=args.warmup, nets=args.networks,
                  lever_net=args.lever_network or None, out=out,
                  predict_net=args.predict_network or None, predict_rounds=args.predict_rounds)
    except (OSError, ValueError, RuntimeError) as exc:
        sys.exit(f"error: {exc}")  # exit status 1, the message on stderr


if __name__ == "__main__":
    main()
