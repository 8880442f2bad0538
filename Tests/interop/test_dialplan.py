"""Real callers walk the sample 12345 dialplan (pjsua2 and SIPp, RFC 4733 keys), the event
stream shows their path, and dialplans reload under live calls (docs/dialplan.md).

The daemon runs a copy of Dialplans/ whose service hours are all day (conftest.py), so the
paths do not depend on the hour; the after-hours test sets hours that exclude now."""
import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from conftest import free_port, free_udp_range
from siputil import LOCAL
from test_phones import Baresip, wait_for
from test_sipp import run_sipp

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent


class TicketCore:
    """The ticketing core's query API: GET /tickets/<number> → {"found", "status"}."""

    def __init__(self, tickets: dict[str, str], behaviour: str = "ok"):
        """`behaviour`: ok, junk (200 with HTML), hang (never answers within the 3 s timeout)."""
        self.tickets = tickets
        self.behaviour = behaviour
        self.requests: list[str] = []
        core = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                core.requests.append(self.path)
                if core.behaviour == "hang":
                    time.sleep(8)
                if core.behaviour == "junk":
                    body = b"<html>maintenance</html>"
                    self.send_response(200)
                    self.send_header("Content-Type", "text/html")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                    return
                number = self.path.split("?")[0].rsplit("/", 1)[-1]
                status = core.tickets.get(number)
                body = json.dumps({"found": status is not None, "status": status or ""}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer((LOCAL, free_port()), Handler)
        self.url = f"http://{LOCAL}:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self):
        self.server.shutdown()


def api(h, path):
    with urllib.request.urlopen(f"http://{LOCAL}:{h.http_port}{path}", timeout=10) as r:
        return json.loads(r.read())


def calls_by_subject(h) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {}
    after = "0"
    while True:
        page = api(h, f"/v1/events?after={after}&limit=1000")
        if not page["events"]:
            return out
        for e in page["events"]:
            out.setdefault(e["subject"], []).append(e)
        after = page["next"]


def wait_ended(h, count: int, timeout: float = 20) -> dict[str, list[dict]]:
    deadline = time.monotonic() + timeout
    while True:
        calls = calls_by_subject(h)
        ended = [s for s, ev in calls.items() if any(e["type"] == "hotline.call.ended" for e in ev)]
        if len(ended) >= count or time.monotonic() > deadline:
            assert len(ended) >= count, f"{len(ended)} of {count} calls ended: {list(calls)}"
            return {s: calls[s] for s in ended}


def path(events: list[dict]) -> list[str]:
    return [e["data"]["node"] for e in events if e["type"] == "hotline.ivr.node"]


def inputs(events: list[dict]) -> list[tuple[str, str, str]]:
    return [(e["data"]["node"], e["data"]["input"], e["data"]["result"])
            for e in events if e["type"] == "hotline.ivr.input"]


def pjsua_call(h, keys: str, record: float, tmp_path: Path, timeout: float = 60, play=None) -> dict:
    wav = tmp_path / "heard.wav"
    cmd = [sys.executable, str(HERE / "pjsua_caller.py"), h.uri, str(wav), "--keys", keys,
           "--record", str(record), "--timeout", str(timeout)]
    if play:
        cmd += ["--play", str(play[0]), "--play-at", str(play[1])]
    p = subprocess.run(cmd, capture_output=True, timeout=timeout + 30, stdin=subprocess.DEVNULL)
    out = p.stdout.decode(errors="replace").strip().splitlines()
    assert p.returncode == 0 and out, f"pjsua caller failed ({p.returncode}):\n" \
        f"{p.stdout.decode(errors='replace')[-2000:]}\n{p.stderr.decode(errors='replace')[-3000:]}"
    return json.loads(out[-1])


def test_pjsua_caller_checks_a_ticket_and_hears_its_status(hotline_factory, tmp_path):
    """Key 1 (Mandarin) during the notice, 3 in the main menu, the ticket number: the core is
    asked over HTTP, the status is spoken (TTS), then the after-ticket menu."""
    core = TicketCore({"2026001": "正在办理"})
    try:
        h = hotline_factory(rtp_range=free_udp_range(20),
                            config_edit=lambda t: t.replace("http://127.0.0.1:9000", core.url))
        result = pjsua_call(h, "7:1,10:3,14:2026001#", record=28, tmp_path=tmp_path)
        assert result["confirmed"], result
        (events,) = wait_ended(h, 1).values()
        assert path(events)[:8] == ["start", "open", "language", "mandarin", "check-repeat", "main",
                                    "ticket-progress", "after-ticket"], path(events)
        assert inputs(events)[:3] == [("language", "1", "match"), ("main", "3", "match"),
                                      ("ticket-progress", "2026001", "match")], inputs(events)
        assert [r.split("?")[0] for r in core.requests] == ["/tickets/2026001"], core.requests
        assert "language=zh-CN" in core.requests[0]
        # The status was spoken: espeak-ng's rendering is in the TTS cache.
        assert list((h.data_dir / "tts").glob("*.wav")), "no TTS rendering in the cache"
        versions = {e["data"]["version"] for e in events if e["type"] == "hotline.ivr.node"}
        assert versions == {1}
    finally:
        core.stop()


@pytest.mark.parametrize("core_state", ["down", "junk", "hang"])
def test_pjsua_caller_reaches_a_ticket_core_that_fails(hotline_factory, tmp_path, core_state):
    """The core is down, answers junk, or hangs: the webhook's fallback node, the caller is
    not stuck, and the call goes on to the after-ticket menu."""
    core = TicketCore({}, behaviour=core_state) if core_state != "down" else None
    url = core.url if core else f"http://{LOCAL}:{free_port()}"
    try:
        h = hotline_factory(rtp_range=free_udp_range(20), config_edit=lambda t: t.replace("http://127.0.0.1:9000", url))
        pjsua_call(h, "7:1,10:3,14:123456#", record=36, tmp_path=tmp_path)
        (events,) = wait_ended(h, 1).values()
        assert "ticket-unavailable" in path(events), path(events)
        assert path(events)[path(events).index("ticket-unavailable") + 1] == "after-ticket"
        if core:
            assert [r.split("?")[0] for r in core.requests] == ["/tickets/123456"], core.requests
    finally:
        if core:
            core.stop()


def test_sipp_key_chooses_mandarin_then_the_main_menu(hotline, tmp_path):
    """SIPp plays speech, then an RFC 2833 '1' (7 s in, during the emergency notice)."""
    run_sipp(hotline, tmp_path, "uac-pcap.xml", "-m", "1")
    (events,) = wait_ended(hotline, 1).values()
    assert path(events) == ["start", "open", "language", "mandarin", "check-repeat", "main"], path(events)
    assert inputs(events) == [("language", "1", "match")]
    reasons = [e["data"]["reason"] for e in events if e["type"] == "hotline.ivr.node"]
    assert reasons == ["start", "when", "when", "menu", "goto", "when"], reasons


def test_queued_caller_is_taken_by_an_agent_phone(hotline_factory, tmp_path):
    """The README walkthrough: a softphone registered as 1001 (baresip, auto-answer), agent
    a1001 logged in there, takes the call of a citizen who pressed 1 (Mandarin) then 0 (an agent)."""
    h = hotline_factory(rtp_range=free_udp_range(30))
    agent = Baresip(tmp_path, h.sip_port, "1001", "hotline-demo")
    try:
        assert h.login("a1001", "1001")["state"] == "ready"
        result = pjsua_call(h, "7:1,10:0", record=22, tmp_path=tmp_path)
        assert result["confirmed"] and not result["disconnected_by_peer"], result
        (events,) = wait_ended(h, 1).values()
        assert path(events)[-2:] == ["main", "agent"], path(events)
        connected = [e["data"] for e in events if e["type"] == "hotline.call.connected"]
        assert connected == [{"seq": connected[0]["seq"], "party": "1001"}], connected
        assert events[-1]["data"]["cause"] == "caller-hangup"
    finally:
        agent.stop()


def test_after_hours_caller_gets_the_robot_fallback_and_a_message(hotline_factory, tmp_path):
    """Hours that exclude now: after the notice, the after-hours menu; key 1 (typed ahead) asks
    for the robot, which does not exist yet: its fallback records a message."""
    now = datetime.now(timezone(timedelta(hours=8)))
    start = now + timedelta(hours=6)
    hours = f"{start:%H}:00-{(start + timedelta(hours=1)):%H}:00"
    h = hotline_factory(rtp_range=free_udp_range(20), dialplan_hours=hours)
    run_sipp(h, tmp_path, "uac-pcap.xml", "-m", "1")
    (events,) = wait_ended(h, 1).values()
    assert path(events) == ["start", "after-hours", "after-hours-robot", "leave-message"], path(events)
    robot = [e["data"] for e in events if e["type"] == "hotline.ivr.node"][-1]
    assert robot["reason"] == "robot-unavailable" and robot["from"] == "after-hours-robot", robot


def test_after_hours_caller_leaves_a_message(hotline_factory, tmp_path):
    """Key 2 (typed ahead) in the after-hours menu, then 4 s of speech after the beep and
    silence: the message ends on silence, is stored, and announced by an event."""
    now = datetime.now(timezone(timedelta(hours=8)))
    start = now + timedelta(hours=6)
    hours = f"{start:%H}:00-{(start + timedelta(hours=1)):%H}:00"
    h = hotline_factory(rtp_range=free_udp_range(20), dialplan_hours=hours)
    speech = tmp_path / "speech.wav"
    # 4 s of the English welcome (speech), then 10 s of silence.
    subprocess.run(["sox", str(REPO / "Prompts/en-US/welcome.wav"), str(speech), "trim", "0", "4", "pad", "0", "10"],
                   check=True)
    pjsua_call(h, "3:2", record=40, tmp_path=tmp_path, play=(speech, 14.0))
    (events,) = wait_ended(h, 1).values()
    assert path(events) == ["start", "after-hours", "leave-message"], path(events)
    messages = [e["data"] for e in events if e["type"] == "hotline.message.recorded"]
    assert len(messages) == 1, [e["type"] for e in events]
    message = messages[0]
    # Speech from ~14 s, ended by 5 s of silence after it: 6-13 s from the beep.
    assert 5000 <= message["durationMs"] <= 14000, message
    wav = Path(message["path"])
    assert wav.exists() and wav.stat().st_size > 8000 * 2 * 5, message
    assert path(events)[-1] == "leave-message"
    assert events[-1]["data"]["cause"] == "normal-clearing", events[-1]["data"]


def test_reload_under_twenty_calls_and_an_invalid_file_changes_nothing(hotline_factory, tmp_path):
    """20 SIPp calls sit in the menu while the dialplan is edited: none drops, all finish on
    version 1, a new call runs version 2. Then an invalid file: refused, shown at
    /v1/dialplans, version 2 stays and new calls still work. SIGHUP reloads too."""
    h = hotline_factory(rtp_range=free_udp_range(100))
    assert api(h, "/v1/dialplans")["version"] == 1
    plan = h.dialplans / "12345.yaml"
    original = plan.read_text()
    sipp_dir = tmp_path / "sipp-20"
    sipp_dir.mkdir()
    result = {}

    def load():
        result["p"] = run_sipp(h, sipp_dir, "uac-hold.xml", "-m", "20", "-r", "20", "-l", "20", "-d", "12000",
                               timeout_s=60)

    t = threading.Thread(target=load)
    t.start()
    time.sleep(4)   # all 20 are in the welcome or the notice
    live = api(h, "/v1/calls")["calls"]
    assert len(live) == 20 and all(c["dialplan"] == "12345" for c in live), live
    plan.write_text(original.replace("    - play: [welcome, emergency-notice]", "    - play: [welcome]"))
    assert wait_for(lambda: api(h, "/v1/dialplans")["version"] == 2, 10), api(h, "/v1/dialplans")
    t.join(90)
    assert "p" in result and result["p"].returncode == 0
    calls = wait_ended(h, 20)
    assert len(calls) == 20
    for subject, events in calls.items():
        end = events[-1]["data"]
        assert end["cause"] == "caller-hangup" and end["sipStatus"] == 200, end
        assert {e["data"]["version"] for e in events if e["type"] == "hotline.ivr.node"} == {1}, subject

    one = tmp_path / "sipp-one"
    one.mkdir()
    run_sipp(h, one, "uac-hold.xml", "-m", "1", "-d", "3000")
    new = [ev for s, ev in wait_ended(h, 21).items() if s not in calls]
    assert {e["data"]["version"] for e in new[0] if e["type"] == "hotline.ivr.node"} == {2}

    # An invalid edit: an unknown node. Nothing changes.
    plan.write_text(original.replace("        on-failure: goodbye\n\n  policy:", "        on-failure: goodby\n\n  policy:"))
    assert wait_for(lambda: api(h, "/v1/dialplans")["lastReload"]["ok"] is False, 10)
    status = api(h, "/v1/dialplans")
    assert status["version"] == 2
    assert any(e.startswith(f"{plan}:") and "unknown node 'goodby'" in e for e in status["lastReload"]["errors"]), status
    two = tmp_path / "sipp-two"
    two.mkdir()
    run_sipp(h, two, "uac-hold.xml", "-m", "1", "-d", "3000")
    newer = [ev for s, ev in wait_ended(h, 22).items() if s not in calls and s not in {e[0]["subject"] for e in new}]
    assert {e["data"]["version"] for e in newer[0] if e["type"] == "hotline.ivr.node"} == {2}

    # SIGHUP with the valid file back (and the watcher off the hook: same content as before).
    h.args  # noqa: B018 (the daemon keeps running)
    plan.write_text(original)
    os.kill(h.proc.pid, signal.SIGHUP)
    assert wait_for(lambda: api(h, "/v1/dialplans")["version"] >= 3 and api(h, "/v1/dialplans")["lastReload"]["ok"], 10)


def test_dialplan_check_cli_and_a_daemon_that_refuses_an_invalid_dialplan(tmp_path):
    """`hotline dialplan check` exits 0 on the samples, 1 with file:line:column on a broken
    copy; the daemon refuses to start on the broken copy and says where."""
    from conftest import HOTLINE_BIN, HOTLINE_CONFIG, copy_dialplans
    ok = subprocess.run([str(HOTLINE_BIN), "dialplan", "check", "--config", str(HOTLINE_CONFIG),
                         *sorted(str(p) for p in (REPO / "Dialplans").glob("*.yaml"))],
                        capture_output=True, text=True, timeout=60, cwd=REPO)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "0 error(s), 0 warning(s)" in ok.stderr, ok.stderr

    plans = tmp_path / "Dialplans"
    copy_dialplans(plans)
    broken = plans / "12345.yaml"
    text = broken.read_text().replace("    - play: [welcome, emergency-notice]", "    - play: [welcome, emergncy-notice]")
    broken.write_text(text)
    line = text.splitlines().index("    - play: [welcome, emergncy-notice]") + 1
    column = "    - play: [welcome, emergncy-notice]".index("emergncy") + 1
    bad = subprocess.run([str(HOTLINE_BIN), "dialplan", "check", "--config", str(HOTLINE_CONFIG), str(broken)],
                         capture_output=True, text=True, timeout=60, cwd=REPO)
    assert bad.returncode == 1, bad.stdout + bad.stderr
    expected = [f"{broken}:{line}:{column}: error: prompt 'emergncy-notice' not found for {lang} (Prompts/{lang}/emergncy-notice.wav)"
                for lang in ("zh-CN", "en-US")]
    assert bad.stdout.splitlines() == expected, bad.stdout

    config = tmp_path / "hotline.yaml"
    config.write_text(HOTLINE_CONFIG.read_text()
                      .replace("directory: Prompts", f"directory: {REPO / 'Prompts'}")
                      .replace("directory: Dialplans", f"directory: {plans}"))
    daemon = subprocess.run([str(HOTLINE_BIN), "serve", "--config", str(config), "--sip-port", str(free_port()),
                             "--http-port", str(free_port()), "--data-dir", str(tmp_path / "data")],
                            capture_output=True, text=True, timeout=60, cwd=REPO)
    assert daemon.returncode != 0
    assert f"{broken}:{line}:{column}: error: prompt 'emergncy-notice' not found" in daemon.stdout + daemon.stderr
