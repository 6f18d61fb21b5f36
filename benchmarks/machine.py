"""Which machine the benchmarks run on: its kind (the baseline folder), GPU facts, peak memory bandwidth.

pytest-benchmark files results under `<storage>/<machine_id>/`, where machine_id is only
"Linux-CPython-3.11-64bit": a CPU runner and an H100 runner would share one baseline. The
machine kind adds the accelerator (or the CPU model and core count) one level above it:
`results/bench/<machine kind>/<machine_id>/NNNN_*.json`.
"""

from __future__ import annotations

import os
import platform
import re
from pathlib import Path

import torch

# Peak DRAM bandwidth in TB/s by GPU model (vendor data sheets), matched against the CUDA device
# name in this order (the first substring found wins; "PCIe" before the SXM default of a model).
PEAK_BANDWIDTH_TB_S: tuple[tuple[str, float], ...] = (
    ("H200", 4.8),
    ("H100 PCIe", 2.0),
    ("H100 NVL", 3.9),
    ("H100", 3.35),  # SXM5 (HBM3), reported as "NVIDIA H100 80GB HBM3"
    ("A100 80GB", 2.0),
    ("A100-SXM4-80GB", 2.0),
    ("A100", 1.555),  # the 40 GB cards
    ("V100", 0.9),
)


def peak_bandwidth_bytes_per_s(device_name: str | None) -> float | None:
    """The card's peak memory bandwidth in bytes/s from PEAK_BANDWIDTH_TB_S; None when unknown (CPU too)."""
    if not device_name:
        return None
    for pattern, terabytes in PEAK_BANDWIDTH_TB_S:
        if pattern.lower() in device_name.lower():
            return terabytes * 1e12
    return None


def cuda_device_name() -> str | None:
    return torch.cuda.get_device_name() if torch.cuda.is_available() else None


def cpu_model() -> str:
    """The processor's model name (/proc/cpuinfo on Linux), else platform's description."""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text(errors="replace").splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def usable_cpus() -> int:
    """CPUs this process may run on (affinity), not the machine's total."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _slug(text: str) -> str:
    text = re.sub(r"\((r|tm)\)|\bcpu\b|@.*$", "", text.lower())
    return re.sub(r"[^a-z0-9]+", "-", text).strip("-")


def machine_kind() -> str:
    """'cuda-nvidia-h100-80gb-hbm3' on a GPU machine, 'cpu-<model>-<n>cpus' without one."""
    name = cuda_device_name()
    if name is not None:
        return f"cuda-{_slug(name)}"
    return f"cpu-{_slug(cpu_model())}-{usable_cpus()}cpus"
