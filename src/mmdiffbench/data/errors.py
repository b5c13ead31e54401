"""The one exception type for bad input data, so the CLI can report it without a traceback."""


class DataError(ValueError):
    """A release file is missing, unreadable or inconsistent; the message names the file."""
