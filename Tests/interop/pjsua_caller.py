#!/usr/bin/env python3
"""A pjsua2 softphone as a citizen caller, run as its own process by test_pjsua.py (so pjsua's
threads and garbage collection cannot disturb pytest).

    pjsua_caller.py URI WAV [--dtmf 1] [--dtmf-at 7] [--record 12] [--timeout 30]

Calls URI from 127.0.0.1 (UDP, no STUN/ICE, null sound device), records what it hears from
the moment media is up into WAV, sends the digits as RFC 2833 at --dtmf-at seconds after the
call is confirmed, hangs up after --record seconds, and prints one JSON object on stdout.

PEERS.md traps handled here: setNullDev (not setNoDev) keeps a media clock; the recorder's
WAV is only complete once the recorder object is deleted; Call objects are deleted explicitly
before libDestroy so no late garbage collection hangs up anything.
"""
import argparse
import json
import sys
import time

import pjsua2 as pj

from pjsua_setup import start_endpoint

LOCAL = "127.0.0.1"


class Caller(pj.Call):
    def __init__(self, acc, recorder_path):
        super().__init__(acc)
        self.recorder_path = recorder_path
        self.recorder = None
        self.state = None
        self.last_status = 0
        self.confirmed_at = None
        self.media_at = None
        self.disconnected = False
        self.audio_index = None
        self.player = None

    def onCallState(self, prm):
        ci = self.getInfo()
        self.state = ci.stateText
        self.last_status = ci.lastStatusCode
        if ci.state == pj.PJSIP_INV_STATE_CONFIRMED and self.confirmed_at is None:
            self.confirmed_at = time.monotonic()
        if ci.state == pj.PJSIP_INV_STATE_DISCONNECTED:
            self.disconnected = True

    def onCallMediaState(self, prm):
        ci = self.getInfo()
        for i, mi in enumerate(ci.media):
            if mi.type == pj.PJMEDIA_TYPE_AUDIO and mi.status == pj.PJSUA_CALL_MEDIA_ACTIVE \
                    and self.recorder is None:
                self.recorder = pj.AudioMediaRecorder()
                self.recorder.createRecorder(self.recorder_path)
                self.getAudioMedia(i).startTransmit(self.recorder)
                self.media_at = time.monotonic()
                self.audio_index = i

    def play(self, path):
        """Speaks `path` (a WAV) into the call once."""
        if self.audio_index is None or self.player is not None:
            return
        self.player = pj.AudioMediaPlayer()
        self.player.createPlayer(path, pj.PJMEDIA_FILE_NO_LOOP)
        self.player.startTransmit(self.getAudioMedia(self.audio_index))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("uri")
    ap.add_argument("wav")
    ap.add_argument("--dtmf", default="1")
    ap.add_argument("--dtmf-at", type=float, default=7.0)
    ap.add_argument("--record", type=float, default=12.0)
    ap.add_argument("--timeout", type=float, default=30.0)
    ap.add_argument("--play", help="a WAV to speak into the call once, at --play-at seconds after the answer")
    ap.add_argument("--play-at", type=float, default=0.0)
    ap.add_argument("--keys", default="",
                    help="a key script instead of --dtmf: 'SECONDS:KEYS,...' after the answer, e.g. 7:1,10:3,14:123456#")
    a = ap.parse_args()
    script = []
    if a.keys:
        for part in a.keys.split(","):
            at, keys = part.split(":", 1)
            script.append((float(at), keys))
        a.dtmf = ""
    result = {"ok": False}

    ep = start_endpoint(clock_rate=8000, log_level=2)
    for codec in ep.codecEnum2():
        ep.codecSetPriority(codec.codecId, 0)          # offer only G.711 ...
    ep.codecSetPriority("PCMU/8000", 255)
    ep.codecSetPriority("PCMA/8000", 254)              # ... telephone-event is always added

    acc_cfg = pj.AccountConfig()
    acc_cfg.idUri = f"sip:citizen@{LOCAL}"
    acc_cfg.natConfig.iceEnabled = False
    acc_cfg.natConfig.sdpNatRewriteUse = 0
    acc_cfg.natConfig.viaRewriteUse = 0
    acc_cfg.natConfig.contactRewriteUse = 0
    acc_cfg.mediaConfig.transportConfig.boundAddress = LOCAL
    acc_cfg.mediaConfig.transportConfig.publicAddress = LOCAL
    acc = pj.Account()
    acc.create(acc_cfg)

    call = Caller(acc, a.wav)
    try:
        call.makeCall(a.uri, pj.CallOpParam(True))
        deadline = time.monotonic() + a.timeout
        dtmf_sent = None
        while time.monotonic() < deadline and not call.disconnected:
            ep.libHandleEvents(10)
            if call.confirmed_at is None:
                continue
            since = time.monotonic() - call.confirmed_at
            if dtmf_sent is None and since >= a.dtmf_at and a.dtmf:
                call.dialDtmf(a.dtmf)
                dtmf_sent = time.monotonic()
            if a.play and since >= a.play_at and call.player is None:
                call.play(a.play)
            while script and since >= script[0][0]:
                call.dialDtmf(script.pop(0)[1])
                dtmf_sent = dtmf_sent or time.monotonic()
            if since >= a.record:
                break
        result.update(state=call.state, last_status=call.last_status,
                      confirmed=call.confirmed_at is not None,
                      disconnected_by_peer=call.disconnected,
                      media_at=call.media_at is not None)
        if call.media_at is not None and dtmf_sent is not None:
            result["dtmf_offset"] = dtmf_sent - call.media_at   # seconds into the recording
        if not call.disconnected:
            call.hangup(pj.CallOpParam(True))
            end = time.monotonic() + 5
            while not call.disconnected and time.monotonic() < end:
                ep.libHandleEvents(10)
        result["ok"] = result["confirmed"] and "dtmf_offset" in result
    except pj.Error as e:
        result["error"] = e.info()
    finally:
        if call.player is not None:
            del call.player
            call.player = None
        # Delete the recorder first: only then is the WAV header written (PEERS.md).
        if call.recorder is not None:
            del call.recorder
            call.recorder = None
        del call
        acc.shutdown()
        del acc
        ep.libDestroy()
        del ep
    print(json.dumps(result))
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
