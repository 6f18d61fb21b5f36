"""Energy counters: NVIDIA GPUs through NVML, the CPU through Linux RAPL (powercap sysfs).

Each meter reports joules consumed since it was opened and names its `source`. Preference order
for a GPU: NVML's total-energy counter (`nvmlDeviceGetTotalEnergyConsumption`, millijoules since the
driver loaded; Volta and newer), else a thread sampling `nvmlDeviceGetPowerUsage` (milliwatts) and
integrating it, else "not available: <reason>". For the CPU: the package zones of
`/sys/class/powercap/intel-rapl:*/energy_uj` (microjoules, wrapping at `max_energy_range_uj`).
Callers synchronise the GPU before reading so that a window's energy covers its kernels.
"""

import logging
import re
import threading
import time
from pathlib import Path

import torch

logger = logging.getLogger(__name__)

POWERCAP_ROOT = Path("/sys/class/powercap")
NOT_AVAILABLE = "not available"


class NotAvailable:
    """A meter that cannot measure; `source` says why."""

    def __init__(self, reason: str):
        self.source = f"{NOT_AVAILABLE}: {reason}"

    def joules(self) -> float | None:
        return None

    def close(self) -> None:
        pass


class NvmlEnergyCounter:
    """Joules from NVML's total-energy counter, relative to when the meter was opened."""

    source = "nvml-total-energy"

    def __init__(self, nvml, handle):
        self._nvml, self._handle = nvml, handle
        self._start_mj = nvml.nvmlDeviceGetTotalEnergyConsumption(handle)

    def joules(self) -> float:
        return (self._nvml.nvmlDeviceGetTotalEnergyConsumption(self._handle) - self._start_mj) / 1000.0

    def close(self) -> None:
        pass


class PowerSampler:
    """Integrates power readings (watts from `read_watts()`) over time on a background thread."""

    def __init__(self, read_watts, source: str, interval_s: float = 0.05):
        self.source = source
        self._read_watts, self._interval_s = read_watts, interval_s
        self._lock = threading.Lock()
        self._joules = 0.0
        self._last_time, self._last_watts = time.perf_counter(), read_watts()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="power-sampler", daemon=True)
        self._thread.start()

    def _sample(self) -> None:
        watts, now = self._read_watts(), time.perf_counter()
        with self._lock:  # trapezoid rule between consecutive samples
            self._joules += 0.5 * (watts + self._last_watts) * (now - self._last_time)
            self._last_time, self._last_watts = now, watts

    def _run(self) -> None:
        while not self._stop.wait(self._interval_s):
            self._sample()

    def joules(self) -> float:
        self._sample()
        with self._lock:
            return self._joules

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=1.0)


class RaplCounter:
    """Joules summed over RAPL package zones since opening, handling counter wraparound.

    Read it at least once per wrap period (minutes at full load) so that no wrap is missed; the
    training loop reads it every tick.
    """

    source = "rapl"

    def __init__(self, zones: list[Path]):
        if not zones:
            raise ValueError("RaplCounter needs at least one powercap zone folder")
        self.zones = zones
        self._ranges = [int((zone / "max_energy_range_uj").read_text()) for zone in zones]
        self._last = [self._read(zone) for zone in zones]
        self._total_uj = 0

    @staticmethod
    def _read(zone: Path) -> int:
        return int((zone / "energy_uj").read_text())

    def joules(self) -> float:
        for index, zone in enumerate(self.zones):
            now = self._read(zone)
            delta = now - self._last[index]
            if delta < 0:  # the counter wrapped past max_energy_range_uj
                delta += self._ranges[index] + 1
            self._total_uj += delta
            self._last[index] = now
        return self._total_uj / 1e6

    def close(self) -> None:
        pass


def rapl_package_zones(root: Path = POWERCAP_ROOT) -> list[Path]:
    """Top-level RAPL zones (`intel-rapl:<n>`, one per CPU package), excluding `psys` (it overlaps)."""
    zones = []
    for zone in sorted(Path(root).glob("intel-rapl:*")):
        if not re.fullmatch(r"intel-rapl:\d+", zone.name):
            continue  # sub-zones (core, uncore, dram) are inside the package's count
        name_file = zone / "name"
        if name_file.exists() and name_file.read_text().strip() == "psys":
            continue
        zones.append(zone)
    return zones


def open_cpu_meter(root: Path | str = POWERCAP_ROOT) -> RaplCounter | NotAvailable:
    """A RAPL meter for the CPU packages, or NotAvailable with the reason."""
    root = Path(root)
    if not root.is_dir():
        return NotAvailable(f"no powercap interface at {root}")
    zones = rapl_package_zones(root)
    if not zones:
        return NotAvailable(f"no RAPL package zones under {root}")
    try:
        return RaplCounter(zones)
    except PermissionError:
        return NotAvailable(f"RAPL counters under {root} are not readable (needs root or a udev rule)")
    except (OSError, ValueError) as error:
        return NotAvailable(f"RAPL counters under {root} could not be read ({error})")


def _nvml_handle(nvml, device: torch.device):
    index = device.index if device.index is not None else torch.cuda.current_device()
    uuid = getattr(torch.cuda.get_device_properties(index), "uuid", None)
    if uuid is not None:  # robust to CUDA_VISIBLE_DEVICES reordering
        try:
            return nvml.nvmlDeviceGetHandleByUUID(f"GPU-{uuid}")
        except nvml.NVMLError:
            logger.debug("NVML did not recognise UUID GPU-%s; falling back to index %d", uuid, index)
    return nvml.nvmlDeviceGetHandleByIndex(index)


def open_gpu_meter(device: torch.device | str, sample_interval_s: float = 0.05):
    """An NVML meter for `device`: total-energy counter, else power sampling, else NotAvailable."""
    device = torch.device(device)
    if device.type != "cuda":
        return NotAvailable(f"device {device} is not an NVIDIA GPU")
    try:
        import pynvml as nvml  # nvidia-ml-py; imported lazily so CPU installs need no driver
    except ImportError:
        return NotAvailable("pynvml is not installed (pip install nvidia-ml-py)")
    try:
        nvml.nvmlInit()
        handle = _nvml_handle(nvml, device)
    except nvml.NVMLError as error:
        return NotAvailable(f"NVML could not be initialised ({error})")
    try:
        return NvmlEnergyCounter(nvml, handle)
    except nvml.NVMLError as error:
        logger.info("NVML total-energy counter unavailable (%s); sampling power instead", error)
    try:
        return PowerSampler(lambda: nvml.nvmlDeviceGetPowerUsage(handle) / 1000.0,
                            source="nvml-power-sampling", interval_s=sample_interval_s)
    except nvml.NVMLError as error:
        return NotAvailable(f"NVML reports neither energy nor power for this GPU ({error})")
