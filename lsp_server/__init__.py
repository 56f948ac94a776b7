"""diffill: code infilling by masked diffusion (engine, CLI and language server)."""

__version__ = "0.1.0"
