"""Several processes, one run: `torchrun --nproc_per_node=N -m harness train ...` (or `... metrics ...`).

Every rank holds the same networks and draws the same *global* random numbers (latents, noise,
mixing draws, regulariser noise) from the same seeded streams, then computes only its rows of the
global minibatch (`Shard`). Losses are local means over equal-sized shards, so averaging the
gradients over ranks gives the gradient of the global-batch mean: the update, the EMA, the path
length mean and every logged number are those of a single process with the same global batch, up
to float rounding. Gradients are averaged with one flattened all_reduce per phase rather than by
wrapping the networks in DistributedDataParallel (as stylegan2-ada-pytorch does), because DDP's
hooks do not compose with the double backward of R1 and path length regularisation.

Rows are interleaved so that each rank's minibatch-std groups (variants MinibatchStdDev: sample
n = g * M + m belongs to group m) are exactly groups of the global batch: that needs a per-rank
batch divisible by the group size, which `check_batches` verifies before training starts.

World size 1 (no WORLD_SIZE in the environment) makes every collective a no-op: one code path.
A failed collective (a rank died, or did not answer within the timeout) raises RankFailureError.
"""

import contextlib
import datetime
import math
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.distributed as torch_dist

DEFAULT_TIMEOUT_MIN = 10.0


class RankFailureError(RuntimeError):
    """A collective operation failed: another rank stopped or did not answer within the timeout."""


@dataclass(frozen=True)
class Shard:
    """This rank's rows of a global batch of `global_count` rows.

    indices: int64 [local count] (CPU), positions in the global batch, in this rank's row order.
    replicated: every rank computes every row (a batch too small to split; same result, more work).
    """

    global_count: int
    indices: torch.Tensor
    replicated: bool = False
    _on_device: dict = field(default_factory=dict, compare=False, repr=False)  # indices per device

    @property
    def count(self) -> int:
        return len(self.indices)

    @property
    def is_whole(self) -> bool:
        """Whether this rank computes the whole batch in its original order."""
        return self.count == self.global_count

    def take(self, rows: torch.Tensor) -> torch.Tensor:
        """This rank's rows of a global-batch tensor [global_count, ...] -> [count, ...]."""
        if rows.shape[0] != self.global_count:
            raise ValueError(f"expected {self.global_count} rows of the global batch, got {rows.shape[0]}")
        if self.is_whole:
            return rows
        if rows.device not in self._on_device:  # one host-to-device copy per shard, not per noise layer
            self._on_device[rows.device] = self.indices.to(rows.device)
        return rows[self._on_device[rows.device]]


def shard_indices(global_count: int, world_size: int, rank: int, group: int = 1) -> torch.Tensor:
    """Global positions [global_count // world_size] computed by `rank`.

    With minibatch-std groups of `group` (sample n = k * M + m is in group m), local position
    l = k * M_local + j takes global position k * M_global + rank * M_local + j, so local group j
    is global group rank * M_local + j. group = 1 gives the contiguous slice [rank * n, (rank + 1) * n).
    """
    if global_count % world_size:
        raise ValueError(f"a batch of {global_count} cannot be split evenly over {world_size} ranks; "
                         f"use a batch size divisible by the number of processes")
    local = global_count // world_size
    group = min(group, global_count)
    if local % group:
        raise ValueError(f"each of {world_size} ranks would get {local} of a batch of {global_count}, not a "
                         f"multiple of the minibatch-std group {group}, so D would see other groups than "
                         f"in one process; use a batch divisible by {world_size * group} or --set "
                         f"mbstd_group=<a divisor of {local}>")
    k = torch.arange(group).repeat_interleave(local // group)
    j = torch.arange(local // group).repeat(group)
    return k * (global_count // group) + rank * (local // group) + j


@dataclass(frozen=True)
class Distributed:
    """This process's place in the run: `world_size` ranks, this one `rank` (`local_rank` on its node).

    device: the training device of this rank (cuda:local_rank on GPUs); timeout_s: how long a
    collective waits for the other ranks before RankFailureError.
    """

    world_size: int = 1
    rank: int = 0
    local_rank: int = 0
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))
    timeout_s: float = DEFAULT_TIMEOUT_MIN * 60

    @property
    def is_main(self) -> bool:
        """Rank 0: the one that writes files."""
        return self.rank == 0

    @property
    def active(self) -> bool:
        return self.world_size > 1

    def describe(self) -> str:
        return f"rank {self.rank} of {self.world_size}"

    # Batches -------------------------------------------------------------------------------------

    def shard(self, global_count: int, group: int = 1, replicate_if_uneven: bool = False) -> Shard:
        """This rank's rows of a global batch (see shard_indices); `replicate_if_uneven`: when the
        batch cannot be split, every rank takes all rows instead of failing."""
        if not self.active:
            return Shard(global_count, torch.arange(global_count))
        if replicate_if_uneven and global_count % self.world_size:
            return Shard(global_count, torch.arange(global_count), replicated=True)
        return Shard(global_count, shard_indices(global_count, self.world_size, self.rank, group))

    # Collectives -------------------------------------------------------------------------------

    def _collective(self, what: str, operation: Callable[[], object]):
        try:
            return operation()
        except RuntimeError as error:  # DistBackendError and gloo's timeouts / closed connections
            raise RankFailureError(
                f"{self.describe()}: {what} failed: another rank stopped or did not answer within "
                f"{self.timeout_s:g} s (see that rank's own error). Cause: {error}") from error

    def mean_(self, tensors: Sequence[torch.Tensor], what: str = "averaging over ranks") -> None:
        """Replace each tensor by its mean over ranks, in place, with one all_reduce."""
        tensors = [t for t in tensors if t is not None]
        if not self.active or not tensors:
            return
        flat = torch.cat([t.detach().reshape(-1).to(self.device, torch.float32) for t in tensors])
        self._collective(what, lambda: torch_dist.all_reduce(flat, op=torch_dist.ReduceOp.SUM))
        flat /= self.world_size
        for tensor, part in zip(tensors, flat.split([t.numel() for t in tensors]), strict=True):
            tensor.copy_(part.view_as(tensor))

    def average_gradients(self, parameters: Sequence[torch.nn.Parameter]) -> None:
        """Mean over ranks of every existing .grad (ranks run the same graph, so the same ones exist)."""
        self.mean_([p.grad for p in parameters if p.grad is not None], "averaging gradients")

    def mean_values(self, values: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Scalars averaged over ranks (each rank's local mean -> the global-batch mean)."""
        if not self.active or not values:
            return values
        stacked = torch.stack([v.detach().float().reshape(()) for v in values.values()])
        self.mean_([stacked], "averaging logged losses")
        return dict(zip(values, stacked.unbind(), strict=True))

    def reduce_numbers(self, numbers: Sequence[float], op: str = "sum") -> list[float]:
        """Python numbers summed ('sum') or maximised ('max') over ranks (float64)."""
        if not self.active:
            return [float(n) for n in numbers]
        tensor = torch.tensor([float(n) for n in numbers], dtype=torch.float64, device=self.device)
        reduce_op = {"sum": torch_dist.ReduceOp.SUM, "max": torch_dist.ReduceOp.MAX}[op]
        self._collective(f"reducing tick statistics ({op})",
                         lambda: torch_dist.all_reduce(tensor, op=reduce_op))
        return tensor.cpu().tolist()

    def broadcast_(self, tensor: torch.Tensor, source: int = 0) -> torch.Tensor:
        """`tensor` (same shape on every rank) replaced by rank `source`'s values."""
        if not self.active:
            return tensor
        buffer = tensor.to(self.device)
        self._collective("broadcast from rank 0", lambda: torch_dist.broadcast(buffer, src=source))
        tensor.copy_(buffer)
        return tensor

    def barrier(self, what: str = "waiting for every rank") -> None:
        """Wait for every rank; on gloo a monitored barrier that names the ranks that did not come."""
        if not self.active:
            return
        if torch_dist.get_backend() == "gloo":
            timeout = datetime.timedelta(seconds=self.timeout_s)
            self._collective(what, lambda: torch_dist.monitored_barrier(timeout=timeout))
        else:
            self._collective(what, torch_dist.barrier)

    def gather_batches(self, compute_batch: Callable[[int, int], np.ndarray], num_rows: int, batch_size: int,
                       row_shape: tuple[int, ...] = (), dtype=np.float32) -> np.ndarray:
        """Rows [num_rows, *row_shape] of `compute_batch(start, stop)` over batches of `batch_size`,
        batch b computed on rank b % world_size and gathered in order on every rank.

        The batches are those one process would compute, so per-batch randomness (noise seeded by
        the batch's first seed) and hence the result are the same as with one process.
        """
        starts = list(range(0, num_rows, batch_size))
        if not self.active:
            return np.concatenate([compute_batch(s, min(s + batch_size, num_rows)) for s in starts])
        sizes = [sum(min(batch_size, num_rows - s) for s in starts[r::self.world_size])
                 for r in range(self.world_size)]
        padded = torch.zeros((max(sizes), *row_shape), dtype=torch.from_numpy(np.empty(0, dtype)).dtype)
        position = 0
        for start in starts[self.rank::self.world_size]:
            rows = compute_batch(start, min(start + batch_size, num_rows))
            rows = torch.from_numpy(np.asarray(rows, dtype))
            padded[position:position + len(rows)] = rows
            position += len(rows)
        padded = padded.to(self.device)
        pieces = [torch.empty_like(padded) for _ in range(self.world_size)]
        self._collective("gathering metric rows", lambda: torch_dist.all_gather(pieces, padded))
        pieces = [piece.cpu().numpy() for piece in pieces]
        ordered, taken = [], [0] * self.world_size
        for index, start in enumerate(starts):
            rank, count = index % self.world_size, min(batch_size, num_rows - start)
            ordered.append(pieces[rank][taken[rank]:taken[rank] + count])
            taken[rank] += count
        return np.concatenate(ordered)


def from_environment(environ=None) -> tuple[int, int, int]:
    """(world_size, rank, local_rank) that torchrun sets (WORLD_SIZE, RANK, LOCAL_RANK); (1, 0, 0) without."""
    environ = os.environ if environ is None else environ
    try:
        world_size = int(environ.get("WORLD_SIZE", "1"))
        rank, local_rank = int(environ.get("RANK", "0")), int(environ.get("LOCAL_RANK", "0"))
    except ValueError as error:
        raise ValueError(f"WORLD_SIZE, RANK and LOCAL_RANK must be integers (as torchrun sets them): "
                         f"{error}") from error
    if world_size < 1 or not 0 <= rank < world_size:
        raise ValueError(f"RANK={rank} must lie in [0, WORLD_SIZE={world_size})")
    return world_size, rank, local_rank


def rank_device(requested: torch.device, world_size: int, local_rank: int) -> torch.device:
    """The device of this rank: cuda:LOCAL_RANK when several processes train on GPUs."""
    if world_size == 1 or requested.type != "cuda":
        return requested
    if requested.index is not None:
        raise ValueError(f"device {requested} names one GPU, but each of the {world_size} processes uses "
                         f"cuda:LOCAL_RANK; pass --device cuda (or auto)")
    if local_rank >= torch.cuda.device_count():
        raise ValueError(f"LOCAL_RANK={local_rank} but only {torch.cuda.device_count()} GPU(s) are visible; "
                         f"start at most that many processes per node")
    return torch.device("cuda", local_rank)


@contextlib.contextmanager
def process_group(requested_device: torch.device, timeout_min: float | None = None) -> Iterator[Distributed]:
    """The Distributed of this process: joins torchrun's process group (NCCL on GPUs, gloo on CPU)
    when WORLD_SIZE > 1 and leaves it on exit; reuses a group the caller initialised already.

    Any error on this rank is printed with the rank before it propagates, so that the log of a
    multi-process run says which rank failed first.
    """
    timeout_s = 60 * (DEFAULT_TIMEOUT_MIN if timeout_min is None else float(timeout_min))
    if timeout_s <= 0:
        raise ValueError(f"the distributed timeout must be > 0 minutes, got {timeout_min}")
    owns_group = False
    if torch_dist.is_available() and torch_dist.is_initialized():
        world_size, rank = torch_dist.get_world_size(), torch_dist.get_rank()
        local_rank = from_environment()[2] if "LOCAL_RANK" in os.environ else rank
    else:
        world_size, rank, local_rank = from_environment()
    device = rank_device(requested_device, world_size, local_rank)
    if world_size > 1 and not torch_dist.is_available():
        raise RuntimeError(f"WORLD_SIZE={world_size} but this torch build has no torch.distributed")
    if world_size > 1 and not torch_dist.is_initialized():
        if device.type == "cuda":
            torch.cuda.set_device(device)
        torch_dist.init_process_group(backend="nccl" if device.type == "cuda" else "gloo",
                                      timeout=datetime.timedelta(seconds=timeout_s),
                                      device_id=device if device.type == "cuda" else None)
        owns_group = True
    dist = Distributed(world_size=world_size, rank=rank, local_rank=local_rank, device=device,
                       timeout_s=timeout_s)
    try:
        yield dist
    except BaseException as error:
        if dist.active:
            print(f"[{dist.describe()}] {type(error).__name__}: {error}", file=sys.stderr, flush=True)
        raise
    finally:
        if owns_group:
            torch_dist.destroy_process_group()


def current(device: torch.device | str = "cpu") -> Distributed:
    """The Distributed of the process group this process is in (world size 1 when there is none)."""
    device = torch.device(device)
    if not (torch_dist.is_available() and torch_dist.is_initialized()):
        return Distributed(device=device)
    world_size, rank = torch_dist.get_world_size(), torch_dist.get_rank()
    local_rank = from_environment()[2] if "LOCAL_RANK" in os.environ else rank
    return Distributed(world_size=world_size, rank=rank, local_rank=local_rank, device=device,
                       timeout_s=DEFAULT_TIMEOUT_MIN * 60)


def batch_sizes(schedule) -> set[int]:
    """Every minibatch size a run of `schedule` (harness.train.schedule.Schedule) uses: one per growth
    phase, plus the last one, clipped to end at `total_images`. Walks phases, not steps."""
    sizes, shown, total = set(), 0, schedule.total_images
    growing_images = 2 * schedule.num_growths * schedule.phase_images
    while shown < total:
        batch = schedule.state_at(shown).batch
        phase_end = total
        if shown < growing_images:  # the batch may change at the next phase boundary
            phase_end = min(total, (shown // schedule.phase_images + 1) * schedule.phase_images)
        steps = math.ceil((phase_end - shown) / batch)
        if shown + steps * batch >= total:
            full, remainder = divmod(total - shown, batch)
            sizes.update(([batch] if full else []) + ([remainder] if remainder else []))
            break
        sizes.add(batch)
        shown += steps * batch
    return sizes


def check_batches(schedule, world_size: int, mbstd_group: int, pl_batch_shrink: int) -> list[int]:
    """Raise ValueError (before training) when a minibatch of the run cannot be split over the ranks;
    returns the path length batches (batch // pl_batch_shrink) every rank computes whole instead."""
    if world_size == 1:
        return []
    replicated = set()
    for batch in sorted(batch_sizes(schedule)):
        shard_indices(batch, world_size, 0, mbstd_group)
        pl_batch = max(1, batch // pl_batch_shrink)
        if pl_batch % world_size:
            replicated.add(pl_batch)
    return sorted(replicated)


class ShardedNoise:
    """Makes G's per-layer noise on this rank the rows of the noise one process draws for the whole batch.

    variants' NoiseInput draws `torch.randn([N, 1, r, r])` from torch's default generator, N taken
    from its input. Inside `batch(shard)` each NoiseInput of `net` is shown an input of the global
    batch size (a zero-copy expand), so it draws exactly what one process draws, and its output is
    cut to this rank's rows; every rank's default generator therefore stays in step with a
    single-process run. With one rank no hooks are installed.
    """

    def __init__(self, net: torch.nn.Module, dist: Distributed):
        self._shard: Shard | None = None
        if not dist.active:
            return
        from variants.layers import NoiseInput

        for module in net.modules():
            if isinstance(module, NoiseInput):
                module.register_forward_pre_hook(self._widen)
                module.register_forward_hook(self._narrow)

    @contextlib.contextmanager
    def batch(self, shard: Shard) -> Iterator[None]:
        """Synthesis calls inside compute `shard`'s rows of its global batch."""
        self._shard = shard
        try:
            yield
        finally:
            self._shard = None

    def _widen(self, module, args):
        shard = self._shard
        if shard is None or shard.is_whole:
            return None
        x, *rest = args
        if x.shape[0] != shard.count:
            raise ValueError(f"noise for {x.shape[0]} samples inside a shard of {shard.count}")
        return (x[:1].expand(shard.global_count, *x.shape[1:]), *rest)

    def _narrow(self, module, args, output):
        shard = self._shard
        if shard is None or shard.is_whole or output is None or output.ndim != 4:
            return None  # one process, or 'const' / 'none' noise: the same on every rank
        return shard.take(output)
