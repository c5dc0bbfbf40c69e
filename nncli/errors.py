"""Domain errors, raised where a problem is found and rendered once, in the CLI."""


class NncliError(Exception):
    """Base of every error nncli reports to the user as a message (exit code 2)."""


class ConfigError(NncliError):
    """The YAML config, or a --set override, is invalid."""


class DataError(NncliError):
    """A CSV file cannot be used as asked."""


class ModelFileError(NncliError):
    """A model file is missing, damaged or not an nncli model."""


class UsageError(NncliError):
    """A command-line option is invalid (e.g. an output path that cannot be written)."""


class OutputError(NncliError):
    """A file cannot be written (e.g. the disk is full); the file is left as it was."""


class TrainingFailed(Exception):
    """Training diverged (``train``), or every rate did (``lr-sweep``): exit code 1."""


class Interrupted(Exception):
    """The user stopped a command (Ctrl-C, SIGTERM) after it saved what it could: exit code 130.

    The message says what was kept; it is not an error of the user's.
    """
