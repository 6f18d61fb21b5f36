"""Low-level StyleGAN2 ops, each with a plain-PyTorch reference (`_ref`) beside a fast path.

Modules: `upfirdn2d` (FIR resampling), `bias_act` (bias + activation + gain + clamp),
`conv2d_resample` (convolution fused with FIR up/downsampling), `modconv` (modulated convolution).
Every public op takes `impl='ref' | 'fused' | 'auto'`; `resolve_impl` decides what 'auto' means.
"""

from fused_ops._impl import resolve_impl

__all__ = ["resolve_impl"]
