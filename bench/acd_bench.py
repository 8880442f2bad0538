#!/usr/bin/env python3
"""ACD benchmark (called by bench/run.sh; BENCH_NO_ACD=1 skips it).

1. Routing decisions per second of the ACD state machine with 2,000 callers waiting
   (`hotline simulate --bench`: joins, offers, answers and call ends in a loop, no I/O).
2. Offers with 2,000 callers waiting in a real daemon (release, core 1): SIPp (core 0) puts
   BENCH_ACD_WAITING callers (default 2000) in the `general` queue with music on hold; then 5
   pjsua2 agent seats log in and take calls (talk 1 s) for BENCH_ACD_SECONDS (default 30).
   Measured: offer latency from the routing decision (the desk feed's `offer`, sent at the
   decision) to the INVITE at the seat, and to the seat's 180 (hotline_acd_offer_seconds);
   the daemon's CPU with the queue full and while agents work; RSS per waiting caller.
   No queue engine runs side by side: neither Asterisk nor FreeSWITCH is packaged on the
   bench machine (the figures are absolute; the SIPp/baresip ratios are in bench.py's runs).
Results are printed and appended to bench/RESULTS.md.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from datetime import datetime, timezone
from pathlib import Path

import bench as b

HERE = Path(__file__).resolve().parent
INTEROP = b.REPO / "Tests" / "interop"
WAITING = int(b.env("BENCH_ACD_WAITING", "2000"))
SECONDS = int(b.env("BENCH_ACD_SECONDS", "30"))
SEATS = ["1001", "1002", "1003", "1004", "1005"]
# The seats are pjsua2 (installed in the interop venv by `make bench`'s venv step).
SEAT_PYTHON = str(b.REPO / ".venv" / "bin" / "python") if (b.REPO / ".venv" / "bin" / "python").exists() else sys.executable

QUEUE_PLAN = (INTEROP / "dialplans" / "queue-test.yaml").read_text()   # enqueue at once


def api(d, method: str, path: str, body: dict | None = None) -> dict:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(f"http://{b.LOCAL}:{d.http_port}{path}", data=data, method=method,
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=30) as r:
        return json.loads(r.read() or b"{}")


def decisions_per_second() -> str:
    binary = os.environ.get("HOTLINE_BIN", str(b.REPO / ".build" / "release" / "hotline"))
    p = subprocess.run(["taskset", "-c", b.DAEMON_CPU, binary, "simulate", "--bench", "--waiting", "2000",
                        "--agents", "100", "--seconds", "3"], capture_output=True, text=True, timeout=120)
    return p.stdout.strip()


def daemon(work: Path) -> b.Daemon:
    plans = work / "Dialplans"
    shutil.copytree(b.REPO / "Dialplans", plans)
    (plans / "queue-test.yaml").write_text(QUEUE_PLAN)
    text = (b.REPO / "hotline.yaml").read_text()
    start, end = text.index("    overflow:"), text.index("  - name: enterprise")
    text = text[:start] + text[end:]
    text = (text.replace("directory: Prompts", f"directory: {b.REPO / 'Prompts'}")
            .replace("directory: Dialplans", f"directory: {plans}")
            .replace("qualify-interval: 30", "qualify-interval: 0")
            .replace("max-calls: 4000", "max-calls: 50000")
            .replace("max-call-rate: 500", "max-call-rate: 10000")
            .replace("  enabled: true", "  enabled: false")          # recording: measured in bench.py
            .replace("    wrapup: 5 ", "    wrapup: 0 ")
            .replace("    announce-frequency: 45", "    announce-frequency: 0")
            .replace("lines:\n", "lines:\n  - number: \"12399\"\n    dialplan: queue-test.yaml\n", 1))
    config = work / "hotline.yaml"
    config.write_text(text)
    os.environ["HOTLINE_CONFIG"] = str(config)
    (work / "d").mkdir(exist_ok=True)
    return b.Daemon(work / "d")


class Feed(threading.Thread):
    def __init__(self, d, agent: str):
        super().__init__(daemon=True)
        self.events: list[tuple[float, str, dict]] = []
        self.response = urllib.request.urlopen(f"http://{b.LOCAL}:{d.http_port}/v1/agents/{agent}/feed", timeout=600)
        self.start()

    def run(self):
        kind = None
        try:
            for raw in self.response:
                line = raw.decode().rstrip("\n")
                if line.startswith("event: "):
                    kind = line[7:]
                elif line.startswith("data: ") and kind:
                    self.events.append((time.time(), kind, json.loads(line[6:])))
        except Exception:
            pass


def metric_histogram(d, name: str) -> tuple[float, float, list[tuple[float, float]]]:
    text = urllib.request.urlopen(f"http://{b.LOCAL}:{d.http_port}/metrics", timeout=10).read().decode()
    total = count = 0.0
    buckets = []
    for line in text.splitlines():
        if line.startswith(name + "_sum"):
            total = float(line.split()[-1])
        elif line.startswith(name + "_count"):
            count = float(line.split()[-1])
        elif line.startswith(name + "_bucket"):
            le = line.split('le="')[1].split('"')[0]
            buckets.append((float("inf") if le == "+Inf" else float(le), float(line.split()[-1])))
    return total, count, buckets


def bucket_quantile(buckets: list[tuple[float, float]], q: float) -> float | None:
    if not buckets or buckets[-1][1] == 0:
        return None
    target = q * buckets[-1][1]
    for le, n in buckets:
        if n >= target:
            return le
    return None


def run(work: Path) -> dict:
    d = daemon(work)
    seats: list[subprocess.Popen] = []
    sipp = None
    try:
        for seat in SEATS:
            ready = work / f"seat-{seat}.ready"
            seats.append(subprocess.Popen(
                ["taskset", "-c", b.SIPP_CPU, SEAT_PYTHON, str(INTEROP / "pjsua_agents.py"), str(d.sip_port),
                 "--seats", seat, "--answer-after", "0.1", "--talk", "1", "--duration", str(SECONDS + 400),
                 "--ready-file", str(ready), "--media-port", str(40000 + 40 * SEATS.index(seat))],
                stdout=open(work / f"seat-{seat}.json", "w"), stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL))
        deadline = time.time() + 20
        while not all((work / f"seat-{s}.ready").exists() for s in SEATS):
            if time.time() > deadline:
                raise SystemExit("bench: agent seats did not register")
            time.sleep(0.2)
        idle_rss = b.rss_kib(d.pid)
        sipp = subprocess.Popen(
            ["taskset", "-c", b.SIPP_CPU, "sipp", f"{b.LOCAL}:{d.sip_port}", "-sf", str(INTEROP / "scenarios" / "uac-queue.xml"),
             "-s", "12399", "-i", b.LOCAL, "-mi", b.LOCAL, "-p", str(b.free_port()), "-mp", str(b.free_port()),
             "-buff_size", "4194304", "-l", str(WAITING), "-r", "200", "-m", str(WAITING), "-nostdin",
             "-timeout", f"{SECONDS + 600}s", "-trace_err", "-error_file", str(work / "sipp-errors.log")],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL, cwd=work)
        deadline = time.time() + WAITING / 100 + 60
        waiting = 0
        while time.time() < deadline:
            waiting = api(d, "GET", "/v1/queues/general")["waiting"]
            if waiting >= WAITING:
                break
            time.sleep(1)
        full_rss = b.rss_kib(d.pid)
        cpu0, t0 = b.cpu_seconds(d.pid), time.monotonic()
        time.sleep(10)
        idle_cpu = (b.cpu_seconds(d.pid) - cpu0) / (time.monotonic() - t0) * 100
        feeds = [Feed(d, f"a{s}") for s in SEATS]
        cpu0, t0 = b.cpu_seconds(d.pid), time.monotonic()
        for s in SEATS:
            api(d, "POST", f"/v1/agents/a{s}/login", {"seat": s})
        time.sleep(SECONDS)
        for s in SEATS:
            api(d, "POST", f"/v1/agents/a{s}/logout")
        busy_cpu = (b.cpu_seconds(d.pid) - cpu0) / (time.monotonic() - t0) * 100
        queue = api(d, "GET", "/v1/queues/general")
        total, count, buckets = metric_histogram(d, "hotline_acd_offer_seconds")
    finally:
        if sipp is not None:
            sipp.kill()
            sipp.wait()
        d.stop()
        for p in seats:
            p.wait(timeout=SECONDS + 420)
    invites: dict[str, float] = {}
    for s in SEATS:
        lines = [l for l in (work / f"seat-{s}.json").read_text().splitlines() if l.startswith("{")]
        for offer in json.loads(lines[-1])[s]["offers"] if lines else []:
            invites[offer["headers"].get("X-Hotline-Call-ID", "")] = offer["at"]
    latencies = sorted((invites[data["call"]] - t) * 1000 for f in feeds for t, kind, data in f.events
                       if kind == "offer" and data["call"] in invites)
    return {
        "waiting": waiting, "answered": queue["total"]["answered"], "offers": len(latencies),
        "decision_to_invite_p50_ms": b.percentile(latencies, 50), "decision_to_invite_p99_ms": b.percentile(latencies, 99),
        "decision_to_180_mean_ms": (total / count * 1000) if count else None,
        "decision_to_180_p99_ms": (bucket_quantile(buckets, 0.99) or 0) * 1000 if count else None,
        "cpu_waiting_pct": idle_cpu, "cpu_agents_pct": busy_cpu,
        "rss_per_waiting_kib": (full_rss - idle_rss) / max(waiting, 1),
    }


def main() -> int:
    pure = decisions_per_second()
    with tempfile.TemporaryDirectory(prefix="hotline-acd-bench-") as tmp:
        r = run(Path(tmp))

    def f(v, spec=".1f"):
        return "-" if v is None else format(v, spec)

    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    text = f"""
## ACD ({stamp}, {b.cpu_model()})

`hotline simulate --bench` (the ACD state machine alone, 2,000 callers waiting, 100 agents; daemon core):

```
{pure}
```

Real daemon (release, core {b.DAEMON_CPU}), {r['waiting']} SIPp callers waiting in `general` with music on hold, then 5 pjsua2
seats (talk 1 s, answer after 0.1 s) taking calls for {SECONDS} s:

| figure | value |
|---|---|
| callers waiting | {r['waiting']} |
| calls answered by the 5 seats | {r['answered']} |
| offer latency, decision → INVITE at the seat, p50 / p99 | {f(r['decision_to_invite_p50_ms'])} / {f(r['decision_to_invite_p99_ms'])} ms |
| offer latency, decision → 180 from the seat, mean / p99 bucket | {f(r['decision_to_180_mean_ms'])} / {f(r['decision_to_180_p99_ms'])} ms |
| daemon CPU with the queue full (music to all), agents away | {f(r['cpu_waiting_pct'])} % of a core |
| daemon CPU while agents work | {f(r['cpu_agents_pct'])} % of a core |
| RSS per waiting caller | {f(r['rss_per_waiting_kib'])} KiB |

No queue engine ran side by side (neither Asterisk nor FreeSWITCH is on the bench machine).
"""
    print(text)
    with open(HERE / "RESULTS.md", "a") as out:
        out.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
