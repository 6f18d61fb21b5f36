"""What a run ran on: machine, accelerator, packages, git commit, time (written to environment.json)."""

import datetime
import importlib.metadata
import os
import platform
import socket
import subprocess
from pathlib import Path

import torch

# Packages whose versions change numbers or speed; missing ones are recorded as None.
TRACKED_PACKAGES = (
    "torch", "numpy", "scipy", "pandas", "safetensors", "pillow", "nvidia-ml-py", "tqdm",
    "stylegan2-ablations",
)

REPO_ROOT = Path(__file__).resolve().parents[1]


def package_versions(names=TRACKED_PACKAGES) -> dict[str, str | None]:
    """Installed version of each distribution in `names` (None where it is not installed)."""
    versions = {}
    for name in names:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def git_info(repo: Path = REPO_ROOT) -> dict[str, object]:
    """The commit and whether the working tree has uncommitted changes; None values outside git."""
    def git(*args: str) -> str | None:
        try:
            done = subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True, timeout=10)
        except (OSError, subprocess.TimeoutExpired):
            return None
        return done.stdout.strip() if done.returncode == 0 else None

    commit = git("rev-parse", "HEAD")
    status = git("status", "--porcelain", "--untracked-files=no") if commit else None
    return {"commit": commit, "dirty": None if status is None else bool(status)}


def device_info(device: torch.device | str) -> dict[str, object]:
    """The accelerator a run uses: model, memory, CUDA/cuDNN versions (CPU: the processor)."""
    device = torch.device(device)
    info: dict[str, object] = {"device": str(device), "cuda_version": torch.version.cuda}
    if device.type == "cuda":
        properties = torch.cuda.get_device_properties(device)
        info.update(
            name=properties.name,
            total_memory_bytes=properties.total_memory,
            capability=f"{properties.major}.{properties.minor}",
            cudnn_version=torch.backends.cudnn.version(),
            device_count=torch.cuda.device_count(),
        )
    else:
        info.update(name=platform.processor() or platform.machine())
    return info


def collect_environment(device: torch.device | str) -> dict[str, object]:
    """Everything environment.json records for a run on `device`."""
    return {
        "time_utc": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "host": socket.gethostname(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "accelerator": device_info(device),
        "git": git_info(),
        "packages": package_versions(),
        "ci": bool(os.environ.get("CI")),
    }
