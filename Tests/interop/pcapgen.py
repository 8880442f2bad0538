"""Writes RTP streams as pcap files for SIPp's play_pcap_audio (Ethernet/IPv4/UDP/RTP, one
packet per 20 ms). SIPp replaces addresses and ports and keeps the RTP payload and timing."""
from __future__ import annotations

import math
import struct

from audio import alaw_encode_sample, ulaw_encode_sample

DTMF_FREQUENCIES = {   # ITU-T Q.23
    "1": (697, 1209), "2": (697, 1336), "3": (697, 1477), "A": (697, 1633),
    "4": (770, 1209), "5": (770, 1336), "6": (770, 1477), "B": (770, 1633),
    "7": (852, 1209), "8": (852, 1336), "9": (852, 1477), "C": (852, 1633),
    "*": (941, 1209), "0": (941, 1336), "#": (941, 1477), "D": (941, 1633),
}


def dtmf_samples(keys: str, rate: int = 8000, on_ms: int = 100, off_ms: int = 400, level: float = 0.25) -> list[int]:
    """Each key as dual tones (`on_ms`), separated by silence; silence before the first."""
    out = [0] * (rate * off_ms // 1000)
    for key in keys:
        low, high = DTMF_FREQUENCIES[key]
        n = rate * on_ms // 1000
        out += [int(32767 * level * (math.sin(2 * math.pi * low * i / rate) + math.sin(2 * math.pi * high * i / rate)))
                for i in range(n)]
        out += [0] * (rate * off_ms // 1000)
    return out


def write_rtp_pcap(path, samples: list[int], law: str = "alaw", ssrc: int = 0x1234ABCD) -> int:
    """G.711 RTP (PT 8 for A-law, 0 for µ-law) in 20 ms packets; returns the packet count."""
    encode = alaw_encode_sample if law == "alaw" else ulaw_encode_sample
    pt = 8 if law == "alaw" else 0
    frame = 160
    if len(samples) % frame:
        samples = samples + [0] * (frame - len(samples) % frame)
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))   # DLT_EN10MB
        count = 0
        for index in range(0, len(samples), frame):
            payload = bytes(encode(s) for s in samples[index:index + frame])
            rtp = struct.pack("!BBHII", 0x80, pt, count & 0xFFFF, (count * frame) & 0xFFFFFFFF, ssrc) + payload
            udp = struct.pack("!HHHH", 40000, 20000, 8 + len(rtp), 0) + rtp
            ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), count & 0xFFFF, 0, 64, 17, 0,
                             bytes([127, 0, 0, 1]), bytes([127, 0, 0, 1])) + udp
            eth = b"\x00" * 12 + b"\x08\x00" + ip
            usec = count * 20_000
            f.write(struct.pack("<IIII", usec // 1_000_000, usec % 1_000_000, len(eth), len(eth)))
            f.write(eth)
            count += 1
    return count
