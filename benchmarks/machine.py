"""What machine a benchmark ran on, and its FP32 peak.

Peak FP32 FLOP/s = cores x clock x FMA pipes x SIMD lanes x 2 (an FMA is a
multiply and an add). The SIMD lanes are those of the widest vector FMA the
core executes at full rate: 16 for AVX-512 on Intel server cores, 8 for AVX2
and for AMD Zen 4's AVX-512 (it runs 512-bit instructions as two 256-bit
halves), 4 for AVX2 on AMD Zen 1 and Zen+ (family 0x17 below model 0x30:
their FP units are 128 bits wide, so a 256-bit FMA takes two). The pipe
count is 2 on every recent x86 server core; the CPU does not report it, so
it is an assumption and printed as such.
"""
from __future__ import annotations

import os
import platform
import re
from dataclasses import dataclass
from pathlib import Path


@dataclass
class Machine:
    cpu: str
    cores: int
    clock_ghz: float
    isa: str
    fma_pipes: int
    lanes: int
    paddle: str
    torch: str | None

    @property
    def peak_gflops(self) -> float:
        return self.cores * self.clock_ghz * self.fma_pipes * self.lanes * 2

    def peak_formula(self) -> str:
        return (f"{self.cores} cores x {self.clock_ghz:.2f} GHz x {self.fma_pipes} FMA pipes x "
                f"{self.lanes} FP32 lanes ({self.isa}) x 2 FLOP per FMA = {self.peak_gflops:.0f} GFLOP/s")

    def describe(self) -> str:
        torch = f", PyTorch {self.torch}" if self.torch else ", PyTorch not installed"
        return (f"{self.cpu}, {self.cores} cores at {self.clock_ghz:.2f} GHz, {self.isa}; "
                f"Python {platform.python_version()}, Paddle {self.paddle}{torch}")


def _cpuinfo() -> str:
    try:
        return Path("/proc/cpuinfo").read_text()
    except OSError:
        return ""


def detect() -> Machine:
    info = _cpuinfo()

    def field(name):
        m = re.search(rf"^{name}\s*:\s*(.+)$", info, re.M)
        return m.group(1).strip() if m else ""

    cpu = field("model name") or platform.processor() or "unknown CPU"
    vendor = field("vendor_id")
    family = int(field("cpu family") or 0)
    flags = set(field("flags").split())
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:
        cores = os.cpu_count() or 1
    m = re.search(r"@\s*([\d.]+)\s*GHz", cpu)
    clock = float(m.group(1)) if m else float(field("cpu MHz") or 0) / 1000 or 1.0
    if "avx512f" in flags:
        # AMD Zen 4 (family 0x19) double-pumps 512-bit FMAs: no more FP32 lanes than AVX2
        amd_half = vendor == "AuthenticAMD" and family <= 0x19
        isa, lanes = ("AVX-512 on 256-bit units", 8) if amd_half else ("AVX-512", 16)
    elif "avx2" in flags and "fma" in flags:
        model = int(field("model") or 0)
        zen1 = vendor == "AuthenticAMD" and family == 0x17 and model < 0x30
        isa, lanes = ("AVX2 + FMA on 128-bit units", 4) if zen1 else ("AVX2 + FMA", 8)
    elif "avx" in flags:
        isa, lanes = "AVX (no FMA)", 4
    else:
        isa, lanes = "SSE", 4
    from palm_utils.runtime import paddle
    from .step import torch_available

    torch_version = torch_available()
    return Machine(cpu=cpu, cores=cores, clock_ghz=clock, isa=isa, fma_pipes=2, lanes=lanes,
                   paddle=paddle.__version__, torch=torch_version)
