"""Named random streams of a run, each seeded from --seed (so adding a stream shifts no other)."""

import numpy as np

STREAMS = ("init", "latents", "regularisers", "measure")


def stream_seed(seed: int, stream: str) -> int:
    """The seed of random stream `stream` (one of STREAMS) for run seed `seed`: a 32-bit integer."""
    if stream not in STREAMS:
        raise ValueError(f"unknown random stream {stream!r}; known: {', '.join(STREAMS)}")
    return int(np.random.SeedSequence([int(seed), STREAMS.index(stream)]).generate_state(1)[0])
