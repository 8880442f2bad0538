"""RFC 4475 torture messages, sent unmodified over UDP: whatever the daemon answers (or drops),
it must keep serving: OPTIONS still gets 200 and a full call still works."""
import time
from pathlib import Path

from siputil import Call, SipSocket

TORTURE = Path(__file__).resolve().parents[3] / "shared" / "testdata" / "rfc4475"


def test_rfc4475_torture_then_still_serving(hotline):
    files = sorted(TORTURE.glob("*.dat"))
    assert len(files) == 49, f"expected the 49 RFC 4475 messages in {TORTURE}, found {len(files)}"
    answered = {}
    with SipSocket(hotline.sip_port) as s:
        for f in files:
            s.send_raw(f.read_bytes())
            # Replies are optional (many go to the hosts named in Via); just drain them.
            r = s.recv(0.15)
            answered[f.name] = r.status if r is not None and r.is_response else None
            assert hotline.alive(), f"the daemon died on {f.name}"
        while s.recv(0.3) is not None:
            pass
        print("torture replies:", answered)
        r = s.transact("OPTIONS", hotline.uri)
        assert r is not None and r.status == 200, "OPTIONS after the torture messages"
    with SipSocket(hotline.sip_port) as s:
        call = Call(s)
        call.establish()
        time.sleep(0.5)
        b = call.bye()
        assert b is not None and b.status == 200
