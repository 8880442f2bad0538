#!/usr/bin/env python3
"""Agent seats for the ACD tests: pjsua2 accounts that register, auto-answer queue calls after
a short ring, talk for a while and hang up (or never answer, for the no-answer tests). Prints
one JSON line: per seat the calls offered and answered, the X-Hotline-* headers of each INVITE
and the wall-clock time it arrived."""
import argparse
import json
import sys
import time

import pjsua2 as pj

from pjsua_setup import start_endpoint

LOCAL = "127.0.0.1"
PASSWORD = "hotline-demo"


class Seat(pj.Account):
    def __init__(self, name, answer_after, talk, answers):
        super().__init__()
        self.name = name
        self.answer_after = answer_after
        self.talk = talk
        self.answers = answers
        self.reg_status = None
        self.live = []          # (call, answer_at, hangup_at)
        self.offers = []        # {"at": wall time, "headers": {...}}
        self.answered = 0
        self.ended = 0

    def onRegState(self, prm):
        self.reg_status = prm.code

    def onIncomingCall(self, prm):
        call = SeatCall(self, prm.callId)
        headers = {}
        for line in prm.rdata.wholeMsg.splitlines():
            if line.lower().startswith("x-hotline-"):
                name, _, value = line.partition(":")
                headers[name.strip()] = value.strip()
        self.offers.append({"at": time.time(), "headers": headers})
        ring = pj.CallOpParam()
        ring.statusCode = 180
        call.answer(ring)
        now = time.monotonic()
        self.live.append([call, now + self.answer_after if self.answers else None, None])


class SeatCall(pj.Call):
    def __init__(self, acc, call_id):
        super().__init__(acc, call_id)
        self.acc = acc
        self.disconnected = False
        self.confirmed = False

    def onCallState(self, prm):
        ci = self.getInfo()
        if ci.state == pj.PJSIP_INV_STATE_CONFIRMED:
            self.confirmed = True
        if ci.state == pj.PJSIP_INV_STATE_DISCONNECTED:
            self.disconnected = True


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("sip_port", type=int)
    ap.add_argument("--seats", required=True, help="accounts, e.g. 1001,1002")
    ap.add_argument("--never-answer", default="", help="seats that ring but never answer")
    ap.add_argument("--answer-after", type=float, default=0.3)
    ap.add_argument("--talk", type=float, default=2.0)
    ap.add_argument("--duration", type=float, default=60.0, help="seconds to run")
    ap.add_argument("--ready-file", help="touched once every seat registered")
    ap.add_argument("--media-port", type=int, default=0, help="first RTP port of the seats (two per call)")
    a = ap.parse_args()

    ep = start_endpoint(log_level=1, max_calls=32)
    seats = []
    never = set(filter(None, a.never_answer.split(",")))
    for name in a.seats.split(","):
        seat = Seat(name, a.answer_after, a.talk, answers=name not in never)
        cfg = pj.AccountConfig()
        cfg.idUri = f"sip:{name}@{LOCAL}:{a.sip_port}"
        cfg.regConfig.registrarUri = f"sip:{LOCAL}:{a.sip_port}"
        cfg.regConfig.timeoutSec = 300
        cfg.sipConfig.authCreds.append(pj.AuthCredInfo("digest", "*", name, 0, PASSWORD))
        cfg.mediaConfig.transportConfig.boundAddress = LOCAL
        if a.media_port:
            cfg.mediaConfig.transportConfig.port = a.media_port
            cfg.mediaConfig.transportConfig.portRange = 200
        cfg.mediaConfig.transportConfig.publicAddress = LOCAL
        cfg.natConfig.iceEnabled = False
        cfg.natConfig.sipStunUse = pj.PJSUA_STUN_USE_DISABLED
        cfg.natConfig.mediaStunUse = pj.PJSUA_STUN_USE_DISABLED
        seat.create(cfg)
        seats.append(seat)

    end = time.monotonic() + a.duration
    ready = False
    while time.monotonic() < end:
        ep.libHandleEvents(10)
        if not ready and all(s.reg_status == 200 for s in seats):
            ready = True
            if a.ready_file:
                open(a.ready_file, "w").close()
        now = time.monotonic()
        for seat in seats:
            for entry in seat.live:
                call, answer_at, hangup_at = entry
                if call.disconnected:
                    continue
                if answer_at is not None and now >= answer_at and hangup_at is None:
                    op = pj.CallOpParam()
                    op.statusCode = 200
                    try:
                        call.answer(op)
                        seat.answered += 1
                        entry[2] = now + seat.talk
                    except pj.Error:
                        entry[1] = None
                elif hangup_at is not None and now >= hangup_at and call.confirmed:
                    try:
                        call.hangup(pj.CallOpParam(True))
                        seat.ended += 1
                    except pj.Error:
                        pass
                    entry[2] = float("inf")
            seat.live = [e for e in seat.live if not e[0].disconnected or e[2] is None]

    out = {s.name: {"registered": s.reg_status, "offers": s.offers, "answered": s.answered, "hungUp": s.ended} for s in seats}
    print(json.dumps(out), flush=True)
    ep.hangupAllCalls()
    for _ in range(20):
        ep.libHandleEvents(10)
    ep.libDestroy()


if __name__ == "__main__":
    sys.exit(main())
