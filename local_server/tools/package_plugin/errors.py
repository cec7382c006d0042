"""The one error of the packager."""


class PackageError(Exception):
    """The plugin cannot be packaged; the message says why and what to change."""
