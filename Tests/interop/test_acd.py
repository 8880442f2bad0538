"""The ACD end to end over loopback: pjsua2 agent seats (auto-answer), SIPp callers, the
agents' HTTP API and desk feed (docs/queues.md)."""
import json
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

from conftest import LOCAL, free_port, free_udp_range, require_tool
from test_events import check_schema
from test_phones import phones

HERE = Path(__file__).parent
SCENARIOS = HERE / "scenarios"

# A line that queues straight away (the 12345 menu is tested in test_dialplan.py).
QUEUE_PLAN = (HERE / "dialplans" / "queue-test.yaml").read_text()


def queue_config(text: str, ring_timeout: int = 4, strategy: str = "longest-idle") -> str:
    text = text.replace("    strategy: longest-idle", f"    strategy: {strategy}\n    handling-time: 3", 1)
    text = text.replace("    ring-timeout: 15 ", f"    ring-timeout: {ring_timeout} ", 1)
    text = text.replace("    wrapup: 5 ", "    wrapup: 1 ", 1)
    assert "handling-time: 3" in text and f"ring-timeout: {ring_timeout} " in text and "wrapup: 1 " in text
    # No overflow to the 12345 plan's nodes: these callers stay in the queue.
    start = text.index("    overflow:")
    end = text.index("  - name: enterprise")
    text = text[:start] + text[end:]
    return text.replace("lines:\n", "lines:\n  - number: \"12399\"\n    dialplan: queue-test.yaml\n", 1)


class Feed:
    """Reads an agent's server-sent events in a thread: (arrival time, type, data)."""

    def __init__(self, h, agent: str):
        self.events: list[tuple[float, str, dict]] = []
        self.response = urllib.request.urlopen(f"http://{LOCAL}:{h.http_port}/v1/agents/{agent}/feed", timeout=120)
        assert self.response.headers["Content-Type"].startswith("text/event-stream")
        self.thread = threading.Thread(target=self.read, daemon=True)
        self.thread.start()

    def read(self):
        kind = None
        try:
            for raw in self.response:
                line = raw.decode().rstrip("\n")
                if line.startswith("event: "):
                    kind = line[7:]
                elif line.startswith("data: ") and kind:
                    self.events.append((time.time(), kind, json.loads(line[6:])))
                    kind = None
        except Exception:   # closed at the end of the test
            pass

    def close(self):
        self.response.close()


def start_seats(h, tmp_path, seats, never_answer="", talk=2.0, duration=60.0, answer_after=None):
    """One pjsua2 process per seat (a softphone each); `answer_after` maps seats to their ring
    time before answering (default 0.3 s)."""
    procs = {}
    for seat in seats:
        ready = tmp_path / f"seat-{seat}.ready"
        out = open(tmp_path / f"seat-{seat}.json", "w")
        procs[seat] = subprocess.Popen(
            [sys.executable, str(HERE / "pjsua_agents.py"), str(h.sip_port), "--seats", seat,
             "--never-answer", never_answer, "--talk", str(talk), "--duration", str(duration), "--ready-file", str(ready),
             "--media-port", str(free_udp_range(20)[0]), "--answer-after", str((answer_after or {}).get(seat, 0.3))],
            stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    deadline = time.time() + 15
    for seat, proc in procs.items():
        while not (tmp_path / f"seat-{seat}.ready").exists():
            assert proc.poll() is None and time.time() < deadline, (tmp_path / f"seat-{seat}.json").read_text()[-3000:]
            time.sleep(0.1)
    return procs


def seats_result(procs, tmp_path) -> dict:
    result = {}
    for seat, proc in procs.items():
        proc.wait(timeout=120)
        text = (tmp_path / f"seat-{seat}.json").read_text()
        lines = [l for l in text.splitlines() if l.startswith("{")]
        assert lines, text[-3000:]
        result.update(json.loads(lines[-1]))
    return result


def run_callers(h, tmp_path, calls: int, rate: int = 10):
    sipp = require_tool("sipp")
    cmd = [sipp, f"{LOCAL}:{h.sip_port}", "-sf", str(SCENARIOS / "uac-queue.xml"), "-s", "12399",
           "-i", LOCAL, "-mi", LOCAL, "-p", str(free_port()), "-mp", str(free_port()),
           "-m", str(calls), "-r", str(rate), "-l", str(calls), "-nostdin", "-timeout", "150s", "-timeout_error",
           "-trace_err", "-error_file", str(tmp_path / "sipp-errors.log"),
           "-trace_screen", "-screen_file", str(tmp_path / "sipp-screen.log")]
    p = subprocess.run(cmd, cwd=tmp_path, stdin=subprocess.DEVNULL, capture_output=True, timeout=170)
    screen = (tmp_path / "sipp-screen.log").read_text(errors="replace") if (tmp_path / "sipp-screen.log").exists() else ""
    return p.returncode, screen


def events_by_call(h) -> dict[str, list[dict]]:
    status, body = h.api("GET", "/v1/events?limit=1000")
    assert status == 200, body
    calls: dict[str, list[dict]] = {}
    for e in body["events"]:
        calls.setdefault(e["subject"], []).append(e)
    return calls


def test_twenty_callers_five_agent_seats(hotline_factory, tmp_path):
    """20 SIPp callers, 5 pjsua2 seats, longest-idle: every caller is answered; the four
    answering agents share the calls evenly; the seat that never answers is skipped each time
    (the caller keeps their place) and is put not-ready after 3 unanswered offers; the offer
    INVITE carries the context headers, and the desk feed shows it before the answer."""
    h = hotline_factory(rtp_range=free_udp_range(120), no_media_timeout=0, config_edit=queue_config,
                        dialplans={"queue-test.yaml": QUEUE_PLAN})
    seats = ["1001", "1002", "1003", "1004", "1005"]
    proc = start_seats(h, tmp_path, seats, never_answer="1005", talk=2.0, duration=70)
    try:
        for seat in seats:
            assert h.login(f"a{seat}", seat)["state"] == "ready"
        feed = Feed(h, "a1001")
        rc, screen = run_callers(h, tmp_path, 20, rate=10)
        assert rc == 0, screen[-3000:]
        status, queue = h.api("GET", "/v1/queues/general")
        assert status == 200
        assert queue["total"]["answered"] == 20 and queue["total"]["abandoned"] == 0, queue["total"]
        assert queue["waiting"] == 0
        status, a1005 = h.api("GET", "/v1/agents/a1005")
        assert (a1005["state"], a1005["reason"]) == ("not-ready", "no-answer"), a1005
    finally:
        result = seats_result(proc, tmp_path)
        feed_events = list(getattr(locals().get("feed"), "events", []))
        if "feed" in locals():
            feed.close()

    answered = {s: result[s]["answered"] for s in seats}
    assert answered["1005"] == 0 and len(result["1005"]["offers"]) == 3, result["1005"]
    working = [answered[s] for s in seats[:4]]
    assert sum(working) == 20 and max(working) - min(working) <= 2, answered

    # Each offer names the call, the queue and the IVR path.
    for seat in seats:
        for offer in result[seat]["offers"]:
            headers = offer["headers"]
            assert headers.get("X-Hotline-Queue") == "general", headers
            assert headers.get("X-Hotline-IVR-Path") == "start", headers
            assert len(headers.get("X-Hotline-Call-ID", "")) >= 16, headers

    # The desk feed of a1001 showed each of its callers before the phone was answered.
    offers = {d["call"]: (t, d) for t, kind, d in feed_events if kind == "offer"}
    for offer in result["1001"]["offers"]:
        call = offer["headers"]["X-Hotline-Call-ID"]
        assert call in offers, (call, [k for _, k, _ in feed_events])
        shown, data = offers[call]
        assert shown < offer["at"] + 0.3, (shown, offer["at"])   # the seat answers 0.3 s after the INVITE
        assert data["queue"] == "general" and data["caller"].startswith("1380000"), data
        assert data["context"]["ivr.path"] == "start", data

    # Events: each caller joined and left ANSWERED; a1005's offers are no-answer events.
    calls = events_by_call(h)
    for evs in calls.values():
        for e in evs:
            check_schema(e)
    queued = [evs for evs in calls.values() if any(e["type"] == "hotline.queue.joined" for e in evs)]
    assert len(queued) == 20
    for evs in queued:
        left = [e["data"]["reason"] for e in evs if e["type"] == "hotline.queue.left"]
        assert left == ["ANSWERED"], left
    no_answer = [e for evs in queued for e in evs if e["type"] == "hotline.agent.no-answer"]
    assert [e["data"]["agent"] for e in no_answer] == ["a1005"] * 3, no_answer
    states = [e["data"] for evs in calls.values() for e in evs if e["type"] == "hotline.agent.state-changed"
              and e["data"]["agent"] == "a1005"]
    assert states[-1]["to"] == "not-ready" and states[-1]["reason"] == "3 offers not answered", states


def test_agent_api_refuses_bad_requests(hotline_factory, tmp_path):
    """404 for unknown agents and queues, 409 with the reason for illegal transitions and for a
    seat without a registered phone; the feature codes log an agent in and out from the phone."""
    h = hotline_factory()
    assert h.api("GET", "/v1/agents/nobody")[0] == 404
    assert h.api("GET", "/v1/queues/nowhere")[0] == 404
    status, body = h.api("POST", "/v1/agents/a1001/state", {"state": "ready"})
    assert status == 409 and "log in" in body["error"]["message"], body
    status, body = h.api("POST", "/v1/agents/a1001/login", {"seat": "1001"})
    assert status == 409 and body["error"]["code"] == "seat-not-registered", body
    status, body = h.api("POST", "/v1/agents/a1001/state", {"state": "dancing"})
    assert status == 400, body
    status, agents = h.api("GET", "/v1/agents")
    assert status == 200 and [a["id"] for a in agents["agents"]][:2] == ["a1001", "a1002"], agents
    assert all(a["state"] == "logged-out" for a in agents["agents"])

    # The phone at seat 1001 (pjsua2) dials the feature codes: log in, not ready, log out.
    for code, state in [("*90", "ready"), ("*92", "not-ready"), ("*91", "ready"), ("*93", "logged-out")]:
        r = phones(h, "--call", code)
        assert r["steps"]["confirmed"], (code, r)
        status, agent = h.api("GET", "/v1/agents/a1001")
        assert agent["state"] == state, (code, agent)
    status, body = h.api("POST", "/v1/agents/a1001/logout")
    assert status == 200 and body["state"] == "logged-out", body
    events = [e for evs in events_by_call(h).values() for e in evs]
    for e in events:
        check_schema(e)
    codes = [(e["data"]["code"], e["data"]["ok"]) for e in events if e["type"] == "hotline.agent.feature-code"]
    assert sorted(codes) == sorted([("*90", True), ("*92", True), ("*91", True), ("*93", True)]), codes


def test_supervisor_listens_to_a_queue_call(hotline_factory, tmp_path):
    """A supervisor's phone (1009, pjsua2) is called into an agent's queue conversation in
    listen mode: it hears the mix, the call goes on after it leaves, events record both."""
    h = hotline_factory(rtp_range=free_udp_range(40), no_media_timeout=0, config_edit=queue_config,
                        dialplans={"queue-test.yaml": QUEUE_PLAN})
    procs = start_seats(h, tmp_path, ["1001"], talk=12.0, duration=30)
    try:
        h.login("a1001", "1001")
        caller = threading.Thread(target=run_callers, args=(h, tmp_path, 1), daemon=True)
        caller.start()
        deadline = time.time() + 15
        agent = {}
        while time.time() < deadline:
            agent = h.api("GET", "/v1/agents/a1001")[1]
            if agent["state"] == "on-call":
                break
            time.sleep(0.2)
        assert agent["state"] == "on-call", agent
        supervisor = subprocess.Popen([sys.executable, str(HERE / "pjsua_phones.py"), str(h.sip_port), "--answer", "1009"],
                                      stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
        time.sleep(1.5)   # registered
        status, body = h.api("POST", f"/v1/calls/{agent['call']}/monitor", {"supervisor": "1009", "mode": "listen"})
        assert status == 200, body
        out = supervisor.communicate(timeout=40)[0].decode().strip().splitlines()
        result = json.loads(out[-1])
        assert result["steps"]["confirmed"] and result["steps"]["rtp_rx"] >= 50, result
        caller.join(timeout=40)
        status, queue = h.api("GET", "/v1/queues/general")
        assert queue["total"]["answered"] == 1
    finally:
        seats_result(procs, tmp_path)
    calls = events_by_call(h)
    (events,) = [evs for evs in calls.values() if any(e["type"] == "hotline.queue.joined" for e in evs)]
    for e in events:
        check_schema(e)
    joined = [e["data"] for e in events if e["type"] == "hotline.party.joined"]
    assert joined == [{"seq": joined[0]["seq"], "party": "1009", "role": "listen"}], joined
    assert any(e["type"] == "hotline.party.left" for e in events)
    assert events[-1]["type"] == "hotline.call.ended"


def test_caller_presses_the_callback_key_and_is_called_back(hotline_factory, tmp_path):
    """Virtual hold: a citizen's registered phone (1009) waits in the queue while the only agent
    is not ready, presses 1, hears the confirmation and is hung up on; once the agent is
    ready, the ACD offers the callback to the agent, the agent answers and the citizen's phone
    is called and bridged. Both calls' events share the caller's call id."""
    h = hotline_factory(rtp_range=free_udp_range(40), no_media_timeout=0, config_edit=queue_config,
                        dialplans={"queue-test.yaml": QUEUE_PLAN})
    procs = start_seats(h, tmp_path, ["1001"], talk=3.0, duration=45)
    try:
        status, body = h.api("POST", "/v1/agents/a1001/login", {"seat": "1001", "ready": False})
        assert status == 200 and body["state"] == "not-ready", body
        citizen = subprocess.Popen([sys.executable, str(HERE / "pjsua_citizen.py"), str(h.sip_port), "--call", "12399",
                                    "--key-at", "3", "--wait-callback", "30"],
                                   stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
        deadline = time.time() + 25
        while time.time() < deadline:
            callers = h.api("GET", "/v1/queues/general")[1]["callers"]
            if callers and callers[0]["callback"]:
                break
            time.sleep(0.3)
        assert callers and callers[0]["callback"] and callers[0]["caller"] == "1009", callers
        time.sleep(3)   # the citizen's first call is over
        assert h.api("POST", "/v1/agents/a1001/state", {"state": "ready"})[0] == 200
        result = json.loads(citizen.communicate(timeout=60)[0].decode().strip().splitlines()[-1])
    finally:
        seats = seats_result(procs, tmp_path)
    assert result["ok"] and result["confirmed"] and result["hung_up_by_line"], result
    assert result["callback"] and result["callback_ended_by_peer"], result
    call_id = result["callback_headers"]["X-Hotline-Call-ID"]
    assert seats["1001"]["offers"][0]["headers"]["X-Hotline-Callback"] == "1009", seats
    assert seats["1001"]["offers"][0]["headers"]["X-Hotline-Call-ID"] == call_id

    deadline = time.time() + 10
    while time.time() < deadline:
        events = events_by_call(h).get(call_id, [])
        if any(e["type"] == "hotline.queue.callback-ended" for e in events):
            break
        time.sleep(0.3)
    for e in events:
        check_schema(e)
    types = [e["type"] for e in events]
    assert [e["data"]["seq"] for e in events] == list(range(1, len(events) + 1)), types
    first_end = types.index("hotline.call.ended")
    assert "hotline.queue.callback-scheduled" in types[:first_end], types
    assert types[first_end + 1:] == ["hotline.agent.answered", "hotline.call.connected", "hotline.queue.callback-ended"], types
    connected = events[first_end + 2]["data"]
    assert connected["party"] == "1009", connected


def test_openapi_document_describes_the_queue_routes(hotline):
    """The served OpenAPI document parses as YAML and has every queue and agent route."""
    import yaml
    text = urllib.request.urlopen(f"http://{LOCAL}:{hotline.http_port}/openapi.yaml", timeout=5).read().decode()
    doc = yaml.safe_load(text)
    for path in ["/v1/queues", "/v1/queues/{name}", "/v1/agents", "/v1/agents/{id}", "/v1/agents/{id}/login",
                 "/v1/agents/{id}/logout", "/v1/agents/{id}/state", "/v1/agents/{id}/feed", "/v1/calls/{id}/move"]:
        assert path in doc["paths"], path


def test_bad_queue_configuration_is_refused_at_start(tmp_path):
    """A queue or agent error stops the daemon at start with the file and the key."""
    from conftest import HOTLINE_BIN, HOTLINE_CONFIG, REPO
    cases = [
        (lambda t: t.replace("strategy: longest-idle", "strategy: fastest", 1), "unknown strategy 'fastest'"),
        (lambda t: t.replace("to: {node: all-busy}          #", "to: {queue: nowhere}          #", 1),
         "queues[0] (general).overflow[0].to: unknown queue 'nowhere'"),
        (lambda t: t.replace("queues: {general: 0}, skills: {elderly: 3}", "queues: {generall: 0}", 1),
         "agents[1] (a1002).queues: unknown queue 'generall'"),
        (lambda t: t.replace("periodic-announce: queue-tip", "periodic-announce: no-such-tip", 1),
         "queues[0] (general).periodic-announce: no prompt 'no-such-tip' in language en-US"),
    ]
    for edit, message in cases:
        config = tmp_path / "hotline.yaml"
        text = HOTLINE_CONFIG.read_text().replace("directory: Prompts", f"directory: {REPO / 'Prompts'}") \
            .replace("directory: Dialplans", f"directory: {REPO / 'Dialplans'}")
        edited = edit(text)
        assert edited != text, message
        config.write_text(edited)
        daemon = subprocess.run([str(HOTLINE_BIN), "serve", "--config", str(config), "--sip-address", LOCAL,
                                 "--sip-port", str(free_port()), "--http-port", str(free_port()),
                                 "--data-dir", str(tmp_path / "data")],
                                capture_output=True, text=True, timeout=60, cwd=REPO)
        assert daemon.returncode != 0, message
        assert message in daemon.stdout + daemon.stderr, (message, (daemon.stdout + daemon.stderr)[-2000:])
        assert str(config) in daemon.stdout + daemon.stderr or "periodic-announce" in message, daemon.stderr[-2000:]


def test_ringall_rings_every_ready_seat_and_cancels_the_losers(hotline_factory, tmp_path):
    """`ringall`: one caller rings three seats at once; the first to answer (1001, after 0.3 s)
    takes the call, the other two get CANCEL before they answer (they would after 3 s)."""
    h = hotline_factory(rtp_range=free_udp_range(40), no_media_timeout=0,
                        config_edit=lambda t: queue_config(t, strategy="ringall"),
                        dialplans={"queue-test.yaml": QUEUE_PLAN})
    seats = ["1001", "1002", "1003"]
    procs = start_seats(h, tmp_path, seats, talk=2.0, duration=25, answer_after={"1002": 3.0, "1003": 3.0})
    try:
        for seat in seats:
            h.login(f"a{seat}", seat)
        rc, screen = run_callers(h, tmp_path, 1)
        assert rc == 0, screen[-3000:]
    finally:
        result = seats_result(procs, tmp_path)
    assert [len(result[s]["offers"]) for s in seats] == [1, 1, 1], result
    assert [result[s]["answered"] for s in seats] == [1, 0, 0], result
    calls = {result[s]["offers"][0]["headers"]["X-Hotline-Call-ID"] for s in seats}
    assert len(calls) == 1, calls
    (call,) = calls
    events = events_by_call(h)[call]
    offered = sorted(e["data"]["agent"] for e in events if e["type"] == "hotline.agent.offered")
    assert offered == ["a1001", "a1002", "a1003"], offered
    assert [e["data"]["agent"] for e in events if e["type"] == "hotline.agent.answered"] == ["a1001"]
    for s in ("a1002", "a1003"):
        assert h.api("GET", f"/v1/agents/{s}")[1]["state"] == "ready"


def test_agent_log_ins_survive_a_restart_not_ready(request, hotline_factory, tmp_path):
    """Agents logged in when the daemon stops are logged in again at their seats after the
    restart, not ready (`node-restart`, or the reason they had) until they say ready."""
    from conftest import Hotline
    h = hotline_factory(no_media_timeout=0)
    procs = start_seats(h, tmp_path, ["1001", "1002"], duration=12)
    try:
        h.login("a1001", "1001")
        h.login("a1002", "1002")
        assert h.api("POST", "/v1/agents/a1002/state", {"state": "not-ready", "reason": "lunch"})[0] == 200
        assert h.stop() == 0
        again = Hotline(tmp_path / "restarted", no_media_timeout=0)
        i = again.args.index("--data-dir")
        again.args[i + 1] = str(h.data_dir)
        again.data_dir = h.data_dir
        request.node._hotlines.append(again)
        again.start()
        agents = {a["id"]: a for a in again.api("GET", "/v1/agents")[1]["agents"]}
        assert (agents["a1001"]["state"], agents["a1001"]["reason"], agents["a1001"]["seat"]) == ("not-ready", "node-restart", "1001")
        assert (agents["a1002"]["state"], agents["a1002"]["reason"], agents["a1002"]["seat"]) == ("not-ready", "lunch", "1002")
        assert agents["a1003"]["state"] == "logged-out"
        # Logged out for good: not restored by the next start.
        assert again.api("POST", "/v1/agents/a1001/logout")[0] == 200
    finally:
        seats_result(procs, tmp_path)
    assert again.stop() == 0
    third = Hotline(tmp_path / "third", no_media_timeout=0)
    i = third.args.index("--data-dir")
    third.args[i + 1] = str(h.data_dir)
    third.data_dir = h.data_dir
    request.node._hotlines.append(third)
    third.start()
    agents = {a["id"]: a for a in third.api("GET", "/v1/agents")[1]["agents"]}
    assert agents["a1001"]["state"] == "logged-out" and agents["a1002"]["state"] == "not-ready", agents


def test_overflow_to_the_robot_node_and_back_keeps_the_place(hotline_factory, tmp_path):
    """The sample plan and queue: with no agent serving `general`, a caller who presses 0 in the
    12345 menu overflows at once (predicted wait) to `all-busy`; pressing 2 there puts them
    back in the queue (at their original place: see OverflowTests), and the same rule does not
    send them away again."""
    from test_dialplan import path, pjsua_call
    h = hotline_factory(rtp_range=free_udp_range(40))
    first = threading.Thread(target=lambda: pjsua_call(h, "7:1,10:0,16:2", record=30, tmp_path=tmp_path / "a"),
                             daemon=True)
    (tmp_path / "a").mkdir()
    first.start()
    time.sleep(14)   # the first caller is in all-busy now
    status, queue = h.api("GET", "/v1/queues/general")
    assert queue["waiting"] == 0, queue
    time.sleep(8)    # pressed 2 at 16 s: back in the queue
    status, queue = h.api("GET", "/v1/queues/general")
    assert [c["position"] for c in queue["callers"]] == [1], queue
    first.join(timeout=60)
    calls = events_by_call(h)
    (events,) = [evs for evs in calls.values() if any(e["type"] == "hotline.queue.joined" for e in evs)]
    for e in events:
        check_schema(e)
    assert path(events)[-3:] == ["agent", "all-busy", "agent"], path(events)
    left = [e["data"] for e in events if e["type"] == "hotline.queue.left"]
    assert left[0]["reason"] == "OVERFLOW" and left[0]["overflow"] == "node:all-busy", left
    assert left[-1]["reason"] == "ABANDON", left
    joined = [e["data"] for e in events if e["type"] == "hotline.queue.joined"]
    assert len(joined) == 2 and joined[1]["position"] == 1, joined
    status, queue = h.api("GET", "/v1/queues/general")
    assert queue["total"]["overflowed"] == 1 and queue["total"]["overflowedToRobot"] == 1, queue["total"]
