"""A named pipe that only the user who made it may open (Windows): the unlock agent's door.

`multiprocessing.connection.Listener(family="AF_PIPE")` creates its pipe with the default
security descriptor, which lets Everyone and the anonymous account open it for reading, and
anyone on the network reach it by name. Here every instance of the pipe is created with a
protected DACL that names one account, the current user's SID, with full access and nobody else
(not Administrators or SYSTEM either: they can read any process's memory anyway), and remote
clients are refused (PIPE_REJECT_REMOTE_CLIENTS). The first instance is created with
FILE_FLAG_FIRST_PIPE_INSTANCE, so a pipe of the same name made earlier by someone else makes the
start fail instead of sharing a name with it. Callers then still prove they know the agent's
random access key (multiprocessing's HMAC challenge, in both directions), so a process that got
a handle some other way learns nothing either.

Only the standard library: ctypes for the token's SID and the security descriptor, and
multiprocessing's own pipe listener and connections, with the one method that creates a pipe
instance replaced so that it passes the security attributes.
"""
from __future__ import annotations

import re
import sys
from typing import Any

from archive.errors import EnvironmentFailure

_SID = re.compile(r"S-1-[0-9]+(-[0-9]+){1,15}")
PIPE_REJECT_REMOTE_CLIENTS = 0x8
TOKEN_QUERY, TOKEN_USER_CLASS, SDDL_REVISION_1 = 0x8, 1, 1


def pipe_sddl(sid: str) -> str:
    """The security descriptor (SDDL) of a pipe only `sid` may open: a protected DACL (nothing
    inherited) with one ACE, full file access for that account. A SID that is not in the
    S-1-… form is refused, so nothing else can be spliced into the descriptor."""
    if not _SID.fullmatch(sid):
        raise ValueError(f"not a security identifier: {sid!r}")
    return f"D:P(A;;FA;;;{sid})"


def _api() -> tuple[Any, Any, Any]:
    import ctypes
    from ctypes import wintypes

    kernel32 = ctypes.WinDLL("kernel32", use_last_error=True)
    advapi32 = ctypes.WinDLL("advapi32", use_last_error=True)
    kernel32.GetCurrentProcess.restype = wintypes.HANDLE
    kernel32.CloseHandle.argtypes = [wintypes.HANDLE]
    kernel32.LocalFree.argtypes = [ctypes.c_void_p]
    kernel32.LocalFree.restype = ctypes.c_void_p
    advapi32.OpenProcessToken.argtypes = [wintypes.HANDLE, wintypes.DWORD, ctypes.POINTER(wintypes.HANDLE)]
    advapi32.GetTokenInformation.argtypes = [wintypes.HANDLE, ctypes.c_int, ctypes.c_void_p,
                                             wintypes.DWORD, ctypes.POINTER(wintypes.DWORD)]
    advapi32.ConvertSidToStringSidW.argtypes = [ctypes.c_void_p, ctypes.POINTER(ctypes.c_void_p)]
    advapi32.ConvertStringSecurityDescriptorToSecurityDescriptorW.argtypes = [
        wintypes.LPCWSTR, wintypes.DWORD, ctypes.POINTER(ctypes.c_void_p), ctypes.c_void_p]
    return ctypes, kernel32, advapi32


def _failed(what: str, ctypes: Any) -> EnvironmentFailure:
    error = ctypes.WinError(ctypes.get_last_error())
    return EnvironmentFailure(f"Windows refused {what}: {error.strerror} (error {error.winerror})")


def current_user_sid() -> str:
    """The SID of the account this process runs as (its token's user), e.g. S-1-5-21-…-1001."""
    ctypes, kernel32, advapi32 = _api()
    from ctypes import wintypes

    token = wintypes.HANDLE()
    if not advapi32.OpenProcessToken(kernel32.GetCurrentProcess(), TOKEN_QUERY, ctypes.byref(token)):
        raise _failed("to open this process's token", ctypes)
    try:
        size = wintypes.DWORD()
        advapi32.GetTokenInformation(token, TOKEN_USER_CLASS, None, 0, ctypes.byref(size))
        buffer = ctypes.create_string_buffer(size.value or 256)
        if not advapi32.GetTokenInformation(token, TOKEN_USER_CLASS, buffer, len(buffer),
                                            ctypes.byref(size)):
            raise _failed("to tell this process's user", ctypes)
        sid = ctypes.cast(buffer, ctypes.POINTER(ctypes.c_void_p))[0]   # TOKEN_USER.User.Sid
        text = ctypes.c_void_p()
        if not advapi32.ConvertSidToStringSidW(sid, ctypes.byref(text)):
            raise _failed("to spell this process's user", ctypes)
        try:
            return str(ctypes.wstring_at(text.value))
        finally:
            kernel32.LocalFree(text)
    finally:
        kernel32.CloseHandle(token)


def _security_attributes(sddl: str) -> Any:
    """A SECURITY_ATTRIBUTES (not inheritable) carrying the descriptor `sddl`; its memory is
    kept for the life of the process, as the pipe's instances are made from it."""
    ctypes, _kernel32, advapi32 = _api()
    from ctypes import wintypes

    class SecurityAttributes(ctypes.Structure):
        _fields_ = (("nLength", wintypes.DWORD), ("lpSecurityDescriptor", ctypes.c_void_p),
                    ("bInheritHandle", wintypes.BOOL))

    descriptor = ctypes.c_void_p()
    if not advapi32.ConvertStringSecurityDescriptorToSecurityDescriptorW(
            sddl, SDDL_REVISION_1, ctypes.byref(descriptor), None):
        raise _failed("the agent pipe's security descriptor", ctypes)
    return SecurityAttributes(ctypes.sizeof(SecurityAttributes), descriptor.value, False)


class PrivatePipeListener:
    """Accepts connections on a named pipe only this user may open; the same accept()/close() as
    multiprocessing.connection.Listener made without an authkey (the caller authenticates each
    connection, in its own thread)."""

    def __init__(self, address: str) -> None:
        if sys.platform != "win32":
            raise EnvironmentFailure("named pipes are a Windows thing; use a Unix socket here")
        import _winapi
        import ctypes
        from multiprocessing import connection

        if not hasattr(connection.PipeListener, "_new_handle"):
            raise EnvironmentFailure("this Python's multiprocessing makes its named pipes "
                                     "differently: arkeep cannot restrict the agent's pipe to you")
        attributes = _security_attributes(pipe_sddl(current_user_sid()))

        class Restricted(connection.PipeListener):      # type: ignore[name-defined,misc]
            def _new_handle(self, first: bool = False) -> int:
                flags = _winapi.PIPE_ACCESS_DUPLEX | _winapi.FILE_FLAG_OVERLAPPED
                if first:
                    flags |= _winapi.FILE_FLAG_FIRST_PIPE_INSTANCE
                return _winapi.CreateNamedPipe(
                    self._address, flags,
                    _winapi.PIPE_TYPE_MESSAGE | _winapi.PIPE_READMODE_MESSAGE | _winapi.PIPE_WAIT
                    | PIPE_REJECT_REMOTE_CLIENTS,
                    _winapi.PIPE_UNLIMITED_INSTANCES, connection.BUFSIZE, connection.BUFSIZE,
                    _winapi.NMPWAIT_WAIT_FOREVER, ctypes.addressof(attributes))

        self._attributes = attributes
        self._pipes = Restricted(address)

    def accept(self) -> Any:
        return self._pipes.accept()

    def close(self) -> None:
        self._pipes.close()
