"""Moved to `common.io` (a package that `variants` and `harness` both import); kept while callers move."""

from common.io import *  # noqa: F403
from common.io import _write_atomic  # noqa: F401
