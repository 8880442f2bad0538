"""A real softphone (pjsua2, PJSIP 2.15) calls 12345, presses 1 during the emergency notice
(choosing Mandarin), and records what it hears: the recording must hold the main menu."""
import json
import subprocess
import sys
from pathlib import Path

import audio

HERE = Path(__file__).resolve().parent
DTMF_AT = 7.0    # seconds after the call is confirmed: the welcome is over, the notice plays
RECORD = 12.0    # so ~5 s of the answer to the key are recorded
MATCH = 0.8      # looser than the raw RTP test: jitter buffer, PLC and the bridge sit between


def test_pjsua_caller_hears_the_main_menu_after_a_key(hotline, tmp_path):
    wav = tmp_path / "heard.wav"
    cmd = [sys.executable, str(HERE / "pjsua_caller.py"), hotline.uri, str(wav),
           "--dtmf", "1", "--dtmf-at", str(DTMF_AT), "--record", str(RECORD)]
    p = subprocess.run(cmd, capture_output=True, timeout=60, stdin=subprocess.DEVNULL)
    out = p.stdout.decode(errors="replace").strip().splitlines()
    assert p.returncode == 0 and out, f"pjsua caller failed ({p.returncode}):\n" \
        f"{p.stdout.decode(errors='replace')[-2000:]}\n{p.stderr.decode(errors='replace')[-3000:]}"
    result = json.loads(out[-1])
    assert result["ok"] and not result["disconnected_by_peer"], result

    samples, rate = audio.read_wav(wav)
    assert len(samples) >= rate * (RECORD - 1), f"recording of {len(samples) / rate:.1f} s"
    level = audio.rms(samples)
    assert level > 200, f"the recording is (nearly) silent: RMS {level:.0f}"

    env = audio.envelope(samples, rate)
    per_s = 1000 // audio.BLOCK_MS
    lang = max(audio.LANGS, key=lambda lg: audio.match_prompt(env[:4 * per_s], lg, "welcome",
                                                               seconds=2.0)[0])
    start = int(result["dtmf_offset"] * per_s)
    c, lag = audio.match_prompt(env[start:], lang, "main-menu", seconds=2.5)
    print(f"pjsua: RMS {level:.0f}, main-menu corr {c:.2f} at +{lag / per_s:.2f} s ({lang})")
    assert c >= MATCH, f"the main menu not heard after DTMF 1 (corr {c:.2f}, language {lang})"
