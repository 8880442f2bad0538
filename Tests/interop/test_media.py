"""The daemon's RTP, checked packet by packet from a raw socket, and the sample 12345 dialplan's
prompts (welcome; an RFC 4733 1 during the emergency notice chooses Mandarin: the main menu
follows at once; goodbye + BYE after the menus time out)."""
import time

import pytest

import audio
from conftest import free_udp_range
from rtp import RtpPeer, audio_after
from siputil import LOCAL, Call, SipSocket

# Correlation of a prompt's envelope with what was heard. Different prompts of the same voice
# reach ~0.65 at most (measured over all pairs); an exact match through G.711 gives ~1.0.
MATCH = 0.85


def wav_seconds(lang, name):
    samples, rate = audio.read_wav(audio.prompt_path(lang, name))
    return len(samples) / rate


def best_language(heard_env, name, pt, max_lag):
    scores = {lang: audio.match_prompt(heard_env, lang, name, pt, seconds=2.0, max_lag=max_lag)
              for lang in audio.LANGS}
    lang = max(scores, key=lambda k: scores[k][0])
    return lang, scores


def start_call(h, peer):
    s = SipSocket(h.sip_port)
    call = Call(s, rtp_port=peer.port)
    call.establish()
    a = call.answer
    assert a is not None and a.address == LOCAL
    peer.start_sending((a.address, a.port), a.codec)
    return s, call, a


def test_rtp_stream_welcome_and_dtmf(hotline_factory):
    lo, hi = free_udp_range(40)
    h = hotline_factory(rtp_range=(lo, hi))
    with RtpPeer() as peer:
        s, call, a = start_call(h, peer)
        try:
            t_ack = time.monotonic()
            time.sleep(3.0)
            pkts = [p for p in peer.snapshot() if p.pt == a.codec]
            assert len(pkts) >= 120, f"only {len(pkts)} RTP packets of PT {a.codec} in 3 s"
            assert all(src == (LOCAL, a.port) for src in peer.sources), \
                f"RTP from {peer.sources}, SDP said {a.port}"
            assert {p.version for p in pkts} == {2}
            assert len({p.ssrc for p in pkts}) == 1, "more than one SSRC"
            assert pkts[0].marker, "no marker bit on the first packet"
            for x, y in zip(pkts, pkts[1:]):
                assert (y.seq - x.seq) & 0xFFFF == 1, f"sequence jumps {x.seq} -> {y.seq}"
                assert (y.ts - x.ts) & 0xFFFFFFFF == 160, f"timestamp step {y.ts - x.ts} at seq {y.seq}"
                assert len(y.payload) == 160, f"payload of {len(y.payload)} bytes (ptime 20)"
            gaps = [(y.arrival - x.arrival) * 1000 for x, y in zip(pkts, pkts[1:])]
            good = sum(1 for g in gaps if 15 <= g <= 25) / len(gaps)
            assert good >= 0.95, f"only {good:.0%} of inter-arrival gaps in 20±5 ms"

            heard = audio.envelope(audio_after(pkts[:125], a.codec))  # first 2.5 s
            lang, scores = best_language(heard, "welcome", a.codec, max_lag=45)
            assert scores[lang][0] >= MATCH, f"first 2.5 s are not the welcome prompt: {scores}"

            # Wait for the welcome to end (the emergency notice is playing), then press 1: it
            # interrupts the notice and answers the language menu (type-ahead).
            until = t_ack + wav_seconds(lang, "welcome") + 1.0
            time.sleep(max(0.0, until - time.monotonic()))
            t_key = time.monotonic()
            peer.send_dtmf("1", a.dtmf_pt)
            time.sleep(3.8)
            after = audio.envelope(audio_after(peer.snapshot(), a.codec, since=t_key))
            c, lag = audio.match_prompt(after, lang, "main-menu", a.codec, seconds=2.5, max_lag=110)
            assert c >= MATCH, f"after DTMF 1 the audio is not the main menu (corr {c:.2f})"
            notice, _ = audio.match_prompt(after, lang, "emergency-notice", a.codec, seconds=2.5, skip=1.0,
                                           max_lag=110)
            assert c > notice, "the emergency notice kept playing after DTMF 1"
        finally:
            b = call.bye()
            s.close()
        assert b is not None and b.status == 200, b and b.start_line


def test_three_menu_timeouts_goodbye_and_bye(hotline):
    """No key at all: the language menu times out (Mandarin), then 3 main-menu timeouts (5 s
    each after the prompt): the daemon says goodbye and hangs up. Long by nature (~105 s)."""
    with RtpPeer() as peer:
        s, call, a = start_call(hotline, peer)
        try:
            time.sleep(2.5)
            heard = audio.envelope(audio_after(peer.snapshot(), a.codec))
            lang, _ = best_language(heard, "welcome", a.codec, max_lag=45)
            d = {n: wav_seconds(lang, n) for n in ("welcome", "emergency-notice", "choose-language", "main-menu",
                                                   "no-input", "goodbye")}
            # Worst case: welcome, notice, language menu + 3 s, 3 x (menu + 5 s), no-input 3 times,
            # goodbye, plus slack.
            budget = (d["welcome"] + d["emergency-notice"] + d["choose-language"] + 3 + 3 * (d["main-menu"] + 5)
                      + 3 * d["no-input"] + d["goodbye"] + 15)
            bye = call.wait_server_bye(budget)
            assert bye is not None, f"no BYE from the daemon within {budget:.0f} s"
            t_bye = time.monotonic()
            assert bye.get("Call-ID") == call.call_id
            tail = audio.envelope(audio_after(peer.snapshot(), a.codec,
                                              since=t_bye - d["goodbye"] - 3))
            c, _ = audio.match_prompt(tail, lang, "goodbye", a.codec,
                                      seconds=min(2.0, d["goodbye"] - 0.3))
            assert c >= MATCH, f"the last audio before BYE is not goodbye (corr {c:.2f})"
        finally:
            if call.server_bye is None:
                call.bye()
            s.close()
