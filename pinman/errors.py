"""One error root and one exit-code map; the CLI turns these into one-line messages."""

from __future__ import annotations

import errno
import os
from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0
    ERROR = 1  # unexpected failure (a bug): message plus log path
    USAGE = 2
    PROFILE = 3  # a profile / project file is malformed or unknown
    REGISTRY = 4  # registry unreachable, unknown version, bad document
    INSTALL = 5  # npm failed, integrity mismatch, binary does not run
    HEALTH = 6  # the health check could not run
    SYSTEM = 7  # the machine refused: disk full, read-only, no permission
    GONE = 8  # the `claude` shim: the Python that pinman ran on is gone (venv moved, pinman uninstalled)
    # `pinman check` outcomes (distinct so scripts can branch on them)
    ROLLED_BACK = 10
    BROKEN = 11  # schema error and no rollback possible
    NOT_CLIENT = 12  # failure that no version change fixes (auth, outage, ...)
    INTERRUPTED = 130


class PinmanError(Exception):
    """An error the user can act on: one line of message, optionally a hint."""

    exit_code: ExitCode = ExitCode.ERROR

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message


class ProfileError(PinmanError):
    exit_code = ExitCode.PROFILE


class RegistryError(PinmanError):
    exit_code = ExitCode.REGISTRY


class VersionNotFound(RegistryError):
    pass


class InstallError(PinmanError):
    exit_code = ExitCode.INSTALL


class IntegrityError(InstallError):
    pass


class HealthError(PinmanError):
    exit_code = ExitCode.HEALTH


class UsageError(PinmanError):
    exit_code = ExitCode.USAGE


class SystemProblem(PinmanError):
    """The operating system refused a read or write (disk full, read-only, permissions)."""

    exit_code = ExitCode.SYSTEM


_OS_HINTS = {
    errno.ENOSPC: "free some disk space, then run the command again",
    errno.EDQUOT: "free some space within your disk quota, then run the command again",
    errno.EROFS: "the file system is read-only: set PINMAN_HOME to a writable folder",
    errno.EACCES: "check the owner and permissions of that path",
    errno.EPERM: "check the owner and permissions of that path",
    errno.ELOOP: "a symbolic link is where pinman writes: pinman does not write through links; remove it",
    errno.EISDIR: "a folder is where pinman writes a file: remove it",
    errno.ENOTDIR: "a file is where pinman needs a folder: remove it",
}


def from_os_error(e: OSError) -> PinmanError | None:
    """A one-line error for what the machine refused, or None for an OSError that is a bug."""
    hint = _OS_HINTS.get(e.errno or 0)
    if hint is None:
        return None
    reason = e.strerror or str(e)
    if not isinstance(e.filename, (str, bytes)) or not e.filename:
        return SystemProblem(reason, hint)
    where = os.fsdecode(e.filename).encode("unicode_escape").decode("ascii")  # one line, printable
    return SystemProblem(f"{where}: {reason}", hint)
