"""Repository-level infilling benchmark: unseen open-source projects split into a workspace and evaluation files.

``python -m benchmarks.repo_bench build`` downloads the pinned source distributions (``projects``), checks
their licenses and that none is in the bundled model's training corpus, splits each project's ``.py`` files
into a workspace (~80%) and evaluation files (~20%), and cuts single-line, multi-line and random-span holes
from the evaluation files with the whole file as context. ``python -m benchmarks.repo_bench score`` scores a
samples file (``diffill fill --tasks``) against them; ``score.score`` does the same from Python.
"""
