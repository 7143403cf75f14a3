"""Domain errors of the CSI plugin, one class per gRPC status code the spec asks for.

Owns the vocabulary only: servicers and primitives raise these with a message that says
what to fix; ``fluid.csi.interceptor`` maps them to gRPC status codes in one place. Never
imports grpc, so the planning code stays pure and testable without a server.
"""

from __future__ import annotations

__all__ = [
    "AlreadyExists",
    "CsiError",
    "DeadlineExceeded",
    "FailedPrecondition",
    "Internal",
    "InvalidArgument",
    "MountError",
    "NotFound",
    "Unavailable",
]


class CsiError(Exception):
    """Base of every error that becomes a gRPC status; ``code`` names the grpc.StatusCode."""

    code = "INTERNAL"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidArgument(CsiError):
    """The request is malformed: a required field is missing or a value is unusable."""

    code = "INVALID_ARGUMENT"


class NotFound(CsiError):
    """The volume (or the path it should be at) does not exist."""

    code = "NOT_FOUND"


class AlreadyExists(CsiError):
    """The target is already published, but with an incompatible source or mode."""

    code = "ALREADY_EXISTS"


class FailedPrecondition(CsiError):
    """The call is valid but the node is not in a state to honour it (e.g. node missing)."""

    code = "FAILED_PRECONDITION"


class Unavailable(CsiError):
    """A dependency is not ready yet (the FUSE mount, the API server); retrying may succeed."""

    code = "UNAVAILABLE"


class DeadlineExceeded(CsiError):
    """The caller's deadline passed before the work finished."""

    code = "DEADLINE_EXCEEDED"


class Internal(CsiError):
    """An operation on the node failed unexpectedly."""

    code = "INTERNAL"


class MountError(Internal):
    """mount(8)/umount(8) or a mount syscall failed or timed out; carries stderr or the errno."""
