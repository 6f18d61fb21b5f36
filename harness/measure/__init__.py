"""Measurements taken while training: throughput, energy, Figure 8 shares, droplet statistic."""
