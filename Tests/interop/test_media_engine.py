"""The media engine with real phones: two pjsua2 phones bridged through the daemon hear each
other (each plays its own tone, the test finds the other's tone in what each recorded), also
when one side is G.722 and the other PCMU (transcoded here), and baresip on Opus against
pjsua2 on PCMU; the daemon's stereo recording has the caller on the left and the callee on the
right; a recording cut by kill -9 is repaired at the next start and plays; in-band keys from a
gateway that sends tones instead of RFC 4733 events reach the IVR, and speech does not."""
import json
import shutil
import signal
import subprocess
import sys
import time
import wave
from pathlib import Path

import pytest

from audio import dominant_tone, read_wav_channels
from conftest import LOCAL, free_port, require_tool
from pcapgen import dtmf_samples, write_rtp_pcap
from test_phones import Baresip, wait_for

HERE = Path(__file__).resolve().parent
SCENARIOS = HERE / "scenarios"
CALLER_TONE, CALLEE_TONE = 700.0, 1300.0
CANDIDATES = [CALLER_TONE, CALLEE_TONE, 1000.0, 440.0]


def tone_wav(path: Path, freq: float, rate: int = 16000, seconds: int = 30) -> Path:
    subprocess.run(["sox", "-n", "-r", str(rate), "-c", "1", "-b", "16", str(path),
                    "synth", str(seconds), "sine", str(freq), "vol", "0.3"], check=True)
    return path


def start_phone(h, tmp: Path, account: str, tone: float, *args) -> tuple[subprocess.Popen, Path]:
    heard = tmp / f"heard-{account}.wav"
    play = tone_wav(tmp / f"tone-{account}.wav", tone)
    cmd = [sys.executable, str(HERE / "media_phone.py"), str(h.sip_port), "--account", account,
           "--play", str(play), "--record", str(heard), *args]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL), heard


def result(p: subprocess.Popen, timeout: float = 60) -> dict:
    out, err = p.communicate(timeout=timeout)
    lines = [x for x in out.decode(errors="replace").strip().splitlines() if x.startswith("{")]
    assert lines, f"phone printed nothing:\n{err.decode(errors='replace')[-3000:]}"
    r = json.loads(lines[-1])
    print(json.dumps(r))
    assert r.get("ok"), f"{r}\n{err.decode(errors='replace')[-3000:]}"
    return r


def wait_registered(p: subprocess.Popen) -> None:
    """The answering phone prints {"registered": status} once registered (PJSIP logs aside)."""
    while True:
        line = p.stdout.readline().decode(errors="replace")
        assert line, "the phone exited before registering: " + p.stderr.read().decode(errors="replace")[-2000:]
        if line.startswith("{"):
            assert json.loads(line).get("registered") == 200, line
            return


def assert_hears(path: Path, want: float, skip_s: float = 0.5) -> None:
    channels, rate = read_wav_channels(path)
    samples = channels[0][int(skip_s * rate):]
    assert len(samples) > rate, f"{path}: only {len(samples)} samples"
    tone, ratio = dominant_tone(samples, rate, CANDIDATES)
    assert tone == want and ratio > 10, f"{path}: strongest tone {tone} Hz ({ratio:.1f}x the next), want {want} Hz"


def recordings(h) -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted((h.data_dir / "recordings").rglob("*.wav.json"))]


def bridged_call(h, tmp: Path, caller_codec: str, callee_codec: str, seconds: float = 4.0) -> tuple[dict, dict, Path, Path]:
    callee, callee_heard = start_phone(h, tmp, "1002", CALLEE_TONE, "--answer", "--codec", callee_codec)
    wait_registered(callee)
    caller, caller_heard = start_phone(h, tmp, "1001", CALLER_TONE, "--call", "1002", "--codec", caller_codec,
                                       "--seconds", str(seconds))
    r_caller, r_callee = result(caller), result(callee)
    assert r_caller["confirmed"] and r_callee["confirmed"], (r_caller, r_callee)
    return r_caller, r_callee, caller_heard, callee_heard


def test_bridged_phones_hear_each_other_and_the_call_is_recorded_in_stereo(hotline, tmp_path):
    r_caller, r_callee, caller_heard, callee_heard = bridged_call(hotline, tmp_path, "PCMU", "PCMU")
    assert r_caller["codec"] == "PCMU" and r_callee["codec"] == "PCMU"
    assert_hears(caller_heard, CALLEE_TONE)
    assert_hears(callee_heard, CALLER_TONE)
    # The daemon's recording: caller left, callee right, announced by an event before the end.
    assert wait_for(lambda: recordings(hotline), 10), "no recording metadata written"
    meta = recordings(hotline)[0]
    assert meta["complete"] and meta["channels"] == 2 and not meta["repaired"], meta
    (left, right), rate = read_wav_channels(meta["path"])
    assert rate == 8000 and len(left) == len(right) and len(left) > 3 * rate, (rate, len(left))
    for channel, want in ((left, CALLER_TONE), (right, CALLEE_TONE)):
        tone, ratio = dominant_tone(channel[rate:], rate, CANDIDATES)
        assert tone == want and ratio > 10, f"recording channel: {tone} Hz ({ratio:.1f}x), want {want}"
    import hashlib
    assert hashlib.sha256(Path(meta["path"]).read_bytes()).hexdigest() == meta["sha256"]


def test_g722_phone_and_pcmu_phone_are_transcoded(hotline, tmp_path):
    r_caller, r_callee, caller_heard, callee_heard = bridged_call(hotline, tmp_path, "PCMU", "G722")
    assert r_caller["codec"] == "PCMU" and r_callee["codec"] == "G722", (r_caller, r_callee)
    assert_hears(caller_heard, CALLEE_TONE)
    assert_hears(callee_heard, CALLER_TONE)
    assert wait_for(lambda: hotline.metric("hotline_rtp_packets_transcoded_total") > 100, 5), \
        "the daemon did not transcode"


def test_opus_baresip_and_pcmu_pjsua_hear_each_other(hotline, tmp_path):
    """baresip (Opus only, the agent) answers pjsua2 (PCMU only, the citizen)."""
    agent = Baresip(tmp_path, hotline.sip_port, "1005", "hotline-demo", codecs="opus/48000/2", tone=CALLEE_TONE,
                    record_dir=tmp_path / "baresip-dump")
    try:
        assert wait_for(lambda: "200 OK" in agent.log_text() or "registered" in agent.log_text().lower(), 10), \
            agent.log_text()[-2000:]
        caller, caller_heard = start_phone(hotline, tmp_path, "1001", CALLER_TONE, "--call", "1005",
                                           "--codec", "PCMU", "--seconds", "4")
        r = result(caller)
        assert r["confirmed"] and r["codec"] == "PCMU", r
        assert "opus" in agent.log_text().lower(), agent.log_text()[-2000:]
        assert_hears(caller_heard, CALLEE_TONE)
    finally:
        agent.stop()
    # baresip's sndfile module dumps what it decoded (the citizen's tone, via Opus).
    decoded = [p for p in (tmp_path / "baresip-dump").glob("dump-*-dec.wav")]
    assert decoded, f"baresip wrote no decoded dump: {list((tmp_path / 'baresip-dump').iterdir())}"
    assert_hears(decoded[0], CALLER_TONE)
    assert hotline.metric("hotline_rtp_packets_transcoded_total") > 100


def test_recording_cut_by_kill_9_plays_after_restart(hotline_factory, tmp_path):
    h = hotline_factory()
    callee, _ = start_phone(h, tmp_path, "1002", CALLEE_TONE, "--answer", "--codec", "PCMU", "--wait", "30")
    wait_registered(callee)
    caller, _ = start_phone(h, tmp_path, "1001", CALLER_TONE, "--call", "1002", "--codec", "PCMU", "--seconds", "20")
    partial = h.data_dir / "recordings"
    assert wait_for(lambda: list(partial.rglob("*.partial.json")), 10), "recording did not start"
    time.sleep(3.5)   # > 3 flush intervals of audio on disk
    h.kill()          # SIGKILL: no header update, no sidecar
    h.expected_rc = -signal.SIGKILL
    caller.kill()
    callee.kill()
    caller.wait()
    callee.wait()
    wav = next(partial.rglob("*.wav"))
    # Restart on the same data directory: the header is repaired and the event emitted.
    h2 = hotline_factory(extra=["--data-dir", str(h.data_dir)])
    assert wait_for(lambda: not list(partial.rglob("*.partial.json")), 10), "partial sidecar left behind"
    meta = json.loads(Path(str(wav) + ".json").read_text())
    assert meta["repaired"] and not meta["complete"], meta
    with wave.open(str(wav), "rb") as w:
        frames, rate, channels = w.getnframes(), w.getframerate(), w.getnchannels()
    assert channels == 2 and frames >= 2.5 * rate, f"{frames} frames at {rate} Hz after repair"
    (left, right), rate = read_wav_channels(wav)
    assert dominant_tone(left[rate:], rate, CANDIDATES)[0] == CALLER_TONE
    assert dominant_tone(right[rate:], rate, CANDIDATES)[0] == CALLEE_TONE
    assert abs(meta["durationSeconds"] - frames / rate) < 0.05, meta
    assert h2.alive()


def test_inband_keys_from_a_gateway_reach_the_menu_and_speech_does_not(hotline, tmp_path):
    """SIPp as a gateway offering PCMA without telephone-event: 7 s of speech (no key), then the
    tones of 1 and 5; the daemon detects exactly those two keys."""
    sipp = require_tool("sipp")
    tones = tmp_path / "dtmf-15.pcap"
    write_rtp_pcap(tones, dtmf_samples("15"), law="alaw")
    scenario = (SCENARIOS / "uac-inband-dtmf.xml").read_text().replace("@TONES@", str(tones))
    (tmp_path / "uac-inband-dtmf.xml").write_text(scenario)
    cmd = [sipp, f"{LOCAL}:{hotline.sip_port}", "-sf", str(tmp_path / "uac-inband-dtmf.xml"), "-s", "12345",
           "-i", LOCAL, "-mi", LOCAL, "-p", str(free_port()), "-mp", str(free_port()), "-m", "1",
           "-nostdin", "-timeout", "40s", "-timeout_error", "-recv_timeout", "15s"]
    p = subprocess.run(cmd, cwd=tmp_path, capture_output=True, stdin=subprocess.DEVNULL, timeout=60)
    assert p.returncode == 0, p.stderr.decode(errors="replace")[-2000:]
    assert wait_for(lambda: hotline.metric("hotline_dtmf_keys_total", 'method="inband"') >= 2, 5)
    time.sleep(0.5)
    assert hotline.metric("hotline_dtmf_keys_total", 'method="inband"') == 2
    assert hotline.metric("hotline_dtmf_keys_total", 'method="rfc4733"') == 0


# --------------------------------------------------------------------------- conference

def api_post(h, path: str, body: dict) -> tuple[int, dict]:
    import urllib.error
    import urllib.request
    req = urllib.request.Request(f"http://{LOCAL}:{h.http_port}{path}", data=json.dumps(body).encode(),
                                 headers={"Content-Type": "application/json"}, method="POST")
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def live_call_id(h) -> str:
    import urllib.request
    found: list[str] = []

    def look():
        with urllib.request.urlopen(f"http://{LOCAL}:{h.http_port}/v1/calls", timeout=5) as r:
            calls = json.loads(r.read())["calls"]
        answered = [c["id"] for c in calls if c["state"] == "answered"]
        found[:] = answered
        return bool(answered)
    assert wait_for(look, 10), "no answered call listed by /v1/calls"
    return found[0]


def tones_heard(path: Path, last_s: float, freqs: list[float]) -> dict[float, float]:
    from audio import tone_power
    (samples, *_), rate = read_wav_channels(path)
    tail = samples[-int(last_s * rate):]
    return {f: tone_power(tail, rate, f) for f in freqs}


def assert_mix(path: Path, hears: list[float], not_hears: list[float], freqs: list[float]) -> None:
    powers = tones_heard(path, 2.5, freqs)
    weakest_heard = min(powers[f] for f in hears)
    loudest_absent = max([powers[f] for f in not_hears] + [1e-9])
    assert weakest_heard > 20 * loudest_absent, \
        f"{path.name}: powers {{{', '.join(f'{f:g}: {p:.3g}' for f, p in powers.items())}}}, want {hears} and not {not_hears}"


THIRD_TONE, SUPERVISOR_TONE = 1900.0, 2500.0
ALL_TONES = [CALLER_TONE, CALLEE_TONE, THIRD_TONE, SUPERVISOR_TONE]


def three_party_call(h, tmp: Path, third: str, third_tone: float, request) -> tuple[Path, Path, Path]:
    """1001 calls 1002; two seconds in, `request(call_id)` brings in `third`; 5 s more."""
    agent, agent_heard = start_phone(h, tmp, "1002", CALLEE_TONE, "--answer", "--wait", "30")
    other, other_heard = start_phone(h, tmp, third, third_tone, "--answer", "--wait", "30")
    wait_registered(agent)
    wait_registered(other)
    caller, caller_heard = start_phone(h, tmp, "1001", CALLER_TONE, "--call", "1002", "--seconds", "9")
    call_id = live_call_id(h)
    time.sleep(1.5)
    status, body = request(call_id)
    assert status == 200, body
    for p in (caller, agent, other):
        r = result(p)
        assert r["confirmed"], r
    return caller_heard, agent_heard, other_heard


def test_three_way_conference_everyone_hears_everyone(hotline, tmp_path):
    caller, agent, third = three_party_call(
        hotline, tmp_path, "1003", THIRD_TONE,
        lambda call: api_post(hotline, f"/v1/calls/{call}/conference", {"target": "1003"}))
    assert_mix(caller, [CALLEE_TONE, THIRD_TONE], [CALLER_TONE, SUPERVISOR_TONE], ALL_TONES)
    assert_mix(agent, [CALLER_TONE, THIRD_TONE], [CALLEE_TONE, SUPERVISOR_TONE], ALL_TONES)
    assert_mix(third, [CALLER_TONE, CALLEE_TONE], [THIRD_TONE, SUPERVISOR_TONE], ALL_TONES)
    # The recording (caller's leg) has the conference on its right channel.
    assert wait_for(lambda: recordings(hotline), 10)
    (left, right), rate = read_wav_channels(recordings(hotline)[0]["path"])
    from audio import tone_power
    tail = right[-3 * rate:]
    assert tone_power(tail, rate, THIRD_TONE) > 20 * tone_power(tail, rate, SUPERVISOR_TONE)


def test_supervisor_whisper_is_heard_by_the_agent_only(hotline, tmp_path):
    caller, agent, supervisor = three_party_call(
        hotline, tmp_path, "1004", SUPERVISOR_TONE,
        lambda call: api_post(hotline, f"/v1/calls/{call}/monitor", {"supervisor": "1004", "mode": "whisper"}))
    assert_mix(agent, [CALLER_TONE, SUPERVISOR_TONE], [CALLEE_TONE, THIRD_TONE], ALL_TONES)
    assert_mix(caller, [CALLEE_TONE], [SUPERVISOR_TONE, CALLER_TONE, THIRD_TONE], ALL_TONES)
    assert_mix(supervisor, [CALLER_TONE, CALLEE_TONE], [SUPERVISOR_TONE, THIRD_TONE], ALL_TONES)


def test_call_operations_refuse_bad_requests(hotline):
    status, body = api_post(hotline, "/v1/calls/0123/monitor", {"supervisor": "1004", "mode": "shout"})
    assert status == 400 and body["error"]["code"] == "bad-mode", body
    status, body = api_post(hotline, "/v1/calls/0123/conference", {"target": "1003"})
    assert status == 404 and body["error"]["code"] == "not-found", body


def test_a_held_party_hears_music_not_silence(hotline, tmp_path):
    """The agent (1002) puts the citizen on hold (re-INVITE sendonly): the citizen hears the
    music of Prompts/music/hold.wav instead of the agent's tone, until the call ends."""
    from audio import tone_power
    agent, _ = start_phone(hotline, tmp_path, "1002", CALLEE_TONE, "--answer", "--wait", "20", "--hold-after", "2")
    wait_registered(agent)
    caller, caller_heard = start_phone(hotline, tmp_path, "1001", CALLER_TONE, "--call", "1002", "--seconds", "6")
    r_caller, r_agent = result(caller), result(agent)
    assert r_caller["confirmed"] and r_agent.get("held"), (r_caller, r_agent)
    (samples, *_), rate = read_wav_channels(caller_heard)
    before, after = samples[int(0.5 * rate):int(1.5 * rate)], samples[-2 * rate:]
    notes = [220.0, 261.6, 329.6, 392.0, 440.0]   # the arpeggio's fundamentals (A3, C4, E4, G4, A4)
    assert tone_power(before, rate, CALLEE_TONE) > 20 * sum(tone_power(before, rate, f) for f in notes), "no agent tone before hold"
    music = sum(tone_power(after, rate, f) for f in notes)
    assert music > 20 * tone_power(after, rate, CALLEE_TONE), "the held caller still hears the agent"
    assert max(abs(x) for x in after) > 1000, "the held caller hears silence"
