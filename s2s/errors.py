"""The one exception type the CLI turns into a one-line message and a non-zero exit.

Library code raises `S2SError` for anything the user can fix (a bad file, a bad recipe key, a missing run);
everything else is a bug and keeps its traceback.
"""


class S2SError(Exception):
    """A problem with the user's input, reported as one line that names the file, line or key."""


class ConfigError(S2SError):
    """A recipe key that is unknown, of the wrong type or out of range. `key` is its dotted path."""

    def __init__(self, key: str, message: str):
        self.key = key
        super().__init__(f"{key}: {message}" if key else message)
