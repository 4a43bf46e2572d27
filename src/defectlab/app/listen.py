"""Where the labelling server listens: the socket, the access token, the URL to open."""

from __future__ import annotations

import errno
import secrets
import socket

from ..data.checks import int_in_range
from ..errors import ConfigError
from .security import is_loopback


class ListenError(ConfigError, OSError):
    """The server cannot listen where it was asked to."""


def resolve_token(host: str, token: str | None) -> tuple[str | None, bool]:
    """The token to require and whether it was generated here (and so must be printed)."""
    if token is not None:
        if len(token) < 8:
            raise ConfigError("--token must be at least 8 characters")
        return token, False
    if is_loopback(host):
        return None, False
    return secrets.token_urlsafe(24), True


def bind_socket(host: str, port: int) -> socket.socket:
    # socket.bind raises OverflowError, not OSError, for a port past 65535.
    port = int_in_range("port", port, 0, 65535)
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # proto must say TCP explicitly: asyncio only sets TCP_NODELAY on accepted
    # connections whose proto is IPPROTO_TCP, and without it Nagle's algorithm
    # and delayed ACKs add ~40 ms to every click's response.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as err:
        sock.close()
        if err.errno == errno.EADDRINUSE:
            raise ListenError(f"port {port} on {host} is already in use; pass --port 0 to pick a free one") from None
        raise ListenError(f"cannot listen on {host}:{port}: {err.strerror}") from None
    sock.listen(128)
    sock.set_inheritable(True)
    return sock
