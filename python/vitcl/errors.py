"""Exceptions raised by vitcl: one class per library status, all subclasses of Error.

Every error carries the library's message (it names the file, tensor, plugin or device) as
``str(err)`` and the numeric library status as ``err.status``.
"""

__all__ = [
    "Error", "InvalidArgumentError", "OutOfMemoryError", "FileError", "FormatError",
    "UnsupportedError", "NotFoundError", "PluginError", "DeviceError", "LimitError",
    "InternalError", "ERROR_BY_STATUS",
]


class Error(Exception):
    """Base class of every vitcl failure."""

    def __init__(self, message, status=None):
        super().__init__(message)
        self.message = message
        self.status = status


class InvalidArgumentError(Error, ValueError):
    """A wrong argument: dtype, shape, size, option value (VITCL_ERR_INVALID_ARGUMENT)."""


class OutOfMemoryError(Error, MemoryError):
    """Host or device memory ran out (VITCL_ERR_OUT_OF_MEMORY)."""


class FileError(Error, OSError):
    """A file could not be opened, read, mapped or written (VITCL_ERR_IO)."""


class FormatError(Error, ValueError):
    """A file is malformed, truncated or hostile (VITCL_ERR_FORMAT)."""


class UnsupportedError(Error):
    """A valid request this build, backend or model cannot do (VITCL_ERR_UNSUPPORTED)."""


class NotFoundError(Error, LookupError):
    """No such plugin, device, file or tensor (VITCL_ERR_NOT_FOUND)."""


class PluginError(Error):
    """A plugin could not be loaded or was refused (VITCL_ERR_PLUGIN)."""


class DeviceError(Error):
    """The device or its driver failed (VITCL_ERR_DEVICE)."""


class LimitError(Error):
    """A safety limit was exceeded: size, count, pixels (VITCL_ERR_LIMIT)."""


class InternalError(Error):
    """A bug in vitcl (VITCL_ERR_INTERNAL): please report it."""


# The numbers are vitcl_status values (include/vitcl/status.h).
ERROR_BY_STATUS = {
    1: InvalidArgumentError,
    2: OutOfMemoryError,
    3: FileError,
    4: FormatError,
    5: UnsupportedError,
    6: NotFoundError,
    7: PluginError,
    8: DeviceError,
    9: LimitError,
    10: InternalError,
}
