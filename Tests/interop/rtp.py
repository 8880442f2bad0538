"""RTP (RFC 3550) and telephone-events (RFC 4733) for the interop tests.

RtpPeer is the caller's media endpoint: one UDP socket on 127.0.0.1 that records every packet
the daemon sends (with its arrival time) and sends 20 ms G.711 silence back, so the daemon
sees a live, symmetric media stream, plus RFC 4733 digits on demand.
"""
from __future__ import annotations

import random
import socket
import struct
import threading
import time
from dataclasses import dataclass

from siputil import LOCAL


@dataclass
class RtpPacket:
    version: int
    padding: bool
    extension: bool
    marker: bool
    pt: int
    seq: int
    ts: int
    ssrc: int
    payload: bytes
    arrival: float = 0.0

    @classmethod
    def parse(cls, data: bytes, arrival: float = 0.0) -> "RtpPacket":
        if len(data) < 12:
            raise ValueError(f"RTP packet of {len(data)} bytes")
        b0, b1, seq, ts, ssrc = struct.unpack("!BBHII", data[:12])
        off = 12 + 4 * (b0 & 0x0F)
        if b0 & 0x10:  # header extension
            _, words = struct.unpack("!HH", data[off:off + 4])
            off += 4 + 4 * words
        end = len(data)
        if b0 & 0x20:
            end -= data[-1]
        return cls(b0 >> 6, bool(b0 & 0x20), bool(b0 & 0x10), bool(b1 & 0x80), b1 & 0x7F,
                   seq, ts, ssrc, data[off:end], arrival)


def build_rtp(pt: int, seq: int, ts: int, ssrc: int, payload: bytes, marker: bool = False) -> bytes:
    return struct.pack("!BBHII", 0x80, (0x80 if marker else 0) | pt, seq & 0xFFFF,
                       ts & 0xFFFFFFFF, ssrc) + payload


def telephone_event(event: int, end: bool, volume: int, duration: int) -> bytes:
    return struct.pack("!BBH", event, (0x80 if end else 0) | (volume & 0x3F), duration)


DTMF_EVENTS = {**{str(d): d for d in range(10)}, "*": 10, "#": 11}


class RtpPeer:
    def __init__(self, send_pt: int = 0, send_silence: bool = True):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((LOCAL, 0))
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
        self.port = self.sock.getsockname()[1]
        self.remote: tuple[str, int] | None = None
        self.send_pt = send_pt
        self.send_silence = send_silence
        self.packets: list[RtpPacket] = []
        self.sources: set[tuple[str, int]] = set()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._seq = random.randint(0, 0x7FFF)
        self._ts = random.randint(0, 0x7FFFFFFF)
        self._ssrc = random.randint(1, 0xFFFFFFFF)
        self._dtmf_busy = threading.Lock()
        self._threads = [threading.Thread(target=self._rx, daemon=True)]
        self._threads[0].start()

    def start_sending(self, remote: tuple[str, int], pt: int) -> None:
        assert remote[0] == LOCAL, f"daemon's SDP names {remote[0]}, not {LOCAL}"
        self.remote, self.send_pt = remote, pt
        if self.send_silence:
            t = threading.Thread(target=self._tx, daemon=True)
            self._threads.append(t)
            t.start()

    def _rx(self) -> None:
        self.sock.settimeout(0.1)
        while not self._stop.is_set():
            try:
                data, src = self.sock.recvfrom(4096)
            except socket.timeout:
                continue
            except OSError:
                return
            now = time.monotonic()
            try:
                p = RtpPacket.parse(data, now)
            except (ValueError, struct.error):
                continue
            with self._lock:
                self.packets.append(p)
                self.sources.add(src)

    def _send(self, pt: int, payload: bytes, marker: bool = False, ts: int | None = None) -> None:
        data = build_rtp(pt, self._seq, self._ts if ts is None else ts, self._ssrc, payload, marker)
        self._seq += 1
        try:
            self.sock.sendto(data, self.remote)
        except OSError:
            pass

    def _tx(self) -> None:
        silence = bytes([0xFF if self.send_pt == 0 else 0xD5]) * 160
        first, nxt = True, time.monotonic()
        while not self._stop.is_set():
            with self._dtmf_busy:
                self._send(self.send_pt, silence, marker=first)
                self._ts += 160
            first = False
            nxt += 0.02
            time.sleep(max(0.0, nxt - time.monotonic()))

    def send_dtmf(self, digit: str, pt: int, packets: int = 3, end_packets: int = 3,
                  volume: int = 10) -> None:
        """One RFC 4733 event: `packets` updates sharing one timestamp (marker on the first),
        then `end_packets` identical end packets (RFC 4733 section 2.5.1.4)."""
        event = DTMF_EVENTS[digit]
        with self._dtmf_busy:
            ts = self._ts
            for i in range(packets):
                self._send(pt, telephone_event(event, False, volume, 160 * (i + 1)),
                           marker=(i == 0), ts=ts)
                time.sleep(0.02)
            for _ in range(end_packets):
                self._send(pt, telephone_event(event, True, volume, 160 * (packets + 1)), ts=ts)
            self._ts += 160 * (packets + 1)

    def snapshot(self) -> list[RtpPacket]:
        with self._lock:
            return list(self.packets)

    def close(self) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(timeout=1)
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def audio_after(packets: list[RtpPacket], pt: int, since: float = 0.0) -> list[int]:
    """Decoded linear audio of the packets of payload type `pt` that arrived after `since`,
    in sequence order (the daemon's own stream; loopback does not reorder, but be safe)."""
    from audio import decode
    chosen = [p for p in packets if p.pt == pt and p.arrival >= since]
    out: list[int] = []
    for p in chosen:
        out.extend(decode(p.payload, pt))
    return out
