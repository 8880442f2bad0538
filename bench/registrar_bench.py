#!/usr/bin/env python3
"""Registrar and back-to-back call benchmark (run by bench/run.sh after bench.py).

The daemon (release build) is pinned to core BENCH_DAEMON_CPU, SIPp to BENCH_SIPP_CPU.

1. REGISTER throughput with digest: SIPp registers account 1001 (REGISTER, 401, REGISTER
   with MD5 qop=auth credentials, 200; bench/scenarios/register-auth.xml) at rising rates,
   BENCH_REG_SECONDS each. Per rate: registrations/s achieved, failures, daemon CPU per 1,000
   registrations (utime+stime, /proc). Side by side in the same run: Kamailio 5.6 as a
   registrar (usrloc in memory, `pv_www_authenticate` with the same realm and password, one
   UDP worker, tlsf allocator) on the same core with the same SIPp scenario; ratio of CPU per
   registration. The ramp stops at the first rate with failures.
2. Call setup through the daemon to a registered phone: a SIPp UAS registered as 1002 answers;
   SIPp as 1001 calls 1002 (INVITE, 401, ACK, INVITE with credentials, 200, ACK, hold
   BENCH_CALL_HOLD_MS, BYE; bench/scenarios/invite-auth.xml) at rising rates. Per rate:
   calls ok/failed, setup time p50/p99 (the authenticated INVITE to its 200, which spans the
   daemon's own INVITE to the phone and the phone's 200), daemon CPU per call.

Environment: BENCH_REG_RATES ("250 500 1000 2000"), BENCH_REG_SECONDS (5),
BENCH_CALL_RATES ("25 50 100 200"), BENCH_CALL_SECONDS (10), BENCH_CALL_HOLD_MS (2000),
BENCH_NO_KAMAILIO=1 to skip the peer.
"""
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import bench as b  # noqa: E402  (shared helpers: Daemon, cpu_seconds, percentile, free_port)

SCEN = HERE / "scenarios"
REG_RATES = [int(x) for x in b.env("BENCH_REG_RATES", "250 500 1000 2000").split()]
REG_SECONDS = int(b.env("BENCH_REG_SECONDS", "5"))
CALL_RATES = [int(x) for x in b.env("BENCH_CALL_RATES", "25 50 100 200").split()]
CALL_SECONDS = int(b.env("BENCH_CALL_SECONDS", "10"))
CALL_HOLD_MS = int(b.env("BENCH_CALL_HOLD_MS", "2000"))


def screen_counts(path: Path) -> tuple[int, int]:
    import re
    text = path.read_text(errors="replace") if path.exists() else ""
    ok = re.findall(r"Successful call\s*\|\s*\d+\s*\|\s*(\d+)", text)
    failed = re.findall(r"Failed call\s*\|\s*\d+\s*\|\s*(\d+)", text)
    return (int(ok[-1]) if ok else 0), (int(failed[-1]) if failed else 0)


def sipp(work: Path, target_port: int, scenario: Path, extra: list[str], rate: int, count: int, timeout_s: int,
         port: int | None = None):
    cmd = ["taskset", "-c", b.SIPP_CPU, "sipp", f"{b.LOCAL}:{target_port}", "-sf", str(scenario),
           "-i", b.LOCAL, "-mi", b.LOCAL, "-p", str(port or b.free_port()), "-mp", str(b.free_port()),
           "-r", str(rate), "-m", str(count), "-l", str(max(200, rate * 4)), "-buff_size", "4194304",
           "-nostdin", "-timeout", f"{timeout_s}s", "-recv_timeout", "10s",
           "-trace_rtt", "-rtt_freq", "1", "-trace_err", "-error_file", str(work / "errors.log"),
           "-trace_screen", "-screen_file", str(work / "screen.log"), *extra]
    subprocess.run(cmd, cwd=work, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                   timeout=timeout_s + 30)
    return screen_counts(work / "screen.log")


def rtts(work: Path, name: str) -> list[float]:
    values = []
    for f in work.glob("*_rtt.csv"):
        for line in f.read_text().splitlines()[1:]:
            parts = line.split(";")
            if len(parts) >= 3 and parts[2].strip() == name:
                try:
                    values.append(float(parts[1]))
                except ValueError:
                    pass
    return values


REGISTRAR_MODULES = ["tm", "sl", "pv", "maxfwd", "usrloc", "registrar", "auth", "textops"]
REGISTRAR_SCRIPT = """modparam("auth", "secret", "hotline-bench-secret")
modparam("auth", "nonce_expire", 300)
request_route {
    if (is_method("REGISTER")) {
        if (!pv_www_authenticate("hotline", "hotline-demo", "0")) {
            www_challenge("hotline", "1");
            exit;
        }
        save("location");
        exit;
    }
    if (is_method("OPTIONS")) {
        sl_send_reply("200", "OK");
        exit;
    }
    sl_send_reply("405", "Method Not Allowed");
}
"""


class Kamailio:
    """Kamailio 5.6 on loopback UDP running `script` with `modules`, pinned to `cpu`, started
    with the tlsf allocator (PEERS.md). By default the plain registrar that is the peer for
    REGISTER-with-digest cost; bench/media_bench.py runs it as an rtpengine-driving proxy."""

    def __init__(self, work: Path, modules: list[str] = REGISTRAR_MODULES, script: str = REGISTRAR_SCRIPT,
                 cpu: str | None = None, children: int = 1):
        exe = shutil.which("kamailio")
        if exe is None:
            raise SystemExit("bench: kamailio missing (apt-get install kamailio kamailio-extra-modules)")
        self.sip_port = b.free_port()
        cfg = work / "kamailio.cfg"
        loads = "".join(f'loadmodule "{m}.so"\n' for m in modules)
        cfg.write_text(f"""#!KAMAILIO
debug=1
log_stderror=yes
fork=yes
children={children}
disable_tcp=yes
listen=udp:{b.LOCAL}:{self.sip_port}
mpath="/usr/lib/x86_64-linux-gnu/kamailio/modules/"
{loads}{script}""")
        self.log = open(work / "kamailio.log", "wb")
        self.proc = subprocess.Popen(["taskset", "-c", cpu or b.DAEMON_CPU, exe, "-f", str(cfg), "-DD", "-E",
                                      "-x", "tlsf", "-X", "tlsf", "-m", "128", "-M", "16", "-w", str(work)],
                                     stdout=self.log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + 15
        while not b.options_ok(self.sip_port, 0.3):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise SystemExit(f"bench: kamailio did not come up; see {work / 'kamailio.log'}")
            time.sleep(0.2)

    def pids(self) -> list[int]:
        out = subprocess.run(["pgrep", "-P", str(self.proc.pid)], capture_output=True, text=True).stdout.split()
        return [self.proc.pid] + [int(p) for p in out]

    def cpu(self) -> float:
        total = 0.0
        for pid in self.pids():
            try:
                total += b.cpu_seconds(pid)
            except FileNotFoundError:
                pass
        return total

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def register_ramp(work: Path, port: int, cpu) -> list[dict]:
    users = work / "users.csv"
    users.write_text(f"SEQUENTIAL\n1001;x;{b.free_port()}\n")
    rows = []
    for rate in REG_RATES:
        step = work / f"reg-{rate}"
        step.mkdir()
        count = rate * REG_SECONDS
        c0, t0 = cpu(), time.monotonic()
        ok, failed = sipp(step, port, SCEN / "register-auth.xml", ["-inf", str(users)], rate, count, REG_SECONDS * 4 + 10)
        elapsed, used = time.monotonic() - t0, cpu() - c0
        row = {"rate": rate, "ok": ok, "failed": failed, "per_s": ok / elapsed if elapsed else 0,
               "cpu_ms_per_1000": 1000 * 1000 * used / max(1, ok)}
        print("bench: register", row, flush=True)
        rows.append(row)
        if failed or ok < count:
            break
    return rows


def call_ramp(work: Path, d) -> list[dict]:
    uas_port = b.free_port()
    uas = subprocess.Popen(["taskset", "-c", b.SIPP_CPU, "sipp", "-sn", "uas", "-i", b.LOCAL, "-mi", b.LOCAL,
                            "-p", str(uas_port), "-mp", str(b.free_port()), "-nostdin", "-buff_size", "4194304"],
                           cwd=work, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    rows = []
    try:
        users = work / "callee.csv"
        users.write_text(f"SEQUENTIAL\n1002;x;{uas_port}\n")
        reg = work / "register-1002.xml"
        reg.write_text((SCEN / "register-auth.xml").read_text().replace("username=1001", "username=1002"))
        regdir = work / "reg-callee"
        regdir.mkdir()
        ok, _ = sipp(regdir, d.sip_port, reg, ["-inf", str(users)], 1, 1, 10)
        if ok != 1:
            raise SystemExit("bench: the SIPp UAS could not register as 1002")
        # The caller registers as 1001 from the port it then calls from: the daemon shares
        # loopback with the sample's trunk, and challenges (rather than 404s) only INVITEs to
        # extensions that come from a registered phone's address and port.
        caller_port = b.free_port()
        callers = work / "caller.csv"
        callers.write_text(f"SEQUENTIAL\n1001;x;{caller_port}\n")
        callerdir = work / "reg-caller"
        callerdir.mkdir()
        ok, _ = sipp(callerdir, d.sip_port, SCEN / "register-auth.xml", ["-inf", str(callers)], 1, 1, 10, port=caller_port)
        if ok != 1:
            raise SystemExit("bench: the SIPp caller could not register as 1001")
        for rate in CALL_RATES:
            step = work / f"call-{rate}"
            step.mkdir()
            count = rate * CALL_SECONDS
            c0, t0 = b.cpu_seconds(d.pid), time.monotonic()
            ok, failed = sipp(step, d.sip_port, SCEN / "invite-auth.xml",
                              ["-s", "1002", "-d", str(CALL_HOLD_MS)], rate, count, CALL_SECONDS * 3 + 20, port=caller_port)
            used = b.cpu_seconds(d.pid) - c0
            setup = rtts(step, "setup")
            row = {"rate": rate, "ok": ok, "failed": failed,
                   "cps": ok / max(1e-9, time.monotonic() - t0 - CALL_HOLD_MS / 1000),
                   "setup_p50_ms": b.percentile(setup, 50), "setup_p99_ms": b.percentile(setup, 99),
                   "cpu_ms_per_call": 1000 * used / max(1, ok)}
            print("bench: calls", row, flush=True)
            rows.append(row)
            if failed or ok < count:
                break
            time.sleep(CALL_HOLD_MS / 1000 + 1)
    finally:
        uas.terminate()
        uas.wait(5)
    return rows


def main() -> int:
    work = Path(tempfile.mkdtemp(prefix="hotline-regbench-"))
    # The sample configuration, minus qualify pings (SIPp's built-in UAS does not answer
    # OPTIONS and would be marked unreachable after the first interval) and overload limits.
    config = work / "hotline.yaml"
    text = Path(b.env("HOTLINE_CONFIG", str(b.REPO / "hotline.yaml"))).read_text()
    config.write_text(text.replace("directory: Prompts", f"directory: {b.REPO / 'Prompts'}")
                      .replace("qualify-interval: 30", "qualify-interval: 0")
                      # Capacity, not the sample's overload limits (each call's challenged
                      # INVITE counts against max-call-rate too).
                      .replace("max-calls: 4000", "max-calls: 50000")
                      .replace("max-call-rate: 500", "max-call-rate: 10000"))
    os.environ["HOTLINE_CONFIG"] = str(config)
    d = b.Daemon(work)
    (work / "ours").mkdir()
    (work / "calls").mkdir()
    try:
        ours = register_ramp(work / "ours", d.sip_port, lambda: b.cpu_seconds(d.pid))
        calls = call_ramp(work / "calls", d)
    finally:
        rc = d.stop()
    peer = []
    if b.env("BENCH_NO_KAMAILIO", "") in ("", "0"):
        (work / "kamailio").mkdir()
        k = Kamailio(work / "kamailio")
        try:
            peer = register_ramp(work / "kamailio", k.sip_port, k.cpu)
        finally:
            k.stop()

    def fmt(v, spec=".1f"):
        return "-" if v is None else format(v, spec)

    lines = [f"\n## Registrar and calls to registered phones, {datetime.now(timezone.utc).strftime('%Y-%m-%d %H:%M UTC')}\n",
             f"- daemon on core {b.DAEMON_CPU}, SIPp on core {b.SIPP_CPU}; binary `{d.bin}`, exit code {rc}; raw data `{work}`\n",
             "\nREGISTER with digest (REGISTER, 401, REGISTER with MD5 qop=auth, 200), one account:\n",
             "| offered /s | hotline ok / failed | hotline reg/s | hotline CPU ms per 1,000 | Kamailio ok / failed | Kamailio reg/s | Kamailio CPU ms per 1,000 | CPU ratio Kamailio ÷ hotline |",
             "|---|---|---|---|---|---|---|---|"]
    for i, row in enumerate(ours):
        k = peer[i] if i < len(peer) else None
        ratio = (k["cpu_ms_per_1000"] / row["cpu_ms_per_1000"]) if k and row["cpu_ms_per_1000"] else None
        lines.append(f"| {row['rate']} | {row['ok']} / {row['failed']} | {fmt(row['per_s'], '.0f')} | {fmt(row['cpu_ms_per_1000'])} "
                     f"| {k['ok'] if k else '-'} / {k['failed'] if k else '-'} | {fmt(k['per_s'] if k else None, '.0f')} "
                     f"| {fmt(k['cpu_ms_per_1000'] if k else None)} | {fmt(ratio, '.2f')} |")
    lines += ["\nCalls from a registered phone (SIPp, with digest) through the daemon to a registered phone (SIPp UAS), "
              f"held {CALL_HOLD_MS} ms; setup = authenticated INVITE to 200:\n",
              "| offered CPS | ok / failed | achieved CPS | setup p50 ms | setup p99 ms | daemon CPU ms per call |",
              "|---|---|---|---|---|---|"]
    for row in calls:
        lines.append(f"| {row['rate']} | {row['ok']} / {row['failed']} | {fmt(row['cps'], '.0f')} | {fmt(row['setup_p50_ms'], '.2f')} "
                     f"| {fmt(row['setup_p99_ms'], '.2f')} | {fmt(row['cpu_ms_per_call'], '.2f')} |")
    report = "\n".join(lines) + "\n"
    print(report)
    with open(HERE / "RESULTS.md", "a") as f:
        f.write(report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
