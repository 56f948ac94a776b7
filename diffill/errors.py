"""Exceptions with messages a user can act on, raised at diffill's boundaries."""


class DiffillError(Exception):
    """Base class: an expected failure whose message is shown to the user as is."""


class ModelLoadError(DiffillError):
    """A checkpoint directory is missing, incomplete, not safetensors, or not a masked LM."""


class HoleError(DiffillError):
    """The input has no hole to fill, or a region/position is invalid."""
