"""Per-tick bookkeeping of a run: stats lines, snapshots, checkpoints, the summary, progress.

stats.jsonl gets one line per tick with these keys:
  tick, kimg, images_shown, step, resolution, alpha, batch, lr (the schedule's, before the lazy
  correction), wall_s (since the run began, across resumes), tick_s, img_per_s (images of the
  tick / its seconds outside measurement and file writes), time_s/<phase> and img_per_s/<phase>
  for G_main, G_reg, D_main, D_reg (images of the tick / seconds in that phase), measure_s,
  loss/G, loss/D, loss/r1 (the R1 penalty E||grad||^2, unweighted), loss/pl (path length penalty,
  unweighted), pl_mean, scores/real, scores/fake, grad_norm/<phase> (tick means; None where not
  run), energy_j/gpu and energy_j/cpu (joules in the tick; None when not available),
  peak_gpu_mem_bytes (None off CUDA), peak_rss_bytes, fig8 ({"4": share, ...} summing to 1; None
  unless G has output skips), droplet and droplet/<resolution> (see harness.measure.droplets).
summary.json (written last): done, config, device, images_shown, kimg, steps, ticks, wall_s,
  train_s, img_per_s (images_shown / train_s), time_s/<phase>, img_per_s/<phase>, energy_j and
  energy_source (GPU; "nvml-total-energy", "nvml-power-sampling" or "not available: <why>"),
  energy_j/cpu and energy_source/cpu ("rapl" or "not available: <why>"), peak_gpu_mem_bytes,
  peak_rss_bytes, resumes, fig8 and droplet of the last tick, world_size.
Under torchrun only rank 0 measures and writes; img/s is the global batch's rate, energy_j/gpu is
summed over every rank's GPU, energy_j/cpu over nodes (RAPL meters a whole machine), and peak GPU
memory is the largest over ranks.
"""

import time

import torch

from common.io import die, fault_point
from harness.measure.droplets import measure_droplets
from harness.measure.energy import open_cpu_meter, open_gpu_meter
from harness.measure.resolution_usage import fixed_latents, resolution_shares
from harness.measure.throughput import TRAINING_PHASES, PhaseTimer, synchronize
from harness.rundir import RunDir
from harness.train import rundir
from harness.train.checkpoint import save_checkpoint
from harness.train.finite import check_networks_finite
from harness.train.progress import Progress
from harness.train.seeds import stream_seed

try:
    import resource
except ImportError:  # not on Windows
    resource = None


def peak_rss_bytes() -> int | None:
    """Peak resident memory of this process (Linux reports KiB)."""
    return None if resource is None else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def crossed(before: int, after: int, interval: int) -> bool:
    """Whether a multiple of `interval` lies in (before, after]."""
    return after // interval > before // interval


class TickRecorder:
    """Collects per-step values and writes the tick's outputs; `checkpoint` is the resumed state."""

    def __init__(self, trainer, checkpoint: dict | None):
        self.trainer, self.options, self.run_dir = trainer, trainer.options, trainer.options.out_dir
        self.run = RunDir(self.run_dir)
        self.dist = trainer.dist
        options = self.options
        self.tick_images = max(1, round(options.tick_kimg * 1000))
        self.snapshot_images = max(1, round(options.snapshot_kimg * 1000))
        self.checkpoint_images = max(1, round((options.checkpoint_kimg or options.snapshot_kimg) * 1000))
        self.first_snapshot_images = round((options.first_snapshot_kimg or 0) * 1000) or None
        resumed = checkpoint or {}
        self.tick_index = int(resumed.get("tick", 0))
        self.totals = dict(resumed.get("totals", {"wall_s": 0.0, "train_s": 0.0, "energy_j/gpu": 0.0,
                                                  "energy_j/cpu": 0.0, "peak_gpu_mem_bytes": 0,
                                                  **{f"time_s/{p}": 0.0 for p in TRAINING_PHASES}}))
        self.totals["resumes"] = int(self.totals.get("resumes", -1)) + 1
        self.last_tick_images = trainer.images_shown
        self.timer = PhaseTimer(trainer.device)
        self.gpu_meter, self.cpu_meter = open_gpu_meter(trainer.device), open_cpu_meter()
        self._energy_seen = {"gpu": 0.0, "cpu": 0.0}
        self._segment_start = time.perf_counter()
        self._wall_base = self.totals["wall_s"]
        self._sums: dict[str, list] = {}
        self._last_record: dict = {}
        self.fig8_z = fixed_latents(trainer.G.z_dim, options.fig8_samples,
                                    stream_seed(options.seed, "measure"), trainer.device)
        self.progress = Progress(options.total_images, trainer.images_shown,
                                 options.progress if self.dist.is_main else "none",
                                 label=f"{options.config.name}")
        if trainer.device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(trainer.device)

    def after_step(self, batch: int, values: dict[str, torch.Tensor]) -> None:
        for name, value in values.items():
            entry = self._sums.setdefault(name, [0.0, 0])
            entry[0] = entry[0] + value.float()
            entry[1] += 1
        self.progress.update(batch)
        images = self.trainer.images_shown
        if fault_point(f"train step at {images} images"):
            die()
        if crossed(self.last_tick_images, images, self.tick_images) or images >= self.options.total_images:
            self._tick()

    def _measure(self) -> dict:
        """Figure 8 shares and the droplet statistic of G_ema, on the fixed latents."""
        G_ema, record = self.trainer.G_ema, {}
        record["fig8"] = None
        if self.options.config.g_arch == "skip":
            shares = resolution_shares(G_ema, self.fig8_z)
            record["fig8"] = None if shares is None else {str(res): share for res, share in shares.items()}
        record.update(measure_droplets(G_ema, self.fig8_z[:self.options.droplet_samples]))
        return record

    def _energy(self) -> dict:
        """Joules of the tick over all ranks (a collective); None where a counted meter is missing."""
        deltas, missing = [], []
        for name, meter in (("gpu", self.gpu_meter), ("cpu", self.cpu_meter)):
            counted = name == "gpu" or self.dist.local_rank == 0  # one CPU reading per machine
            joules = meter.joules()
            deltas.append(0.0 if joules is None or not counted else joules - self._energy_seen[name])
            missing.append(float(joules is None and counted))
            if joules is not None:
                self._energy_seen[name] = joules
        summed = self.dist.reduce_numbers(deltas + missing, "sum")
        record = {}
        for index, name in enumerate(("gpu", "cpu")):
            record[f"energy_j/{name}"] = None if summed[2 + index] else summed[index]
            if not summed[2 + index]:
                self.totals[f"energy_j/{name}"] += summed[index]
        return record

    def _peak_gpu_memory(self) -> int | None:
        """Peak bytes allocated on a GPU in the tick, the largest over ranks (a collective); None off CUDA."""
        device = self.trainer.device
        if device.type != "cuda":
            return None
        peak = int(self.dist.reduce_numbers([torch.cuda.max_memory_allocated(device)], "max")[0])
        torch.cuda.reset_peak_memory_stats(device)
        self.totals["peak_gpu_mem_bytes"] = max(self.totals["peak_gpu_mem_bytes"], peak)
        return peak

    def _record(self, tick_seconds: float, measure_seconds: float) -> dict:
        trainer, state = self.trainer, self.trainer.last_state
        images = self.timer.images
        busy = tick_seconds - measure_seconds
        record = {
            "tick": self.tick_index, "kimg": trainer.images_shown / 1000,
            "images_shown": trainer.images_shown, "step": trainer.step_index,
            "resolution": state.resolution, "alpha": state.alpha,
            "batch": state.batch, "lr": state.lr,
            "wall_s": self._wall_base + time.perf_counter() - self._segment_start, "tick_s": tick_seconds,
            "img_per_s": images / busy if busy > 0 else None, "measure_s": measure_seconds,
        }
        timer_summary = self.timer.summary()
        record.update({key: value for key, value in timer_summary.items() if key != "img_per_s"})
        for name in ("loss/G", "loss/D", "loss/r1", "loss/pl", "pl_mean", "scores/real", "scores/fake",
                     *(f"grad_norm/{phase}" for phase in TRAINING_PHASES)):
            total, count = self._sums.get(name, (0.0, 0))
            record[name] = float(total) / count if count else None
        return record

    def _tick(self) -> None:
        """Every rank: the statistics reduced over ranks; rank 0: measurement and every file."""
        synchronize(self.trainer.device)
        tick_seconds = self.timer.window_seconds()
        trainer, previous = self.trainer, self.last_tick_images
        if any(self._saves_due(previous, trainer.images_shown)):  # every rank: they all stop together
            check_networks_finite({"G": trainer.G, "D": trainer.D, "G_ema": trainer.G_ema},
                                  trainer.images_shown, self.run_dir)
        shared = {**self._energy(), "peak_gpu_mem_bytes": self._peak_gpu_memory()}
        if self.dist.is_main:
            self._write_tick(tick_seconds, shared)
        self.tick_index += 1
        self.last_tick_images = self.trainer.images_shown
        self._sums = {}
        self.timer.reset()

    def _write_tick(self, tick_seconds: float, shared: dict) -> None:
        """The stats line, and the snapshot and checkpoint when their intervals are crossed."""
        trainer, images, previous = self.trainer, self.trainer.images_shown, self.last_tick_images
        measure_start = time.perf_counter()
        measured = self._measure()
        measure_seconds = time.perf_counter() - measure_start
        record = self._record(tick_seconds + measure_seconds, measure_seconds)
        record.update(shared)
        record["peak_rss_bytes"] = peak_rss_bytes()
        record.update(measured)
        self._accumulate_totals(record)
        self.run.append_stats(record)
        snapshot_due, checkpoint_due = self._saves_due(previous, images)
        if snapshot_due:
            rundir.save_snapshot(self.run_dir, trainer.G_ema, images)
        if checkpoint_due:
            self.totals["wall_s"] = self._wall_base + time.perf_counter() - self._segment_start
            save_checkpoint(self.run_dir, {**trainer.state_dict(), "tick": self.tick_index + 1,
                                           "totals": dict(self.totals)})
        self.progress.tick(record)
        self._last_record = record

    def _saves_due(self, previous: int, images: int) -> tuple[bool, bool]:
        """Whether a snapshot and a checkpoint are written at this tick (both at the end)."""
        done = images >= self.options.total_images
        first = self.first_snapshot_images is not None and previous < self.first_snapshot_images <= images
        return (crossed(previous, images, self.snapshot_images) or first or done,
                crossed(previous, images, self.checkpoint_images) or done)

    def _accumulate_totals(self, record: dict) -> None:
        self.totals["train_s"] += (record["tick_s"] - record["measure_s"])
        for phase in TRAINING_PHASES:
            self.totals[f"time_s/{phase}"] += record[f"time_s/{phase}"]

    def finish(self) -> None:
        """Write summary.json (done=true) once the budget is reached (rank 0)."""
        if not self.dist.is_main:
            return
        trainer, totals = self.trainer, self.totals
        images = trainer.images_shown
        wall_s = self._wall_base + time.perf_counter() - self._segment_start
        summary = {
            "done": True, "config": self.options.config.name, "device": str(trainer.device),
            "images_shown": images, "kimg": images / 1000, "steps": trainer.step_index,
            "ticks": self.tick_index,
            "wall_s": wall_s, "train_s": totals["train_s"],
            "img_per_s": images / totals["train_s"] if totals["train_s"] > 0 else None,
        }
        for phase in TRAINING_PHASES:
            seconds = totals[f"time_s/{phase}"]
            summary[f"time_s/{phase}"] = seconds
            summary[f"img_per_s/{phase}"] = images / seconds if seconds > 0 else None
        gpu_available = not self.gpu_meter.source.startswith("not available")
        cpu_available = not self.cpu_meter.source.startswith("not available")
        summary.update({
            "energy_j": totals["energy_j/gpu"] if gpu_available else None,
            "energy_source": self.gpu_meter.source,
            "energy_j/cpu": totals["energy_j/cpu"] if cpu_available else None,
            "energy_source/cpu": self.cpu_meter.source,
            "peak_gpu_mem_bytes": totals["peak_gpu_mem_bytes"] if trainer.device.type == "cuda" else None,
            "peak_rss_bytes": peak_rss_bytes(), "resumes": totals["resumes"],
            "fig8": self._last_record.get("fig8"), "droplet": self._last_record.get("droplet"),
            "world_size": self.dist.world_size,
        })
        self.run.write_summary(summary)

    def close(self) -> None:
        self.progress.close()
        self.gpu_meter.close()
        self.cpu_meter.close()
