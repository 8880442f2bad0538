#!/usr/bin/env python3
"""RTP packet spacing from tshark fields.

Input: lines of `frame.time_epoch <TAB> rtp.ssrc <TAB> rtp.seq`, as printed by
    tshark -r cap.pcapng -d udp.port==LO-HI,rtp -T fields \
           -e frame.time_epoch -e rtp.ssrc -e rtp.seq
Output (JSON): streams, packets, and the share of consecutive packets of one SSRC (seq+1)
whose spacing is within 20 ms +- tolerance.

    rtp_spacing.py [--tolerance-ms 2] [--ptime-ms 20] < fields.tsv
"""
from __future__ import annotations

import argparse
import json
import sys


def spacing(lines, ptime_ms: float = 20.0, tolerance_ms: float = 2.0) -> dict:
    last: dict[str, tuple[float, int]] = {}
    pairs = within = 0
    gaps: list[float] = []
    packets = 0
    for line in lines:
        parts = line.strip().split("\t")
        if len(parts) < 3 or not parts[1] or not parts[2]:
            continue
        try:
            t, ssrc, seq = float(parts[0]), parts[1].split(",")[0], int(parts[2].split(",")[0])
        except ValueError:
            continue
        packets += 1
        prev = last.get(ssrc)
        last[ssrc] = (t, seq)
        if prev is None or (seq - prev[1]) & 0xFFFF != 1:
            continue  # first packet of a stream, or a gap/reorder: not a spacing sample
        gap = (t - prev[0]) * 1000.0
        gaps.append(gap)
        pairs += 1
        if abs(gap - ptime_ms) <= tolerance_ms:
            within += 1
    gaps.sort()

    def pct(p):
        return round(gaps[min(len(gaps) - 1, int(p / 100 * len(gaps)))], 3) if gaps else None

    return {"streams": len(last), "packets": packets, "pairs": pairs,
            "within": within, "share": (within / pairs) if pairs else None,
            "gap_p1_ms": pct(1), "gap_p50_ms": pct(50), "gap_p99_ms": pct(99)}


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--ptime-ms", type=float, default=20.0)
    ap.add_argument("--tolerance-ms", type=float, default=2.0)
    a = ap.parse_args()
    print(json.dumps(spacing(sys.stdin, a.ptime_ms, a.tolerance_ms)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
