"""One error root and one exit-code map; the CLI turns these into one-line messages."""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0
    ERROR = 1  # unexpected failure (a bug): message plus log path
    USAGE = 2
    PROFILE = 3  # a profile / project file is malformed or unknown
    REGISTRY = 4  # registry unreachable, unknown version, bad document
    INSTALL = 5  # npm failed, integrity mismatch, binary does not run
    HEALTH = 6  # the health check could not run
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
