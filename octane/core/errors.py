"""One error tree for the whole framework.

Every error carries a stable machine-readable ``code``, a human sentence, and the
``field`` (a dotted path into the input) it is about, when there is one. The API
turns them into ``{"error": {"code", "message", "field"}}`` with a status chosen by
the web layer from the class; the portal shows ``message`` inline next to
``field``; the CLI prints ``message`` (and ``hint``) without a traceback.
"""

from __future__ import annotations

__all__ = [
    "AuthError",
    "BadRequestError",
    "ConfigError",
    "ConflictError",
    "MissingDependencyError",
    "NotFoundError",
    "OctaneError",
    "PermissionDeniedError",
    "PluginError",
    "RateLimitedError",
    "StateError",
    "ValidationError",
]


class OctaneError(Exception):
    """Base of every error Octane raises on purpose."""

    code: str = "octane_error"

    def __init__(
        self,
        message: str,
        *,
        field: str | None = None,
        code: str | None = None,
        hint: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.hint = hint
        if code is not None:
            self.code = code

    def as_dict(self) -> dict[str, str | None]:
        """The JSON error body's inner object."""
        return {"code": self.code, "message": self.message, "field": self.field}

    def __str__(self) -> str:
        return self.message if not self.hint else f"{self.message}\nHint: {self.hint}"


class ValidationError(OctaneError):
    """Input that does not have the right shape or value (HTTP 422)."""

    code = "validation_error"


class ConfigError(OctaneError):
    """A bad configuration: stops start-up with one clear message."""

    code = "config_error"


class BadRequestError(OctaneError):
    """A request that cannot be read at all: an unverifiable webhook, a broken body (HTTP 400)."""

    code = "bad_request"


class NotFoundError(OctaneError):
    """An unknown resource, or one that belongs to another vendor (HTTP 404)."""

    code = "not_found"


class ConflictError(OctaneError):
    """The request conflicts with what is stored (HTTP 409)."""

    code = "conflict"


class StateError(ConflictError):
    """A transition that the current state does not allow (HTTP 409)."""

    code = "invalid_state"


class AuthError(OctaneError):
    """Missing or invalid credentials (HTTP 401)."""

    code = "unauthorized"


class PermissionDeniedError(OctaneError):
    """Valid credentials that may not do this (HTTP 403)."""

    code = "forbidden"


class RateLimitedError(OctaneError):
    """Too many attempts in a short time (HTTP 429); ``retry_after`` is in seconds."""

    code = "too_many_attempts"
    retry_after: int = 60


class PluginError(OctaneError):
    """A plugin that is unknown, misbehaves or breaks its contract."""

    code = "plugin_error"


class MissingDependencyError(OctaneError):
    """An optional package is needed and not installed; the message names the pip command."""

    code = "missing_dependency"

    def __init__(self, package: str, extra: str | None = None, *, purpose: str = "") -> None:
        target = f"octane-billing[{extra}]" if extra else package
        why = f" for {purpose}" if purpose else ""
        super().__init__(
            f"The package '{package}' is needed{why} but is not installed. "
            f"Install it with: pip install '{target}'",
            hint=f"pip install '{target}'",
        )
        self.package = package
