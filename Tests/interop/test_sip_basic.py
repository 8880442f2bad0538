"""Signalling basics over raw UDP/TCP: OPTIONS, unknown methods, malformed requests, INVITE
outcomes (200 with SDP, 404, 488), BYE and CANCEL."""
import os
import time

import pytest

from siputil import LOCAL, Call, SipSocket, build, branch, token


@pytest.mark.parametrize("transport", ["udp", "tcp"])
def test_options_200_with_allow(hotline, transport):
    with SipSocket(hotline.sip_port, transport) as s:
        r = s.transact("OPTIONS", hotline.uri)
        assert r is not None, f"no answer to OPTIONS over {transport}"
        assert r.status == 200, r.start_line
        allow = {m.strip().upper() for m in ",".join(r.all("Allow")).split(",")}
        assert {"INVITE", "ACK", "BYE", "CANCEL", "OPTIONS"} <= allow, r.get("Allow")


def test_unknown_method_501(hotline):
    with SipSocket(hotline.sip_port) as s:
        r = s.transact("FOO", hotline.uri)
        assert r is not None and r.status == 501, r and r.start_line
        assert r.cseq == (1, "FOO")


def _malformed(s, uri, *, cseq_method="OPTIONS", max_forwards="70"):
    call_id = token(12)
    headers = [("Via", s.via()), ("Max-Forwards", max_forwards),
               ("From", f"<sip:tester@{LOCAL}>;tag={token(6)}"), ("To", f"<{uri}>"),
               ("Call-ID", call_id), ("CSeq", f"7 {cseq_method}")]
    s.send_raw(build(f"OPTIONS {uri} SIP/2.0", headers))
    return s.recv(3, match=lambda m: m.is_response and m.get("Call-ID") == call_id)


@pytest.mark.parametrize("kind", ["cseq-mismatch", "max-forwards-300"])
def test_malformed_but_readable_400(hotline, kind):
    with SipSocket(hotline.sip_port) as s:
        if kind == "cseq-mismatch":
            r = _malformed(s, hotline.uri, cseq_method="INVITE")
        else:
            r = _malformed(s, hotline.uri, max_forwards="300")
        assert r is not None, "no answer to a malformed but readable request"
        assert r.status == 400, r.start_line
        assert r.reason.strip(), "400 without a reason phrase"


def test_garbage_is_dropped_and_daemon_keeps_serving(hotline):
    with SipSocket(hotline.sip_port) as s:
        for junk in (os.urandom(300), b"\x00" * 64, b"INVITE\r\n\r\n", b"SIP/2.0\r\n",
                     b"\xff\xfe" + "垃圾".encode() * 50, b"OPTIONS sip:x SIP/2.0\r\nVia: ???\r\n\r\n"):
            s.send_raw(junk)
        assert s.recv(0.5) is None, "the daemon answered garbage"
        r = s.transact("OPTIONS", hotline.uri)
        assert r is not None and r.status == 200


def test_invite_12345_answered_with_sdp(hotline_factory):
    from conftest import free_udp_range
    lo, hi = free_udp_range(40)
    h = hotline_factory(rtp_range=(lo, hi))
    with SipSocket(h.sip_port) as s:
        call = Call(s, rtp_port=lo - 2 if lo > 20002 else hi + 2)
        r = call.invite()
        assert r.status == 200, r.start_line
        assert [p.status for p in call.provisional][:1] == [100], "no 100 Trying before the 200"
        assert r.to_tag, "200 without a To tag"
        assert r.contact_uri and LOCAL in r.contact_uri, r.get("Contact")
        assert (r.get("Content-Type") or "").lower().startswith("application/sdp")
        a = call.answer
        assert a is not None, "200 without SDP"
        assert a.address == LOCAL, f"SDP c= names {a.address}"
        assert lo <= a.port <= hi, f"RTP port {a.port} outside --rtp-port-min/max {lo}-{hi}"
        assert a.codec in (0, 8), a
        assert a.dtmf_pt == 101, f"telephone-event not accepted: {a}"
        call.ack()
        time.sleep(0.3)
        b = call.bye()
        assert b is not None and b.status == 200, b and b.start_line


def test_invite_other_number_404(hotline):
    with SipSocket(hotline.sip_port) as s:
        r = Call(s, number="110").invite()
        assert r.status == 404, r.start_line


def test_invite_g729_only_488(hotline):
    with SipSocket(hotline.sip_port) as s:
        r = Call(s, payload_types=(18,)).invite()
        assert r.status == 488, r.start_line


def test_invite_over_tcp(hotline):
    with SipSocket(hotline.sip_port, "tcp") as s:
        call = Call(s)
        call.establish()
        b = call.bye()
        assert b is not None and b.status == 200


def test_cancel_race(hotline):
    """INVITE and CANCEL back to back. The daemon may answer before the CANCEL arrives, so
    both outcomes are valid: 487 for the INVITE (cancelled), or 200 (then we BYE it)."""
    with SipSocket(hotline.sip_port) as s:
        call = Call(s)
        call.send_invite()
        call.cancel()
        final = call.wait_final()
        c = call.wait_response("CANCEL", timeout=3)
        assert c is not None, "no answer to CANCEL"
        if final.status == 487:
            assert c.status == 200, c.start_line
        else:
            assert final.status == 200, final.start_line
            assert c.status in (200, 481), c.start_line
            call.ack()
            b = call.bye()
            assert b is not None and b.status == 200
        # The daemon is still fine afterwards.
        assert s.transact("OPTIONS", hotline.uri).status == 200


def test_bye_unknown_dialog_481(hotline):
    with SipSocket(hotline.sip_port) as s:
        r = s.transact("BYE", hotline.uri, to=f"<{hotline.uri}>;tag={token(6)}")
        assert r is not None and r.status == 481, r and r.start_line


def test_cancel_while_ringing_487(hotline_factory):
    """Deterministic CANCEL: with --answer-delay the daemon rings (180) before answering, so a
    CANCEL after the 180 must get 200 and the INVITE 487 (RFC 3261 §9.2), and the 487 stops
    being retransmitted once ACKed; the daemon serves the next call."""
    h = hotline_factory(extra=["--answer-delay", "3"])
    with SipSocket(h.sip_port) as s:
        call = Call(s)
        call.send_invite()
        ringing = s.recv(3, match=lambda m: m.is_response and m.status == 180)
        assert ringing is not None, "no 180 Ringing while the answer is delayed"
        assert ringing.to_tag, "180 without a To tag"
        call.cancel()
        c = call.wait_response("CANCEL", timeout=3)
        assert c is not None and c.status == 200, c and c.start_line
        final = call.wait_final(timeout=3)
        assert final.status == 487, final.start_line
        assert final.to_tag == ringing.to_tag, "487 and 180 carry different To tags"
        # ACKed (wait_final does it): no retransmitted 487 and no late 200 may follow.
        late = s.recv(2.5, match=lambda m: m.is_response and m.call_id == call.call_id)
        assert late is None, f"unexpected {late.start_line} after the ACK"
    with SipSocket(h.sip_port) as s:
        call = Call(s)
        assert call.invite(timeout=6).status == 200
        call.ack()
        assert call.bye().status == 200


def test_crlf_keepalive_is_neither_answered_nor_counted(hotline):
    """RFC 5626 keep-alives (bare CRLFs) are not messages: no answer, not counted as malformed."""
    with SipSocket(hotline.sip_port) as s:
        s.send_raw(b"\r\n\r\n")
        s.send_raw(b"\r\n")
        assert s.recv(0.5) is None, "the daemon answered a keep-alive"
        assert s.transact("OPTIONS", hotline.uri).status == 200
    assert hotline.metric("hotline_sip_messages_dropped_total", 'reason="malformed"') == 0
