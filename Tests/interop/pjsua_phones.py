#!/usr/bin/env python3
"""Agent phones on pjsua2 (PJSIP 2.15) registered with the daemon, run as its own process by
test_phones.py. One scenario, printed as one JSON object on stdout:

    pjsua_phones.py SIP_PORT [--transport udp|tcp]

1. 1001, 1002 and 1003 register with the demo password (and 1009 with a wrong one);
2. 1001 calls 1002 through the daemon (a back-to-back call, media relayed by the daemon);
   1002 answers; both must receive RTP;
3. 1001 sends a key with SIP INFO (1002 must get it as INFO) and 1002 one as RFC 4733 (1001
   must hear it relayed in the media);
4. 1001 puts the call on hold and takes it back (re-INVITEs);
5. 1001 blind-transfers 1002 to 1003 (REFER): 1003 rings and answers, 1002 and 1003 then
   exchange RTP, 1001 hears the transfer succeed (NOTIFY 200) and leaves.

PEERS.md: null sound device (setNullDev), explicit deletion of Call objects before libDestroy.
"""
import argparse
import json
import os
import sys
import time

import pjsua2 as pj

from pjsua_setup import start_endpoint

LOCAL = "127.0.0.1"
PASSWORD = "hotline-demo"


class Phone(pj.Account):
    def __init__(self, name):
        super().__init__()
        self.name = name
        self.reg_status = None
        self.calls = []

    def onRegState(self, prm):
        self.reg_status = prm.code

    def onIncomingCall(self, prm):
        call = PhoneCall(self, prm.callId)
        self.calls.append(call)
        op = pj.CallOpParam()
        op.statusCode = 200
        call.answer(op)


class PhoneCall(pj.Call):
    def __init__(self, acc, call_id=pj.PJSUA_INVALID_ID):
        super().__init__(acc, call_id)
        self.acc = acc
        self.state = None
        self.media_status = None
        self.digits = []
        self.keys_ended = 0
        self.digit_methods = []
        self.xfer_status = []
        self.disconnected = False
        self.last_status = 0

    def onCallState(self, prm):
        ci = self.getInfo()
        self.state = ci.state
        self.last_status = ci.lastStatusCode
        if ci.state == pj.PJSIP_INV_STATE_DISCONNECTED:
            self.disconnected = True

    def onCallMediaState(self, prm):
        ci = self.getInfo()
        for i, mi in enumerate(ci.media):
            if mi.type == pj.PJMEDIA_TYPE_AUDIO:
                self.media_status = mi.status

    def onDtmfEvent(self, prm):
        # PJSIP reports an RFC 4733 key at its start, with updates while it lasts and at its
        # end (pjmedia flags IS_UPDATE = 1, IS_END = 2): one press is counted once.
        if prm.flags & 2:
            self.keys_ended += 1
        if prm.flags & 1:
            return
        self.digits.append(prm.digit)
        self.digit_methods.append("info" if prm.method == pj.PJSUA_DTMF_METHOD_SIP_INFO else "rfc4733")

    def onCallTransferStatus(self, prm):
        self.xfer_status.append(prm.statusCode)
        prm.cont = True

    def rx_packets(self):
        try:
            return self.getStreamStat(0).rtcp.rxStat.pkt
        except pj.Error:
            return 0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("sip_port", type=int)
    ap.add_argument("--transport", default="udp", choices=["udp", "tcp", "tls"])
    ap.add_argument("--call", help="only: register 1001, call this number, check media, hang up")
    ap.add_argument("--answer", help="only: register this account and answer one call")
    ap.add_argument("--wait", type=float, default=20.0, help="how long --answer waits for the call")
    ap.add_argument("--account", help="with --call: the account to call from (default 1001)")
    ap.add_argument("--password", default=PASSWORD, help="with --call/--answer: the account's password")
    ap.add_argument("--hangup-after", type=float, help="with --call: give up (CANCEL) this many seconds after dialling")
    ap.add_argument("--proxy", help="host:port of an outbound proxy (e.g. Kamailio) every request goes through")
    a = ap.parse_args()
    out = {"ok": False, "steps": {}}
    steps = out["steps"]

    kind = {"udp": pj.PJSIP_TRANSPORT_UDP, "tcp": pj.PJSIP_TRANSPORT_TCP, "tls": pj.PJSIP_TRANSPORT_TLS}[a.transport]
    ep = start_endpoint(clock_rate=8000, log_level=3, transport=kind)

    def pump(seconds, until=None):
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            ep.libHandleEvents(20)
            if until is not None and until():
                return True
        return until() if until is not None else True

    server = f"{LOCAL}:{a.sip_port}"
    suffix = {"udp": "", "tcp": ";transport=tcp", "tls": ";transport=tls"}[a.transport]

    def make_phone(name, password):
        acfg = pj.AccountConfig()
        acfg.idUri = f"sip:{name}@{server}"
        acfg.regConfig.registrarUri = f"sip:{server}{suffix}"
        if a.proxy:
            acfg.sipConfig.proxies.append(f"sip:{a.proxy};lr")
        acfg.regConfig.timeoutSec = 300
        acfg.sipConfig.authCreds.append(pj.AuthCredInfo("digest", "*", name, 0, password))
        if a.transport != "udp":
            acfg.sipConfig.proxies.append(f"sip:{server};transport={a.transport};lr")
        acfg.mediaConfig.transportConfig.boundAddress = LOCAL
        acfg.mediaConfig.transportConfig.publicAddress = LOCAL
        acfg.natConfig.iceEnabled = False
        acfg.natConfig.sipStunUse = pj.PJSUA_STUN_USE_DISABLED
        acfg.natConfig.mediaStunUse = pj.PJSUA_STUN_USE_DISABLED
        acfg.callConfig.timerUse = pj.PJSUA_SIP_TIMER_OPTIONAL
        phone = Phone(name)
        phone.create(acfg)
        return phone

    phones = {}
    held_calls = []

    def finish(result):
        # Hang up, unregister, report, and leave without pjsua2's object teardown: deleting
        # Call objects after their calls ended can trip an assertion inside PJSIP (PEERS.md).
        ep.hangupAllCalls()
        pump(1)
        for phone in phones.values():
            try:
                phone.setRegistration(False)
            except pj.Error:
                pass
        pump(1)
        print(json.dumps(result), flush=True)
        sys.stdout.flush()
        os._exit(0)
    if a.call or a.answer:
        try:
            name = a.answer or a.account or "1001"
            phones[name] = make_phone(name, a.password)
            pump(5, lambda: phones[name].reg_status)
            steps["register"] = phones[name].reg_status
            if a.call:
                call = PhoneCall(phones[name])
                held_calls.append(call)
                call.makeCall(f"sip:{a.call}@{server}{suffix}", pj.CallOpParam(True))
                if a.hangup_after is not None:
                    pump(a.hangup_after, lambda: call.disconnected)
                    steps["ringing"] = call.state == pj.PJSIP_INV_STATE_EARLY
                    if not call.disconnected:
                        call.hangup(pj.CallOpParam(True))
                pump(15, lambda: call.state == pj.PJSIP_INV_STATE_CONFIRMED or call.disconnected)
            else:
                pump(a.wait, lambda: phones[name].calls and phones[name].calls[0].state == pj.PJSIP_INV_STATE_CONFIRMED)
                call = phones[name].calls[0] if phones[name].calls else None
            steps["confirmed"] = call is not None and call.state == pj.PJSIP_INV_STATE_CONFIRMED
            steps["status"] = call.last_status if call else 0
            if steps["confirmed"]:
                pump(2)
                steps["rtp_rx"] = call.rx_packets()
                call.hangup(pj.CallOpParam(True))
                pump(2, lambda: call.disconnected)
            out["ok"] = True
        except Exception as e:
            out["error"] = repr(e)
        finally:
            finish(out)
    try:
        for name in ("1001", "1002", "1003"):
            phones[name] = make_phone(name, PASSWORD)
        wrong = make_phone("1009", "not-the-password")
        pump(5, lambda: all(p.reg_status for p in phones.values()) and wrong.reg_status)
        steps["register"] = {n: p.reg_status for n, p in phones.items()}
        steps["register_wrong_password"] = wrong.reg_status
        if any(p.reg_status != 200 for p in phones.values()):
            raise RuntimeError("registration failed")

        # 2. 1001 calls 1002 through the daemon.
        caller = PhoneCall(phones["1001"])
        held_calls.append(caller)
        op = pj.CallOpParam(True)
        caller.makeCall(f"sip:1002@{server}{suffix}", op)
        pump(10, lambda: caller.state == pj.PJSIP_INV_STATE_CONFIRMED and phones["1002"].calls
             and phones["1002"].calls[0].state == pj.PJSIP_INV_STATE_CONFIRMED)
        callee = phones["1002"].calls[0] if phones["1002"].calls else None
        steps["call_confirmed"] = caller.state == pj.PJSIP_INV_STATE_CONFIRMED and callee is not None \
            and callee.state == pj.PJSIP_INV_STATE_CONFIRMED
        if not steps["call_confirmed"]:
            raise RuntimeError(f"call 1001->1002 not confirmed (status {caller.last_status})")
        pump(2)
        steps["rtp_1001_rx"] = caller.rx_packets()
        steps["rtp_1002_rx"] = callee.rx_packets()

        # 3. Keys: INFO from 1001, RFC 4733 from 1002.
        info = pj.CallSendDtmfParam()
        info.method = pj.PJSUA_DTMF_METHOD_SIP_INFO
        info.digits = "5"
        caller.sendDtmf(info)
        callee.dialDtmf("7")
        # Wait for the end of the key too: the hold re-INVITE below makes PJSIP rebuild its
        # stream, and a stream rebuilt while the key is still arriving reports it again.
        pump(3, lambda: callee.digits and caller.digits and caller.keys_ended)
        steps["keys_at_1002"] = list(zip(callee.digits, callee.digit_methods))
        steps["keys_at_1001"] = list(zip(caller.digits, caller.digit_methods))

        # 4. Hold and resume (re-INVITEs from 1001).
        caller.setHold(pj.CallOpParam(True))
        pump(3, lambda: caller.media_status == pj.PJSUA_CALL_MEDIA_LOCAL_HOLD)
        steps["hold"] = caller.media_status == pj.PJSUA_CALL_MEDIA_LOCAL_HOLD
        unhold = pj.CallOpParam(True)
        unhold.opt.flag = pj.PJSUA_CALL_UNHOLD
        caller.reinvite(unhold)
        pump(3, lambda: caller.media_status == pj.PJSUA_CALL_MEDIA_ACTIVE)
        steps["resume"] = caller.media_status == pj.PJSUA_CALL_MEDIA_ACTIVE
        steps["call_up_after_hold"] = not caller.disconnected and not callee.disconnected

        # 5. Blind transfer: 1001 sends 1002 to 1003.
        caller.xfer(f"sip:1003@{server}{suffix}", pj.CallOpParam(True))
        pump(10, lambda: phones["1003"].calls and phones["1003"].calls[0].state == pj.PJSIP_INV_STATE_CONFIRMED
             and 200 in caller.xfer_status)
        target = phones["1003"].calls[0] if phones["1003"].calls else None
        steps["transfer_notify"] = caller.xfer_status
        steps["transfer_target_confirmed"] = target is not None and target.state == pj.PJSIP_INV_STATE_CONFIRMED
        pump(6, lambda: caller.disconnected)
        steps["referrer_left"] = caller.disconnected
        if target is not None:
            before_1002, before_1003 = callee.rx_packets(), target.rx_packets()
            pump(2)
            steps["rtp_after_transfer"] = [callee.rx_packets() - before_1002, target.rx_packets() - before_1003]
            steps["transferee_still_up"] = not callee.disconnected
            target.hangup(pj.CallOpParam(True))
            pump(3, lambda: callee.disconnected)
            steps["hangup_propagated"] = callee.disconnected
        out["ok"] = True
    except Exception as e:  # reported in the JSON; the test asserts on the steps
        out["error"] = repr(e)
    finally:
        finish(out)


if __name__ == "__main__":
    main()
