"""diffill training: corpus building, tokenizer, diffusion training loop and evaluation."""
