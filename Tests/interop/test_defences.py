"""The daemon against the internet's SIP scanners and floods: sipvicious cannot tell existing
extensions from missing ones, a dictionary attack is blocked long before the right password,
and an INVITE flood from one source does not stop other callers."""
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import LOCAL, free_port, require_tool

HERE = Path(__file__).resolve().parent
SCENARIOS = HERE / "scenarios"
VENV_BIN = Path(sys.executable).parent


def tool(name):
    path = VENV_BIN / name
    if not path.exists():
        pytest.fail(f"{name} missing: pip install sipvicious", pytrace=False)
    return str(path)


def no_exemptions(text):
    return text.replace("exempt: [127.0.0.1]", "exempt: []", 1)


@pytest.mark.parametrize("method", ["REGISTER", "INVITE", "OPTIONS"])
def test_svwar_cannot_tell_existing_extensions_from_missing_ones(hotline, method):
    # 1001-1010 exist; 1000 and 1011-1012 do not. With --force svwar reports every extension
    # whose answer differs from its probe of a surely-missing one.
    p = subprocess.run([tool("sipvicious_svwar"), "-e1000-1012", "-m", method, "--force",
                        "-p", str(hotline.sip_port), "-b", LOCAL, "-x", LOCAL, LOCAL],
                       capture_output=True, timeout=120, stdin=subprocess.DEVNULL)
    out = p.stdout.decode(errors="replace") + p.stderr.decode(errors="replace")
    found = set(re.findall(r"\|\s*(10\d\d)\s*\|", out))
    print(method, sorted(found))
    existing = {str(n) for n in range(1001, 1011)}
    missing = {"1000", "1011", "1012"}
    # Either nothing stands out, or everything does: never the real accounts alone.
    assert (found & existing == set()) == (found & missing == set()), \
        f"{method}: svwar told accounts apart: {sorted(found)}\n{out[-2000:]}"
    assert not (found & existing) or missing <= found, out[-2000:]


def test_svcrack_is_blocked_before_it_reaches_the_password(hotline_factory, tmp_path):
    h = hotline_factory(config_edit=no_exemptions)
    words = [f"guess{i:04d}" for i in range(1000)]
    words[900] = "hotline-demo"
    wordlist = tmp_path / "words.txt"
    wordlist.write_text("\n".join(words) + "\n")
    p = subprocess.run([tool("sipvicious_svcrack"), "-u", "1001", "-d", str(wordlist), "-t", "1",
                        "-p", str(h.sip_port), "-b", LOCAL, "-x", LOCAL, LOCAL],
                       capture_output=True, timeout=180, stdin=subprocess.DEVNULL)
    out = p.stdout.decode(errors="replace") + p.stderr.decode(errors="replace")
    print(out[-800:])
    assert "hotline-demo" not in out, f"svcrack found the password:\n{out[-2000:]}"
    assert h.metric("hotline_sip_sources_blocked_total") >= 1
    failures = h.metric("hotline_sip_auth_failures_total")
    assert 10 <= failures < 900, f"{failures} failed digests before the block"
    assert "source blocked after failed digest authentications" in h.tail(200)


def sipp_screen_counts(screen: Path):
    text = screen.read_text(errors="replace") if screen.exists() else ""
    ok = re.findall(r"Successful call\s*\|\s*\d+\s*\|\s*(\d+)", text)
    failed = re.findall(r"Failed call\s*\|\s*\d+\s*\|\s*(\d+)", text)
    return (int(ok[-1]) if ok else 0), (int(failed[-1]) if failed else 0)


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def test_invite_flood_from_one_source_does_not_stop_other_callers(hotline_factory, tmp_path):
    sipp = require_tool("sipp")
    h = hotline_factory(config_edit=no_exemptions)
    rss_before = rss_kib(h.proc.pid)
    flood_dir = tmp_path / "flood"
    normal_dir = tmp_path / "normal"
    flood_dir.mkdir()
    normal_dir.mkdir()
    # 200 INVITEs/s from 127.0.0.2: ten times the per-source limit (20/s, burst 40).
    flood = subprocess.Popen(
        [sipp, f"{LOCAL}:{h.sip_port}", "-sn", "uac", "-s", "12345", "-i", "127.0.0.2", "-mi", "127.0.0.2",
         "-p", str(free_port()), "-r", "200", "-m", "3000", "-l", "400", "-d", "500", "-nostdin",
         "-timeout", "40s", "-recv_timeout", "5s", "-trace_screen", "-screen_file", str(flood_dir / "screen.log")],
        cwd=flood_dir, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(1)
    # Meanwhile 5 calls/s from 127.0.0.1, each held 1 s.
    normal = subprocess.run(
        [sipp, f"{LOCAL}:{h.sip_port}", "-sf", str(SCENARIOS / "uac-hold.xml"), "-s", "12345", "-i", LOCAL,
         "-mi", LOCAL, "-p", str(free_port()), "-mp", str(free_port()), "-r", "5", "-m", "50", "-d", "1000",
         "-nostdin", "-timeout", "40s", "-recv_timeout", "10s",
         "-trace_screen", "-screen_file", str(normal_dir / "screen.log")],
        cwd=normal_dir, stdin=subprocess.DEVNULL, capture_output=True, timeout=60)
    rss_peak = rss_kib(h.proc.pid)
    try:
        flood.wait(45)
    except subprocess.TimeoutExpired:
        flood.kill()
    ok, failed = sipp_screen_counts(normal_dir / "screen.log")
    f_ok, f_failed = sipp_screen_counts(flood_dir / "screen.log")
    limited = h.metric("hotline_sip_messages_dropped_total", 'reason="source_guard"')
    print(f"normal calls: {ok} ok / {failed} failed ({100 * ok / max(1, ok + failed):.0f}%); "
          f"flood: {f_ok} answered / {f_failed} refused; rate-limited INVITEs {limited:.0f}; "
          f"RSS {rss_before} -> {rss_peak} KiB")
    assert ok + failed == 50, normal.stdout.decode(errors="replace")[-2000:]
    assert ok == 50, f"only {ok}/50 normal calls succeeded under the flood"
    assert limited >= 1000, "the flood was not rate limited"
    assert rss_peak < rss_before + 100 * 1024, f"RSS grew from {rss_before} to {rss_peak} KiB"
