"""Graceful shutdown (SIGTERM: 503 for new calls, established calls finish, exit 0) and the
no-media timeout."""
import time

from rtp import RtpPeer
from siputil import Call, SipSocket


def test_sigterm_drains_established_call(hotline_factory):
    h = hotline_factory(drain_timeout=30)
    with SipSocket(h.sip_port) as s, SipSocket(h.sip_port) as s2, RtpPeer() as peer:
        call = Call(s, rtp_port=peer.port)
        call.establish()
        peer.start_sending((call.answer.address, call.answer.port), call.answer.codec)
        time.sleep(0.5)
        h.sigterm()
        time.sleep(0.3)
        assert h.alive(), "the daemon exited with a call still up (drain timeout 30 s)"
        late = Call(s2).invite()
        assert late.status == 503, f"new INVITE while draining got {late.start_line}"
        t = time.monotonic()
        b = call.bye()
        assert b is not None and b.status == 200, "BYE of the established call while draining"
        rc = h.wait(10)
        assert rc == 0, f"exit code {rc} after the last call ended"
        assert time.monotonic() - t < 10


def test_sigterm_drain_timeout_byes_calls(hotline_factory):
    h = hotline_factory(drain_timeout=2)
    with SipSocket(h.sip_port) as s, RtpPeer() as peer:
        call = Call(s, rtp_port=peer.port)
        call.establish()
        peer.start_sending((call.answer.address, call.answer.port), call.answer.codec)
        time.sleep(0.5)
        t = time.monotonic()
        h.sigterm()
        bye = call.wait_server_bye(5)
        assert bye is not None, "no BYE from the daemon at the drain timeout"
        assert 1.5 <= time.monotonic() - t <= 4, f"BYE after {time.monotonic() - t:.1f} s (drain 2 s)"
        rc = h.wait(3)
        assert rc == 0, f"exit code {rc}"
        assert time.monotonic() - t <= 5


def test_no_media_timeout_bye(hotline_factory):
    h = hotline_factory(no_media_timeout=3)
    with SipSocket(h.sip_port) as s, RtpPeer(send_silence=False) as peer:
        call = Call(s, rtp_port=peer.port)
        call.establish()
        t = time.monotonic()
        bye = call.wait_server_bye(8)
        assert bye is not None, "no BYE although the caller sent no RTP (--no-media-timeout 3)"
        took = time.monotonic() - t
        assert 2.5 <= took <= 5.5, f"BYE after {took:.1f} s, want ~3 s"
        assert peer.snapshot(), "the daemon sent no RTP either"
