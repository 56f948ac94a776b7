"""The benchmark's own exception: a build or scoring input that cannot be used, with a message to act on."""


class RepoBenchError(RuntimeError):
    """A project, sdist, license, task or samples file that the benchmark refuses."""
