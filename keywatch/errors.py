"""Errors carry a message meant for the user; the CLI prints it as one line."""


class KeywatchError(Exception):
    """Base of every error keywatch reports to its user (exit code 1 unless overridden)."""

    exit_code = 1


class WorkspaceError(KeywatchError):
    """No workspace, or a workspace that cannot be read or created."""


class ConfigError(KeywatchError):
    """keywatch.toml is malformed or names something that does not exist."""


class InputError(KeywatchError):
    """A file or value given by the user cannot be used (wrong format, too big, unreadable)."""


class MalformedPacket(InputError):
    """OpenPGP data that does not parse; the message names the source and what is wrong."""


class SecretKeyRefused(InputError):
    """Secret key material was offered; keywatch never stores it."""


class NotFound(KeywatchError):
    """A key, version or record asked for is not in the store."""
