"""Benchmark setup: the saved JSON names the machine and GPU (GPU benchmarks skip without CUDA: the root
conftest.py)."""

import pytest
import torch

from benchmarks.machine import cuda_device_name, machine_kind, peak_bandwidth_bytes_per_s, usable_cpus
from harness.environment import device_info, package_versions


def pytest_benchmark_update_machine_info(config, machine_info):
    """Add what pytest-benchmark leaves out: the machine kind, the GPU and its peak bandwidth, versions."""
    name = cuda_device_name()
    machine_info["machine_kind"] = machine_kind()
    machine_info["usable_cpus"] = usable_cpus()
    machine_info["torch_threads"] = torch.get_num_threads()
    machine_info["accelerator"] = device_info("cuda" if name is not None else "cpu")
    machine_info["peak_memory_bandwidth_bytes_per_s"] = peak_bandwidth_bytes_per_s(name)
    machine_info["packages"] = package_versions()


@pytest.fixture(autouse=True)
def _seed_everything():
    torch.manual_seed(0)
    yield
