"""API errors as Kubernetes Status objects, shared by the server and the client.

The server raises these and its error middleware writes ``to_status()`` with ``code`` as the
HTTP status; the client turns a Status body back into the same class with
:func:`error_from_status`. The tree::

    APIError                      any failure that has a Status (carries .status)
    ├── BadRequest          400
    ├── Unauthorized        401
    ├── Forbidden           403
    ├── NotFound            404
    ├── MethodNotAllowed    405
    ├── NotAcceptable       406
    ├── AlreadyExists       409
    ├── Conflict            409
    ├── Gone                410   reason Gone, or Expired (watch/list at a compacted rv)
    ├── RequestEntityTooLarge 413
    ├── UnsupportedMediaType 415
    ├── Invalid             422   with details.causes, one per field
    ├── TooManyRequests     429
    ├── InternalError       500
    ├── ServiceUnavailable  503
    └── Timeout             504
"""

from __future__ import annotations

from typing import Any, ClassVar


def cause(field: str, message: str, reason: str = "FieldValueInvalid") -> dict[str, str]:
    """One entry of ``details.causes`` (reasons: FieldValueRequired, FieldValueInvalid,
    FieldValueNotSupported, FieldValueDuplicate, FieldValueForbidden, FieldValueTooLong,
    FieldValueTypeInvalid, FieldValueUnknown ...)."""
    return {"reason": reason, "message": message, "field": field}


def qualified_resource(resource: str, group: str = "") -> str:
    """``pods`` or ``deployments.apps``: how Kubernetes names a resource in messages."""
    return f"{resource}.{group}" if group else resource


class APIError(Exception):
    code: ClassVar[int] = 500
    reason: ClassVar[str] = "InternalError"

    def __init__(self, message: str, *, details: dict[str, Any] | None = None,
                 reason: str | None = None, code: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details or {}
        if reason is not None:
            self.reason = reason  # type: ignore[misc]
        if code is not None:
            self.code = code  # type: ignore[misc]

    def to_status(self) -> dict[str, Any]:
        status: dict[str, Any] = {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        }
        if self.details:
            status["details"] = self.details
        return status

    @property
    def status(self) -> dict[str, Any]:
        return self.to_status()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.code}, {self.message!r})"


class BadRequest(APIError):
    code, reason = 400, "BadRequest"


class Unauthorized(APIError):
    code, reason = 401, "Unauthorized"


class Forbidden(APIError):
    code, reason = 403, "Forbidden"


class NotFound(APIError):
    code, reason = 404, "NotFound"

    @classmethod
    def for_object(cls, resource: str, name: str, group: str = "") -> NotFound:
        details: dict[str, Any] = {"name": name, "kind": resource}
        if group:
            details["group"] = group
        return cls(f'{qualified_resource(resource, group)} "{name}" not found', details=details)


class MethodNotAllowed(APIError):
    code, reason = 405, "MethodNotAllowed"


class NotAcceptable(APIError):
    code, reason = 406, "NotAcceptable"


class AlreadyExists(APIError):
    code, reason = 409, "AlreadyExists"

    @classmethod
    def for_object(cls, resource: str, name: str, group: str = "") -> AlreadyExists:
        details: dict[str, Any] = {"name": name, "kind": resource}
        if group:
            details["group"] = group
        return cls(f'{qualified_resource(resource, group)} "{name}" already exists', details=details)


class Conflict(APIError):
    code, reason = 409, "Conflict"

    @classmethod
    def for_object(cls, resource: str, name: str, why: str, group: str = "") -> Conflict:
        details: dict[str, Any] = {"name": name, "kind": resource}
        if group:
            details["group"] = group
        return cls(f'Operation cannot be fulfilled on {qualified_resource(resource, group)} "{name}": {why}',
                   details=details)


class Gone(APIError):
    code, reason = 410, "Gone"

    @classmethod
    def expired(cls, message: str) -> Gone:
        return cls(message, reason="Expired")


class RequestEntityTooLarge(APIError):
    code, reason = 413, "RequestEntityTooLarge"


class UnsupportedMediaType(APIError):
    code, reason = 415, "UnsupportedMediaType"


class Invalid(APIError):
    code, reason = 422, "Invalid"

    @classmethod
    def for_object(cls, kind: str, name: str, causes: list[dict[str, str]], group: str = "") -> Invalid:
        """``Pod "web" is invalid: spec.containers: Required value`` with one cause per field."""
        qualified = f"{kind}.{group}" if group else kind
        summary = "; ".join(
            f"{c['field']}: {c['message']}" if c.get("field") else c["message"] for c in causes)
        if len(causes) > 1:
            summary = "[" + ", ".join(
                f"{c['field']}: {c['message']}" if c.get("field") else c["message"] for c in causes) + "]"
        details: dict[str, Any] = {"name": name, "kind": kind, "causes": causes}
        if group:
            details["group"] = group
        return cls(f'{qualified} "{name}" is invalid: {summary}', details=details)


class TooManyRequests(APIError):
    code, reason = 429, "TooManyRequests"


class InternalError(APIError):
    code, reason = 500, "InternalError"


class ServiceUnavailable(APIError):
    code, reason = 503, "ServiceUnavailable"


class Timeout(APIError):
    code, reason = 504, "Timeout"


_BY_REASON: dict[str, type[APIError]] = {
    cls.reason: cls
    for cls in (BadRequest, Unauthorized, Forbidden, NotFound, MethodNotAllowed, NotAcceptable, AlreadyExists,
                Conflict, Gone, RequestEntityTooLarge, UnsupportedMediaType, Invalid, TooManyRequests,
                InternalError, ServiceUnavailable, Timeout)
}
_BY_REASON["Expired"] = Gone
_BY_CODE: dict[int, type[APIError]] = {}
for _cls in _BY_REASON.values():
    _BY_CODE.setdefault(_cls.code, _cls)


def error_from_status(status: dict[str, Any], http_code: int | None = None) -> APIError:
    """Rebuild the typed error from a Status body (what the client does with a failure)."""
    reason = status.get("reason") or ""
    code = int(status.get("code") or http_code or 500)
    cls = _BY_REASON.get(reason) or _BY_CODE.get(code) or APIError
    return cls(status.get("message") or reason or f"HTTP {code}", details=status.get("details"),
               reason=reason or None, code=code)
