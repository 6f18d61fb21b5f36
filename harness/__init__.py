"""The ablation harness: data, training, measurement, metrics, suites, results and report."""
