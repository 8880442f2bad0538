#!/usr/bin/env python3
"""Capacity benchmark of the hotline daemon with SIPp (driven by bench/run.sh).

For each concurrency step L: SIPp (core 0) keeps L calls up, each holding BENCH_HOLD_MS while
the daemon (core 1) plays the welcome prompt and menu to it. Measured per step, over the
steady window in which L calls are up:
  - failed calls (the ramp stops at the first step with any),
  - CPS, INVITE->200 latency p50/p99 (SIPp response times, -trace_rtt),
  - daemon CPU per call (utime+stime of the daemon process, /proc/PID/stat) in % of a core,
  - daemon RSS per call ((peak VmRSS - idle VmRSS) / L),
  - RTP spacing: share of consecutive packets of one SSRC within 20 +- 2 ms (tshark on lo),
  - SIPp's own CPU: a step where SIPp used > 70% of its core is marked as not trustworthy.
Then one separate run at a fixed 100 calls/s for INVITE->200 latency.

Environment (all optional):
  HOTLINE_BIN          daemon binary (default .build/release/hotline)
  HOTLINE_CONFIG       config (default hotline.yaml)
  BENCH_STEPS          "100 250 500 ..." (default 100 250 500 750 1000 1250 1500 1750 2000)
  BENCH_MAX_STEP       drop steps above this
  BENCH_HOLD_MS        call hold time (default 30000)
  BENCH_CPS            rate of the latency run (default 100); BENCH_CPS_SECONDS (default 10)
  BENCH_CPS_HOLD_MS    hold time in the latency run (default 2000)
  BENCH_QUICK=1        smoke run: steps 50 100, hold 10 s, latency run of 5 s
  BENCH_DAEMON_CPU / BENCH_SIPP_CPU   cores to pin to (default 1 / 0)
  BENCH_NO_CAPTURE=1   skip the tshark capture
  BENCH_PEER_STEP      concurrency of the side-by-side run against baresip (default 100;
                       baresip saturates one core near 200 calls, PEERS.md)
  BENCH_NO_PEER=1      skip the baresip run
  BENCH_EVENTS         events per event-pipeline run (default 60000); BENCH_EVENTS_RATE (5000)
  BENCH_NO_EVENTS=1    skip the event pipeline runs
"""
from __future__ import annotations

import json
import math
import os
import platform
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(REPO / "Tests" / "interop"))
sys.path.insert(0, str(HERE))

from rtp_spacing import spacing  # noqa: E402
from siputil import options_ok  # noqa: E402

LOCAL = "127.0.0.1"
CLK_TCK = os.sysconf("SC_CLK_TCK")
RTP_MIN, RTP_MAX = 20000, 29999


def env(name, default):
    return os.environ.get(name, default)


QUICK = env("BENCH_QUICK", "") not in ("", "0")
STEPS = [int(x) for x in env("BENCH_STEPS", "50 100" if QUICK else
                             "100 250 500 750 1000 1250 1500 1750 2000").split()]
if env("BENCH_MAX_STEP", ""):
    STEPS = [s for s in STEPS if s <= int(env("BENCH_MAX_STEP", "0"))]
HOLD_MS = int(env("BENCH_HOLD_MS", "10000" if QUICK else "30000"))
CPS = int(env("BENCH_CPS", "100"))
CPS_SECONDS = int(env("BENCH_CPS_SECONDS", "5" if QUICK else "10"))
CPS_HOLD_MS = int(env("BENCH_CPS_HOLD_MS", "2000"))
DAEMON_CPU = env("BENCH_DAEMON_CPU", "1")
SIPP_CPU = env("BENCH_SIPP_CPU", "0")
PEER_STEP = int(env("BENCH_PEER_STEP", "50" if QUICK else "100"))
CAPTURE = env("BENCH_NO_CAPTURE", "") in ("", "0") and shutil.which("tshark") is not None
SIPP_CPU_LIMIT = 70.0


# ------------------------------------------------------------------ /proc helpers

def cpu_seconds(pid: int) -> float:
    """utime + stime of a process, in seconds (fields 14 and 15 of /proc/PID/stat)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def percentile(values: list[float], p: float) -> float | None:
    if not values:
        return None
    v = sorted(values)
    return v[min(len(v) - 1, max(0, math.ceil(p / 100 * len(v)) - 1))]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as t:
        t.bind((LOCAL, 0))
        port = t.getsockname()[1]
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
        u.bind((LOCAL, port))  # raises if UDP is taken; rare, then rerun
    return port


def read_rtt(path_glob_dir: Path) -> list[float]:
    """Response times (ms) from SIPp's -trace_rtt files: 'Date_ms;response_time_ms;rtd_no'."""
    out = []
    for f in path_glob_dir.glob("*_rtt.csv"):
        for line in f.read_text(errors="replace").splitlines()[1:]:
            parts = line.strip().split(";")
            if len(parts) >= 3 and parts[2].strip() == "invite":
                try:
                    out.append(float(parts[1]))
                except ValueError:
                    pass
    return out


def read_stat(path: Path) -> dict:
    """Last snapshot of SIPp's -trace_stat CSV as a dict."""
    lines = [line for line in path.read_text(errors="replace").splitlines() if line.strip()]
    if len(lines) < 2:
        return {}
    head, last = lines[0].split(";"), lines[-1].split(";")
    return dict(zip(head, last))


# ------------------------------------------------------------------ daemon and SIPp

class Daemon:
    def __init__(self, work: Path):
        self.bin = Path(env("HOTLINE_BIN", str(REPO / ".build" / "release" / "hotline")))
        self.sip_port, self.http_port = free_port(), free_port()
        self.log = open(work / "hotline.log", "wb")
        (work / "data").mkdir(exist_ok=True)
        cmd = ["taskset", "-c", DAEMON_CPU, str(self.bin), "serve",
               "--config", env("HOTLINE_CONFIG", str(REPO / "hotline.yaml")),
               "--sip-address", LOCAL, "--sip-port", str(self.sip_port),
               "--http-port", str(self.http_port), "--data-dir", str(work / "data"),
               "--rtp-port-min", str(RTP_MIN), "--rtp-port-max", str(RTP_MAX),
               # SIPp sends no RTP: keep the daemon from hanging up silent calls.
               "--no-media-timeout", "3600", "--drain-timeout", "5"]
        self.proc = subprocess.Popen(cmd, stdout=self.log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, cwd=REPO)
        deadline = time.monotonic() + 30
        while not options_ok(self.sip_port, 0.3):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"daemon did not come up; see {work / 'hotline.log'}")
            time.sleep(0.2)
        self.pid = self.proc.pid  # taskset execs the daemon: same pid
        self.service = "12345"
        self.name = "hotline"

    def stop(self) -> int | None:
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            return None


class Baresip:
    """The peer run side by side: baresip 1.0 auto-answering and playing a WAV file (the same
    job as the daemon's prompt playback), pinned to the daemon's core, driven by the same SIPp
    scenario. PEERS.md: its aufile source ends the call at end of file, so the file is padded
    well past the hold time."""

    def __init__(self, work: Path, max_calls: int):
        exe = shutil.which("baresip")
        if exe is None:
            raise SystemExit("bench: baresip missing (apt-get install baresip-core)")
        conf = work / "baresip"
        conf.mkdir(parents=True, exist_ok=True)
        wav = conf / "prompt.wav"
        seconds = HOLD_MS / 1000 + 60
        subprocess.run(["sox", str(REPO / "Prompts" / "zh-CN" / "welcome.wav"), str(wav),
                        "repeat", str(int(seconds // 3) + 1)], check=True)
        self.sip_port = free_port()
        (conf / "config").write_text(
            "poll_method epoll\n"
            f"sip_listen {LOCAL}:{self.sip_port}\n"
            f"call_max_calls {max_calls + 100}\n"
            "call_local_timeout 120\n"
            "module_path /usr/lib/baresip/modules\n"
            "module g711.so\nmodule aufile.so\nmodule_app account.so\n"
            "audio_player aufile,/dev/null\n"
            f"audio_source aufile,{wav}\n"
            "audio_alert aufile,/dev/null\n"
            "rtp_ports 40000-59999\n")
        (conf / "accounts").write_text(
            f"<sip:12345@{LOCAL}>;regint=0;answermode=auto;audio_codecs=PCMU\n")
        self.log = open(work / "baresip.log", "wb")
        self.proc = subprocess.Popen(["taskset", "-c", DAEMON_CPU, exe, "-f", str(conf), "-n", LOCAL],
                                     stdout=self.log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, cwd=conf)
        self.pid = self.proc.pid
        self.service = "12345"
        self.name = "baresip"
        self.bin = Path(exe)
        deadline = time.monotonic() + 15
        while not options_ok(self.sip_port, 0.3):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"baresip did not come up; see {work / 'baresip.log'}")
            time.sleep(0.2)

    def stop(self) -> int | None:
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            return None


def sipp_cmd(d, work: Path, limit: int, rate: float, count: int, hold_ms: int,
             timeout_s: int) -> list[str]:
    return ["taskset", "-c", SIPP_CPU, "sipp", f"{LOCAL}:{d.sip_port}",
            "-sf", str(HERE / "uac-prompt.xml"), "-s", d.service,
            "-i", LOCAL, "-mi", LOCAL, "-p", str(free_port()), "-mp", str(free_port()),
            "-buff_size", "4194304", "-l", str(limit), "-r", f"{rate:g}", "-m", str(count),
            "-d", str(hold_ms), "-nostdin", "-timeout", f"{timeout_s}s", "-timeout_error",
            "-recv_timeout", "20s", "-trace_stat", "-stf", str(work / "stat.csv"), "-fd", "1",
            "-trace_rtt", "-rtt_freq", "1", "-trace_err", "-error_file", str(work / "errors.log"),
            "-trace_screen", "-screen_file", str(work / "screen.log")]


def run_step(d, work: Path, limit: int, idle_rss: int) -> dict:
    hold_s = HOLD_MS / 1000
    rate = max(1.0, math.ceil(limit * 1.25 / hold_s))  # reach L in 0.8 x hold
    count = 2 * limit
    ramp = limit / rate
    steady_from, steady_to = ramp + 2.0, count / rate   # L calls up in between
    timeout_s = int(count / rate + hold_s + 60)
    work.mkdir(parents=True, exist_ok=True)
    sipp = subprocess.Popen(sipp_cmd(d, work, limit, rate, count, HOLD_MS, timeout_s),
                            cwd=work, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=open(work / "sipp.stderr", "wb"))
    t0 = time.monotonic()
    samples = []  # (t, daemon cpu s, daemon rss KiB, sipp cpu s)
    capture = None
    try:
        while sipp.poll() is None:
            t = time.monotonic() - t0
            try:
                samples.append((t, cpu_seconds(d.pid), rss_kib(d.pid), cpu_seconds(sipp.pid)))
            except (FileNotFoundError, ProcessLookupError):
                pass
            mid = (steady_from + steady_to) / 2
            if CAPTURE and d.name == "hotline" and capture is None and t >= mid - 2.5:
                capture = subprocess.Popen(
                    ["taskset", "-c", SIPP_CPU, "tshark", "-i", "lo", "-a", "duration:5",
                     "-s", "96", "-f", f"udp and src host {LOCAL} and src portrange {RTP_MIN}-{RTP_MAX}",
                     "-w", str(work / "rtp.pcapng"), "-q"],
                    stdout=subprocess.DEVNULL, stderr=open(work / "tshark.stderr", "wb"))
            time.sleep(0.5)
    finally:
        if sipp.poll() is None:
            sipp.kill()
        if capture is not None:
            try:
                capture.wait(15)
            except subprocess.TimeoutExpired:
                capture.kill()
    rc = sipp.wait()
    steady = [s for s in samples if steady_from <= s[0] <= steady_to]
    res = {"concurrency": limit, "rate": rate, "sipp_rc": rc}
    stat = read_stat(work / "stat.csv") if (work / "stat.csv").exists() else {}
    res["ok_calls"] = int(stat.get("SuccessfulCall(C)", 0) or 0)
    res["failed_calls"] = int(stat.get("FailedCall(C)", 0) or 0) or (0 if rc == 0 else None)
    if len(steady) >= 2:
        (ta, ca, _, sa), (tb, cb, _, sb) = steady[0], steady[-1]
        res["daemon_cpu_pct"] = 100 * (cb - ca) / (tb - ta)
        res["cpu_pct_per_call"] = res["daemon_cpu_pct"] / limit
        res["sipp_cpu_pct"] = 100 * (sb - sa) / (tb - ta)
        res["rss_kib_per_call"] = (max(s[2] for s in steady) - idle_rss) / limit
        res["steady_s"] = tb - ta
    lat = read_rtt(work)
    res["cps"] = rate
    res["lat_p50_ms"], res["lat_p99_ms"] = percentile(lat, 50), percentile(lat, 99)
    if capture is not None and (work / "rtp.pcapng").exists():
        fields = subprocess.run(
            ["tshark", "-r", str(work / "rtp.pcapng"), "-d", f"udp.port=={RTP_MIN}-{RTP_MAX},rtp",
             "-T", "fields", "-e", "frame.time_epoch", "-e", "rtp.ssrc", "-e", "rtp.seq"],
            capture_output=True, text=True).stdout.splitlines()
        res["rtp"] = spacing(fields)
    res["trusted"] = res.get("sipp_cpu_pct", 0) <= SIPP_CPU_LIMIT
    return res


def run_latency(d: Daemon, work: Path) -> dict:
    work.mkdir(parents=True, exist_ok=True)
    count = CPS * CPS_SECONDS
    limit = int(CPS * CPS_HOLD_MS / 1000 * 2) + 10
    p = subprocess.run(sipp_cmd(d, work, limit, CPS, count, CPS_HOLD_MS,
                                CPS_SECONDS + CPS_HOLD_MS // 1000 + 60),
                       cwd=work, stdin=subprocess.DEVNULL, capture_output=True)
    lat = read_rtt(work)
    stat = read_stat(work / "stat.csv") if (work / "stat.csv").exists() else {}
    return {"cps": CPS, "calls": count, "sipp_rc": p.returncode,
            "failed_calls": int(stat.get("FailedCall(C)", 0) or 0),
            "p50_ms": percentile(lat, 50), "p99_ms": percentile(lat, 99), "samples": len(lat)}


# ------------------------------------------------------------------ report

def fmt(v, spec=".2f", suffix=""):
    return "-" if v is None else f"{v:{spec}}{suffix}"


def ms(v):
    """SIPp times responses in whole milliseconds: 0 means under one."""
    return "-" if v is None else ("<1" if v < 1 else f"{v:.0f}")


def table(results: list[dict], lat: dict | None) -> str:
    rows = ["| concurrent calls | ok / failed | CPS | INVITE→200 p50 / p99 | daemon CPU | CPU per call "
            "| RSS per call | RTP within 20±2 ms | SIPp CPU | note |",
            "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"]
    for r in results:
        rtp = r.get("rtp") or {}
        note = [] if r["trusted"] else ["SIPp > 70% of its core: discard"]
        if r.get("failed_calls"):
            note.append("failures: ramp stopped")
        rows.append(
            f"| {r['concurrency']} | {r['ok_calls']} / {fmt(r.get('failed_calls'), 'd')} "
            f"| {r['cps']:g} | {ms(r['lat_p50_ms'])} / {ms(r['lat_p99_ms'])} ms "
            f"| {fmt(r.get('daemon_cpu_pct'), '.1f', '%')} | {fmt(r.get('cpu_pct_per_call'), '.3f', '%')} "
            f"| {fmt(r.get('rss_kib_per_call'), '.0f', ' KiB')} "
            f"| {fmt(rtp.get('share') and 100 * rtp['share'], '.1f', '%')} ({rtp.get('streams', 0)} streams) "
            f"| {fmt(r.get('sipp_cpu_pct'), '.0f', '%')} | {'; '.join(note)} |")
    good = [r for r in results if r.get("failed_calls") == 0 and r["trusted"]]
    out = "\n".join(rows) + "\n\n"
    out += (f"Highest concurrency with zero failed calls: **{max(r['concurrency'] for r in good)}**"
            if good else "No step completed without failures.") + "\n"
    if lat:
        out += (f"\nINVITE→200 at {lat['cps']} calls/s ({lat['calls']} calls, hold "
                f"{CPS_HOLD_MS} ms): p50 {ms(lat['p50_ms'])} ms, p99 {ms(lat['p99_ms'])} ms, "
                f"failed {lat['failed_calls']}\n")
    return out


def comparison(ours: dict | None, peer: dict | None) -> str:
    if not ours or not peer:
        return ""
    def ratio(key):
        a, b = ours.get(key), peer.get(key)
        return f"{b / a:.1f}×" if a and b else "-"
    rows = [f"\nSide by side at {PEER_STEP} concurrent calls, same SIPp scenario, same core "
            f"(each answers and plays a prompt to every call):\n",
            "| system | ok / failed | CPU per call | RSS per call | INVITE→200 p99 |",
            "|---|---:|---:|---:|---:|"]
    for name, r in (("hotline", ours), ("baresip 1.0", peer)):
        rows.append(f"| {name} | {r['ok_calls']} / {fmt(r.get('failed_calls'), 'd')} "
                    f"| {fmt(r.get('cpu_pct_per_call'), '.3f', '%')} | {fmt(r.get('rss_kib_per_call'), '.0f', ' KiB')} "
                    f"| {ms(r['lat_p99_ms'])} ms |")
    rows.append(f"\nRatio baresip ÷ hotline: CPU per call {ratio('cpu_pct_per_call')}, "
                f"RSS per call {ratio('rss_kib_per_call')}.\n")
    return "\n".join(rows)


# ------------------------------------------------------------------ event pipeline

class _Receiver:
    """A local webhook receiver that counts delivered CloudEvents (single or batch)."""

    def __init__(self):
        import http.server
        import threading
        counter = self
        self.events = 0
        self.lock = threading.Lock()

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                n = len(json.loads(body)) if "batch" in (self.headers.get("Content-Type") or "") else 1
                with counter.lock:
                    counter.events += n
                self.send_response(204)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer((LOCAL, 0), Handler)
        self.url = f"http://{LOCAL}:{self.server.server_address[1]}/events"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()


def run_events(work: Path) -> list[dict]:
    """`hotline bench-events` at the target rate and flat out, delivering to a local receiver."""
    bin_ = Path(env("HOTLINE_BIN", str(REPO / ".build" / "release" / "hotline")))
    count = int(env("BENCH_EVENTS", "20000" if QUICK else "60000"))
    out = []
    for rate in (int(env("BENCH_EVENTS_RATE", "5000")), 0):
        receiver = _Receiver()
        try:
            d = work / f"events-{rate}"
            cmd = ["taskset", "-c", DAEMON_CPU, str(bin_), "bench-events", "--data-dir", str(d),
                   "--count", str(count), "--rate", str(rate), "--webhook", receiver.url]
            p = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
            line = (p.stdout.strip().splitlines() or ["{}"])[-1]
            r = json.loads(line) if p.returncode == 0 else {"error": p.stderr[-500:]}
            r["received"] = receiver.events
            out.append(r)
            print("bench: events", json.dumps(r), flush=True)
        finally:
            receiver.close()
    return out


def events_table(rows: list[dict]) -> str:
    if not rows:
        return ""
    out = ["\nEvent outbox (`hotline bench-events`: SQLite WAL group commit, webhook batches of 100 "
           "to a local receiver; latency = append until durable):\n",
           "| target rate | events | appended/s | append p50 / p99 / max | delivered/s | received |",
           "|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        if "error" in r:
            out.append(f"| - | error: {r['error'][:80]} | | | | |")
            continue
        target = "flat out" if not r.get("target_rate") else f"{r['target_rate']:.0f}/s"
        out.append(f"| {target} | {r['events']:.0f} | {r['appended_per_s']:.0f} | "
                   f"{r['append_p50_ms']:.2f} / {r['append_p99_ms']:.2f} / {r['append_max_ms']:.1f} ms | "
                   f"{r['delivered_per_s']:.0f} | {r['received']} |")
    return "\n".join(out) + "\n"


def cpu_model() -> str:
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def main() -> int:
    for tool in ("sipp", "taskset"):
        if shutil.which(tool) is None:
            raise SystemExit(f"bench: '{tool}' is not installed")
    work = Path(tempfile.mkdtemp(prefix="hotline-bench-"))
    print(f"bench: work dir {work}; steps {STEPS}; hold {HOLD_MS} ms", flush=True)
    d = Daemon(work)
    results, lat, ours_at_peer_step, peer_result = [], None, None, None
    try:
        time.sleep(1)
        idle = rss_kib(d.pid)
        for step in STEPS:
            print(f"bench: step {step} concurrent calls ...", flush=True)
            r = run_step(d, work / f"step-{step}", step, idle)
            print("bench:", json.dumps(r), flush=True)
            results.append(r)
            if r.get("failed_calls") != 0 or d.proc.poll() is not None:
                break
            time.sleep(3)  # let the last BYEs settle
        if d.proc.poll() is None:
            print(f"bench: latency at {CPS} calls/s ...", flush=True)
            lat = run_latency(d, work / "latency")
            print("bench:", json.dumps(lat), flush=True)
        ours_at_peer_step = next((r for r in results if r["concurrency"] == PEER_STEP), None)
        if ours_at_peer_step is None and d.proc.poll() is None:
            time.sleep(3)
            print(f"bench: hotline at the peer step ({PEER_STEP}) ...", flush=True)
            ours_at_peer_step = run_step(d, work / f"hotline-{PEER_STEP}", PEER_STEP, rss_kib(d.pid))
    finally:
        rc = d.stop()
    if env("BENCH_NO_PEER", "") in ("", "0"):
        print(f"bench: peer baresip at {PEER_STEP} concurrent calls ...", flush=True)
        peer = Baresip(work, PEER_STEP)
        try:
            time.sleep(1)
            peer_result = run_step(peer, work / f"baresip-{PEER_STEP}", PEER_STEP, rss_kib(peer.pid))
            print("bench:", json.dumps(peer_result), flush=True)
        finally:
            peer.stop()
    events = [] if env("BENCH_NO_EVENTS", "") not in ("", "0") else run_events(work)
    report = table(results, lat) + comparison(ours_at_peer_step, peer_result) + events_table(events)
    header = (f"\n## {datetime.now(timezone.utc).strftime('%Y-%m-%d %H:%M UTC')}"
              f"{' (quick)' if QUICK else ''}\n\n"
              f"- `{' '.join(platform.uname())}`\n- CPU: {cpu_model()}; daemon on core {DAEMON_CPU}, "
              f"SIPp on core {SIPP_CPU}\n- binary: `{d.bin}`; hold {HOLD_MS} ms; daemon exit code {rc}\n"
              f"- raw data: `{work}`\n\n")
    print(header + report)
    with open(HERE / "RESULTS.md", "a") as f:
        if f.tell() == 0:
            f.write("# Benchmark results\n\nAppended by `bench/run.sh` (`make bench`). "
                    "See bench/bench.py for what each column means.\n")
        f.write(header + report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
