"""Helpers every layer may import (variants, harness): atomic file writes, JSON without NaN, sha256.

Nothing here imports `variants` or `harness`, and nothing imports torch at module import time.
"""
