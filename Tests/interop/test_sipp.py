"""SIPp as a real UAC: one call over UDP and one over TCP with pcap audio and an RFC 2833
digit, and a short load test. SIPp's exit code is the verdict (0: all calls succeeded)."""
import subprocess
import time
from pathlib import Path

import pytest

from conftest import LOCAL, free_port, require_tool

SCENARIOS = Path(__file__).resolve().parent / "scenarios"


def run_sipp(h, tmp_path, scenario, *args, timeout_s=60):
    sipp = require_tool("sipp")
    media_port = free_port()
    cmd = [sipp, f"{LOCAL}:{h.sip_port}", "-sf", str(SCENARIOS / scenario), "-s", "12345",
           "-i", LOCAL, "-mi", LOCAL, "-p", str(free_port()), "-mp", str(media_port),
           "-nostdin", "-timeout", f"{timeout_s}s", "-timeout_error", "-recv_timeout", "15s",
           "-trace_err", "-error_file", str(tmp_path / "sipp-errors.log"),
           "-trace_screen", "-screen_file", str(tmp_path / "sipp-screen.log"), *args]
    try:
        p = subprocess.run(cmd, cwd=tmp_path, stdin=subprocess.DEVNULL, capture_output=True,
                           timeout=timeout_s + 15)
    except subprocess.TimeoutExpired:
        pytest.fail(f"sipp did not stop by itself: {' '.join(cmd)}")
    if p.returncode != 0:
        def read(name):
            f = tmp_path / name
            return f.read_text(errors="replace")[-4000:] if f.exists() else ""
        pytest.fail(f"sipp exited with {p.returncode}\n$ {' '.join(cmd)}\n"
                    f"--- stderr\n{p.stderr.decode(errors='replace')[-2000:]}\n"
                    f"--- errors\n{read('sipp-errors.log')}\n--- screen\n{read('sipp-screen.log')}",
                    pytrace=False)
    return p


@pytest.mark.parametrize("transport", ["u1", "t1"])
def test_sipp_call_with_pcap_audio_and_dtmf(hotline, tmp_path, transport):
    run_sipp(hotline, tmp_path, "uac-pcap.xml", "-t", transport, "-m", "1")
    assert hotline.alive()
    # The daemon heard SIPp's audio and exactly one key (dtmf_2833_1.pcap) on the ended leg.
    deadline = time.monotonic() + 3
    while hotline.metric("hotline_dtmf_keys_total", 'method="rfc4733"') < 1 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert hotline.metric("hotline_dtmf_keys_total", 'method="rfc4733"') == 1
    # g711a.pcap holds ~235 RTP packets (7 s), dtmf_2833_1.pcap ~10 more.
    assert hotline.metric("hotline_rtp_packets_received_total") >= 230, "SIPp's pcap audio did not arrive"
    assert hotline.metric("hotline_rtp_packets_dropped_total") == 0


def test_sipp_short_load(hotline, tmp_path):
    # 20 calls at 10 calls/s, each held 3 s: up to ~20 concurrent calls.
    run_sipp(hotline, tmp_path, "uac-hold.xml", "-m", "20", "-r", "10", "-l", "20", "-d", "3000",
             timeout_s=40)
    assert hotline.alive()
