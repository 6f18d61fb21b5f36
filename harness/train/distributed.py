"""Moved to harness.distributed (train and metrics both use it); kept while callers move."""

from harness.distributed import *  # noqa: F403
