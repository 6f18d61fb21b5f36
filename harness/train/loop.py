"""The one training loop: build G, D, G_ema and their optimisers, then run minibatches in phases.

Each minibatch runs up to four phases (stylegan2-ada's order): G main (non-saturating loss, style
mixing), G reg (lazy path length, every `pl_interval`), D main (logistic loss; plus R1 when it is
not lazy, configs A and B), D reg (lazy R1, every `r1_interval`); then G_ema follows G. While
growing, G and D work at full resolution (see variants/growing.py) and Adam's state is reset
whenever floor(lod) or ceil(lod) changes, at the start of each fade-in and of each stable phase. Every
`tick_kimg` a stats line is written (throughput, energy, Figure 8, droplets: see ticks.py), a
G_ema snapshot every `snapshot_kimg`, a checkpoint every `checkpoint_kimg`; all three at the end.
"""

import contextlib
import copy
import math
from pathlib import Path

import torch

import variants
from harness.data import open_dataset
from harness.distributed import Distributed, Shard, ShardedNoise, check_batches, process_group
from harness.rundir import RunDir
from harness.runlock import run_lock
from harness.train import losses, rundir
from harness.train.batches import DataOrder, prepare_reals
from harness.train.checkpoint import load_checkpoint, restore_rng_states, rng_states
from harness.train.finite import NonFiniteError, check_finite  # noqa: F401 (NonFiniteError: public here)
from harness.train.options import TrainOptions
from harness.train.performance import apply_performance, tf32_restored
from harness.train.schedule import (
    Schedule,
    TrainingState,
    ema_beta,
    is_lazy,
    lazy_adam_settings,
    optimizer_intervals,
)
from harness.train.seeds import stream_seed
from harness.train.ticks import TickRecorder
from variants.growing import active_ws


def resolve_device(device: str) -> torch.device:
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    resolved = torch.device(device)
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {device!r} requested but CUDA is not available; use --device cpu")
    return resolved


@torch.no_grad()
def update_ema(ema: torch.nn.Module, net: torch.nn.Module, beta: float) -> None:
    """ema <- beta * ema + (1 - beta) * net for parameters; buffers are copied (w_avg, noise)."""
    ema_params, params = list(ema.parameters()), list(net.parameters())
    ema_buffers, buffers = list(ema.buffers()), list(net.buffers())
    if len(ema_params) != len(params) or len(ema_buffers) != len(buffers):
        raise ValueError("update_ema needs two networks of the same architecture")
    torch._foreach_lerp_(ema_params, params, 1.0 - beta)  # one call for all tensors: cheap on small nets
    if buffers:
        torch._foreach_copy_(ema_buffers, buffers)


class Trainer:
    """Networks, optimisers, random streams and counters of one run; `step()` trains one minibatch."""

    def __init__(self, options: TrainOptions, dataset, device: torch.device, dist: Distributed | None = None):
        if options.config.img_channels != dataset.channels:
            raise ValueError(f"config {options.config.name!r} makes {options.config.img_channels}-channel "
                             f"images but the dataset {dataset.info.source!r} has {dataset.channels}; build "
                             f"the trainer with options.for_dataset(dataset)")
        self.options, self.config, self.dataset, self.device = options, options.config, dataset, device
        self.dist = dist or Distributed(device=device)
        self.schedule = Schedule(self.config, options.total_images, options.growing_fraction)
        torch.manual_seed(stream_seed(options.seed, "init"))
        self.G = variants.build_generator(self.config).to(device).train()
        self.D = variants.build_discriminator(self.config).to(device).train()
        self.G_ema = copy.deepcopy(self.G).eval().requires_grad_(False)
        self.performance = apply_performance(options.performance, self.G, self.D, device)  # G_ema stays fp32
        self.noise = ShardedNoise(self.G, self.dist)  # after the deepcopy: G_ema gets no hooks
        self.mbstd_group = self.config.mbstd_group if self.config.mbstd_channels > 0 else 1
        self._report_replicated(check_batches(self.schedule, self.dist.world_size, self.mbstd_group,
                                              self.config.pl_batch_shrink))
        self.generators = {
            "latents": torch.Generator().manual_seed(stream_seed(options.seed, "latents")),
            "regularisers": torch.Generator(device).manual_seed(stream_seed(options.seed, "regularisers")),
        }
        self.data_order = DataOrder(len(dataset), options.seed, options.xflip)
        self.pl_mean = torch.zeros([], device=device)
        self.images_shown, self.step_index = 0, 0
        self.optimizer_lod: float | None = None  # level of detail at the last Adam reset or step
        self.optimizer_lr: float | None = None  # the schedule's lr the optimisers run at (before lazy c)
        self.pl_lazy = is_lazy(self.config.pl_interval, self.config.pl_weight)
        self.r1_lazy = is_lazy(self.config.r1_interval, self.config.r1_gamma)
        self.opt_intervals = optimizer_intervals(self.config)  # (G, D) k of the lazy Adam correction
        self.opt_G = self.opt_D = None
        self.last_state: TrainingState | None = None  # of the latest minibatch

    # Set-up ------------------------------------------------------------------------------------

    def _report_replicated(self, pl_batches: list[int]) -> None:
        if pl_batches and self.dist.is_main:
            print(f"note: path length batch(es) {pl_batches} cannot be split over {self.dist.world_size} "
                  f"ranks; every rank computes the whole batch there (same result, more work)", flush=True)

    def _build_optimizers(self, lr: float) -> None:
        """Fresh Adam for G and D at the schedule's `lr`, lazily corrected (official: TF StyleGAN2
        training/training_loop.py, G_opt and D_opt under lazy_regularization)."""
        cfg, (g_interval, d_interval) = self.config, self.opt_intervals
        g_lr, g_betas = lazy_adam_settings(lr, cfg.adam_betas, g_interval)
        d_lr, d_betas = lazy_adam_settings(lr, cfg.adam_betas, d_interval)
        fused = self.device.type in ("cpu", "cuda")  # one kernel per step: 4x faster on small CPU nets
        self.opt_G = torch.optim.Adam(self.G.parameters(), lr=g_lr, betas=g_betas, eps=cfg.adam_eps,
                                      fused=fused)
        self.opt_D = torch.optim.Adam(self.D.parameters(), lr=d_lr, betas=d_betas, eps=cfg.adam_eps,
                                      fused=fused)
        self.optimizer_lr = lr

    def _set_lr(self, lr: float) -> None:
        """Move both optimisers to the schedule's `lr` (lazily corrected), keeping their state."""
        for optimizer, interval in zip((self.opt_G, self.opt_D), self.opt_intervals, strict=True):
            corrected, _ = lazy_adam_settings(lr, self.config.adam_betas, interval)
            for group in optimizer.param_groups:
                group["lr"] = corrected
        self.optimizer_lr = lr

    def _enter(self, state: TrainingState) -> None:
        """Apply the schedule's growth state; reset Adam whenever floor(lod) or ceil(lod) changes, i.e.
        when a fade-in starts and again when its stable phase starts (official: TF StyleGAN2
        training/training_loop.py, reset_opt_for_new_lod)."""
        if self.config.growing:
            for net in (self.G, self.D, self.G_ema):
                net.set_growth(state.resolution, state.alpha)
        previous = self.optimizer_lod
        if previous is None or (math.floor(previous), math.ceil(previous)) != (math.floor(state.lod),
                                                                             math.ceil(state.lod)):
            self._build_optimizers(state.lr)
        elif state.lr != self.optimizer_lr:
            self._set_lr(state.lr)
        self.optimizer_lod = state.lod

    # One minibatch -----------------------------------------------------------------------------

    def _latents(self, shard: Shard):
        """This rank's rows of the global batch's latents (every rank draws all: streams stay in step)."""
        z = torch.randn(shard.global_count, self.G.z_dim, generator=self.generators["latents"])
        z_mix = torch.randn(shard.global_count, self.G.z_dim, generator=self.generators["latents"])
        mix_draw = torch.rand(2, generator=self.generators["latents"])
        return shard.take(z).to(self.device), shard.take(z_mix).to(self.device), mix_draw

    def _ws(self, shard: Shard) -> torch.Tensor:
        """Style-mixed ws of this rank's rows, the crossover within the active layers. Every call moves
        w_avg, as every training-mode evaluation of the official mapping does (G main, path length,
        D's fakes; official: training/networks_stylegan2.py (TF StyleGAN2) G_main, dlatent_avg)."""
        z, z_mix, mix_draw = self._latents(shard)
        ws = losses.sample_ws(self.G.mapping, z, z_mix, mix_draw, num_ws=self.G.num_ws,
                              active_ws=active_ws(self.G.num_ws, self.last_state.lod),
                              mixing_prob=self.config.style_mixing_prob, update_w_avg=True)
        # each rank moved w_avg towards its rows' mean; the mean move is the global one
        self.dist.mean_([self.G.mapping.w_avg], "averaging w_avg")
        return ws

    def _path_length_loss(self, batch: int, log) -> torch.Tensor:
        """Path length regulariser on batch / pl_batch_shrink samples (Eq. 4), EMA of a updated."""
        shard = self.dist.shard(max(1, batch // self.config.pl_batch_shrink), replicate_if_uneven=True)
        ws = self._ws(shard)
        with self.noise.batch(shard):
            images = self.G.synthesis(ws)
        global_shape = (shard.global_count, *images.shape[1:])
        noise = shard.take(losses.path_length_noise(global_shape, self.generators["regularisers"],
                                                    self.device))
        lengths = losses.path_lengths(images, ws, noise)
        # losses.path_length_penalty with the batch mean over every rank, so a is the same everywhere
        batch_mean = lengths.detach().mean()
        self.dist.mean_([batch_mean], "averaging path lengths")
        self.pl_mean = self.pl_mean.lerp(batch_mean, self.config.pl_decay)
        penalty = (lengths - self.pl_mean).square()
        log("loss/pl", penalty.mean())
        log("pl_mean", self.pl_mean)
        return penalty.mean() * self.config.pl_weight

    def _optimize(self, name: str, optimizer, loss: torch.Tensor, log) -> None:
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.dist.average_gradients([p for group in optimizer.param_groups for p in group["params"]])
        grads = [p.grad for group in optimizer.param_groups for p in group["params"] if p.grad is not None]
        log(f"grad_norm/{name}", torch.nn.utils.get_total_norm(grads))
        optimizer.step()

    def _phase_g(self, shard: Shard, timer, log) -> None:
        cfg, batch = self.config, shard.global_count
        self.G.requires_grad_(True)
        self.D.requires_grad_(False)
        with timer.phase("G_main"):
            ws = self._ws(shard)
            with self.noise.batch(shard):
                fake_logits = self.D(self.G.synthesis(ws))
            loss = losses.generator_loss(fake_logits)
            log("loss/G", loss)
            log("scores/fake", fake_logits.mean())
            if cfg.pl_weight > 0 and not self.pl_lazy:
                loss = loss + self._path_length_loss(batch, log)
            self._optimize("G_main", self.opt_G, loss, log)
        if self.pl_lazy and self.step_index % cfg.pl_interval == 0:
            with timer.phase("G_reg"):
                loss = self._path_length_loss(batch, log) * cfg.pl_interval
                self._optimize("G_reg", self.opt_G, loss, log)

    def _phase_d(self, reals: torch.Tensor, shard: Shard, timer, log) -> None:
        cfg = self.config
        self.G.requires_grad_(False)
        self.D.requires_grad_(True)
        with timer.phase("D_main"):
            with torch.no_grad(), self.noise.batch(shard):
                fakes = self.G.synthesis(self._ws(shard))
            r1_now = cfg.r1_gamma > 0 and not self.r1_lazy
            real_input = reals.detach().requires_grad_(r1_now)
            real_logits, fake_logits = self.D(real_input), self.D(fakes)
            loss = losses.discriminator_loss(real_logits, fake_logits)
            log("loss/D", loss)
            log("scores/real", real_logits.mean())
            if r1_now:
                penalty = losses.r1_penalty(real_logits, real_input).mean()
                log("loss/r1", penalty)
                loss = loss + penalty * (cfg.r1_gamma / 2)
            self._optimize("D_main", self.opt_D, loss, log)
        if self.r1_lazy and self.step_index % cfg.r1_interval == 0:
            with timer.phase("D_reg"):
                real_input = reals.detach().requires_grad_(True)
                penalty = losses.r1_penalty(self.D(real_input), real_input).mean()
                log("loss/r1", penalty)
                self._optimize("D_reg", self.opt_D, penalty * (cfg.r1_gamma / 2 * cfg.r1_interval), log)

    def step(self, timer) -> tuple[int, dict[str, torch.Tensor]]:
        """Train one minibatch; returns its size and the detached losses and gradient norms."""
        values: dict[str, torch.Tensor] = {}

        def log(name: str, value: torch.Tensor) -> None:
            values[name] = value.detach()

        state = self.last_state = self.schedule.state_at(self.images_shown)
        self._enter(state)
        batch = self.schedule.batch_for_step(self.images_shown)
        shard = self.dist.shard(batch, group=self.mbstd_group)  # this rank's rows of the global minibatch
        indices, flips = self.data_order.indices(self.images_shown, batch)
        rows = shard.indices.numpy()
        images = self.dataset.get(indices[rows], xflip=flips[rows] if self.data_order.xflip else None)
        reals = prepare_reals(images, state.resolution, state.alpha, self.device)
        self._phase_g(shard, timer, log)
        self._phase_d(reals, shard, timer, log)
        values = self.dist.mean_values(values)  # local means -> the global batch's (the same on every rank)
        update_ema(self.G_ema, self.G, ema_beta(batch, self.config.ema_kimg, self.config.ema_rampup,
                                                self.images_shown))
        self.images_shown += batch
        self.step_index += 1
        timer.add_images(batch)
        return batch, values

    # Checkpoint state --------------------------------------------------------------------------

    def state_dict(self) -> dict:
        return {
            "G": self.G.state_dict(), "G_ema": self.G_ema.state_dict(), "D": self.D.state_dict(),
            "opt_G": self.opt_G.state_dict(), "opt_D": self.opt_D.state_dict(),
            "optimizer_lod": self.optimizer_lod, "optimizer_lr": self.optimizer_lr,
            "images_shown": self.images_shown, "step": self.step_index,
            "pl_mean": self.pl_mean.detach().clone(),
            "rng": rng_states(self.generators, self.device),
            "growth": dict(vars(self.schedule.state_at(self.images_shown))),
        }

    def load_state_dict(self, state: dict) -> None:
        self.images_shown, self.step_index = int(state["images_shown"]), int(state["step"])
        scheduled = self.schedule.state_at(self.images_shown)  # for files written before lod was saved
        self._build_optimizers(float(state.get("optimizer_lr", scheduled.lr)))  # step() applies the growth
        self.optimizer_lod = float(state.get("optimizer_lod", scheduled.lod))
        for name in ("G", "G_ema", "D"):
            getattr(self, name).load_state_dict(state[name])
        self.opt_G.load_state_dict(state["opt_G"])
        self.opt_D.load_state_dict(state["opt_D"])
        self.pl_mean = state["pl_mean"].to(self.device)
        restore_rng_states(state["rng"], self.generators, self.device)


@contextlib.contextmanager
def torch_settings(options: TrainOptions):
    """Deterministic algorithms and thread count for the run, restored afterwards."""
    was_deterministic, threads = torch.are_deterministic_algorithms_enabled(), torch.get_num_threads()
    torch.use_deterministic_algorithms(options.deterministic or was_deterministic)
    if options.threads is not None:
        torch.set_num_threads(options.threads)
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(was_deterministic)
        torch.set_num_threads(threads)


def train(options: TrainOptions) -> Path:
    """Train `options.config` for `options.kimg` thousand images; returns the run directory.

    Holds the run directory's lock throughout (harness.runlock.run_lock). Under torchrun (WORLD_SIZE > 1)
    every rank runs this; see harness/distributed.py.
    """
    run_dir = options.out_dir
    with (process_group(resolve_device(options.device), options.dist_timeout_min) as dist,
          run_lock(run_dir), torch_settings(options), tf32_restored()):
        device = dist.device
        dataset = open_dataset(options.data, options.config.resolution, cache_dir=options.cache_dir,
                               skip_bad=options.skip_bad, content_height=options.config.content_height,
                               rebuild_cache=options.rebuild_cache)
        options = options.for_dataset(dataset)  # before the resume check: options.json holds it resolved
        resume = rundir.check_run_dir(options)
        if resume:
            rundir.check_dataset(run_dir, dataset.info)
        trainer = Trainer(options, dataset, device, dist)
        checkpoint = load_checkpoint(run_dir) if resume else None  # on CPU: RNG states must stay there
        if checkpoint is not None:
            trainer.load_state_dict(checkpoint)
            if trainer.images_shown >= options.total_images and RunDir(run_dir).is_done():
                return run_dir  # finished already: nothing to add
        dist.barrier("starting the run")  # every rank has read the run directory before rank 0 writes
        if dist.is_main:
            rundir.tidy(run_dir, None if checkpoint is None else trainer.images_shown, options.force_restart)
            rundir.write_metadata(options, dataset.info, device)
        recorder = TickRecorder(trainer, checkpoint)
        try:
            while trainer.images_shown < options.total_images:
                batch, values = trainer.step(recorder.timer)
                check_finite(values, trainer.step_index - 1, trainer.images_shown, run_dir)
                recorder.after_step(batch, values)
            recorder.finish()
            dist.barrier("finishing the run")  # train() returns once rank 0 has written everything
        finally:
            recorder.close()
    return run_dir
