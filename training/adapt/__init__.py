"""Local adaptation: fine-tune a model on the code of one workspace, on the user's CPU, within minutes.

``corpus`` turns the workspace's own files into training examples with the corpus builder's filters and
span selection, holding out some files to stop on; ``loop`` trains (a full copy, or LoRA adapters merged at
the end) under a time bound, resumably; ``export`` writes a model directory any diffill command loads;
``cli`` is ``diffill adapt`` (``python -m training.adapt``). The language server runs it as a low-priority
subprocess, so it never imports this package.
"""
