"""diffill's core engine: the model, its tokens and the one denoising loop, from text and spans to filled text.

It knows no LSP, no editor and no training loop: the language server (``lsp_server``) and the training
package (``training``) both build on it, and it imports neither.
"""

__version__ = "0.1.0"
