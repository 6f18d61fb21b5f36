"""Official StyleGAN2 PyTorch checkpoints: a code-free reader and the name mapping to the registry."""
