"""One wrapper per ML model (ASR, faces, embeddings): resolve weights, load once, infer in batches."""
