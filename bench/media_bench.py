#!/usr/bin/env python3
"""Media relay benchmark (run by bench/run.sh): what a bridged call costs the daemon, side by
side with rtpengine relaying the same SIPp streams in the same run.

Both sides of every call are SIPp: a caller (media-uac.xml, account 1001 with digest) and a
callee (media-uas.xml, registered as 1002), each streaming 20 ms packets both ways for the
whole call. The daemon (release build) is pinned to BENCH_DAEMON_CPU, the SIPp processes to
BENCH_SIPP_CPU. Runs:

1. G.711 relay: BENCH_MEDIA_CALLS concurrent PCMU↔PCMU calls (default 500).
2. The same with recording on (stereo WAV of every call).
3. Transcoding: the callee answers Opus only (an Opus pcap, 16 kHz speech), the caller stays
   PCMU: BENCH_TRANSCODE_CALLS concurrent calls (default 100).
4. The peer: Kamailio 5.6 with rtpengine 10.5 (user space, ng protocol, `table = -1`) in
   front of the same SIPp callee, relaying run 1's streams and transcoding run 3's
   (`codec-mask-PCMU codec-transcode-opus`), on the daemon's core.

For each run, once every call is up: the relay's CPU (utime+stime of its processes, /proc)
over BENCH_MEDIA_WINDOW seconds, as % of one core per call; and, for the daemon, on its first
call's ports (tshark), the packets into and out of the relay (loss) and the delay the relay
adds (time from a payload's arrival to the same payload leaving for the other party),
p50/p99/max. SIPp starts every stream of a run in the same millisecond, so each 20 ms all
calls' packets arrive as one burst: the delay includes queueing behind the rest of the burst. (SIPp does
not read the audio it receives, so kernel receive-buffer drops on its sockets say nothing
about the relay.) Results are appended to bench/RESULTS.md with the ratios rtpengine ÷ hotline.
"""
import ctypes
import ctypes.util
import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import bench as b  # noqa: E402  (Daemon, cpu_seconds, percentile, free_port, env)
import registrar_bench as rb  # noqa: E402  (sipp, Kamailio helpers)

SCEN = HERE / "scenarios"
CALLS = int(b.env("BENCH_MEDIA_CALLS", "500"))
TRANSCODE_CALLS = int(b.env("BENCH_TRANSCODE_CALLS", "100"))
WINDOW = int(b.env("BENCH_MEDIA_WINDOW", "15"))
RATE = int(b.env("BENCH_MEDIA_CPS", "50"))
RTPENGINE_PORTS = (40000, 44999)


# --------------------------------------------------------------------------- media files

def pcmu_raw(work: Path) -> Path:
    """Speech (the welcome prompt, looped) as headerless µ-law for SIPp's rtp_stream."""
    raw = work / "speech.ulaw"
    subprocess.run(["sox", str(b.REPO / "Prompts" / "zh-CN" / "welcome.wav"), "-t", "ul", "-r", "8000", "-c", "1",
                    str(raw)], check=True)
    return raw


def opus_pcap(work: Path, seconds: int) -> Path:
    """The same speech as 16 kHz Opus (libopus through ctypes), 20 ms RTP packets, PT 111."""
    lib = ctypes.CDLL(ctypes.util.find_library("opus") or "libopus.so.0")
    lib.opus_encoder_create.restype = ctypes.c_void_p
    lib.opus_encode.argtypes = [ctypes.c_void_p, ctypes.POINTER(ctypes.c_int16), ctypes.c_int,
                                ctypes.POINTER(ctypes.c_ubyte), ctypes.c_int32]
    err = ctypes.c_int()
    enc = lib.opus_encoder_create(16000, 1, 2048, ctypes.byref(err))   # OPUS_APPLICATION_VOIP
    if err.value != 0 or not enc:
        raise SystemExit("bench: libopus encoder failed")
    wav = work / "speech16k.raw"
    subprocess.run(["sox", str(b.REPO / "Prompts" / "zh-CN" / "welcome.wav"), "-t", "raw", "-e", "signed-integer",
                    "-b", "16", "-r", "16000", "-c", "1", str(wav)], check=True)
    speech = wav.read_bytes()
    frame = 320
    samples = struct.unpack(f"<{len(speech) // 2}h", speech[: len(speech) // 2 * 2])
    pcap = work / "speech-opus.pcap"
    out = (ctypes.c_ubyte * 1500)()
    with open(pcap, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        for n in range(seconds * 50):
            start = (n * frame) % (len(samples) - frame)
            pcm = (ctypes.c_int16 * frame)(*samples[start:start + frame])
            size = lib.opus_encode(enc, pcm, frame, out, 1500)
            rtp = struct.pack("!BBHII", 0x80, 111, n & 0xFFFF, (n * 960) & 0xFFFFFFFF, 0x0BADCAFE) + bytes(out[:size])
            udp = struct.pack("!HHHH", 40000, 20000, 8 + len(rtp), 0) + rtp
            ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), n & 0xFFFF, 0, 64, 17, 0,
                             bytes([127, 0, 0, 1]), bytes([127, 0, 0, 1])) + udp
            eth = b"\x00" * 12 + b"\x08\x00" + ip
            usec = n * 20_000
            f.write(struct.pack("<IIII", usec // 1_000_000, usec % 1_000_000, len(eth), len(eth)))
            f.write(eth)
    return pcap


def callee_scenario(work: Path, raw: Path, pcap: Path | None) -> Path:
    text = (SCEN / "media-uas.xml").read_text()
    if pcap is None:
        media = "m=audio [rtpstream_audio_port] RTP/AVP 0\n      a=rtpmap:0 PCMU/8000"
        play = f'<exec rtp_stream="{raw},-1,0" />'
    else:
        media = "m=audio [media_port] RTP/AVP 111\n      a=rtpmap:111 opus/48000/2"
        play = f'<exec play_pcap_audio="{pcap}" />'
    path = work / ("callee-opus.xml" if pcap else "callee-pcmu.xml")
    path.write_text(text.replace("@MEDIA@", media).replace("@PLAY@", play))
    return path


def caller_scenario(work: Path, raw: Path, plain: bool) -> Path:
    path = work / ("caller-plain.xml" if plain else "caller.xml")
    path.write_text((SCEN / ("media-uac-plain.xml" if plain else "media-uac.xml")).read_text().replace("@RAW@", str(raw)))
    return path


# --------------------------------------------------------------------------- measurement

def relay_sample(ports: list[int], seconds: int = 4) -> dict:
    """One call's packets through the relay (tshark on its ports): packets in and out, and for
    copied payloads (same codec on both sides) the time from a payload's arrival to the same
    payload leaving, in arrival order (identical payloads such as silence queue up)."""
    if not ports or shutil.which("tshark") is None or b.env("BENCH_NO_CAPTURE", "") not in ("", "0"):
        return {}
    from collections import deque
    filt = " or ".join(f"udp port {p}" for p in ports)
    p = subprocess.run(["tshark", "-i", "lo", "-f", filt, "-a", f"duration:{seconds}", "-T", "fields",
                        "-e", "frame.time_epoch", "-e", "udp.srcport", "-e", "udp.dstport", "-e", "udp.payload"],
                       capture_output=True, text=True, timeout=seconds + 30)
    arrived: dict[str, deque] = {}
    delays: list[float] = []
    packets_in = packets_out = 0
    for line in p.stdout.splitlines():
        parts = line.split("\t")
        if len(parts) < 4 or len(parts[3]) < 48 or 0xC8 <= int(parts[3][2:4], 16) <= 0xCC:
            continue   # not RTP (RTCP packet types 200-204)
        t, src, dst, payload = float(parts[0]), int(parts[1]), int(parts[2]), parts[3][24:]
        if dst in ports:
            packets_in += 1
            arrived.setdefault(payload, deque()).append(t)
        elif src in ports:
            packets_out += 1
            queue = arrived.get(payload)
            if queue:
                delays.append(1000 * (t - queue.popleft()))
    return {"in": packets_in, "out": packets_out, "matched": len(delays),
            "p50_ms": b.percentile(delays, 50), "p99_ms": b.percentile(delays, 99),
            "max_ms": max(delays) if delays else None}


def register(step: Path, target_port: int, account: str, port: int, bind: bool) -> None:
    """SIPp registers `account` with the daemon as reachable at `port` (the caller also calls
    from that port: the daemon challenges INVITEs from a registered phone's address)."""
    users = step / f"{account}.csv"
    users.write_text(f"SEQUENTIAL\n{account};x;{port}\n")
    reg = step / f"register-{account}.xml"
    reg.write_text((SCEN / "register-auth.xml").read_text().replace("username=1001", f"username={account}"))
    regdir = step / f"reg-{account}"
    regdir.mkdir()
    ok, _ = rb.sipp(regdir, target_port, reg, ["-inf", str(users)], 1, 1, 10, port=port if bind else None)
    if ok != 1:
        raise SystemExit(f"bench: SIPp could not register as {account}")


def run_calls(step: Path, target_port: int, caller: Path, callee: Path, calls: int, cpu, delay_ports: list[int],
              callee_port: int | None = None, registers: bool = True) -> dict:
    """Starts the callee (registered with the daemon when `registers`), keeps `calls`
    concurrent calls up, and measures the relay while all of them are up."""
    step.mkdir(exist_ok=True)
    uas_port = callee_port or b.free_port()
    uas = subprocess.Popen(["taskset", "-c", b.SIPP_CPU, "sipp", "-sf", str(callee), "-i", b.LOCAL, "-mi", b.LOCAL,
                            "-p", str(uas_port), "-mp", str(b.free_port()), "-nostdin", "-buff_size", "4194304",
                            "-trace_err", "-error_file", str(step / "uas-errors.log")],
                           cwd=step, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    caller_port = b.free_port()
    try:
        if registers:
            register(step, target_port, "1002", uas_port, bind=False)
            register(step, target_port, "1001", caller_port, bind=True)
        ramp = calls / RATE
        hold_ms = int((ramp + WINDOW + 15) * 1000)
        uac = subprocess.Popen(
            ["taskset", "-c", b.SIPP_CPU, "sipp", f"{b.LOCAL}:{target_port}", "-sf", str(caller), "-s", "1002",
             "-i", b.LOCAL, "-mi", b.LOCAL, "-p", str(caller_port), "-mp", str(b.free_port()),
             "-r", str(RATE), "-m", str(calls), "-l", str(calls), "-d", str(hold_ms), "-buff_size", "4194304",
             "-nostdin", "-timeout", f"{int(hold_ms / 1000 + ramp + 60)}s", "-recv_timeout", "20s",
             "-trace_err", "-error_file", str(step / "errors.log"), "-trace_screen", "-screen_file", str(step / "screen.log")],
            cwd=step, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(ramp + 4)
        c0, t0 = cpu(), time.monotonic()
        time.sleep(WINDOW)
        used, elapsed = cpu() - c0, time.monotonic() - t0
        sample = relay_sample(delay_ports)
        uac.wait(timeout=hold_ms / 1000 + 120)
        ok, failed = rb.screen_counts(step / "screen.log")
    finally:
        uas.terminate()
        try:
            uas.wait(10)
        except subprocess.TimeoutExpired:
            uas.kill()
    row = {"run": step.name, "calls": calls, "ok": ok, "failed": failed,
           "core_pct_per_call": 100 * used / elapsed / calls, "sample": sample}
    print("bench: media", row, flush=True)
    return row


# --------------------------------------------------------------------------- the peer

class RTPEngine:
    def __init__(self, work: Path):
        exe = shutil.which("rtpengine")
        if exe is None:
            raise SystemExit("bench: rtpengine missing (apt-get install rtpengine-daemon)")
        self.ng_port = b.free_port()
        conf = work / "rtpengine.conf"
        conf.write_text(f"""[rtpengine]
table = -1
interface = {b.LOCAL}
listen-ng = {b.LOCAL}:{self.ng_port}
listen-cli = {b.LOCAL}:{b.free_port()}
port-min = {RTPENGINE_PORTS[0]}
port-max = {RTPENGINE_PORTS[1]}
foreground = true
log-level = 4
log-stderr = true
num-threads = 1
""")
        self.log = open(work / "rtpengine.log", "wb")
        self.proc = subprocess.Popen(["taskset", "-c", b.DAEMON_CPU, exe, "--config-file", str(conf)],
                                     stdout=self.log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while not self.ping():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise SystemExit(f"bench: rtpengine did not come up; see {work / 'rtpengine.log'}")
            time.sleep(0.2)

    def ping(self) -> bool:
        """An ng `ping` (bencode over UDP) answered with `pong`."""
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.settimeout(0.3)
            try:
                s.sendto(b"hb1 d7:command4:pinge", (b.LOCAL, self.ng_port))
                return b"pong" in s.recv(1000)
            except OSError:
                return False

    def cpu(self) -> float:
        total = 0.0
        pids = [self.proc.pid] + [int(p) for p in subprocess.run(["pgrep", "-P", str(self.proc.pid)],
                                                                 capture_output=True, text=True).stdout.split()]
        for pid in pids:
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


def kamailio_rtpengine(work: Path, ng_port: int, callee_port: int, transcode: bool) -> rb.Kamailio:
    """Kamailio 5.6 as a stateful proxy that hands every call's SDP to rtpengine (module
    rtpengine, package kamailio-extra-modules) and forwards INVITEs to the SIPp callee on
    `callee_port`. Signalling runs on SIPp's core: only rtpengine shares the daemon's core."""
    flags = "replace-origin replace-session-connection ICE=remove RTP/AVP"
    offer = flags + (" codec-mask-PCMU codec-transcode-opus" if transcode else "")
    script = f"""modparam("rtpengine", "rtpengine_sock", "udp:{b.LOCAL}:{ng_port}")
request_route {{
    if (is_method("OPTIONS") && !has_totag()) {{
        sl_send_reply("200", "OK");
        exit;
    }}
    if (has_totag()) {{
        if (loose_route()) {{
            if (is_method("BYE")) {{ rtpengine_delete(); }}
            t_relay();
            exit;
        }}
        if (is_method("ACK")) {{
            if (t_check_trans()) {{ t_relay(); }}
            exit;
        }}
        sl_send_reply("404", "Not here");
        exit;
    }}
    if (is_method("CANCEL")) {{
        if (t_check_trans()) {{ t_relay(); }}
        exit;
    }}
    if (is_method("INVITE")) {{
        record_route();
        rtpengine_offer("{offer}");
        $du = "sip:{b.LOCAL}:{callee_port}";
        t_on_reply("MEDIA");
        t_relay();
        exit;
    }}
    sl_send_reply("405", "Method Not Allowed");
}}
onreply_route[MEDIA] {{
    if (has_body("application/sdp")) {{ rtpengine_answer("{flags}"); }}
}}
"""
    return rb.Kamailio(work, ["tm", "sl", "rr", "pv", "maxfwd", "textops", "siputils", "rtpengine"], script,
                       cpu=b.SIPP_CPU, children=2)


def run_peer(work: Path, name: str, caller: Path, callee: Path, calls: int, transcode: bool) -> dict:
    """One peer run; set up again once if no call got through (a port taken between our
    choice and the SIPp callee's bind makes every call time out)."""
    row = run_peer_once(work / name, caller, callee, calls, transcode)
    if row["ok"] == 0:
        print(f"bench: {name}: no call got through; setting the peer up again", flush=True)
        row = run_peer_once(work / (name + "-again"), caller, callee, calls, transcode)
    return row


def run_peer_once(step: Path, caller: Path, callee: Path, calls: int, transcode: bool) -> dict:
    step.mkdir()
    engine = RTPEngine(step)
    try:
        callee_port = b.free_port()
        k = kamailio_rtpengine(step, engine.ng_port, callee_port, transcode)
        try:
            # rtpengine picks its ports at random in its range: no per-call capture for it.
            return run_calls(step, k.sip_port, caller, callee, calls, engine.cpu, [],
                             callee_port=callee_port, registers=False)
        finally:
            k.stop()
    finally:
        engine.stop()


# --------------------------------------------------------------------------- main

def daemon(work: Path, recording: bool) -> b.Daemon:
    config = work / "hotline.yaml"
    text = Path(b.env("HOTLINE_CONFIG", str(b.REPO / "hotline.yaml"))).read_text()
    config.write_text(text.replace("directory: Prompts", f"directory: {b.REPO / 'Prompts'}")
                      .replace("qualify-interval: 30", "qualify-interval: 0")
                      .replace("max-calls: 4000", "max-calls: 50000")
                      .replace("max-call-rate: 500", "max-call-rate: 10000")
                      .replace("  enabled: true", f"  enabled: {'true' if recording else 'false'}"))
    os.environ["HOTLINE_CONFIG"] = str(config)
    (work / "d").mkdir(exist_ok=True)
    return b.Daemon(work / "d")


def main() -> int:
    work = Path(tempfile.mkdtemp(prefix="hotline-mediabench-"))
    raw = pcmu_raw(work)
    pcap = opus_pcap(work, seconds=int(TRANSCODE_CALLS / RATE + WINDOW + 60))
    callee_pcmu, callee_opus = callee_scenario(work, raw, None), callee_scenario(work, raw, pcap)
    caller, caller_plain = caller_scenario(work, raw, False), caller_scenario(work, raw, True)
    first_ports = [b.RTP_MIN, b.RTP_MIN + 2]   # the first call's legs (ports are handed out in order)
    rows = {}
    for name, recording, callee, calls in (("relay", False, callee_pcmu, CALLS),
                                           ("relay+recording", True, callee_pcmu, CALLS),
                                           ("transcode", False, callee_opus, TRANSCODE_CALLS)):
        (work / name).mkdir()
        d = daemon(work / name, recording)
        try:
            rows[name] = run_calls(work / name / "calls", d.sip_port, caller, callee, calls,
                                   lambda: b.cpu_seconds(d.pid), first_ports)
        finally:
            rows[name]["exit"] = d.stop()
    peer = {}
    if b.env("BENCH_NO_RTPENGINE", "") in ("", "0"):
        peer["relay"] = run_peer(work, "rtpengine-relay", caller_plain, callee_pcmu, CALLS, False)
        peer["transcode"] = run_peer(work, "rtpengine-transcode", caller_plain, callee_opus, TRANSCODE_CALLS, True)

    def fmt(v, spec=".3f"):
        return "-" if v is None else format(v, spec)

    lines = [f"\n## Media relay, {datetime.now(timezone.utc).strftime('%Y-%m-%d %H:%M UTC')}\n",
             f"- relay on core {b.DAEMON_CPU} (the daemon, or rtpengine with `table = -1`), SIPp callers and callees "
             f"(and Kamailio) on core {b.SIPP_CPU}; both parties stream 20 ms packets for the whole call; CPU over "
             f"{WINDOW} s with every call up; raw data `{work}`\n",
             "| run | concurrent calls | ok / failed | % of a core per call | one call's packets in / out | relay delay p50 / p99 / max ms | rtpengine % per call | CPU ratio rtpengine ÷ hotline |",
             "|---|---|---|---|---|---|---|---|"]
    for name, row in rows.items():
        p = peer.get("transcode" if name == "transcode" else "relay") if name != "relay+recording" else None
        ratio = p["core_pct_per_call"] / row["core_pct_per_call"] if p and row["core_pct_per_call"] else None
        d = row["sample"] or {}
        lines.append(f"| {name} | {row['calls']} | {row['ok']} / {row['failed']} | {fmt(row['core_pct_per_call'])} | {d.get('in', '-')} / {d.get('out', '-')} "
                     f"| {fmt(d.get('p50_ms'), '.2f')} / {fmt(d.get('p99_ms'), '.2f')} / {fmt(d.get('max_ms'), '.2f')} "
                     f"| {fmt(p['core_pct_per_call'] if p else None)} | {fmt(ratio, '.2f')} |")
    for name, p in peer.items():
        d = p["sample"] or {}
        lines.append(f"| rtpengine {name} | {p['calls']} | {p['ok']} / {p['failed']} | {fmt(p['core_pct_per_call'])} | {d.get('in', '-')} / {d.get('out', '-')} "
                     f"| {fmt(d.get('p50_ms'), '.2f')} / {fmt(d.get('p99_ms'), '.2f')} / {fmt(d.get('max_ms'), '.2f')} | | |")
    if "relay" in rows and "relay+recording" in rows and rows["relay"]["core_pct_per_call"]:
        extra = rows["relay+recording"]["core_pct_per_call"] / rows["relay"]["core_pct_per_call"] - 1
        lines.append(f"\nRecording adds {100 * extra:.0f}% to a relayed call.")
    if "transcode" in rows and rows["transcode"]["core_pct_per_call"]:
        lines.append(f"Opus↔PCMU transcoded calls per core (extrapolated): {100 / rows['transcode']['core_pct_per_call']:.0f}.")
    report = "\n".join(lines) + "\n"
    print(report)
    with open(HERE / "RESULTS.md", "a") as f:
        f.write(report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
