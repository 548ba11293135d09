"""glassdome for Python scripts: standard library only, Python >= 3.8.

    import glassdome
    password = glassdome.get("proxmox_password")
    everything = glassdome.secrets()

Under ``glassdome exec`` the secrets arrive on an inherited descriptor (``GLASSDOME_SECRETS_FD``):
it is read once, closed, and the values kept in this process; a descriptor that is not exec's
sealed memfd (its number reused after a parent closed it) is refused and left alone. Otherwise the agent at
``GLASSDOME_AUTH_SOCK`` is asked over its socket (docs/PROTOCOL.md), once the kernel (``SO_PEERCRED``)
has shown that the process serving it runs as our own uid: nothing is sent to a socket planted by
another user (``denied``). With ``GLASSDOME_SERVER``
set, ``glassdome serve`` is asked instead over HTTPS (docs/API.md): mutual TLS with
``GLASSDOME_CLIENT_CERT``/``GLASSDOME_CLIENT_KEY``, or ``GLASSDOME_TOKEN_FILE`` (a bootstrap token is
exchanged once for a session token kept in this process's memory only), the server checked
against ``GLASSDOME_SERVER_CA``. Errors raise ``GlassdomeError`` carrying the protocol's error code
(``not_found``, ``locked``, ...).

Values are bytes in the vault. ``get`` returns text and raises ``not_text`` for a value that is
not UTF-8; ``get_bytes`` returns any value as bytes; ``secrets`` gives text where a value is UTF-8
and bytes where it is not (on the descriptor such a value is tagged ``{"base64": "..."}``).
"""

import base64
import fcntl
import json
import os
import socket
import struct
import threading
import time

# http.client, ssl and urllib.parse (~25 ms to import) are imported only when GLASSDOME_SERVER is used.

__all__ = ["GlassdomeError", "get", "get_bytes", "secrets"]

_TIMEOUT_S = 60.0
_MAX_LINE = 2 * 1024 * 1024 + 1
# The longest one wait for the agent's read rate limit (ms), as the CLI's MAX_RATE_WAIT_MS.
_MAX_RATE_WAIT_MS = 60000
# The longest secrets() waits for it in all (ms), as the CLI's MAX_RATE_WAIT_TOTAL_MS.
_MAX_RATE_WAIT_TOTAL_MS = 120000
_RATE_WAIT_HINT = "ask for the secrets the script needs with glassdome.get(NAME), or raise rate_limits.read in the sealed policy"

# What /proc/self/fd/N names the descriptor glassdome exec makes, and the seal it always carries.
_EXEC_MEMFD = "/memfd:glassdome-secrets (deleted)"
_F_GET_SEALS = 1034
_F_SEAL_WRITE = 0x0008

_lock = threading.Lock()
_from_fd = None  # the decoded JSON object once the descriptor has been read
_remote = None  # the connection to glassdome serve, and the session token (memory only)


class GlassdomeError(Exception):
    """A glassdome failure; ``code`` is the stable error code of the protocol."""

    def __init__(self, code, message, hint=None):
        super().__init__(message)
        self.code = code
        self.message = message
        self.hint = hint

    def __str__(self):
        return "%s: %s" % (self.code, self.message)


def get(name):
    """The value of secret ``name`` as text (UTF-8); ``not_text`` when it is binary."""
    value = _lookup(name)
    if isinstance(value, str):
        return value
    text = _text_or_bytes(value)
    if not isinstance(text, str):
        raise GlassdomeError("not_text", "secret %r is not UTF-8 text" % name, "read it with glassdome.get_bytes(%r)" % name)
    return text


def get_bytes(name):
    """The value of secret ``name`` as bytes."""
    value = _lookup(name)
    return value.encode("utf-8") if isinstance(value, str) else value


def secrets():
    """Every secret available: the descriptor's under exec, else all the agent holds (as text)."""
    handed = _read_descriptor()
    if handed is not None:
        return dict(handed)
    if not os.environ.get("GLASSDOME_SERVER"):
        try:
            return _get_many()
        except GlassdomeError as err:
            if err.code != "unknown_op":  # else an agent from before get_many: one get a name
                raise
    names = _ask([("list", {})])[0]["names"]
    replies = _ask([("get", {"name": n}) for n in names]) if names else []
    return {n: _text_or_bytes(base64.b64decode(r["value"])) for n, r in zip(names, replies)}


def _get_many():
    """Every secret the agent lets this process read, by get_many (docs/PROTOCOL.md): asked again
    for the rest while a reply says there is more, waiting as the agent's read rate limit says."""
    out = {}
    fields = {}
    waited = 0
    while True:
        reply = _ask([("get_many", fields)])[0]
        raw = base64.b64decode(reply["values"])
        at = 0
        for name, size in zip(reply["names"], reply["lengths"]):
            out[name] = _text_or_bytes(raw[at:at + size])
            at += size
        if not reply.get("more"):
            return out
        wait_ms = reply.get("retry_after_ms", 0)
        if not reply["names"] and not wait_ms > 0:
            raise GlassdomeError("internal", "the agent's get_many reply served nothing, named no wait and said there is more")
        if reply["names"]:
            fields = {"after": reply["names"][-1]}
        if wait_ms > _MAX_RATE_WAIT_MS:
            raise GlassdomeError(
                "rate_limited",
                "the agent's read rate limit holds the rest of these secrets back %d s, longer than the %d s this client waits" % (-(-wait_ms // 1000), _MAX_RATE_WAIT_MS // 1000),
                _RATE_WAIT_HINT,
            )
        total = waited + max(wait_ms, reply.get("all_after_ms", 0))
        if total > _MAX_RATE_WAIT_TOTAL_MS:
            raise GlassdomeError(
                "rate_limited",
                "the agent's read rate limit would hold these secrets back %d s in all, longer than the %d s this client waits" % (-(-total // 1000), _MAX_RATE_WAIT_TOTAL_MS // 1000),
                _RATE_WAIT_HINT,
            )
        waited += wait_ms
        time.sleep(wait_ms / 1000.0)


def _text_or_bytes(raw):
    """UTF-8 text when ``raw`` decodes, else the bytes themselves."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw


def _decode_handed(obj):
    """fd 3's object with each tagged binary value ``{"base64": ...}`` turned into bytes."""
    if not isinstance(obj, dict):
        raise GlassdomeError("bad_request", "the secrets descriptor does not hold a JSON object")
    out = {}
    for name, value in obj.items():
        if isinstance(value, dict) and isinstance(value.get("base64"), str):
            value = base64.b64decode(value["base64"])
        elif not isinstance(value, str):
            raise GlassdomeError("bad_request", "secret %r on the descriptor is neither text nor tagged bytes" % name)
        out[name] = value
    return out


def _lookup(name):
    handed = _read_descriptor()
    if handed is not None:
        if name in handed:
            return handed[name]
        if not os.environ.get("GLASSDOME_AUTH_SOCK") and not os.environ.get("GLASSDOME_SERVER"):
            raise GlassdomeError(
                "not_found",
                "secret %r was not handed to this process" % name,
                "name it with glassdome exec -s %s, or keep the agent with --keep-agent" % name,
            )
    reply = _ask([("get", {"name": name})])[0]
    return base64.b64decode(reply["value"])


def _read_descriptor():
    """Reads and closes the exec descriptor once; None when not run under glassdome exec."""
    global _from_fd
    with _lock:
        if _from_fd is not None:
            return _from_fd
        text = os.environ.get("GLASSDOME_SECRETS_FD")
        if not text:
            return None
        try:
            fd = int(text)
        except ValueError:
            raise GlassdomeError("bad_request", "GLASSDOME_SECRETS_FD is not a descriptor number: %r" % text)
        if not _is_exec_descriptor(fd):
            raise GlassdomeError(
                "bad_request",
                "GLASSDOME_SECRETS_FD is %d, but descriptor %d is not the one glassdome exec made: a process in between "
                "closed it and the number is free or this process's own (left alone: not read, not closed)" % (fd, fd),
                "read the secrets in the process glassdome exec started, or hand the descriptor down "
                "(Python's subprocess closes it unless given pass_fds=(%d,))" % fd,
            )
        # pread from offset 0: the offset is shared with every process that inherited the
        # descriptor, so a read() here would leave the next step of a script reading nothing.
        chunks = []
        offset = 0
        try:
            while True:
                chunk = os.pread(fd, 65536, offset)
                if not chunk:
                    break
                chunks.append(chunk)
                offset += len(chunk)
        except OSError as err:
            raise GlassdomeError("io", "cannot read the secrets descriptor %d: %s" % (fd, err.strerror))
        finally:
            try:
                os.close(fd)
            except OSError:
                pass
            # Children of this process must not try a descriptor that is now closed.
            os.environ.pop("GLASSDOME_SECRETS_FD", None)
        try:
            _from_fd = _decode_handed(json.loads(b"".join(chunks).decode("utf-8")))
        except ValueError:
            raise GlassdomeError("bad_request", "the secrets descriptor does not hold a JSON object")
        return _from_fd


def _is_exec_descriptor(fd):
    """Whether ``fd`` is the sealed memfd glassdome exec made, not a descriptor that took its number."""
    try:
        # Only a sealed memfd carries F_SEAL_WRITE (a socket or another file: EINVAL or no such seal).
        if not fcntl.fcntl(fd, _F_GET_SEALS) & _F_SEAL_WRITE:
            return False
    except OSError:
        return False
    try:
        return os.readlink("/proc/self/fd/%d" % fd) == _EXEC_MEMFD
    except OSError:
        # No /proc here (a chroot, a sandbox, a mount namespace without it): the seal is the word.
        return not os.path.isdir("/proc/self/fd")


def _check_peer(sock, path):
    """Refuses a socket served by another uid (SO_PEERCRED: pid, uid, gid), before anything is sent."""
    creds = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    pid, uid, _gid = struct.unpack("3i", creds)
    if uid != os.getuid():
        raise GlassdomeError(
            "denied",
            "the socket %s is served by uid %d (pid %d), not by your uid %d: nothing was sent to it" % (path, uid, pid, os.getuid()),
            'another user may have planted it; start your own agent: eval "$(glassdome agent)"',
        )


def _ask(requests):
    """Sends requests to the agent (or to glassdome serve); returns the replies in order."""
    if os.environ.get("GLASSDOME_SERVER"):
        with _lock:
            return [_ask_server(op, fields) for op, fields in requests]
    path = os.environ.get("GLASSDOME_AUTH_SOCK")
    if not path:
        raise GlassdomeError("no_agent", "no agent: GLASSDOME_AUTH_SOCK is not set",
                             'start one with: eval "$(glassdome agent)"; glassdome unlock')
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(_TIMEOUT_S)
    try:
        try:
            sock.connect(path)
        except OSError as err:
            raise GlassdomeError("no_agent", "no agent answers at %s (%s)" % (path, err.strerror or err),
                                 'start one with: eval "$(glassdome agent)"; glassdome unlock')
        _check_peer(sock, path)
        lines = b"".join(
            json.dumps(dict(fields, v=1, id=i, op=op), separators=(",", ":")).encode("utf-8") + b"\n"
            for i, (op, fields) in enumerate(requests)
        )
        sock.sendall(lines)
        stream = sock.makefile("rb")
        replies = []
        for i in range(len(requests)):
            line = stream.readline(_MAX_LINE)
            if not line.endswith(b"\n"):
                raise GlassdomeError("no_agent", "the agent at %s closed the connection" % path)
            reply = json.loads(line.decode("utf-8"))
            if not reply.get("ok"):
                error = reply.get("error") or {}
                raise GlassdomeError(error.get("code", "internal"), error.get("message", "the agent reported an error"), error.get("hint"))
            if reply.get("id") != i:
                raise GlassdomeError("internal", "the agent answered out of order")
            replies.append(reply)
        return replies
    except socket.timeout:
        raise GlassdomeError("io", "the agent at %s did not answer within %d s" % (path, _TIMEOUT_S))
    finally:
        sock.close()


class _Remote(object):
    """One keep-alive HTTPS connection to glassdome serve, and the token it uses."""

    def __init__(self):
        import ssl
        import urllib.parse
        url = urllib.parse.urlsplit(os.environ["GLASSDOME_SERVER"])
        if url.scheme != "https" or not url.hostname:
            raise GlassdomeError("usage", "GLASSDOME_SERVER must be an https:// URL", "like https://securityd.lab:8443")
        self.host, self.port = url.hostname, url.port or 443
        self.context = ssl.create_default_context(cafile=os.environ.get("GLASSDOME_SERVER_CA") or None)
        self.context.minimum_version = ssl.TLSVersion.TLSv1_2
        cert, key = os.environ.get("GLASSDOME_CLIENT_CERT"), os.environ.get("GLASSDOME_CLIENT_KEY")
        if cert or key:
            self.context.load_cert_chain(cert, key)
        self.conn = None
        self.token = None
        token_file = os.environ.get("GLASSDOME_TOKEN_FILE")
        if token_file:
            with open(token_file, "r") as f:
                text = f.read().strip()
            if text.startswith("gdb_"):
                text = self.call("POST", "/v1/token/exchange", text)["token"]
            self.token = text
        elif not cert:
            raise GlassdomeError("usage", "GLASSDOME_SERVER is set but neither a client certificate nor a token file is",
                                 "set GLASSDOME_CLIENT_CERT and GLASSDOME_CLIENT_KEY, or GLASSDOME_TOKEN_FILE")

    def call(self, method, path, token=None):
        import http.client
        import ssl
        headers = {"Accept": "application/json"}
        if token or self.token:
            headers["Authorization"] = "Bearer " + (token or self.token)
        for attempt in (0, 1):
            if self.conn is None:
                self.conn = http.client.HTTPSConnection(self.host, self.port, timeout=_TIMEOUT_S, context=self.context)
            try:
                self.conn.request(method, path, headers=headers)
                res = self.conn.getresponse()
                body = res.read(_MAX_LINE)
                break
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError) as err:
                self.conn.close()
                self.conn = None
                if attempt == 1:
                    raise GlassdomeError("denied", "glassdome serve closed the connection (%s)" % err)
            except ssl.SSLError as err:
                self.conn = None
                raise GlassdomeError("denied", "TLS with glassdome serve failed: %s" % err)
            except OSError as err:
                self.conn = None
                raise GlassdomeError("no_agent", "no glassdome serve answers at %s:%d (%s)" % (self.host, self.port, err.strerror or err),
                                     "check GLASSDOME_SERVER")
        try:
            doc = json.loads(body.decode("utf-8"))
        except ValueError:
            raise GlassdomeError("internal", "glassdome serve sent a malformed reply (HTTP %d)" % res.status)
        if res.status >= 400:
            error = doc.get("error") or {}
            raise GlassdomeError(error.get("code", "internal"), error.get("message", "HTTP %d" % res.status), error.get("hint"))
        return doc


def _ask_server(op, fields):
    """One protocol-shaped request answered by glassdome serve (list and get only)."""
    global _remote
    if _remote is None:
        _remote = _Remote()
    if op == "list":
        return _remote.call("GET", "/v1/secrets")
    if op == "get":
        import urllib.parse
        return _remote.call("GET", "/v1/secrets/" + urllib.parse.quote(fields["name"], safe=""))
    raise GlassdomeError("unknown_op", "%s is not offered by glassdome serve" % op)
