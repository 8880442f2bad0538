#!/usr/bin/env python3
"""A test double of the hotline daemon: just enough of the spec to check the interop suite
itself before (or besides) the Swift daemon.

    HOTLINE_BIN=Tests/interop/fake_hotline.py .venv/bin/pytest Tests/interop

It is not a SIP stack (no retransmission timers, no real transactions); it implements the
behaviour the suite asserts: OPTIONS/501/400/404/488, INVITE with SDP answer, the first call
flow (welcome, main-menu, option-N, #, timeouts, goodbye + BYE), CANCEL, no-media timeout and
graceful shutdown (503 while draining, BYE at the drain timeout, exit 0).
"""
from __future__ import annotations

import argparse
import faulthandler
import random
import signal
import socket
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from audio import encode, read_wav  # noqa: E402
from rtp import RtpPacket, build_rtp  # noqa: E402
from siputil import build, parse, parse_sdp, token  # noqa: E402

PROMPTS = Path(__file__).resolve().parents[2] / "Prompts" / "zh-CN"
ALLOW = "INVITE, ACK, BYE, CANCEL, OPTIONS"
MENU_TIMEOUT = 5.0
MAX_TIMEOUTS = 3


def log(*a):
    print(time.strftime("%H:%M:%S"), *a, flush=True)


class Call:
    def __init__(self, srv, req, reply, tag, rtp_sock, pt, dtmf_pt, remote):
        self.srv, self.req, self.reply, self.tag = srv, req, reply, tag
        self.rtp, self.pt, self.dtmf_pt, self.remote = rtp_sock, pt, dtmf_pt, remote
        self.answered = self.confirmed = self.ended = False
        self.cancelled = False
        self.last_rx = time.monotonic()
        self.cseq = 1
        self.thread: threading.Thread | None = None

    def to_header(self):
        return self.req["To"] + ";tag=" + self.tag

    def send_bye(self):
        if self.ended:
            return
        self.ended = True
        c = self.req["From"]
        target = self.req.contact_uri or self.req.request_uri
        headers = [("Via", f"SIP/2.0/{self.srv.transport_of(self.reply)} 127.0.0.1:"
                           f"{self.srv.port};branch=z9hG4bK{token(12)}"),
                   ("Max-Forwards", "70"), ("From", self.to_header()), ("To", c),
                   ("Call-ID", self.req.call_id), ("CSeq", f"{self.cseq} BYE")]
        self.reply(build(f"BYE {target} SIP/2.0", headers), to_contact=True, req=self.req)
        log("BYE sent", self.req.call_id)
        self.srv.remove(self)

    # ---------------------------------------------------------------- media + call flow
    def run_media(self):
        seq, ts, ssrc = random.randint(0, 0x7FFF), random.randint(0, 1 << 30), random.randint(1, 1 << 31)
        queue = ["welcome", "main-menu"]
        cur, pos, barge = None, 0, False
        waiting_since, timeouts, last_event_ts = None, 0, None
        first, nxt = True, time.monotonic()
        silence = encode([0] * 160, self.pt)
        self.rtp.setblocking(False)
        while not self.ended:
            # Receive everything pending: audio refreshes the no-media clock, events are keys.
            while True:
                try:
                    data, _ = self.rtp.recvfrom(2048)
                except (BlockingIOError, OSError):
                    break
                self.last_rx = time.monotonic()
                try:
                    p = RtpPacket.parse(data)
                except ValueError:
                    continue
                if p.pt == self.dtmf_pt and len(p.payload) >= 4 and p.ts != last_event_ts:
                    last_event_ts = p.ts
                    key = "0123456789*#"[p.payload[0]] if p.payload[0] < 12 else "?"
                    log("key", key, self.req.call_id)
                    if barge or waiting_since is not None:
                        cur, waiting_since, timeouts = None, None, 0
                        if key in "1234":
                            queue = [f"option-{key}", "main-menu"]
                        elif key == "0":
                            queue = ["transferring", "main-menu"]
                        elif key == "#":
                            queue = ["main-menu"]
                        else:
                            queue = ["invalid", "main-menu"]
            if self.srv.no_media and time.monotonic() - self.last_rx > self.srv.no_media:
                log("no media", self.req.call_id)
                self.send_bye()
                return
            if cur is None and queue:
                name = queue.pop(0)
                cur, pos, barge = self.srv.prompts[(name, self.pt)], 0, name == "main-menu"
                self.playing = name
            if cur is not None:
                payload = cur[pos:pos + 160].ljust(160, silence[:1])
                pos += 160
                if pos >= len(cur):
                    cur = None
                    if self.playing == "goodbye":
                        self.send_bye()
                        return
                    if not queue:
                        waiting_since = time.monotonic()
            else:
                payload = silence
                if waiting_since is not None and time.monotonic() - waiting_since > MENU_TIMEOUT:
                    timeouts += 1
                    waiting_since = None
                    queue = ["goodbye"] if timeouts >= MAX_TIMEOUTS else ["no-input", "main-menu"]
            try:
                self.rtp.sendto(build_rtp(self.pt, seq, ts, ssrc, payload, first), self.remote)
            except OSError:
                pass
            first = False
            seq, ts = seq + 1, ts + 160
            nxt += 0.02
            time.sleep(max(0.0, nxt - time.monotonic()))
        self.rtp.close()


class Server:
    def __init__(self, a):
        self.addr, self.port = a.sip_address, a.sip_port
        self.rtp_min, self.rtp_max = a.rtp_port_min, a.rtp_port_max
        self.no_media, self.drain_timeout = a.no_media_timeout, a.drain_timeout
        self.calls: dict[str, Call] = {}
        self.lock = threading.RLock()
        self.draining = False
        self.done = threading.Event()
        self.prompts = {}
        for wav in PROMPTS.glob("*.wav"):
            samples, _ = read_wav(wav)
            for pt in (0, 8):
                self.prompts[(wav.stem, pt)] = encode(samples, pt)
        self.udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.udp.bind((self.addr, self.port))
        self.tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.tcp.bind((self.addr, self.port))
        self.tcp.listen(64)
        self.http = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.http.bind((self.addr, a.http_port))
        self.http.listen(4)

    def transport_of(self, reply):
        return getattr(reply, "transport", "UDP")

    def remove(self, call):
        with self.lock:
            self.calls.pop(call.req.call_id, None)
            if self.draining and not self.calls:
                self.done.set()

    def alloc_rtp(self):
        lo, hi = (self.rtp_min or 30000), (self.rtp_max or 39999)
        for _ in range(100):
            p = random.randrange(lo, hi + 1) & ~1
            if p < lo:
                continue
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            try:
                s.bind((self.addr, p))
                return s
            except OSError:
                s.close()
        return None

    # ---------------------------------------------------------------- transports
    def udp_loop(self):
        while True:
            try:
                data, src = self.udp.recvfrom(65535)
            except OSError:
                return

            def reply(out, to_contact=False, req=None, src=src):
                dest = src
                if to_contact and req is not None and req.contact_uri:
                    hp = req.contact_uri.split("@")[-1].split(";")[0]
                    h, _, p = hp.partition(":")
                    dest = (h, int(p or 5060))
                self.udp.sendto(out, dest)
            reply.transport = "UDP"
            self.handle(data, reply)

    def tcp_loop(self):
        while True:
            try:
                conn, _ = self.tcp.accept()
            except OSError:
                return
            threading.Thread(target=self.tcp_conn, args=(conn,), daemon=True).start()

    def tcp_conn(self, conn):
        buf = b""

        def reply(out, **_):
            try:
                conn.sendall(out)
            except OSError:
                pass
        reply.transport = "TCP"
        while True:
            try:
                chunk = conn.recv(65535)
            except OSError:
                return
            if not chunk:
                return
            buf += chunk
            while True:
                buf = buf.lstrip(b"\r\n")
                end = buf.find(b"\r\n\r\n")
                if end < 0:
                    break
                n = int((parse(buf[:end + 4]).get("Content-Length") or "0").strip() or 0)
                if len(buf) < end + 4 + n:
                    break
                self.handle(buf[:end + 4 + n], reply)
                buf = buf[end + 4 + n:]

    # ---------------------------------------------------------------- SIP
    def respond(self, reply, req, status, reason, extra=(), body=b"", tag=None):
        to = req["To"]
        if tag and ";tag=" not in to:
            to += ";tag=" + tag
        headers = [("Via", v) for v in req.all("Via")]
        headers += [("From", req["From"]), ("To", to), ("Call-ID", req["Call-ID"]),
                    ("CSeq", req["CSeq"]), ("Server", "fake-hotline")]
        headers += list(extra)
        reply(build(f"SIP/2.0 {status} {reason}", headers, body))

    def handle(self, data, reply):
        try:
            req = parse(data)
            parts = req.start_line.split(" ")
            if req.is_response:
                return
            if len(parts) != 3 or parts[2] != "SIP/2.0":
                return
            for h in ("Via", "From", "To", "Call-ID", "CSeq"):
                req[h]
            num, meth = req.cseq
        except (KeyError, ValueError, IndexError):
            return  # unreadable: drop
        method = parts[0]
        log("<-", req.start_line, req.get("Call-ID"))
        if meth != method:
            return self.respond(reply, req, 400, "CSeq Method Does Not Match Request-Line")
        mf = req.get("Max-Forwards")
        if mf is not None and (not mf.strip().isdigit() or int(mf) > 255):
            return self.respond(reply, req, 400, "Invalid Max-Forwards")
        with self.lock:
            if method == "OPTIONS":
                return self.respond(reply, req, 200, "OK", [("Allow", ALLOW)], tag=token(8))
            if method == "INVITE":
                return self.invite(req, reply)
            call = self.calls.get(req.call_id)
            if method == "ACK":
                if call and call.answered and not call.confirmed:
                    call.confirmed = True
                    call.last_rx = time.monotonic()
                    call.thread = threading.Thread(target=call.run_media, daemon=True)
                    call.thread.start()
                return
            if method == "BYE":
                if not call:
                    return self.respond(reply, req, 481, "Call/Transaction Does Not Exist")
                call.ended = True
                self.respond(reply, req, 200, "OK")
                self.remove(call)
                return
            if method == "CANCEL":
                if not call or call.answered:
                    return self.respond(reply, req, 481, "Call/Transaction Does Not Exist")
                call.cancelled = True
                self.respond(reply, req, 200, "OK")
                self.respond(call.reply, call.req, 487, "Request Terminated", tag=call.tag)
                self.remove(call)
                return
            return self.respond(reply, req, 501, "Not Implemented", [("Allow", ALLOW)])

    def invite(self, req, reply):
        if req.call_id in self.calls:
            return  # retransmission
        tag = token(8)
        if self.draining:
            return self.respond(reply, req, 503, "Service Unavailable", [("Retry-After", "5")], tag=tag)
        user = req.request_uri.split(":", 1)[1].split("@")[0]
        if user != "12345":
            return self.respond(reply, req, 404, "Not Found", tag=tag)
        self.respond(reply, req, 100, "Trying")
        offer = parse_sdp(req.body)
        pt = next((p for p in offer.payload_types if p in (0, 8)), None)
        if pt is None:
            return self.respond(reply, req, 488, "Not Acceptable Here", tag=tag)
        dtmf = offer.dtmf_pt
        rtp = self.alloc_rtp()
        if rtp is None:
            return self.respond(reply, req, 503, "Service Unavailable", tag=tag)
        call = Call(self, req, reply, tag, rtp, pt, dtmf, (offer.address, offer.port))
        self.calls[req.call_id] = call
        rport = rtp.getsockname()[1]
        pts = [pt] + ([dtmf] if dtmf is not None else [])
        sdp = ["v=0", f"o=hotline 1 1 IN IP4 {self.addr}", "s=hotline", f"c=IN IP4 {self.addr}",
               "t=0 0", f"m=audio {rport} RTP/AVP {' '.join(map(str, pts))}",
               f"a=rtpmap:{pt} {'PCMU' if pt == 0 else 'PCMA'}/8000"]
        if dtmf is not None:
            sdp += [f"a=rtpmap:{dtmf} telephone-event/8000", f"a=fmtp:{dtmf} 0-16"]
        sdp += ["a=ptime:20", "a=sendrecv"]
        body = ("\r\n".join(sdp) + "\r\n").encode()

        def answer():
            with self.lock:
                if call.cancelled:
                    return
                call.answered = True
                self.respond(reply, req, 200, "OK",
                             [("Contact", f"<sip:12345@{self.addr}:{self.port}>"), ("Allow", ALLOW),
                              ("Content-Type", "application/sdp")], body, tag=tag)
        threading.Timer(0.02, answer).start()

    # ---------------------------------------------------------------- lifecycle
    def sigterm(self, *_):
        log("SIGTERM: draining", len(self.calls), "calls")
        with self.lock:
            self.draining = True
            if not self.calls:
                self.done.set()

    def serve(self):
        for target in (self.udp_loop, self.tcp_loop):
            threading.Thread(target=target, daemon=True).start()
        log(f"fake hotline on {self.addr}:{self.port}")
        while not self.draining:
            time.sleep(0.05)
        # Draining: wait for calls to end, up to the drain timeout, then BYE the rest.
        deadline = time.monotonic() + self.drain_timeout
        while time.monotonic() < deadline:
            with self.lock:
                if not self.calls:
                    break
            time.sleep(0.05)
        with self.lock:
            for call in list(self.calls.values()):
                call.send_bye()
        time.sleep(0.1)
        log("bye")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("command", choices=["serve"])
    ap.add_argument("--config")
    ap.add_argument("--sip-address", default="127.0.0.1")
    ap.add_argument("--sip-port", type=int, default=5060)
    ap.add_argument("--http-port", type=int, default=8080)
    ap.add_argument("--data-dir")
    ap.add_argument("--rtp-port-min", type=int)
    ap.add_argument("--rtp-port-max", type=int)
    ap.add_argument("--no-media-timeout", type=float, default=0)
    ap.add_argument("--drain-timeout", type=float, default=30)
    srv = Server(ap.parse_args())
    signal.signal(signal.SIGTERM, srv.sigterm)
    faulthandler.register(signal.SIGUSR1)  # kill -USR1 <pid> dumps every thread's stack
    srv.serve()
    return 0


if __name__ == "__main__":
    sys.exit(main())
