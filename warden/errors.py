"""Exceptions with messages meant for users; the API maps them to 4xx codes."""


class WardenError(Exception):
    """Base class of every error Warden raises on purpose."""


class ValidationError(WardenError):
    """Input that breaks a documented limit or format (HTTP 422)."""


class ConflictError(WardenError):
    """An id reused with different content (HTTP 409)."""


class NotFoundError(WardenError):
    """An unknown id, policy or model (HTTP 404)."""


class MissingDataError(WardenError):
    """A data set needed for training or evaluation is not at the configured path."""


class ConfigError(WardenError):
    """Settings that name something that does not exist (a stage, a detector): fix the setting."""


class MissingExtraError(WardenError):
    """A feature needs an optional dependency: the message names the extra."""

    def __init__(self, feature: str, extra: str) -> None:
        super().__init__(f"{feature} needs the optional extra '{extra}': pip install 'warden[{extra}]'")


class MediaError(ValidationError):
    """Media that cannot be decoded safely: corrupt, truncated, too large or of an unknown type (HTTP 422)."""
