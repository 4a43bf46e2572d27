"""Request checks that run before any route: host, token, content type, body size.

* Host: on a loopback bind only local host names are accepted, so a web page
  that re-points its own domain at 127.0.0.1 (DNS rebinding) cannot reach the API.
* Token: required on every ``/api`` request when one is set (always, for a
  non-loopback bind), from the ``X-DefectLab-Token`` header, a ``token`` query
  parameter or the cookie the page sets. Compared in constant time.
* State-changing requests must be ``application/json``: a browser cannot send
  that cross-site without a CORS preflight, which this server never grants.
* Bodies are read here, up to a limit per route, before the route sees them,
  so an oversized upload is refused with 413 and never half-processed.
"""

from __future__ import annotations

import ipaddress
import json
import secrets
import socket
from http.cookies import SimpleCookie
from urllib.parse import parse_qs

TOKEN_HEADER = "x-defectlab-token"
TOKEN_COOKIE = "defectlab_token"
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
WILDCARD_HOSTS = frozenset({"0.0.0.0", "", "::"})
DEFAULT_BODY_LIMIT = 64 * 1024
# A brushed mask travels as row runs; 16 MiB covers a detailed mask on a 50-megapixel image.
MASK_BODY_LIMIT = 16 * 1024 * 1024

SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (
        b"content-security-policy",
        b"default-src 'self'; img-src 'self' blob: data:; style-src 'self'; script-src 'self'; "
        b"connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
    ),
]


def is_loopback(host: str) -> bool:
    return host in LOOPBACK_HOSTS or host.startswith("127.")


def page_urls(host: str, port: int, token: str | None = None) -> list[str]:
    """The addresses to open the page at, best first, for a server bound to ``host``.

    Bound to every interface (``0.0.0.0``, ``::``) the server is meant for
    other machines, where 127.0.0.1 names the wrong computer: the URLs use
    this machine's own network addresses, then its host name. Any other
    host is used as given.
    """
    if host in WILDCARD_HOSTS:
        names = _network_addresses(with_ipv6=host == "::") + [socket.gethostname()]
    else:
        names = [host]
    query = f"?token={token}" if token else ""
    urls = []
    for name in names:
        shown = f"[{name}]" if ":" in name and not name.startswith("[") else name
        url = f"http://{shown}:{port}/{query}"
        if name and url not in urls:
            urls.append(url)
    return urls


def _network_addresses(with_ipv6: bool) -> list[str]:
    """This machine's addresses other machines can reach: not loopback, not link-local."""
    try:
        infos = socket.getaddrinfo(socket.gethostname(), None, socket.AF_UNSPEC, socket.SOCK_STREAM)
    except OSError:  # a host name that does not resolve: the name itself is all there is
        return []
    found = []
    for family, _, _, _, address in infos:
        if family == socket.AF_INET6 and not with_ipv6:
            continue
        ip = ipaddress.ip_address(address[0].split("%")[0])
        if not (ip.is_loopback or ip.is_link_local or ip.is_unspecified) and str(ip) not in found:
            found.append(str(ip))
    return sorted(found, key=lambda a: ":" in a)  # IPv4 first: the shorter, more familiar form


def token_matches(expected: str | None, given: str | None) -> bool:
    if expected is None:
        return True
    return given is not None and secrets.compare_digest(expected.encode(), given.encode())


def request_token(scope) -> str | None:
    headers = _headers(scope)
    if TOKEN_HEADER.encode() in headers:
        return headers[TOKEN_HEADER.encode()].decode("latin-1")
    query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
    if query.get("token"):
        return query["token"][0]
    cookie = SimpleCookie()
    try:
        cookie.load(headers.get(b"cookie", b"").decode("latin-1"))
    except Exception:  # a malformed cookie header is just "no token"
        return None
    return cookie[TOKEN_COOKIE].value if TOKEN_COOKIE in cookie else None


class SecurityMiddleware:
    def __init__(self, app, token: str | None = None, trusted_hosts=None, body_limits=None):
        self.app = app
        self.token = token
        self.trusted_hosts = frozenset(trusted_hosts) if trusted_hosts else None
        self.body_limits = body_limits or {}

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        send = _with_headers(send)
        path = scope.get("path", "")
        if self.trusted_hosts is not None and _host(scope) not in self.trusted_hosts:
            return await _error(send, 400, "unexpected Host header; open the app at the URL it printed")
        if path.startswith("/api/") and not token_matches(self.token, request_token(scope)):
            return await _error(
                send, 401, "this server needs the access token printed when it started: open the URL with ?token=..."
            )
        if scope["method"] in ("POST", "PUT", "PATCH", "DELETE"):
            content_type = _headers(scope).get(b"content-type", b"").split(b";")[0].strip().lower()
            if content_type != b"application/json":
                return await _error(send, 415, "send the request body as application/json")
            limit = self._limit(path)
            body = await _read_body(scope, receive, limit)
            if body is None:
                return await _error(send, 413, f"request body larger than {limit} bytes")
            receive = _replay(body, receive)
        return await self.app(scope, receive, send)

    def _limit(self, path: str) -> int:
        for suffix, limit in self.body_limits.items():
            if path.endswith(suffix):
                return limit
        return DEFAULT_BODY_LIMIT


def _headers(scope) -> dict[bytes, bytes]:
    return {k.lower(): v for k, v in scope.get("headers", [])}


def _host(scope) -> str:
    host = _headers(scope).get(b"host", b"").decode("latin-1").strip().lower()
    if host.startswith("["):  # [::1]:8765
        return host[1 : host.find("]")] if "]" in host else host
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


async def _read_body(scope, receive, limit: int) -> bytes | None:
    declared = _headers(scope).get(b"content-length")
    if declared is not None:
        try:
            if int(declared) > limit:
                return None
        except ValueError:
            return None
    chunks, size = [], 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def _replay(body: bytes, original):
    sent = False

    async def receive():
        nonlocal sent
        if sent:
            return await original()  # only a disconnect can come now
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return receive


def _with_headers(send):
    async def wrapped(message):
        if message["type"] == "http.response.start":
            names = {k.lower() for k, _ in message.get("headers", [])}
            extra = [(k, v) for k, v in SECURITY_HEADERS if k not in names]
            message = {**message, "headers": list(message.get("headers", [])) + extra}
        await send(message)

    return wrapped


async def _error(send, status: int, message: str) -> None:
    body = json.dumps({"detail": message}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})
