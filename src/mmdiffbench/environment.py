"""Errors of the machine rather than of the data or the configuration: a device that is not
there, a run folder another process writes, a disk that is full or read-only."""


class EnvironmentProblem(RuntimeError):
    """The run cannot proceed on this machine as it is; the message says what to change."""
