"""Full training state to and from `<run>/checkpoint.pt`, atomically and without unpickling code.

The file is a dict of tensors, numbers, strings, lists and dicts (state dicts of G, G_ema, D and
both Adam optimisers; images shown; every random stream's state as a uint8 tensor; the path
length EMA; the growing state; accumulated wall time and energy), so that
`torch.load(path, weights_only=True)` reads it back. Resuming from it continues bit-identically on CPU in
deterministic mode. Every random stream is global (each rank of a multi-process run draws the
same numbers), so the file rank 0 writes resumes on any number of processes.
"""

from pathlib import Path

import torch

from harness.io import save_torch_atomic

CHECKPOINT_NAME = "checkpoint.pt"
FORMAT_VERSION = 1


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


def save_checkpoint(run_dir: Path | str, state: dict) -> Path:
    """Write `state` (see module docstring) to `<run_dir>/checkpoint.pt` atomically."""
    return save_torch_atomic(Path(run_dir) / CHECKPOINT_NAME, {"format": FORMAT_VERSION, **state})


def load_checkpoint(run_dir: Path | str, map_location: torch.device | str = "cpu") -> dict | None:
    """The state saved in `<run_dir>/checkpoint.pt`, or None when there is none."""
    path = Path(run_dir) / CHECKPOINT_NAME
    if not path.exists():
        return None
    state = torch.load(path, map_location=map_location, weights_only=True)
    if state.get("format") != FORMAT_VERSION:
        raise ValueError(f"{path} has checkpoint format {state.get('format')!r}; this code reads "
                         f"format {FORMAT_VERSION} (start a new run directory)")
    return state
