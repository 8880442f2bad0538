"""Raw SIP over UDP/TCP for the interop tests: build requests, send, receive, parse.

Deliberately small and permissive: it is a test peer, not a SIP stack. Every socket is bound
to 127.0.0.1 (the machine has other addresses that must never appear in Via/Contact/SDP).
"""
from __future__ import annotations

import random
import socket
import string
import time
from dataclasses import dataclass, field

LOCAL = "127.0.0.1"


def token(n: int = 10) -> str:
    return "".join(random.choices(string.ascii_lowercase + string.digits, k=n))


def branch() -> str:
    return "z9hG4bK" + token(16)


# --------------------------------------------------------------------------- messages

@dataclass
class SipMessage:
    start_line: str
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""
    source: tuple[str, int] | None = None

    # Compact forms (RFC 3261 section 7.3.3) mapped to full names.
    _COMPACT = {"v": "via", "f": "from", "t": "to", "i": "call-id", "m": "contact",
                "l": "content-length", "c": "content-type", "k": "supported", "s": "subject",
                "e": "content-encoding"}

    @property
    def is_response(self) -> bool:
        return self.start_line.startswith("SIP/2.0 ")

    @property
    def status(self) -> int:
        return int(self.start_line.split(" ", 2)[1]) if self.is_response else 0

    @property
    def reason(self) -> str:
        parts = self.start_line.split(" ", 2)
        return parts[2] if len(parts) > 2 else ""

    @property
    def method(self) -> str:
        if self.is_response:
            return self.cseq[1]
        return self.start_line.split(" ", 1)[0]

    @property
    def request_uri(self) -> str:
        return self.start_line.split(" ")[1]

    def _norm(self, name: str) -> str:
        n = name.strip().lower()
        return self._COMPACT.get(n, n)

    def all(self, name: str) -> list[str]:
        n = self._norm(name)
        return [v for k, v in self.headers if self._norm(k) == n]

    def get(self, name: str, default: str | None = None) -> str | None:
        values = self.all(name)
        return values[0] if values else default

    def __getitem__(self, name: str) -> str:
        v = self.get(name)
        if v is None:
            raise KeyError(f"no {name} header in:\n{self}")
        return v

    @property
    def call_id(self) -> str:
        return self["Call-ID"].strip()

    @property
    def cseq(self) -> tuple[int, str]:
        num, meth = self["CSeq"].split()
        return int(num), meth

    @property
    def to_tag(self) -> str | None:
        return header_param(self["To"], "tag")

    @property
    def from_tag(self) -> str | None:
        return header_param(self["From"], "tag")

    @property
    def contact_uri(self) -> str | None:
        c = self.get("Contact")
        return name_addr_uri(c) if c else None

    def __str__(self) -> str:
        head = "\r\n".join([self.start_line] + [f"{k}: {v}" for k, v in self.headers])
        return head + "\r\n\r\n" + self.body.decode("utf-8", "replace")


def header_param(value: str, name: str) -> str | None:
    # Parameters after the name-addr's closing '>' (or after the URI when there is none).
    tail = value.split(">", 1)[1] if ">" in value else value
    for p in tail.split(";")[1:]:
        k, _, v = p.partition("=")
        if k.strip().lower() == name:
            return v.strip()
    return None


def name_addr_uri(value: str) -> str:
    if "<" in value:
        return value.split("<", 1)[1].split(">", 1)[0]
    return value.split(";", 1)[0].strip()


def parse(data: bytes, source=None) -> SipMessage:
    head, sep, body = data.partition(b"\r\n\r\n")
    if not sep:
        head, sep, body = data.partition(b"\n\n")
    lines = head.decode("utf-8", "replace").replace("\r\n", "\n").split("\n")
    headers: list[tuple[str, str]] = []
    for line in lines[1:]:
        if line[:1] in (" ", "\t") and headers:  # folded continuation line
            k, v = headers[-1]
            headers[-1] = (k, v + " " + line.strip())
        elif ":" in line:
            k, v = line.split(":", 1)
            headers.append((k.strip(), v.strip()))
    msg = SipMessage(lines[0].strip(), headers, b"", source)
    cl = msg.get("Content-Length")
    msg.body = body[: int(cl)] if cl is not None and cl.strip().isdigit() else body
    return msg


def build(start_line: str, headers: list[tuple[str, str]], body: bytes | str = b"") -> bytes:
    if isinstance(body, str):
        body = body.encode()
    hs = [(k, v) for k, v in headers if k.lower() != "content-length"]
    hs.append(("Content-Length", str(len(body))))
    text = start_line + "\r\n" + "".join(f"{k}: {v}\r\n" for k, v in hs) + "\r\n"
    return text.encode() + body


# --------------------------------------------------------------------------- transports

class SipSocket:
    """One UDP socket, or one TCP connection, bound to 127.0.0.1 and talking to one server."""

    def __init__(self, server_port: int, transport: str = "udp", server_host: str = LOCAL):
        self.server = (server_host, server_port)
        self.transport = transport
        self._buf = b""
        if transport == "udp":
            self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            self.sock.bind((LOCAL, 0))
        elif transport == "tcp":
            self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            self.sock.bind((LOCAL, 0))
            self.sock.settimeout(5)
            self.sock.connect(self.server)
        else:
            raise ValueError(transport)
        self.port = self.sock.getsockname()[1]
        self.pending: list[SipMessage] = []  # messages read but not yet claimed

    @property
    def via_transport(self) -> str:
        return self.transport.upper()

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def send_raw(self, data: bytes, to: tuple[str, int] | None = None) -> None:
        if self.transport == "udp":
            self.sock.sendto(data, to or self.server)
        else:
            self.sock.sendall(data)

    def send(self, msg: bytes | SipMessage, to=None) -> None:
        if isinstance(msg, SipMessage):
            msg = build(msg.start_line, msg.headers, msg.body)
        self.send_raw(msg, to)

    def _read_one(self, timeout: float) -> SipMessage | None:
        deadline = time.monotonic() + timeout
        if self.transport == "udp":
            while True:
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                self.sock.settimeout(left)
                try:
                    data, src = self.sock.recvfrom(65535)
                except (socket.timeout, BlockingIOError):
                    return None
                if data.strip():  # skip CRLF keep-alives
                    return parse(data, src)
        while True:
            # TCP framing: headers up to CRLFCRLF, then Content-Length bytes (RFC 3261 18.3).
            self._buf = self._buf.lstrip(b"\r\n")
            end = self._buf.find(b"\r\n\r\n")
            if end >= 0:
                head = parse(self._buf[: end + 4])
                n = int((head.get("Content-Length") or "0").strip() or 0)
                if len(self._buf) >= end + 4 + n:
                    data = self._buf[: end + 4 + n]
                    self._buf = self._buf[end + 4 + n:]
                    return parse(data, self.server)
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            self.sock.settimeout(left)
            try:
                chunk = self.sock.recv(65535)
            except (socket.timeout, BlockingIOError):
                return None
            if not chunk:
                time.sleep(min(left, 0.05))
                return None
            self._buf += chunk

    def recv(self, timeout: float = 2.0, match=None) -> SipMessage | None:
        """Next message (satisfying `match`, if given) within `timeout`; others stay pending."""
        for i, m in enumerate(self.pending):
            if match is None or match(m):
                return self.pending.pop(i)
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            m = self._read_one(left)
            if m is None:
                return None
            if match is None or match(m):
                return m
            self.pending.append(m)

    def via(self, br: str | None = None) -> str:
        return f"SIP/2.0/{self.via_transport} {LOCAL}:{self.port};branch={br or branch()};rport"

    def contact(self, user: str = "tester") -> str:
        tp = "" if self.transport == "udp" else f";transport={self.transport}"
        return f"<sip:{user}@{LOCAL}:{self.port}{tp}>"

    def request(self, method: str, uri: str, extra: list[tuple[str, str]] | None = None,
                body: bytes | str = b"", call_id: str | None = None, cseq: int = 1,
                from_tag: str | None = None, to: str | None = None, br: str | None = None,
                cseq_method: str | None = None) -> tuple[bytes, dict]:
        """Build an out-of-dialog style request; returns (bytes, the ids used)."""
        ids = {"call_id": call_id or token(16) + "@127.0.0.1", "from_tag": from_tag or token(8),
               "branch": br or branch(), "cseq": cseq}
        headers = [
            ("Via", self.via(ids["branch"])),
            ("Max-Forwards", "70"),
            ("From", f"<sip:tester@{LOCAL}>;tag={ids['from_tag']}"),
            ("To", to or f"<{uri}>"),
            ("Call-ID", ids["call_id"]),
            ("CSeq", f"{cseq} {cseq_method or method}"),
            ("Contact", self.contact()),
            ("User-Agent", "hotline-interop-tests"),
        ]
        headers += extra or []
        return build(f"{method} {uri} SIP/2.0", headers, body), ids

    def transact(self, method: str, uri: str, timeout: float = 3.0, **kw) -> SipMessage | None:
        """Send a non-INVITE request and return its final response (skipping 1xx)."""
        data, ids = self.request(method, uri, **kw)
        self.send_raw(data)
        deadline = time.monotonic() + timeout
        while True:
            r = self.recv(max(0.0, deadline - time.monotonic()),
                          match=lambda m: m.is_response and m.get("Call-ID") == ids["call_id"])
            if r is None or r.status >= 200:
                return r

    def reply(self, req: SipMessage, status: int, reason: str,
              extra: list[tuple[str, str]] | None = None, body: bytes = b"") -> None:
        """Answer a request from the server, copying Via/From/To/Call-ID/CSeq."""
        headers = [("Via", v) for v in req.all("Via")]
        to = req["To"]
        if header_param(to, "tag") is None and status > 100:
            to += ";tag=" + token(8)
        headers += [("From", req["From"]), ("To", to), ("Call-ID", req["Call-ID"]),
                    ("CSeq", req["CSeq"])]
        headers += extra or []
        self.send(build(f"SIP/2.0 {status} {reason}", headers, body), to=req.source)


def options_ok(port: int, timeout: float = 1.0, transport: str = "udp") -> SipMessage | None:
    """Send one OPTIONS to the daemon; return the response if it is a 200, else None."""
    try:
        with SipSocket(port, transport) as s:
            r = s.transact("OPTIONS", f"sip:12345@{LOCAL}:{port}", timeout=timeout)
            return r if r is not None and r.status == 200 else None
    except OSError:
        return None


# --------------------------------------------------------------------------- SDP

def sdp_offer(rtp_port: int, payload_types=(0, 8, 101), session_id: int | None = None) -> str:
    names = {0: "PCMU/8000", 8: "PCMA/8000", 18: "G729/8000", 101: "telephone-event/8000",
             96: "telephone-event/8000"}
    sid = session_id or random.randint(1, 2**31)
    lines = ["v=0", f"o=tester {sid} {sid} IN IP4 {LOCAL}", "s=hotline-interop",
             f"c=IN IP4 {LOCAL}", "t=0 0",
             f"m=audio {rtp_port} RTP/AVP {' '.join(str(p) for p in payload_types)}"]
    for pt in payload_types:
        lines.append(f"a=rtpmap:{pt} {names[pt]}")
        if names[pt].startswith("telephone-event"):
            lines.append(f"a=fmtp:{pt} 0-16")
    lines += ["a=ptime:20", "a=sendrecv"]
    return "\r\n".join(lines) + "\r\n"


@dataclass
class SdpAnswer:
    address: str
    port: int
    payload_types: list[int]
    rtpmap: dict[int, str]
    direction: str

    @property
    def codec(self) -> int:
        """The first non-telephone-event payload type: what the daemon will send."""
        for pt in self.payload_types:
            if not self.rtpmap.get(pt, "").lower().startswith("telephone-event"):
                return pt
        raise AssertionError(f"no audio codec in answer {self}")

    @property
    def dtmf_pt(self) -> int | None:
        for pt, name in self.rtpmap.items():
            if name.lower().startswith("telephone-event") and pt in self.payload_types:
                return pt
        return None


def parse_sdp(body: bytes) -> SdpAnswer:
    address, port, pts, rtpmap, direction = "", 0, [], {}, "sendrecv"
    for line in body.decode().replace("\r\n", "\n").split("\n"):
        if line.startswith("c="):
            address = line.split()[-1]
        elif line.startswith("m=audio"):
            parts = line.split()
            port = int(parts[1])
            pts = [int(p) for p in parts[3:]]
        elif line.startswith("a=rtpmap:"):
            pt, name = line[len("a=rtpmap:"):].split(" ", 1)
            rtpmap[int(pt)] = name.strip()
        elif line.strip() in ("a=sendrecv", "a=sendonly", "a=recvonly", "a=inactive"):
            direction = line.strip()[2:]
    for pt in pts:  # static payload types need no rtpmap
        rtpmap.setdefault(pt, {0: "PCMU/8000", 8: "PCMA/8000"}.get(pt, ""))
    return SdpAnswer(address, port, pts, rtpmap, direction)


# --------------------------------------------------------------------------- a UAC call

class Call:
    """A UAC INVITE dialog over one SipSocket: invite, ack, bye, and answering the server's BYE."""

    def __init__(self, sock: SipSocket, number: str = "12345", rtp_port: int = 40000,
                 payload_types=(0, 8, 101)):
        self.s = sock
        self.uri = f"sip:{number}@{LOCAL}:{sock.server[1]}"
        self.call_id = token(16) + "@127.0.0.1"
        self.from_tag = token(8)
        self.cseq = 1
        self.offer = sdp_offer(rtp_port, payload_types)
        self.invite_branch = branch()
        self.provisional: list[SipMessage] = []
        self.final: SipMessage | None = None
        self.remote_target: str | None = None
        self.to_header: str | None = None
        self.answer: SdpAnswer | None = None
        self.server_bye: SipMessage | None = None

    def _mine(self, m: SipMessage) -> bool:
        return m.get("Call-ID") == self.call_id

    def send_invite(self) -> None:
        data, _ = self.s.request("INVITE", self.uri, body=self.offer, call_id=self.call_id,
                                 cseq=self.cseq, from_tag=self.from_tag, br=self.invite_branch,
                                 extra=[("Content-Type", "application/sdp"),
                                        ("Allow", "INVITE, ACK, BYE, CANCEL, OPTIONS")])
        self.s.send_raw(data)

    def wait_final(self, timeout: float = 5.0) -> SipMessage:
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            r = self.s.recv(max(0.0, left), match=lambda m: self._mine(m) and m.is_response
                            and m.cseq == (self.cseq, "INVITE"))
            if r is None:
                raise AssertionError(f"no final response to INVITE within {timeout}s "
                                     f"(provisional: {[p.status for p in self.provisional]})")
            if r.status < 200:
                self.provisional.append(r)
                continue
            self.final = r
            self.to_header = r["To"]
            if r.status < 300:
                self.remote_target = r.contact_uri
                if r.body:
                    self.answer = parse_sdp(r.body)
            else:
                self._ack_non2xx(r)
            return r

    def invite(self, timeout: float = 5.0) -> SipMessage:
        self.send_invite()
        return self.wait_final(timeout)

    def _ack_non2xx(self, r: SipMessage) -> None:
        # RFC 3261 17.1.1.3: same branch as the INVITE, To from the response.
        headers = [("Via", self.s.via(self.invite_branch)), ("Max-Forwards", "70"),
                   ("From", f"<sip:tester@{LOCAL}>;tag={self.from_tag}"), ("To", r["To"]),
                   ("Call-ID", self.call_id), ("CSeq", f"{self.cseq} ACK")]
        self.s.send_raw(build(f"ACK {self.uri} SIP/2.0", headers))

    def _in_dialog(self, method: str, cseq: int, extra=None) -> bytes:
        headers = [("Via", self.s.via()), ("Max-Forwards", "70"),
                   ("From", f"<sip:tester@{LOCAL}>;tag={self.from_tag}"),
                   ("To", self.to_header), ("Call-ID", self.call_id), ("CSeq", f"{cseq} {method}"),
                   ("Contact", self.s.contact())]
        headers += extra or []
        target = self.remote_target or self.uri
        return build(f"{method} {target} SIP/2.0", headers)

    def ack(self) -> None:
        assert self.final is not None and self.final.status < 300
        self.s.send_raw(self._in_dialog("ACK", self.cseq))

    def cancel(self) -> None:
        headers = [("Via", self.s.via(self.invite_branch)), ("Max-Forwards", "70"),
                   ("From", f"<sip:tester@{LOCAL}>;tag={self.from_tag}"), ("To", f"<{self.uri}>"),
                   ("Call-ID", self.call_id), ("CSeq", f"{self.cseq} CANCEL")]
        self.s.send_raw(build(f"CANCEL {self.uri} SIP/2.0", headers))

    def wait_response(self, method: str, cseq: int | None = None, timeout: float = 3.0):
        return self.s.recv(timeout, match=lambda m: self._mine(m) and m.is_response
                           and m.method == method and (cseq is None or m.cseq[0] == cseq))

    def bye(self, timeout: float = 3.0) -> SipMessage | None:
        self.cseq += 1
        self.s.send_raw(self._in_dialog("BYE", self.cseq))
        deadline = time.monotonic() + timeout
        while True:
            r = self.wait_response("BYE", self.cseq, max(0.0, deadline - time.monotonic()))
            if r is None or r.status >= 200:
                return r

    def wait_server_bye(self, timeout: float) -> SipMessage | None:
        """Wait for the daemon's BYE for this call and answer it with 200."""
        if self.server_bye is not None:
            return self.server_bye
        r = self.s.recv(timeout, match=lambda m: self._mine(m) and not m.is_response
                        and m.method == "BYE")
        if r is not None:
            self.s.reply(r, 200, "OK")
            self.server_bye = r
        return r

    def establish(self, timeout: float = 5.0) -> SipMessage:
        r = self.invite(timeout)
        assert r.status == 200, f"INVITE got {r.start_line}"
        self.ack()
        return r
