"""One call for the first cell of every chapter: :func:`setup`."""
from __future__ import annotations

import time
from dataclasses import dataclass, field

from . import quick
from .datasets.discovery import DatasetInfo, find_dataset
from .runtime import paddle, select_device, set_seed


@dataclass
class Session:
    device: str
    data: DatasetInfo
    quick: bool
    seed: int
    paddle_version: str
    started: float = field(default_factory=time.perf_counter)

    def report(self) -> str:
        """One line for the end of a chapter: which data, which device, how
        long the run took."""
        kind = "generated stand-in data" if self.data.standin else "real PALM data"
        mode = "quick mode" if self.quick else "full run"
        minutes = (time.perf_counter() - self.started) / 60
        return (f"This run: {kind}, device {self.device}, Paddle {self.paddle_version}, "
                f"{mode}, {minutes:.1f} min in all.")


def setup(data_path=None, seed: int = 2024) -> Session:
    """Seed everything, choose the device, find the data, and say so.

    Prints the device, the Paddle version, whether quick mode is on, and what
    data was found (path, counts per class, real or stand-in).
    """
    set_seed(seed)
    device = select_device()
    print(quick.announcement())
    print(f"Paddle {paddle.__version__}, seed {seed}")
    data = find_dataset(data_path)
    return Session(device=device, data=data, quick=quick.LIMITS is not None, seed=seed,
                   paddle_version=paddle.__version__)
