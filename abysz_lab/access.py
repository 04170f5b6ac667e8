"""Who may use a shared Abysz LAB, and which folders it may touch.

Three pieces, used by the standalone UI, the A1111 tab and the HTTP API alike:

Credentials
    ``Credentials.parse("alice:secret")`` or ``Credentials.from_file(path)``
    (one ``USER:PASS`` a line, ``#`` comments); ``creds.check(user, password)``
    compares in constant time; ``creds.gradio_auth`` is what gradio's
    ``launch(auth=...)`` takes (3.41 and 4.x).

AccessPolicy
    The folders a server that others can reach may read and write.
    ``AccessPolicy()`` (no roots) is unrestricted: a server on 127.0.0.1.
    ``policy.check_path(path, "the DFI output folder")`` resolves ``~``, ``..``
    and symlinks and returns the real path, or raises InputError naming the
    allowed roots. The process-wide policy is set once at launch and read
    where paths come in::

        set_policy(policy_for_server("0.0.0.0", allowed_roots=[]))  # ui/api launch
        folder = current_policy().check_path(typed, "the output folder")  # handlers

    Inside A1111, :func:`policy_for_webui` decides from the WebUI's
    ``cmd_opts`` (passed in: this module never imports ``modules``).

RequestGuard
    ASGI middleware (Starlette/FastAPI, any version: it only speaks ASGI)
    refusing cross-site and DNS-rebinding requests, with optional HTTP Basic
    auth on given path prefixes::

        rules = HostRules.for_bind("0.0.0.0", extra_hosts=("lab.example.com",))
        app.add_middleware(RequestGuard, rules=rules, credentials=creds, basic_auth_paths=("/abysz/api",))
        # or, where the app is not ours (A1111), per router:
        router = APIRouter(dependencies=[Depends(guard_dependency(rules, creds))])

    A refused request gets 403 (foreign Origin or Host) or 401 (missing or
    wrong Basic credentials), with a one-line plain-text reason.
    ``webui_host_rules(cmd_opts)`` gives the rules for routes added to A1111.

ServerAccess
    All of it for one server, from the ``ui``/``api`` flags::

        rules = ServerAccess.from_flags(host, auth=[...], auth_files=[...], allowed_roots=[...], hosts=[...])
        set_policy(rules.policy); rules.warnings(); rules.credentials; rules.rules
"""

from __future__ import annotations

import base64
import binascii
import hmac
import ipaddress
import os
import socket
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from abysz_lab.errors import InputError

# --- credentials ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Credentials:
    """Accepted ``(user, password)`` pairs; compare with :meth:`check`, never with ``==``."""

    pairs: tuple[tuple[str, str], ...]

    @staticmethod
    def parse_line(text: str, *, where: str = "--auth") -> tuple[str, str]:
        """One ``USER:PASS`` (split at the first colon; both parts non-empty); InputError otherwise."""
        user, sep, password = text.strip().partition(":")
        if not sep or not user.strip() or not password:
            msg = f"{where} must be USER:PASSWORD (both non-empty), got {_masked(text)!r}."
            raise InputError(msg)
        return user.strip(), password

    @classmethod
    def parse(cls, *texts: str) -> Credentials:
        """Credentials from ``USER:PASS`` strings (e.g. repeated ``--auth`` flags)."""
        return cls(tuple(cls.parse_line(t) for t in texts))

    @classmethod
    def from_file(cls, path: str | os.PathLike[str]) -> Credentials:
        """Credentials from a file of ``USER:PASS`` lines (blank lines and ``#`` comments skipped)."""
        file = Path(path).expanduser()
        try:
            lines = file.read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError) as exc:
            msg = f"Cannot read the credentials file {file}: {getattr(exc, 'strerror', None) or exc}."
            raise InputError(msg) from exc
        pairs = tuple(
            cls.parse_line(line, where=f"{file.name} line {number}")
            for number, line in enumerate(lines, 1)
            if line.strip() and not line.lstrip().startswith("#")
        )
        if not pairs:
            msg = f"The credentials file {file} holds no USER:PASSWORD line."
            raise InputError(msg)
        return cls(pairs)

    def __add__(self, other: Credentials) -> Credentials:
        return Credentials(self.pairs + other.pairs)

    def check(self, user: str, password: str) -> bool:
        """True when the pair is accepted; the time taken does not depend on where it differs."""
        ok = False
        for known_user, known_password in self.pairs:
            # No early exit: every pair is compared, whatever matched.
            same_user = hmac.compare_digest(known_user.encode(), str(user).encode())
            same_password = hmac.compare_digest(known_password.encode(), str(password).encode())
            ok |= same_user & same_password
        return ok

    @property
    def gradio_auth(self) -> Callable[[str, str], bool]:
        """The ``auth=`` callable for ``Blocks.launch`` (gradio 3.41 and 4.x call it with user, password)."""
        return self.check

    def check_basic_header(self, value: str | None) -> bool:
        """True when an ``Authorization: Basic ...`` header carries accepted credentials."""
        scheme, _, encoded = (value or "").partition(" ")
        if scheme.lower() != "basic":
            return False
        try:
            decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return False
        user, sep, password = decoded.partition(":")
        return bool(sep) and self.check(user, password)


def _masked(text: str) -> str:
    user, sep, _ = text.partition(":")
    return f"{user}:***" if sep else text


def load_credentials(auth: Sequence[str] = (), auth_files: Sequence[str | os.PathLike[str]] = ()) -> Credentials | None:
    """Credentials from ``--auth USER:PASS`` values and ``--auth-file`` files; None when neither was given."""
    creds = Credentials(())
    if auth:
        creds = creds + Credentials.parse(*auth)
    for path in auth_files:
        creds = creds + Credentials.from_file(path)
    return creds if creds.pairs else None


# --- allowed folders -----------------------------------------------------------------------------


def _real(path: str | os.PathLike[str]) -> Path:
    return Path(os.path.realpath(Path(path).expanduser()))


@dataclass(frozen=True)
class AccessPolicy:
    """The folders paths from the UI or the API must lie in; ``roots=None`` means anywhere.

    Roots are stored resolved (symlinks and ``..`` gone). ``reason`` says why
    the server is confined ("it listens on the network"), for messages.
    """

    roots: tuple[Path, ...] | None = None
    reason: str = ""

    def __post_init__(self) -> None:
        if self.roots is not None:
            object.__setattr__(self, "roots", tuple(dict.fromkeys(_real(r) for r in self.roots)))

    @property
    def unrestricted(self) -> bool:
        """True when any path is allowed (a server only this machine can reach)."""
        return self.roots is None

    def describe(self) -> str:
        """One line for the console: what is allowed."""
        if self.roots is None:
            return "Folders: unrestricted (only this machine can reach the server)."
        why = f" because {self.reason}" if self.reason else ""
        return f"Folders are confined{why} to: {', '.join(map(str, self.roots))}."

    def allows(self, path: str | os.PathLike[str]) -> bool:
        """True when ``path`` (resolved) is one of the roots or inside one."""
        if self.roots is None:
            return True
        real = _real(path)
        return any(real == root or root in real.parents for root in self.roots)

    def check_path(self, path: str | os.PathLike[str], what: str = "the path") -> Path:
        """Return ``path`` resolved if it lies in an allowed root; InputError naming the roots otherwise.

        Unrestricted, the path comes back as given (``~`` expanded), so
        messages show what the user typed.
        """
        given = Path(path).expanduser()
        if self.roots is None:
            return given
        real = _real(given)
        if any(real == root or root in real.parents for root in self.roots):
            return real
        roots = ", ".join(map(str, self.roots))
        why = f" ({self.reason})" if self.reason else ""
        msg = (
            f"Refused: {what} {given} is outside the folders this server may use{why}: {roots}. "
            "Choose a folder inside one of them."
        )
        raise InputError(msg)


_policy = AccessPolicy()
_policy_lock = threading.Lock()


def current_policy() -> AccessPolicy:
    """The process-wide policy (unrestricted until a launcher sets one)."""
    return _policy


def set_policy(policy: AccessPolicy) -> AccessPolicy:
    """Make ``policy`` the process-wide one (called by the ui/api launchers and the A1111 tab); return the old one."""
    global _policy  # the one process-wide setting, changed only by launchers and tests
    with _policy_lock:
        previous, _policy = _policy, policy
    return previous


def is_loopback(host: str | None) -> bool:
    """True for 127.x, ::1 and ``localhost`` (None/empty: gradio's default, 127.0.0.1)."""
    host = (host or "127.0.0.1").strip("[]").lower()
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def policy_for_server(
    bind_host: str | None, allowed_roots: Iterable[str | os.PathLike[str]] = (), *, cwd: str | None = None
) -> AccessPolicy:
    """The policy of a standalone server bound to ``bind_host``.

    Explicit roots always confine. Without them, a loopback-only server is
    unrestricted and a network one is confined to the current folder.
    """
    roots = [Path(r).expanduser() for r in allowed_roots]
    for root in roots:
        if not root.is_dir():
            msg = f"--allowed-root {root} is not an existing folder."
            raise InputError(msg)
    if roots:
        return AccessPolicy(tuple(roots), reason="--allowed-root was given")
    if is_loopback(bind_host):
        return AccessPolicy()
    reason = "it listens on the network (--listen) without --allowed-root"
    return AccessPolicy((Path(cwd) if cwd else Path.cwd(),), reason=reason)


def webui_exposure(cmd_opts: Any) -> str:
    """Why a WebUI started with ``cmd_opts`` is reachable or locked down, or '' when it is local and open.

    Reads A1111's flags by name (``hide_ui_dir_config``, ``listen``, ``share``,
    ``server_name``), so any object with those attributes works.
    """
    if getattr(cmd_opts, "hide_ui_dir_config", False):
        return "the WebUI runs with --hide-ui-dir-config"
    if getattr(cmd_opts, "share", False):
        return "the WebUI is shared (--share)"
    if getattr(cmd_opts, "listen", False):
        return "the WebUI listens on the network (--listen)"
    server_name = getattr(cmd_opts, "server_name", None)
    if server_name and not is_loopback(server_name):
        return f"the WebUI listens on {server_name} (--server-name)"
    return ""


def split_roots(text: str) -> list[str]:
    """Folders from a setting: one a line (``os.pathsep`` also separates), blanks dropped."""
    parts: list[str] = []
    for line in str(text or "").splitlines():
        parts += [p.strip().strip('"') for p in line.split(os.pathsep)]
    return [p for p in parts if p]


def policy_for_webui(cmd_opts: Any, roots_setting: str, default_root: str | os.PathLike[str]) -> AccessPolicy:
    """The policy inside A1111/Forge: unrestricted locally, else the Settings roots (default: the outputs folder).

    A listed root that does not exist is dropped (with the default used when
    none is left), so a typo in Settings never opens everything.
    """
    reason = webui_exposure(cmd_opts)
    if not reason:
        return AccessPolicy()
    roots = [Path(r).expanduser() for r in split_roots(roots_setting)]
    roots = [r for r in roots if r.is_dir()] or [Path(default_root)]
    return AccessPolicy(tuple(roots), reason=reason)


# --- cross-site and DNS-rebinding requests -------------------------------------------------------


def _split_host(value: str) -> tuple[str, str]:
    """``host[:port]`` (IPv6 in brackets) -> (lower-case host without brackets, port or '')."""
    value = value.strip().lower()
    if value.startswith("["):
        host, _, rest = value[1:].partition("]")
        return host, rest.lstrip(":")
    host, _, port = value.partition(":") if value.count(":") == 1 else (value, "", "")
    return host, port


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


@dataclass(frozen=True)
class HostRules:
    """Which ``Host`` headers name this server, and so which ``Origin`` is its own.

    A DNS-rebinding page reaches the server under the attacker's domain name,
    so the Host check is about names: a loopback server answers to
    ``localhost`` and loopback addresses only; a network one also to any IP
    address (no DNS involved), this machine's names and ``extra_hosts`` (a
    tunnel or reverse-proxy name you give; ``.example.com`` matches every
    name ending so).
    """

    loopback_only: bool = True
    extra_hosts: tuple[str, ...] = ()
    machine_names: tuple[str, ...] = field(default=())

    @classmethod
    def for_bind(cls, bind_host: str | None, *, extra_hosts: Iterable[str] = ()) -> HostRules:
        """Rules for a server bound to ``bind_host`` ("127.0.0.1", "0.0.0.0", a LAN address...)."""
        loopback = is_loopback(bind_host)
        names: tuple[str, ...] = ()
        if not loopback:
            names = tuple({socket.gethostname().lower(), socket.getfqdn().lower()} - {""})
        extra = tuple(_split_host(h)[0] for h in extra_hosts if h.strip())
        return cls(loopback_only=loopback, extra_hosts=extra, machine_names=names)

    def host_allowed(self, host_header: str | None) -> bool:
        """True when the Host header names this server."""
        if not host_header:
            return False  # HTTP/1.1 requires it; only hand-made requests lack it
        host, _ = _split_host(host_header)
        if is_loopback(host) or any(host == h or (h.startswith(".") and host.endswith(h)) for h in self.extra_hosts):
            return True
        if self.loopback_only:
            return False
        return _is_ip(host) or host in self.machine_names

    def origin_allowed(self, origin: str | None, host_header: str | None) -> bool:
        """True without an Origin (not a browser's cross-site request), or when it is the Host's own."""
        if origin is None:
            return True
        parts = urlsplit(origin.strip())
        if parts.scheme not in ("http", "https") or not parts.hostname:
            return False  # "null" (sandboxed iframes, file: pages) and anything odd
        origin_host, origin_port = _split_host(parts.netloc)
        host, port = _split_host(host_header or "")
        if (origin_host, origin_port) == (host, port):
            return True
        # localhost vs 127.0.0.1 on the same port: both are this machine's own page.
        return is_loopback(origin_host) and is_loopback(host) and origin_port == port

    def refusal(self, headers: Mapping[str, str]) -> str:
        """Why a request with these (lower-case) headers is refused, or ''."""
        host = headers.get("host")
        if not self.host_allowed(host):
            return (
                f"Refused: Host {host!r} does not name this server (a DNS-rebinding page?). "
                "Open it by its address, or start it with --allowed-host NAME."
            )
        if not self.origin_allowed(headers.get("origin"), host):
            return f"Refused: a page from {headers.get('origin')!r} may not use this server (cross-site request)."
        return ""


GRADIO_SHARE_HOSTS = (".gradio.live",)  # where `--share` tunnels come in


def webui_host_rules(cmd_opts: Any, *, extra_hosts: Iterable[str] = ()) -> HostRules:
    """The HostRules for routes added to an A1111/Forge app, from its ``cmd_opts`` (listen, server_name, share)."""
    bind = getattr(cmd_opts, "server_name", None) or ("0.0.0.0" if getattr(cmd_opts, "listen", False) else "127.0.0.1")
    extra = [*extra_hosts, *(GRADIO_SHARE_HOSTS if getattr(cmd_opts, "share", False) else ())]
    return HostRules.for_bind(bind, extra_hosts=extra)


def _basic_challenge_paths(path: str, prefixes: Sequence[str]) -> bool:
    return any(path == p.rstrip("/") or path.startswith(p.rstrip("/") + "/") for p in prefixes)


class RequestGuard:
    """ASGI middleware: refuse foreign Host/Origin (403) and, on ``basic_auth_paths``, missing credentials (401).

    Works for HTTP and websocket scopes (gradio 3.41's queue is a websocket),
    under any Starlette: add it with ``app.add_middleware(RequestGuard, rules=...)``
    or ``FastAPI(middleware=[Middleware(RequestGuard, rules=...)])``.
    """

    def __init__(
        self,
        app: Any,
        *,
        rules: HostRules,
        credentials: Credentials | None = None,
        basic_auth_paths: Sequence[str] = (),
    ) -> None:
        self.app = app
        self.rules = rules
        self.credentials = credentials
        self.basic_auth_paths = tuple(basic_auth_paths)

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        status, reason = 403, self.rules.refusal(headers)
        needs_login = self.credentials is not None and _basic_challenge_paths(scope["path"], self.basic_auth_paths)
        if not reason and needs_login and not self.credentials.check_basic_header(headers.get("authorization")):
            status, reason = 401, "Log in: this server needs a user name and password (HTTP Basic)."
        if not reason:
            await self.app(scope, receive, send)
            return
        if scope["type"] == "websocket":
            # Closing before accepting makes the server answer the handshake with 403.
            await send({"type": "websocket.close", "code": 1008})
            return
        body = reason.encode("utf-8")
        response_headers = [
            (b"content-type", b"text/plain; charset=utf-8"),
            (b"content-length", str(len(body)).encode()),
        ]
        if status == 401:
            response_headers.append((b"www-authenticate", b'Basic realm="Abysz LAB"'))
        await send({"type": "http.response.start", "status": status, "headers": response_headers})
        await send({"type": "http.response.body", "body": body})


def guard_dependency(rules: HostRules, credentials: Credentials | None = None) -> Callable[[Any], None]:
    """A FastAPI dependency doing RequestGuard's checks, for routes added to an app that is not ours (A1111).

    Use as ``APIRouter(dependencies=[Depends(guard_dependency(rules, creds))])``.
    """
    from fastapi import HTTPException, Request

    def check(request: Request) -> None:
        headers = {k.lower(): v for k, v in request.headers.items()}
        reason = rules.refusal(headers)
        if reason:
            raise HTTPException(status_code=403, detail=reason)
        if credentials is not None and not credentials.check_basic_header(headers.get("authorization")):
            raise HTTPException(
                status_code=401,
                detail="Log in: this server needs a user name and password (HTTP Basic).",
                headers={"WWW-Authenticate": 'Basic realm="Abysz LAB"'},
            )

    # With postponed annotations "Request" is a string FastAPI resolves in this module's globals, where
    # it is not (fastapi is imported lazily): give it the class itself.
    check.__annotations__["request"] = Request
    return check


# --- a server's whole access setup -----------------------------------------------------------------


@dataclass(frozen=True)
class ServerAccess:
    """Who may use the standalone server and what it may touch: logins, allowed folders, accepted hosts."""

    host: str = "127.0.0.1"
    what: str = "UI"  # "UI" or "API", for the warning
    credentials: Credentials | None = None
    policy: AccessPolicy = AccessPolicy()
    rules: HostRules = HostRules()

    @classmethod
    def from_flags(
        cls,
        host: str,
        *,
        auth: list[str] | tuple[str, ...] = (),
        auth_files: list[str] | tuple[str, ...] = (),
        allowed_roots: list[str] | tuple[str, ...] = (),
        hosts: list[str] | tuple[str, ...] = (),
        what: str = "UI",
    ) -> ServerAccess:
        """From the ``ui``/``api`` flags (--auth, --auth-file, --allowed-root, --allowed-host); InputError if bad."""
        return cls(
            host=host,
            credentials=load_credentials(auth, auth_files),
            policy=policy_for_server(host, allowed_roots),
            rules=HostRules.for_bind(host, extra_hosts=hosts),
            what=what,
        )

    def warnings(self) -> list[str]:
        """What to print at start: the risk of an open network server, and the folders it is confined to."""
        notes = []
        if not is_loopback(self.host) and self.credentials is None:
            notes.append(
                f"WARNING: the {self.what} listens on the network (--listen) without a login: anyone who can "
                "reach this port can run every tool and read and write files in the allowed folders. "
                "Add --auth USER:PASS (or --auth-file FILE)."
            )
        notes.append(self.policy.describe())
        return notes


def check_port(port: int | None) -> None:
    """Refuse a port outside 1-65535 before a server tries to bind it (it would crash with a traceback)."""
    if port is not None and not 1 <= port <= 65535:
        msg = f"--port must be between 1 and 65535, got {port}."
        raise InputError(msg)
