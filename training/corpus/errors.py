"""Exceptions raised by the corpus builder, with messages a user can act on."""

from __future__ import annotations


class CorpusError(Exception):
    """A fault in the corpus build that the user has to fix (bad source, bad output dir, bad config)."""
