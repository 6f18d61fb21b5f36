"""Training progress: a tqdm bar (img/s, ETA) on a terminal, one plain line per tick in CI or logs."""

import datetime
import os
import sys

from tqdm import tqdm


def use_bar(mode: str, stream=None) -> bool:
    """'bar' / 'lines' / 'none' as given; 'auto' = a bar only on a terminal outside CI."""
    if mode != "auto":
        return mode == "bar"
    stream = stream or sys.stderr
    return bool(getattr(stream, "isatty", lambda: False)()) and not os.environ.get("CI")


def _number(value: float | None) -> str:
    """A loss for the progress line: 3 decimals, '?' when it was not measured this tick."""
    return "?" if value is None else f"{value:.3f}"


def _format_eta(seconds: float | None) -> str:
    return "?" if seconds is None else str(datetime.timedelta(seconds=round(seconds)))


class Progress:
    """Reports training progress in images; `update` per step, `tick` per stats line."""

    def __init__(self, total_images: int, images_shown: int, mode: str, label: str):
        self.total_images, self.label, self.mode = total_images, label, mode
        self._bar = None
        if use_bar(mode):
            self._bar = tqdm(total=total_images, initial=images_shown, unit="img", unit_scale=True,
                             dynamic_ncols=True, desc=label, smoothing=0.1)

    def update(self, images: int) -> None:
        if self._bar is not None:
            self._bar.update(images)

    def tick(self, record: dict) -> None:
        if self.mode == "none":
            return
        img_per_s = record.get("img_per_s")
        if self._bar is not None:
            self._bar.set_postfix(res=record["resolution"], loss_G=_number(record.get("loss/G")),
                                  loss_D=_number(record.get("loss/D")), refresh=False)
            return
        remaining = self.total_images - record["images_shown"]
        eta = remaining / img_per_s if img_per_s else None
        rate = f"{img_per_s:.1f}" if img_per_s else "?"
        total_kimg = self.total_images / 1000
        print(f"{self.label} tick {record['tick']:4d}  kimg {record['kimg']:9.3f}/{total_kimg:.3f}"
              f"  res {record['resolution']:4d}  {rate} img/s  eta {_format_eta(eta)}"
              f"  loss G {_number(record.get('loss/G'))}  D {_number(record.get('loss/D'))}", flush=True)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
