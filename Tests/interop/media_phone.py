#!/usr/bin/env python3
"""One pjsua2 (PJSIP 2.15) phone that plays a WAV into a call and records what it hears, run as
its own process by test_media_engine.py (codec priorities are process-wide in pjsua2, so
each party of a transcoding test needs a process of its own). Prints one JSON object:

    media_phone.py SIP_PORT --account 1001 --play tone.wav --record heard.wav
        (--call NUMBER [--seconds S] | --answer [--wait S]) [--codec PCMU|PCMA|G722]

The caller hangs up after --seconds of media; the answerer waits for the hangup. Recorders
are deleted before exit so that their WAV headers are complete (PEERS.md).
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
CODEC_IDS = {"PCMU": "PCMU/8000/1", "PCMA": "PCMA/8000/1", "G722": "G722/16000/1"}


class Phone(pj.Account):
    def __init__(self, runner):
        super().__init__()
        self.runner = runner
        self.reg_status = None
        self.calls = []

    def onRegState(self, prm):
        self.reg_status = prm.code

    def onIncomingCall(self, prm):
        call = MediaCall(self, self.runner, prm.callId)
        self.calls.append(call)
        op = pj.CallOpParam()
        op.statusCode = 200
        call.answer(op)


class MediaCall(pj.Call):
    def __init__(self, acc, runner, call_id=pj.PJSUA_INVALID_ID):
        super().__init__(acc, call_id)
        self.runner = runner
        self.state = None
        self.disconnected = False
        self.media_up = False
        self.codec = None

    def onCallState(self, prm):
        ci = self.getInfo()
        self.state = ci.state
        if ci.state == pj.PJSIP_INV_STATE_DISCONNECTED:
            self.disconnected = True

    def onCallMediaState(self, prm):
        ci = self.getInfo()
        for i, mi in enumerate(ci.media):
            if mi.type == pj.PJMEDIA_TYPE_AUDIO and mi.status == pj.PJSUA_CALL_MEDIA_ACTIVE and not self.media_up:
                self.media_up = True
                media = self.getAudioMedia(i)
                self.runner.player.startTransmit(media)
                media.startTransmit(self.runner.recorder)
                try:
                    self.codec = self.getStreamInfo(i).codecName
                except pj.Error:
                    pass


class Runner:
    player = None
    recorder = None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("sip_port", type=int)
    ap.add_argument("--account", required=True)
    ap.add_argument("--play", required=True)
    ap.add_argument("--record", required=True)
    ap.add_argument("--call")
    ap.add_argument("--answer", action="store_true")
    ap.add_argument("--seconds", type=float, default=3.0)
    ap.add_argument("--wait", type=float, default=20.0)
    ap.add_argument("--codec", default="PCMU", choices=sorted(CODEC_IDS))
    ap.add_argument("--hold-after", type=float, help="put the call on hold this many seconds after media starts")
    a = ap.parse_args()
    out = {"ok": False}

    ep = start_endpoint(clock_rate=16000, log_level=2)
    # One codec only, so the test knows what was negotiated.
    for info in ep.codecEnum2():
        ep.codecSetPriority(info.codecId, 255 if info.codecId == CODEC_IDS[a.codec] else 0)

    def pump(seconds, until=None):
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            ep.libHandleEvents(20)
            if until is not None and until():
                return True
        return until() if until is not None else True

    runner = Runner()
    runner.player = pj.AudioMediaPlayer()
    runner.player.createPlayer(a.play, 0)   # loops
    runner.recorder = pj.AudioMediaRecorder()
    runner.recorder.createRecorder(a.record)

    server = f"{LOCAL}:{a.sip_port}"
    acfg = pj.AccountConfig()
    acfg.idUri = f"sip:{a.account}@{server}"
    acfg.regConfig.registrarUri = f"sip:{server}"
    acfg.regConfig.timeoutSec = 300
    acfg.sipConfig.authCreds.append(pj.AuthCredInfo("digest", "*", a.account, 0, PASSWORD))
    acfg.mediaConfig.transportConfig.boundAddress = LOCAL
    acfg.mediaConfig.transportConfig.publicAddress = LOCAL
    acfg.natConfig.iceEnabled = False
    acfg.natConfig.sipStunUse = pj.PJSUA_STUN_USE_DISABLED
    acfg.natConfig.mediaStunUse = pj.PJSUA_STUN_USE_DISABLED
    acfg.callConfig.timerUse = pj.PJSUA_SIP_TIMER_INACTIVE
    phone = Phone(runner)
    phone.create(acfg)
    calls = []
    try:
        pump(5, lambda: phone.reg_status)
        out["register"] = phone.reg_status
        if a.call:
            call = MediaCall(phone, runner)
            calls.append(call)
            call.makeCall(f"sip:{a.call}@{server}", pj.CallOpParam(True))
            pump(15, lambda: call.media_up or call.disconnected)
            out["confirmed"] = call.media_up
            out["codec"] = call.codec
            if call.media_up:
                pump(a.seconds, lambda: call.disconnected)
                if not call.disconnected:
                    call.hangup(pj.CallOpParam(True))
                pump(2, lambda: call.disconnected)
        else:
            print(json.dumps({"registered": phone.reg_status}), flush=True)
            pump(a.wait, lambda: phone.calls and phone.calls[0].media_up)
            call = phone.calls[0] if phone.calls else None
            out["confirmed"] = bool(call and call.media_up)
            out["codec"] = call.codec if call else None
            if call:
                if a.hold_after is not None and call.media_up:
                    pump(a.hold_after, lambda: call.disconnected)
                    if not call.disconnected:
                        call.setHold(pj.CallOpParam(True))
                        out["held"] = True
                pump(a.wait, lambda: call.disconnected)
        out["ok"] = True
    except Exception as e:  # reported in the JSON; the test asserts on it
        out["error"] = repr(e)
    finally:
        ep.hangupAllCalls()
        pump(0.5)
        del runner.recorder   # finalises the WAV header
        runner.recorder = None
        try:
            phone.setRegistration(False)
        except pj.Error:
            pass
        pump(0.5)
        print(json.dumps(out), flush=True)
        sys.stdout.flush()
        os._exit(0)


if __name__ == "__main__":
    main()
