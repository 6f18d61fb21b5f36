"""Low-level StyleGAN2 ops, each with a plain-PyTorch reference (`_ref`) beside a fast path.

Modules: `upfirdn2d` (FIR resampling), `bias_act` (bias + activation + gain + clamp),
`conv2d_resample` (convolution fused with FIR up/downsampling), `modconv` (modulated convolution).
Every public op takes `impl='ref' | 'fused' | 'auto'` (`Impl`, declared once in `_impl`);
`resolve_impl` decides what 'auto' means and `check_impl` rejects anything else.
"""

from fused_ops._impl import IMPLS, Impl, check_impl, resolve_impl

__all__ = ["IMPLS", "Impl", "check_impl", "resolve_impl"]
