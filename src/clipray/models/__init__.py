"""One wrapper per ML model: resolve weights, load once, infer in batches."""
