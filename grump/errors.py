"""grump's one exception tree. Whether to retry is decided by base class.

::

    GrumpError
    ├── RequestError                 the caller's fault: a 4xx, never retried
    │   ├── ValidationFailed         422, names the field and the reason
    │   ├── UnknownModel             422, a model missing from the price catalogue
    │   ├── PayloadTooLarge          413
    │   ├── Unauthorized             401
    │   ├── Forbidden                403
    │   ├── NotFound                 404 (also for another tenant's ids)
    │   ├── Conflict                 409, e.g. cancelling a finished job
    │   ├── BudgetExceeded           402, nothing was enqueued
    │   └── RateLimited              429 + Retry-After: a key's or tenant's rate is spent
    ├── TransientError               worth retrying later
    │   ├── ServiceUnavailable       503 + Retry-After
    │   │   ├── BrokerUnavailable
    │   │   ├── DatabaseUnavailable
    │   │   └── Overloaded       more submits waiting than the ledger takes
    │   └── ProviderTransient        429, 5xx, connection errors from a provider
    └── PermanentError               retrying will not help
        └── ProviderError            a provider refused the request or answered garbage
"""

from __future__ import annotations

from typing import Any


class GrumpError(Exception):
    """Root of every error grump raises on purpose."""

    status_code = 500
    code = "internal"

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.details = details

    def to_dict(self) -> dict[str, Any]:
        """The error as the body of an API answer: code, message and details."""
        return {"code": self.code, "message": self.message, **self.details}


class RequestError(GrumpError):
    """The caller's fault: answered with a 4xx and never retried."""

    status_code = 400
    code = "bad_request"


class ValidationFailed(RequestError):
    """A field of the request is not acceptable; names the field and why."""

    status_code = 422
    code = "validation_failed"

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}", field=field, reason=reason)


class UnknownModel(ValidationFailed):
    """A request names a model the price catalogue does not know."""

    code = "unknown_model"

    def __init__(self, model: str, field: str = "input.model") -> None:
        super().__init__(field, f"model {model!r} is not in the price catalogue")


class PayloadTooLarge(RequestError):
    """A request body over the API's size limit."""

    status_code = 413
    code = "payload_too_large"


class Unauthorized(RequestError):
    """No API key, or one grump does not know."""

    status_code = 401
    code = "unauthorized"


class Forbidden(RequestError):
    """A valid key without the right to do this (it needs an admin key)."""

    status_code = 403
    code = "forbidden"


class NotFound(RequestError):
    """No such resource for this tenant (another tenant's ids included)."""

    status_code = 404
    code = "not_found"


class Conflict(RequestError):
    """The request does not fit the resource's state, e.g. cancelling a finished job."""

    status_code = 409
    code = "conflict"


class BudgetExceeded(RequestError):
    """A job its budget cannot cover; nothing was enqueued."""

    status_code = 402
    code = "budget_exceeded"


class RateLimited(RequestError):
    """A key or tenant past its requests-per-second or tokens-per-minute limit; nothing was enqueued.

    ``retry_after`` is the whole number of seconds (at least 1) until the request fits.
    """

    status_code = 429
    code = "rate_limited"

    def __init__(self, message: str, retry_after: int, **details: Any) -> None:
        super().__init__(message, retry_after=retry_after, **details)
        self.retry_after = retry_after


class TransientError(GrumpError):
    """A failure worth retrying later."""

    status_code = 503
    code = "unavailable"


class ServiceUnavailable(TransientError):
    """A service grump needs is down; the caller should retry after ``retry_after`` seconds."""

    code = "service_unavailable"

    def __init__(self, message: str, retry_after: int = 5, **details: Any) -> None:
        super().__init__(message, **details)
        self.retry_after = retry_after


class BrokerUnavailable(ServiceUnavailable):
    """The Celery broker could not be reached."""

    code = "broker_unavailable"


class DatabaseUnavailable(ServiceUnavailable):
    """The ledger's database could not be reached."""

    code = "database_unavailable"


class Overloaded(ServiceUnavailable):
    """More submits wait for the ledger than an API process lets wait: retry after a while."""

    code = "overloaded"


class ProviderTransient(TransientError):
    """A provider answered 429/5xx or could not be reached."""

    code = "provider_unavailable"

    def __init__(self, message: str, retry_after: float | None = None, **details: Any) -> None:
        super().__init__(message, **details)
        self.retry_after = retry_after


class PermanentError(GrumpError):
    """A failure that retrying will not mend."""

    code = "failed"


class ProviderError(PermanentError):
    """A provider refused the request (4xx) or sent a response grump cannot read."""

    code = "provider_error"
