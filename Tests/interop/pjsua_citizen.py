#!/usr/bin/env python3
"""A citizen with a registered phone (pjsua2) for the callback tests: calls a line, presses the
callback key while queued, is hung up on, then answers the call back. Prints one JSON line."""
import argparse
import json
import sys
import time

import pjsua2 as pj

from pjsua_setup import start_endpoint

LOCAL = "127.0.0.1"


class Phone(pj.Account):
    def __init__(self):
        super().__init__()
        self.reg_status = None
        self.incoming = []

    def onRegState(self, prm):
        self.reg_status = prm.code

    def onIncomingCall(self, prm):
        call = Call(self, prm.callId)
        headers = {}
        for line in prm.rdata.wholeMsg.splitlines():
            if line.lower().startswith("x-hotline-"):
                name, _, value = line.partition(":")
                headers[name.strip()] = value.strip()
        call.headers = headers
        self.incoming.append(call)
        op = pj.CallOpParam()
        op.statusCode = 200
        call.answer(op)


class Call(pj.Call):
    def __init__(self, acc, call_id=pj.PJSUA_INVALID_ID):
        super().__init__(acc, call_id)
        self.state = None
        self.headers = {}
        self.confirmed = False

    def onCallState(self, prm):
        self.state = self.getInfo().state
        if self.state == pj.PJSIP_INV_STATE_CONFIRMED:
            self.confirmed = True

    def rx(self):
        try:
            return self.getStreamStat(0).rtcp.rxStat.pkt
        except pj.Error:
            return 0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("sip_port", type=int)
    ap.add_argument("--account", default="1009")
    ap.add_argument("--password", default="hotline-demo")
    ap.add_argument("--call", required=True)
    ap.add_argument("--key", default="1")
    ap.add_argument("--key-at", type=float, default=3.0)
    ap.add_argument("--wait-callback", type=float, default=40.0)
    a = ap.parse_args()
    ep = start_endpoint(log_level=1)
    out = {"ok": False}

    def pump(seconds, until=None):
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            ep.libHandleEvents(10)
            if until is not None and until():
                return True
        return until() if until is not None else True

    try:
        phone = Phone()
        cfg = pj.AccountConfig()
        cfg.idUri = f"sip:{a.account}@{LOCAL}:{a.sip_port}"
        cfg.regConfig.registrarUri = f"sip:{LOCAL}:{a.sip_port}"
        cfg.sipConfig.authCreds.append(pj.AuthCredInfo("digest", "*", a.account, 0, a.password))
        cfg.mediaConfig.transportConfig.boundAddress = LOCAL
        cfg.mediaConfig.transportConfig.publicAddress = LOCAL
        cfg.natConfig.iceEnabled = False
        phone.create(cfg)
        pump(5, lambda: phone.reg_status)
        out["register"] = phone.reg_status
        call = Call(phone)
        call.makeCall(f"sip:{a.call}@{LOCAL}:{a.sip_port}", pj.CallOpParam(True))
        pump(10, lambda: call.confirmed)
        out["confirmed"] = call.confirmed
        pump(a.key_at)
        call.dialDtmf(a.key)
        out["hung_up_by_line"] = pump(20, lambda: call.state == pj.PJSIP_INV_STATE_DISCONNECTED)
        got = pump(a.wait_callback, lambda: phone.incoming and phone.incoming[0].confirmed)
        out["callback"] = got
        if got:
            back = phone.incoming[0]
            out["callback_headers"] = back.headers
            out["callback_ended_by_peer"] = pump(20, lambda: back.state == pj.PJSIP_INV_STATE_DISCONNECTED)
        out["ok"] = True
    except Exception as e:
        out["error"] = repr(e)
    print(json.dumps(out), flush=True)
    ep.hangupAllCalls()
    pump(0.5)
    ep.libDestroy()


if __name__ == "__main__":
    sys.exit(main())
