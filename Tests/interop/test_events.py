"""Ticket events end to end (docs/events.md, docs/api.md): calls placed by raw SIP and SIPp
produce signed CloudEvents on a webhook, valid against docs/schemas, in per-call order; the pull
API pages through the same events; delivery survives a receiver that is down or failing, and a
kill -9 of the daemon in the middle of a load run."""
from __future__ import annotations

import json
import signal
import subprocess
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

from jsonschema import Draft202012Validator
from referencing import Registry, Resource

from conftest import REPO, Hotline, free_port, free_udp_range, require_tool
from rtp import RtpPeer
from siputil import LOCAL, Call, SipSocket
from test_sipp import SCENARIOS, run_sipp
from webhook_receiver import WebhookReceiver

TOKEN = "interop-token-0123456789abcdef"
SECRET = b"interop-webhook-secret"
SCHEMAS = REPO / "docs" / "schemas"
TYPES = ["hotline.call.received", "hotline.call.answered", "hotline.ivr.input", "hotline.call.ended",
         "hotline.call.transferred", "hotline.recording.completed", "hotline.party.joined",
         "hotline.party.left", "hotline.ivr.node", "hotline.call.connected", "hotline.message.recorded",
         "hotline.queue.joined", "hotline.queue.left", "hotline.queue.callback-scheduled",
         "hotline.queue.callback-unanswered", "hotline.queue.callback-failed", "hotline.queue.callback-ended",
         "hotline.agent.offered", "hotline.agent.answered", "hotline.agent.no-answer", "hotline.agent.state-changed",
         "hotline.agent.feature-code"]
RECEIVED, ANSWERED, INPUT, ENDED = TYPES[:4]
RECORDING = "hotline.recording.completed"
NODE = "hotline.ivr.node"


def flow(events: list[dict]) -> list[dict]:
    """A call's events without the dialplan's node entries (their path is test_dialplan.py's)."""
    return [e for e in events if e["type"] != NODE]
REPAIRED_SEQ = 1_000_000


# --------------------------------------------------------------------------- schemas

def _validators() -> dict[str, Draft202012Validator]:
    docs = {p.name: json.loads(p.read_text()) for p in SCHEMAS.glob("*.json")}
    registry = Registry().with_resources(
        (d["$id"], Resource.from_contents(d)) for d in docs.values())
    out = {}
    for name, d in docs.items():
        Draft202012Validator.check_schema(d)
        out[name[: -len(".json")]] = Draft202012Validator(
            d, registry=registry, format_checker=Draft202012Validator.FORMAT_CHECKER)
    return out


VALIDATORS = _validators()


def check_schema(event: dict) -> None:
    t = event.get("type")
    assert t in TYPES, f"unknown event type {t!r}: {event}"
    errors = sorted(VALIDATORS[t].iter_errors(event), key=lambda e: list(e.path))
    assert not errors, (f"{t} {event.get('id')} does not match docs/schemas/{t}.json: "
                        + "; ".join(f"{list(e.path)}: {e.message}" for e in errors[:5]) + f"\n{event}")


def test_schema_examples_validate():
    """The schemas themselves: valid 2020-12, their examples pass, a stray member fails."""
    assert set(VALIDATORS) == {"cloudevent", *TYPES}
    for t in TYPES:
        v = VALIDATORS[t]
        for ex in v.schema["examples"]:
            check_schema(ex)
            VALIDATORS["cloudevent"].validate(ex)
            bad = dict(ex, data=dict(ex["data"], unexpected=1))
            assert list(v.iter_errors(bad)), f"{t}: an unknown data member must not validate"
            other = next(x for x in TYPES if x != t)
            assert list(VALIDATORS[other].iter_errors(ex)), f"{t}'s example validates as {other}"


# --------------------------------------------------------------------------- helpers

def start_daemon(hotline_factory, receiver: WebhookReceiver | None, **kw) -> Hotline:
    kw.setdefault("rtp_range", free_udp_range(60))  # RTP ports of its own: other daemons may run
    extra = ["--api-token", TOKEN]
    if receiver is not None:
        extra += ["--webhook", receiver.url, "--webhook-secret", SECRET.decode()]
    return hotline_factory(extra=extra + kw.pop("extra", []), **kw)


def api(h: Hotline, path: str, token: str | None = TOKEN, timeout: float = 10.0):
    """GET on the daemon's API: (status, headers, parsed JSON or text)."""
    req = urllib.request.Request(f"http://{LOCAL}:{h.http_port}{path}")
    if token is not None:
        req.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            status, headers, body = r.status, r.headers, r.read()
    except urllib.error.HTTPError as e:
        status, headers, body = e.code, e.headers, e.read()
    ctype = headers.get("Content-Type", "")
    return status, headers, (json.loads(body) if "json" in ctype else body.decode())


def api_ok(h: Hotline, path: str, **kw):
    status, _, body = api(h, path, **kw)
    assert status == 200, f"GET {path} -> {status} {body}"
    return body


def pull_all(h: Hotline, limit: int = 1000, after: str = "0") -> list[dict]:
    out: list[dict] = []
    while True:
        page = api_ok(h, f"/v1/events?after={after}&limit={limit}")
        assert isinstance(page["next"], str) and page["next"].isdigit()
        if not page["events"]:
            assert page["next"] == after
            return out
        out += page["events"]
        assert int(page["next"]) > int(after)
        after = page["next"]


def by_call(events: list[dict]) -> dict[str, list[dict]]:
    calls: dict[str, list[dict]] = {}
    for e in events:
        calls.setdefault(e["subject"], []).append(e)
    return calls


def check_call_sequence(events: list[dict], with_answer: bool = True) -> None:
    """One call's events in delivery order: seq 1..n without gaps, ids <subject>-<seq>,
    received first, ended last and once, answered before any input."""
    subject = events[0]["subject"]
    # A recording cut by a crash is reported after the restart, with its own seq, after the
    # node-restart end (docs/events.md).
    for e in events:
        if e["data"]["seq"] == REPAIRED_SEQ:
            check_schema(e)
            assert e["type"] == RECORDING and e["data"]["repaired"] and not e["data"]["complete"], e
    repaired = any(e["data"]["seq"] == REPAIRED_SEQ for e in events)
    events = [e for e in events if e["data"]["seq"] != REPAIRED_SEQ]
    seqs = [e["data"]["seq"] for e in events]
    assert seqs == list(range(1, len(events) + 1)), f"call {subject}: seq order {seqs}"
    for e in events:
        check_schema(e)
        assert e["subject"] == subject
        assert e["id"] == f"{subject}-{e['data']['seq']}"
    types = [e["type"] for e in flow(events)]
    assert types[0] == RECEIVED and types[-1] == ENDED and types.count(ENDED) == 1, types
    if with_answer:
        assert types[1] == ANSWERED, types
        # Answered calls are recorded (hotline.yaml): the recording's event comes just before
        # the end, or after the restart for a call the node's death ended.
        middle = types[2:-1]
        if middle and middle[-1] == RECORDING:
            middle = middle[:-1]
        else:
            assert events[-1]["data"]["cause"] == "node-restart" and repaired, types
        assert all(t == INPUT for t in middle), types
    else:
        assert types == [RECEIVED, ENDED], types


def check_requests(receiver: WebhookReceiver) -> None:
    """Every request was a signed CloudEvents POST on the configured path."""
    for r in receiver.snapshot():
        assert r.path.split("?")[0] == "/hotline/events", r.path
        assert r.parse_error is None, f"unparsable webhook body: {r.parse_error}: {r.body[:200]!r}"
        assert r.signature_ok, f"bad X-Hotline-Signature {r.headers.get('x-hotline-signature')!r}"
        ctype = r.headers.get("content-type", "").split(";")[0].strip()
        if r.batch:
            assert json.loads(r.body).__class__ is list
        else:
            assert ctype == "application/cloudevents+json", ctype
            assert json.loads(r.body).__class__ is dict


def check_delivery_order(receiver: WebhookReceiver) -> dict[str, list[dict]]:
    """Acknowledged events, first acknowledgement of each id, grouped by call in that order.
    A 2xx acknowledges its events: none is acknowledged twice unless a crash intervened."""
    delivered = receiver.delivered()
    for e in delivered.values():
        check_schema(e)
    calls = by_call(list(delivered.values()))
    for subject, events in calls.items():
        seqs = [e["data"]["seq"] for e in events]
        assert seqs == sorted(seqs), f"call {subject} delivered out of order: {seqs}"
    return calls


def wait_calls_ended(receiver: WebhookReceiver, subjects_or_count, timeout: float) -> dict[str, list[dict]]:
    def done(r: WebhookReceiver) -> bool:
        ended = {e["subject"] for e in r.delivered().values() if e.get("type") == ENDED}
        if isinstance(subjects_or_count, int):
            return len(ended) >= subjects_or_count
        return set(subjects_or_count) <= ended
    ok = receiver.wait_until(done, timeout)
    calls = by_call(list(receiver.delivered().values()))
    assert ok, (f"webhook did not get every call's ended event within {timeout}s: "
                f"{ {s: [e['type'] for e in ev] for s, ev in calls.items()} }")
    return calls


def raw_call(h: Hotline, transport: str = "udp", digit: str | None = None, hold: float = 0.6) -> dict:
    """An answered call by raw SIP: RTP both ways, optionally one RFC 4733 digit (typed ahead
    during the welcome prompt, which the menu takes), then the caller's BYE."""
    with SipSocket(h.sip_port, transport) as s, RtpPeer() as peer:
        call = Call(s, rtp_port=peer.port)
        call.establish()
        a = call.answer
        peer.start_sending((a.address, a.port), a.codec)
        time.sleep(0.5)
        if digit is not None:
            peer.send_dtmf(digit, a.dtmf_pt)
        time.sleep(hold)
        b = call.bye()
        assert b is not None and b.status == 200, b and b.start_line
        return {"sip_call_id": call.call_id, "codec": {0: "PCMU", 8: "PCMA"}[a.codec],
                "transport": transport.upper(), "source_port": s.port}


def rejected_call(h: Hotline, number: str = "99999") -> str:
    with SipSocket(h.sip_port) as s:
        call = Call(s, number=number)
        r = call.invite()
        assert r.status == 404, r.start_line
        return call.call_id


def subject_of(calls: dict[str, list[dict]], sip_call_id: str) -> str:
    for subject, events in calls.items():
        if events[0]["type"] == RECEIVED and events[0]["data"]["sipCallId"] == sip_call_id:
            return subject
    raise AssertionError(f"no hotline.call.received with sipCallId {sip_call_id}")


# --------------------------------------------------------------------------- tests

def test_raw_sip_calls_webhook_and_pull_api(hotline_factory):
    receiver = WebhookReceiver(SECRET).start()
    try:
        h = start_daemon(hotline_factory, receiver)
        udp = raw_call(h, "udp", digit="1")
        tcp = raw_call(h, "tcp")
        nf = rejected_call(h)
        calls = wait_calls_ended(receiver, 3, 10)
        check_requests(receiver)
        ordered = check_delivery_order(receiver)
        assert len(ordered) == 3, list(ordered)

        # The UDP call with a key: received, answered, ivr.input 1 (the language menu), ended.
        ev = calls[subject_of(calls, udp["sip_call_id"])]
        check_call_sequence(ev)
        assert ev[1]["type"] == NODE and ev[1]["data"]["node"] == "start", ev[1]
        ev = flow(ev)
        assert [e["type"] for e in ev] == [RECEIVED, ANSWERED, INPUT, RECORDING, ENDED]
        rec, ans, key, recording, end = (e["data"] for e in ev)
        assert recording["complete"] and recording["channels"] == 2, recording
        assert rec["transport"] == "UDP" and rec["called"] == "12345" and rec["caller"] == "tester"
        assert rec["source"] == f"{LOCAL}:{udp['source_port']}"
        assert ans["codec"] == udp["codec"]
        assert {k: key[k] for k in ("dialplan", "node", "kind", "input", "result")} == {
            "dialplan": "12345", "node": "language", "kind": "menu", "input": "1", "result": "match"}, key
        assert end["cause"] == "caller-hangup" and end["hangupBy"] == "caller" and end["sipStatus"] == 200
        assert end["answeredAt"] is not None and end["talkMs"] is not None
        assert end["durationMs"] >= end["talkMs"] >= 1000
        assert end["media"]["codec"] == udp["codec"] and end["media"]["keys"] == 1
        assert end["media"]["packetsReceived"] > 30 and end["media"]["packetsSent"] > 30
        # RFC 3550 receiver statistics of our stream: nothing lost on loopback, jitter of a
        # Python sender's timing (a few ms).
        assert end["media"]["packetsLost"] == 0, end["media"]
        assert 0 <= end["media"]["jitterMs"] < 20, end["media"]

        # The TCP call: no key.
        ev = calls[subject_of(calls, tcp["sip_call_id"])]
        check_call_sequence(ev)
        assert [e["type"] for e in flow(ev)] == [RECEIVED, ANSWERED, RECORDING, ENDED]
        assert ev[0]["data"]["transport"] == "TCP"
        assert ev[-1]["data"]["cause"] == "caller-hangup" and ev[-1]["data"]["media"]["keys"] == 0

        # 404: received (language null: no line) and ended, nothing in between.
        nf_subject = subject_of(calls, nf)
        ev = calls[nf_subject]
        check_call_sequence(ev, with_answer=False)
        assert ev[0]["data"]["called"] == "99999" and ev[0]["data"]["language"] is None
        end = ev[-1]["data"]
        assert (end["cause"], end["sipStatus"], end["hangupBy"]) == ("not-found", 404, "hotline")
        assert end["answeredAt"] is None and end["talkMs"] is None and end["media"] is None

        sources = {e["source"] for e in receiver.delivered().values()}
        assert len(sources) == 1, sources

        # Pull API: the same events in the same (cursor) order, page by page.
        webhook_ids = list(receiver.delivered())
        pulled = pull_all(h, limit=2)
        assert [e["id"] for e in pulled] == webhook_ids
        assert pulled == list(receiver.delivered().values())
        first = api_ok(h, "/v1/events?limit=1")
        assert len(first["events"]) == 1 and first["events"][0]["id"] == webhook_ids[0]
        end_page = api_ok(h, f"/v1/events?after={first['next']}&limit=1000")
        assert [e["id"] for e in end_page["events"]] == webhook_ids[1:]

        # CDRs: one per call, newest first, equal to the ended events' data.
        cdrs = api_ok(h, "/v1/cdr")["cdrs"]
        assert len(cdrs) == 3
        ended = {e["subject"]: e["data"] for e in receiver.delivered().values() if e["type"] == ENDED}
        for c in cdrs:
            assert {k: v for k, v in c.items() if k != "callId"} == ended[c["callId"]]
        starts = [c["startedAt"] for c in cdrs]
        assert starts == sorted(starts, reverse=True)
        only = api_ok(h, "/v1/cdr?number=99999")["cdrs"]
        assert [c["callId"] for c in only] == [nf_subject]
        assert len(api_ok(h, "/v1/cdr?limit=1")["cdrs"]) == 1
        later = api_ok(h, "/v1/cdr?from=" + urllib.parse.quote("2999-01-01T00:00:00+00:00"))
        assert later["cdrs"] == []
        assert len(api_ok(h, "/v1/cdr?from=2000-01-01T00:00:00Z&to=2999-01-01T00:00:00.000Z")["cdrs"]) == 3

        # Errors: JSON, 4xx, with codes.
        last_cursor = int(api_ok(h, "/v1/events?limit=1000")["next"])
        for bad in ["abc", "-1", str(last_cursor + 1000), "1.5", ""]:
            status, _, body = api(h, "/v1/events?after=" + urllib.parse.quote(bad))
            assert status == 400 and body["error"]["code"] == "bad-cursor", (bad, status, body)
        for q, code in [("limit=0", "bad-limit"), ("limit=1001", "bad-limit"), ("limit=x", "bad-limit"),
                        ("wait=61", "bad-wait"), ("wait=-1", "bad-wait")]:
            status, _, body = api(h, "/v1/events?" + q)
            assert status == 400 and body["error"]["code"] == code, (q, status, body)
        status, _, body = api(h, "/v1/cdr?from=yesterday")
        assert status == 400 and body["error"]["code"] == "bad-date", body

        # Token: everything but health and the OpenAPI document.
        for path in ["/v1/events", "/v1/cdr", "/v1/calls", "/v1/delivery", "/v1/events/dead", "/metrics"]:
            status, headers, body = api(h, path, token=None)
            assert status == 401 and body["error"]["code"] == "unauthorized", (path, status, body)
            assert headers.get("WWW-Authenticate", "").startswith("Bearer"), path
            status, _, _ = api(h, path, token=TOKEN[:-1] + "x")
            assert status == 401, path
        status, _, body = api(h, "/v1/health", token=None)
        assert status == 200 and body["status"] == "ok" and body["store"] == "ok", body
        assert body["activeCalls"] == 0
        status, headers, text = api(h, "/openapi.yaml", token=None)
        assert status == 200 and text.startswith("openapi: 3.1"), text[:100]
        assert "/v1/events" in text

        delivery = api_ok(h, "/v1/delivery")
        assert delivery["enabled"] is True and delivery["webhook"]["url"] == receiver.url
        assert delivery["webhook"]["backlog"] == 0 and delivery["webhook"]["dead"] == 0
        assert delivery["outbox"]["storeError"] is None
        assert api_ok(h, "/v1/events/dead") == {"events": []}
        assert api_ok(h, "/v1/calls") == {"calls": []}

        # Long-poll: nothing after the cursor, then a call; the poll returns early with it.
        result = {}

        def poll():
            t = time.monotonic()
            result["page"] = api_ok(h, f"/v1/events?after={last_cursor}&wait=20", timeout=30)
            result["took"] = time.monotonic() - t

        t = threading.Thread(target=poll)
        t.start()
        time.sleep(1.0)
        assert t.is_alive(), f"the long-poll returned at once: {result}"
        rejected_call(h)
        t.join(25)
        assert not t.is_alive()
        assert result["took"] < 5, f"long-poll took {result['took']:.1f}s (an event came after ~1 s)"
        assert result["page"]["events"] and result["page"]["events"][0]["type"] == RECEIVED
        time.sleep(0.3)  # the 404 call's ended event too
        newest = api_ok(h, f"/v1/events?limit=1000&after={last_cursor}")["next"]
        empty_wait = time.monotonic()
        page = api_ok(h, f"/v1/events?after={newest}&wait=1")
        assert page == {"events": [], "next": newest}
        assert 0.8 <= time.monotonic() - empty_wait < 5
    finally:
        receiver.stop()


def test_live_calls_listed(hotline_factory):
    h = start_daemon(hotline_factory, None)
    with SipSocket(h.sip_port) as s, RtpPeer() as peer:
        call = Call(s, rtp_port=peer.port)
        call.establish()
        peer.start_sending((call.answer.address, call.answer.port), call.answer.codec)
        time.sleep(0.3)
        live = api_ok(h, "/v1/calls")["calls"]
        assert len(live) == 1, live
        c = live[0]
        assert (c["caller"], c["called"], c["state"]) == ("tester", "12345", "answered")
        assert c["answeredAt"] is not None and c["startedAt"] <= c["answeredAt"]
        health = api_ok(h, "/v1/health", token=None)
        assert health["activeCalls"] == 1
        assert call.bye().status == 200
    # Without a webhook, the pull API still has the events of the call, and delivery says so.
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and not any(e["type"] == ENDED for e in pull_all(h)):
        time.sleep(0.1)
    events = pull_all(h)
    check_call_sequence(events)
    assert events[0]["subject"] == c["id"]
    delivery = api_ok(h, "/v1/delivery")
    assert delivery["enabled"] is False and "webhook" not in delivery
    assert delivery["outbox"]["committed"] >= len(events)


def test_sipp_calls_produce_events(hotline_factory, tmp_path):
    receiver = WebhookReceiver(SECRET).start()
    try:
        h = start_daemon(hotline_factory, receiver)
        # One call with pcap audio (PCMA) and an RFC 2833 '1', then 4 short PCMU calls.
        run_sipp(h, tmp_path, "uac-pcap.xml", "-m", "1")
        run_sipp(h, tmp_path, "uac-hold.xml", "-m", "4", "-r", "10", "-d", "500", timeout_s=20)
        calls = wait_calls_ended(receiver, 5, 10)
        check_requests(receiver)
        check_delivery_order(receiver)
        keyed = []
        for subject, events in calls.items():
            check_call_sequence(events)
            rec, end = events[0]["data"], events[-1]["data"]
            assert rec["caller"] == "sipp" and rec["called"] == "12345" and rec["transport"] == "UDP"
            assert end["cause"] == "caller-hangup" and end["sipStatus"] == 200
            inputs = [e["data"] for e in events if e["type"] == INPUT]
            assert end["media"]["keys"] == len(inputs)
            if inputs:
                answered = next(e for e in events if e["type"] == ANSWERED)
                keyed.append((answered["data"]["codec"], [(i["node"], i["input"], i["result"]) for i in inputs]))
        assert keyed == [("PCMA", [("language", "1", "match")])], keyed
        assert [e["id"] for e in pull_all(h)] == list(receiver.delivered())
    finally:
        receiver.stop()


def test_receiver_down_then_up(hotline_factory):
    receiver = WebhookReceiver(SECRET)  # not started: connection refused
    try:
        h = start_daemon(hotline_factory, receiver)
        ids = [raw_call(h, hold=0.1)["sip_call_id"] for _ in range(2)] + [rejected_call(h)]
        # The first attempt fails when the HTTP client gives up connecting (up to the webhook
        # timeout, 5 s); until then the lag shows the outage.
        deadline = time.monotonic() + 10
        while True:
            d = api_ok(h, "/v1/delivery")["webhook"]
            if d["lastError"] or time.monotonic() > deadline:
                break
            assert d["lagSeconds"] is not None and d["lagSeconds"] >= 0, d
            time.sleep(0.2)
        assert d["lastError"] and d["failedAttempts"] >= 1 and d["delivered"] == 0, d
        assert d["backlog"] >= 7 and d["lagSeconds"] > 0.5, d  # 3 + 3 + 2 events
        pulled = pull_all(h)
        assert len(by_call(pulled)) == 3
        receiver.start()
        calls = wait_calls_ended(receiver, 3, 30)
        check_requests(receiver)
        check_delivery_order(receiver)
        for events in calls.values():
            check_call_sequence(events, with_answer=len(events) > 2)
        assert {subject_of(calls, i) for i in ids} == set(calls)
        assert list(receiver.delivered()) == [e["id"] for e in pulled]
        acked = [e["id"] for e in receiver.accepted()]
        assert len(acked) == len(set(acked)), "an acknowledged event was delivered again"
        time.sleep(0.3)
        d = api_ok(h, "/v1/delivery")["webhook"]
        assert d["backlog"] == 0 and d["delivered"] == len(pulled), d
    finally:
        receiver.stop()


def test_receiver_failing_then_ok(hotline_factory):
    receiver = WebhookReceiver(SECRET, status=500).start()
    try:
        h = start_daemon(hotline_factory, receiver)
        t0 = time.monotonic()
        ids = [raw_call(h, hold=0.1)["sip_call_id"] for _ in range(2)] + [rejected_call(h)]
        time.sleep(max(0.0, 3.0 - (time.monotonic() - t0)))
        failed = [r for r in receiver.snapshot() if r.status == 500]
        assert failed, "the daemon did not try the failing receiver"
        receiver.status = 200
        calls = wait_calls_ended(receiver, 3, 30)
        check_requests(receiver)
        check_delivery_order(receiver)
        for events in calls.values():
            check_call_sequence(events, with_answer=len(events) > 2)
        assert {subject_of(calls, i) for i in ids} == set(calls)
        # Each id acknowledged exactly once; ids sent more than once were in a failed request.
        acked = [e["id"] for e in receiver.accepted()]
        assert len(acked) == len(set(acked)), "an acknowledged event was delivered again"
        failed_ids = {i for r in receiver.snapshot() if not r.ok for i in r.ids}
        sent: dict[str, int] = {}
        for r in receiver.snapshot():
            for i in r.ids:
                sent[i] = sent.get(i, 0) + 1
        repeated = {i for i, n in sent.items() if n > 1}
        assert repeated <= failed_ids, f"resent without a failure: {repeated - failed_ids}"
        assert list(receiver.delivered()) == [e["id"] for e in pull_all(h)]
        time.sleep(0.3)
        d = api_ok(h, "/v1/delivery")["webhook"]
        assert d["failedAttempts"] >= len(failed) and d["backlog"] == 0 and d["dead"] == 0, d
    finally:
        receiver.stop()


def test_refused_event_parked_dead(hotline_factory):
    """A 4xx for one event: the batch is resent event by event, the refused one is parked as
    dead, the call's other events are delivered in order, the dead one stays pullable."""
    receiver = WebhookReceiver(SECRET, reject=lambda e: e.get("type") == INPUT).start()
    try:
        h = start_daemon(hotline_factory, receiver)
        info = raw_call(h, digit="5", hold=0.3)
        calls = wait_calls_ended(receiver, 1, 10)
        check_requests(receiver)
        check_delivery_order(receiver)
        (subject, events), = calls.items()
        assert [e["type"] for e in flow(events)] == [RECEIVED, ANSWERED, RECORDING, ENDED]
        assert events[0]["data"]["sipCallId"] == info["sip_call_id"]
        dead = api_ok(h, "/v1/events/dead")["events"]
        assert len(dead) == 1, dead
        d = dead[0]
        check_schema(d["event"])
        assert d["event"]["data"]["input"] == "5" and d["event"]["data"]["result"] == "invalid"
        assert (d["id"], d["subject"], d["type"]) == (f"{subject}-{d['event']['data']['seq']}", subject, INPUT)
        assert d["id"] == d["event"]["id"] and d["cursor"].isdigit()
        assert d["reason"].startswith("HTTP 400"), d["reason"]
        pulled = pull_all(h)
        # Every event stays pullable, the dead one included, in order and without gaps.
        assert [e["id"] for e in pulled] == [f"{subject}-{n}" for n in range(1, len(pulled) + 1)]
        assert d["id"] in [e["id"] for e in pulled]
        time.sleep(0.3)
        stats = api_ok(h, "/v1/delivery")["webhook"]
        assert stats["dead"] == 1 and stats["backlog"] == 0, stats
    finally:
        receiver.stop()


def test_kill9_during_sipp_run_then_restart(request, hotline_factory, tmp_path):
    """20 calls at 10 cps held 2 s; kill -9 after ~2.6 s (some calls done, most live); restart on
    the same data directory. Every call gets exactly one ended event (node-restart for those
    live at the kill), every CDR has its delivered ended event, ids are stable."""
    sipp = require_tool("sipp")
    receiver = WebhookReceiver(SECRET).start()
    try:
        a = start_daemon(hotline_factory, receiver)
        cmd = [sipp, f"{LOCAL}:{a.sip_port}", "-sf", str(SCENARIOS / "uac-hold.xml"), "-s", "12345",
               "-i", LOCAL, "-mi", LOCAL, "-p", str(free_port()), "-mp", str(free_port()),
               "-nostdin", "-m", "20", "-r", "10", "-l", "20", "-d", "2000",
               "-timeout", "30s", "-recv_timeout", "5s"]
        p = subprocess.Popen(cmd, cwd=tmp_path, stdin=subprocess.DEVNULL,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            time.sleep(2.6)
            live_before = {c["id"] for c in api_ok(a, "/v1/calls")["calls"]}
            a.kill()  # SIGKILL to the daemon's process group
            a.expected_rc = -signal.SIGKILL
        finally:
            p.terminate()
            try:
                p.wait(5)
            except subprocess.TimeoutExpired:
                p.kill()
        assert len(live_before) >= 5, f"only {len(live_before)} calls live at the kill"
        before = dict(receiver.delivered())

        # Restart on the same data directory (new ports).
        b = Hotline(tmp_path / "restarted", rtp_range=free_udp_range(60),
                    extra=["--api-token", TOKEN, "--webhook", receiver.url,
                           "--webhook-secret", SECRET.decode()])
        i = b.args.index("--data-dir")
        b.args[i + 1] = str(a.data_dir)
        b.data_dir = a.data_dir
        request.node._hotlines.append(b)
        b.start()

        received = {e["subject"] for e in pull_all(b) if e["type"] == RECEIVED}
        assert received >= live_before
        calls = wait_calls_ended(receiver, received, 20)
        check_requests(receiver)
        check_delivery_order(receiver)

        # After the restart the store holds every event the first run delivered, same ids.
        pulled = pull_all(b)
        pulled_ids = [e["id"] for e in pulled]
        assert len(pulled_ids) == len(set(pulled_ids))
        assert set(before) <= set(pulled_ids)
        by_id = {e["id"]: e for e in pulled}
        for i, e in before.items():
            assert by_id[i] == e, "an event changed across the restart"
        assert list(receiver.delivered()) == pulled_ids

        restarted = []
        for subject, events in calls.items():
            assert subject in received
            check_call_sequence(events, with_answer=len(events) > 2)
            end = next(e for e in reversed(events) if e["type"] == ENDED)["data"]
            if end["cause"] == "node-restart":
                restarted.append(subject)
                assert end["hangupBy"] == "hotline"
                assert end["endedAt"] >= end["startedAt"]
            else:
                assert end["cause"] == "caller-hangup", end
        # Calls live at the kill were ended by the restart (one may have ended in the few ms
        # between the listing and the kill).
        assert len(set(restarted) & live_before) >= len(live_before) - 1, (restarted, live_before)

        # Every CDR has its delivered ended event, and vice versa.
        cdrs = api_ok(b, "/v1/cdr?limit=1000")["cdrs"]
        assert len(cdrs) == len({c["callId"] for c in cdrs}) == len(calls)
        ended = {e["subject"]: e for e in receiver.delivered().values() if e["type"] == ENDED}
        for c in cdrs:
            e = ended.get(c["callId"])
            assert e is not None, f"CDR of {c['callId']} without a delivered ended event"
            assert {k: v for k, v in c.items() if k != "callId"} == e["data"]
        # One ended id per call, even counting redeliveries after the crash.
        ended_ids: dict[str, set[str]] = {}
        for e in receiver.accepted():
            if e["type"] == ENDED:
                ended_ids.setdefault(e["subject"], set()).add(e["id"])
        assert all(len(v) == 1 for v in ended_ids.values()), ended_ids
        assert api_ok(b, "/v1/calls") == {"calls": []}
    finally:
        receiver.stop()
