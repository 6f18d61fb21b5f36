"""Full training state to and from `<run>/checkpoint.pt`, atomically and without unpickling code.

The file is a dict of tensors, numbers, strings, lists and dicts (state dicts of G, G_ema, D and
both Adam optimisers; images shown; every random stream's state as a uint8 tensor; the path
length EMA; the growing state; accumulated wall time and energy), so that
`torch.load(path, weights_only=True)` reads it back. Resuming from it continues bit-identically on CPU in
deterministic mode. Every random stream is global (each rank of a multi-process run draws the
same numbers), so the file rank 0 writes resumes on any number of processes.

Beside it, `<run>/checkpoint.json` records the file's sha256 and size, the images shown and step,
and the sha256 of the checkpoint it replaced; loading checks the file against it.
"""

import json
from pathlib import Path

import torch

from common.io import file_sha256, save_torch_hashed, write_json_atomic
from harness.rundir import RunDir

FORMAT_VERSION = 1


class CheckpointError(ValueError):
    """checkpoint.pt is corrupt, unreadable or of another format; the message names it and the way out."""


def rng_states(generators: dict[str, torch.Generator],
               device: torch.device | str = "cpu") -> dict[str, object]:
    """State tensors of torch's global CPU generator, of the training `device`'s default CUDA
    generator (when it is a GPU) and of the named generators."""
    states: dict[str, object] = {"torch_cpu": torch.get_rng_state()}
    device = torch.device(device)
    if device.type == "cuda":
        states["torch_cuda"] = torch.cuda.get_rng_state(device)
    states["generators"] = {name: generator.get_state() for name, generator in generators.items()}
    return states


def restore_rng_states(states: dict[str, object], generators: dict[str, torch.Generator],
                       device: torch.device | str = "cpu") -> None:
    """Inverse of `rng_states`; the CUDA state goes to `device`, whichever GPU saved it (a multi-process
    run saves rank 0's, which every rank shares). The named generators must exist already."""
    torch.set_rng_state(states["torch_cpu"])
    device = torch.device(device)
    cuda_state = states.get("torch_cuda")
    if device.type == "cuda" and cuda_state is not None:
        if isinstance(cuda_state, list):  # older files: one state per visible GPU
            cuda_state = cuda_state[min(device.index or 0, len(cuda_state) - 1)]
        torch.cuda.set_rng_state(cuda_state, device)
    missing = sorted(set(generators) - set(states["generators"]))
    if missing:
        raise ValueError(f"checkpoint has no state for random stream(s) {missing}")
    for name, generator in generators.items():
        generator.set_state(states["generators"][name])


def read_record(run_dir: Path | str) -> dict:
    """The content of `<run_dir>/checkpoint.json` ({} when there is none or it is unreadable)."""
    path = RunDir(run_dir).checkpoint_record_path
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def _record(state: dict, sha256: str, size: int, replaces: str | None) -> dict:
    return {"format": FORMAT_VERSION, "file": RunDir.CHECKPOINT, "sha256": sha256, "bytes": size,
            "images_shown": state.get("images_shown"), "step": state.get("step"),
            "replaces_sha256": replaces}


def save_checkpoint(run_dir: Path | str, state: dict) -> Path:
    """Write `state` (see module docstring) to `<run_dir>/checkpoint.pt` atomically, with its
    sha256 in checkpoint.json.

    checkpoint.json is written after the new file is durable and before it replaces the old
    one, naming both hashes, so that a crash in between leaves a pair that still verifies.
    """
    run = RunDir(run_dir)
    path = run.checkpoint_path
    replaces = read_record(run_dir).get("sha256")
    if replaces is None and path.exists():  # written before checksums existed
        replaces = file_sha256(path)

    def record(sha256: str, size: int) -> None:
        write_json_atomic(run.checkpoint_record_path, _record(state, sha256, size, replaces))

    return save_torch_hashed(path, {"format": FORMAT_VERSION, **state}, record)


def _alternatives(run_dir: Path) -> str:
    """What a user can do instead of resuming from a damaged checkpoint."""
    snapshots = RunDir(run_dir).snapshot_images()
    kept = (f"the snapshots (latest {RunDir(run_dir).snapshot_path(snapshots[-1])}) hold G_ema for metrics "
            f"but cannot resume training; " if snapshots else "")
    return (f"{kept}restore a good copy of {RunDir.CHECKPOINT}, or start the run again with --force-restart "
            f"(it deletes the run's stats, snapshots and metric rows)")


def _verify(path: Path, run_dir: Path) -> dict:
    """Check checkpoint.pt against checkpoint.json; returns the record describing the file on disk."""
    record = read_record(run_dir)
    if "sha256" not in record:
        return {}  # a checkpoint from before checksums: nothing to compare with
    actual = file_sha256(path)
    if actual == record["sha256"]:
        return record
    if actual == record.get("replaces_sha256"):  # killed between checkpoint.json and the rename
        print(f"note: the last checkpoint write of {run_dir} was interrupted; resuming from the one "
              f"before it", flush=True)
        return {**record, "sha256": actual, "replaces_sha256": None, "bytes": path.stat().st_size}
    raise CheckpointError(f"{path} is corrupt: its sha256 is {actual[:16]}..., {RunDir.CHECKPOINT_RECORD} "
                          f"records {record['sha256'][:16]}...; {_alternatives(run_dir)}")


def load_checkpoint(run_dir: Path | str, map_location: torch.device | str = "cpu") -> dict | None:
    """The state saved in `<run_dir>/checkpoint.pt`, or None when there is none.

    Raises CheckpointError naming the file when it is corrupt (sha256 mismatch), unreadable
    (truncated, empty, not a checkpoint) or of another format, and saying what can be used instead.
    """
    run_dir = Path(run_dir)
    path = RunDir(run_dir).checkpoint_path
    if not path.exists():
        return None
    record = _verify(path, run_dir)
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as error:  # truncated zip, random bytes, pickled code: all unreadable here
        cause = str(error).strip().splitlines()[0][:200] if str(error).strip() else type(error).__name__
        raise CheckpointError(f"{path} cannot be read as a checkpoint ({path.stat().st_size} bytes; "
                              f"{cause}); {_alternatives(run_dir)}") from error
    if not isinstance(state, dict) or state.get("format") != FORMAT_VERSION:
        found = state.get("format") if isinstance(state, dict) else type(state).__name__
        raise CheckpointError(f"{path} has checkpoint format {found!r}; this code reads format "
                              f"{FORMAT_VERSION} (start a new run directory, or --force-restart)")
    if record and record != read_record(run_dir):
        write_json_atomic(RunDir(run_dir).checkpoint_record_path, record)  # describe the file actually kept
    return state
