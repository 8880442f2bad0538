"""Agent phones against the registrar and the back-to-back call core: pjsua2 (PJSIP) and
baresip register with digest (right password accepted, wrong refused), call each other through
the daemon with media relayed by it, send keys by INFO and RFC 4733, hold and resume with
re-INVITEs, and blind-transfer with REFER; the daemon calls out to a SIPp trunk that demands
digest authentication."""
import json
import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from conftest import LOCAL, free_port, require_tool

HERE = Path(__file__).resolve().parent
SCENARIOS = HERE / "scenarios"


def phones(h, *args, timeout=90, port=None):
    cmd = [sys.executable, str(HERE / "pjsua_phones.py"), str(port or h.sip_port), *args]
    p = subprocess.run(cmd, capture_output=True, timeout=timeout, stdin=subprocess.DEVNULL)
    lines = p.stdout.decode(errors="replace").strip().splitlines()
    assert p.returncode == 0 and lines, f"pjsua phones failed ({p.returncode}):\n" \
        f"{p.stderr.decode(errors='replace')[-3000:]}"
    result = json.loads(lines[-1])
    print(json.dumps(result))
    return result


@pytest.mark.parametrize("transport,algorithms", [("udp", "[SHA-256]"), ("tcp", "[SHA-256, MD5]")])
def test_pjsua_phones_register_call_keys_hold_and_transfer(hotline_factory, transport, algorithms):
    def edit(text):   # RFC 8760: PJSIP answers SHA-256 challenges
        return text.replace("algorithms: [MD5]", f"algorithms: {algorithms}", 1)
    hotline = hotline_factory(config_edit=edit)
    r = phones(hotline, "--transport", transport)
    check_phone_scenario(hotline, r)


def test_pjsua_phones_over_tls(hotline_factory, tmp_path):
    """The same scenario over SIP/TLS (sip.tls with a self-signed certificate)."""
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.fail("openssl is not installed (apt-get install openssl)", pytrace=False)
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run([openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(cert),
                    "-days", "2", "-subj", "/CN=127.0.0.1"], check=True, capture_output=True)
    tls_port = free_port()

    def edit(text):
        return text.replace("  min-se: 90\n", f"  min-se: 90\n  tls:\n    port: {tls_port}\n"
                            f"    certificate: {cert}\n    private-key: {key}\n", 1)
    hotline = hotline_factory(config_edit=edit)
    r = phones(hotline, "--transport", "tls", port=tls_port)
    check_phone_scenario(hotline, r)
    assert "SIP over TLS listening" in hotline.tail(400)


def check_phone_scenario(hotline, r):
    s = r["steps"]
    assert r["ok"], r
    assert s["register"] == {"1001": 200, "1002": 200, "1003": 200}
    assert s["register_wrong_password"] == 403
    assert s["call_confirmed"]
    # Media is anchored in the daemon and relayed both ways (50 packets/s).
    assert s["rtp_1001_rx"] >= 60 and s["rtp_1002_rx"] >= 60, s
    assert s["keys_at_1002"] == [["5", "info"]], "INFO key not relayed as INFO"
    assert s["keys_at_1001"] == [["7", "rfc4733"]], "RFC 4733 key not relayed in the media"
    assert s["hold"] and s["resume"] and s["call_up_after_hold"]
    assert s["transfer_notify"][-1] == 200 and s["transfer_target_confirmed"]
    assert s["referrer_left"] and s["transferee_still_up"]
    assert min(s["rtp_after_transfer"]) >= 60, "transferee and target do not hear each other"
    assert s["hangup_propagated"]
    assert hotline.metric("hotline_sip_registrations_total", 'outcome="ok"') >= 3
    # The call's events: received, answered, transferred (status 200), ended; schema-valid.
    from test_events import VALIDATORS
    deadline = time.monotonic() + 5
    while True:
        with urllib.request.urlopen(f"http://{LOCAL}:{hotline.http_port}/v1/events?after=0&limit=100") as resp:
            events = json.load(resp)["events"]
        types = [e["type"] for e in events]
        if "hotline.call.ended" in types or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert types[:3] == ["hotline.call.received", "hotline.call.answered", "hotline.call.transferred"], types
    assert types[-1] == "hotline.call.ended", types
    transferred = next(e for e in events if e["type"] == "hotline.call.transferred")
    assert transferred["data"]["status"] == 200 and transferred["data"]["target"] == "1003", transferred
    for e in events:
        errors = list(VALIDATORS[e["type"]].iter_errors(e))
        assert not errors, (e, [str(x) for x in errors])


class Baresip:
    def __init__(self, tmp: Path, sip_port: int, account: str, password: str, codecs: str = "PCMU,PCMA",
                 tone: float = 440, record_dir: Path | None = None):
        """`codecs` as baresip's audio_codecs (e.g. "opus"); `record_dir` turns on the sndfile
        module, which dumps what baresip encodes and decodes as WAV files there."""
        exe = shutil.which("baresip")
        if exe is None:
            pytest.fail("baresip is not installed (apt-get install baresip-core)", pytrace=False)
        conf = tmp / f"baresip-{account}"
        conf.mkdir(parents=True, exist_ok=True)
        wav = conf / "tone.wav"
        # aufile wants the codec's own rate and channels (48 kHz stereo for Opus).
        rate, channels = ("48000", "2") if "opus" in codecs.lower() else ("8000", "1")
        subprocess.run(["sox", "-n", "-r", rate, "-c", channels, "-b", "16", str(wav),
                        "synth", "60", "sine", str(tone), "vol", "0.3"], check=True)
        self.port = free_port()
        self.ctrl_port = free_port()
        modules = "module g711.so\nmodule aufile.so\n"
        if "opus" in codecs.lower():
            modules += "module opus.so\n"
        extra = ""
        if record_dir is not None:
            record_dir.mkdir(parents=True, exist_ok=True)
            modules += "module sndfile.so\n"
            extra = f"snd_path {record_dir}\n"
        (conf / "config").write_text(
            "poll_method epoll\n"
            f"sip_listen {LOCAL}:{self.port}\n"
            "module_path /usr/lib/baresip/modules\n"
            f"{modules}module_app account.so\n"
            "module_app menu.so\nmodule_app ctrl_tcp.so\n"
            f"ctrl_tcp_listen {LOCAL}:{self.ctrl_port}\n"
            "audio_player aufile,/dev/null\n"
            f"audio_source aufile,{wav}\n"
            "audio_alert aufile,/dev/null\n"
            f"rtp_ports 40000-49999\n{extra}")
        (conf / "accounts").write_text(
            f"<sip:{account}@{LOCAL}:{sip_port};transport=udp>;auth_pass={password};regint=300;answermode=auto;"
            f"audio_codecs={codecs}\n")
        self.log_path = conf / "baresip.log"
        self.log = open(self.log_path, "wb")
        self.proc = subprocess.Popen([exe, "-f", str(conf), "-n", LOCAL], stdout=self.log,
                                     stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd=conf)

    def control(self, command: str) -> str:
        """One command over ctrl_tcp (a netstring holding JSON), e.g. `dial sip:...`."""
        import socket
        name, _, params = command.partition(" ")
        body = json.dumps({"command": name, "params": params, "token": "t1"}).encode()
        with socket.create_connection((LOCAL, self.ctrl_port), timeout=5) as sock:
            sock.sendall(str(len(body)).encode() + b":" + body + b",")
            try:
                return sock.recv(4096).decode(errors="replace")
            except socket.timeout:
                return ""

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.log.close()


def wait_for(predicate, timeout):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(0.2)
    return False


def test_baresip_registers_and_takes_a_call_from_pjsua(hotline, tmp_path):
    good = Baresip(tmp_path, hotline.sip_port, "1005", "hotline-demo")
    bad = Baresip(tmp_path, hotline.sip_port, "1006", "wrong-password")
    try:
        assert wait_for(lambda: "200 OK" in good.log_text() or "registered" in good.log_text().lower(), 10), \
            good.log_text()[-2000:]
        assert wait_for(lambda: "403" in bad.log_text(), 10), bad.log_text()[-2000:]
        r = phones(hotline, "--call", "1005")
        assert r["ok"] and r["steps"]["register"] == 200, r
        assert r["steps"]["confirmed"], r
        assert r["steps"]["rtp_rx"] >= 60, "pjsua did not hear baresip through the daemon"
    finally:
        good.stop()
        bad.stop()


def test_pjsua_calls_baresip_and_baresip_calls_pjsua(hotline, tmp_path):
    """The other direction: baresip (1005) dials 1002, a pjsua phone answering."""
    good = Baresip(tmp_path, hotline.sip_port, "1005", "hotline-demo")
    try:
        assert wait_for(lambda: "200 OK" in good.log_text() or "registered" in good.log_text().lower(), 10)
        answer = subprocess.Popen(
            [sys.executable, str(HERE / "pjsua_phones.py"), str(hotline.sip_port), "--answer", "1002", "--wait", "20"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
        time.sleep(3)   # 1002 registers
        ctrl = good.control(f"dial sip:1002@{LOCAL}:{hotline.sip_port}")
        out, err = answer.communicate(timeout=60)
        result = json.loads(out.decode().strip().splitlines()[-1])
        assert result["ok"] and result["steps"]["confirmed"], (result, ctrl, err.decode()[-2000:])
        assert result["steps"]["rtp_rx"] >= 60
    finally:
        good.stop()


def trunk_call(hotline_factory, tmp_path, scenario, *phone_args):
    """A registered pjsua phone dials an outside number; the daemon calls out through a SIPp
    trunk playing `scenario`. Returns the phone's result and SIPp's exit code and errors."""
    sipp = require_tool("sipp")
    trunk_port = free_port()

    def config(text):
        text = text.replace("trunks:\n", "trunks:\n"
                            f"  - name: sipp-carrier\n    host: 127.0.0.1\n    port: {trunk_port}\n"
                            "    username: hotline\n    password: trunk-secret\n    caller-id: \"12345\"\n", 1)
        return text.replace("\ncalls:\n", "\ncalls:\n  outbound-trunk: sipp-carrier\n", 1)

    h = hotline_factory(config_edit=config)
    errors_path = tmp_path / f"{scenario}-errors.log"
    uas = subprocess.Popen(
        [sipp, "-sf", str(SCENARIOS / scenario), "-i", LOCAL, "-mi", LOCAL, "-p", str(trunk_port),
         "-mp", str(free_port()), "-m", "1", "-nostdin", "-timeout", "40s", "-timeout_error",
         "-trace_err", "-error_file", str(errors_path)],
        cwd=tmp_path, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        time.sleep(0.5)
        r = phones(h, "--call", "13800138000", *phone_args)
        rc = uas.wait(30)
        errors = errors_path.read_text(errors="replace") if errors_path.exists() else ""
        return h, r, rc, errors
    finally:
        if uas.poll() is None:
            uas.kill()


def test_outbound_call_through_a_trunk_that_demands_digest(hotline_factory, tmp_path):
    h, r, rc, errors = trunk_call(hotline_factory, tmp_path, "uas-trunk-auth.xml")
    assert r["ok"] and r["steps"]["confirmed"], r
    assert rc == 0, f"SIPp trunk UAS exited with {rc}: {errors[-2000:]}"


def test_a_busy_trunk_gives_the_caller_486(hotline_factory, tmp_path):
    h, r, rc, errors = trunk_call(hotline_factory, tmp_path, "uas-busy.xml")
    assert not r["steps"]["confirmed"] and r["steps"]["status"] == 486, r
    assert rc == 0, errors[-2000:]


def test_a_2xx_crossing_our_cancel_is_acked_and_ended(hotline_factory, tmp_path):
    """The caller gives up while the trunk rings; the trunk's 200 crosses the daemon's CANCEL:
    the daemon ACKs it and sends BYE (SIPp's scenario fails otherwise)."""
    h, r, rc, errors = trunk_call(hotline_factory, tmp_path, "uas-answer-after-cancel.xml", "--hangup-after", "1.5")
    assert r["steps"]["ringing"] and not r["steps"]["confirmed"], r
    assert rc == 0, f"SIPp trunk UAS exited with {rc}: {errors[-2000:]}"


def test_accounts_in_the_store_register_without_a_restart(hotline, tmp_path):
    """`hotline accounts add` writes HA1 values to the store; the running daemon takes them
    within 5 s; `remove` takes them away again."""
    from conftest import HOTLINE_BIN, HOTLINE_CONFIG
    base = [str(HOTLINE_BIN), "accounts"]
    where = ["--config", str(HOTLINE_CONFIG), "--data-dir", str(hotline.data_dir)]
    add = subprocess.run(base + ["add", "2001", "--password", "s3cret-2001", "--network", "127.0.0.0/8"] + where,
                         capture_output=True, timeout=30)
    assert add.returncode == 0, add.stderr.decode()
    listed = subprocess.run(base + ["list"] + where, capture_output=True, timeout=30).stdout.decode()
    assert listed.startswith("2001\t"), listed
    time.sleep(6)
    r = phones(hotline, "--call", "12345", "--account", "2001", "--password", "s3cret-2001")
    assert r["steps"]["register"] == 200, r
    wrong = phones(hotline, "--call", "12345", "--account", "2001", "--password", "not-it")
    assert wrong["steps"]["register"] == 403, wrong
    removed = subprocess.run(base + ["remove", "2001"] + where, capture_output=True, timeout=30)
    assert removed.returncode == 0, removed.stderr.decode()
    time.sleep(6)
    gone = phones(hotline, "--call", "12345", "--account", "2001", "--password", "s3cret-2001")
    assert gone["steps"]["register"] == 403, gone


def test_qualify_marks_a_dead_contact_unreachable(hotline_factory, tmp_path):
    """A contact that stops answering the OPTIONS pings is skipped: calls to it get 480 at
    once instead of ringing into the void."""
    sipp = require_tool("sipp")
    h = hotline_factory(config_edit=lambda t: t.replace("qualify-interval: 30", "qualify-interval: 1", 1))
    dead_port = free_port()   # nothing listens there
    users = tmp_path / "users.csv"
    users.write_text(f"SEQUENTIAL\n1001;x;{dead_port}\n")
    reg = subprocess.run([sipp, f"{LOCAL}:{h.sip_port}", "-sf", str(HERE.parents[1] / "bench" / "scenarios" / "register-auth.xml"),
                          "-inf", str(users), "-i", LOCAL, "-p", str(free_port()), "-m", "1", "-nostdin",
                          "-timeout", "10s", "-timeout_error"], cwd=tmp_path, capture_output=True, timeout=30)
    assert reg.returncode == 0, reg.stderr.decode()[-1000:]
    assert wait_for(lambda: "contact unreachable" in h.tail(200), 12), h.tail(50)
    started = time.monotonic()
    r = phones(h, "--call", "1001", "--account", "1002")
    assert not r["steps"]["confirmed"] and r["steps"]["status"] == 480, r
    assert time.monotonic() - started < 15


KAMAILIO_CFG = """#!KAMAILIO
debug=2
log_stderror=yes
fork=yes
children=2
disable_tcp=yes
listen=udp:127.0.0.1:{port}
mpath="/usr/lib/x86_64-linux-gnu/kamailio/modules/"
loadmodule "tm.so"
loadmodule "sl.so"
loadmodule "rr.so"
loadmodule "pv.so"
loadmodule "maxfwd.so"
loadmodule "textops.so"
loadmodule "siputils.so"
loadmodule "xlog.so"
request_route {{
    if (!mf_process_maxfwd_header("10")) {{
        sl_send_reply("483", "Too Many Hops");
        exit;
    }}
    if (has_totag()) {{
        xlog("L_NOTICE", "in-dialog $rm from $si:$sp\\n");
        if (loose_route()) {{
            t_relay();
            exit;
        }}
        if (is_method("ACK") && t_check_trans()) {{
            t_relay();
        }}
        exit;
    }}
    if (is_method("CANCEL")) {{
        if (t_check_trans()) {{
            t_relay();
        }}
        exit;
    }}
    if (is_method("INVITE|SUBSCRIBE|REFER")) {{
        record_route();
    }}
    $du = "sip:127.0.0.1:{daemon}";
    t_relay();
}}
"""


def test_phones_through_kamailio_keep_the_proxy_in_the_dialog(hotline, tmp_path):
    """Kamailio 5.6 as a stateful proxy in front (Record-Route): registrations, the calls and
    the daemon's own in-dialog requests (NOTIFY for the REFER, BYE to the referrer) follow
    the route set through the proxy."""
    exe = shutil.which("kamailio")
    if exe is None:
        pytest.fail("kamailio is not installed (apt-get install kamailio)", pytrace=False)
    port = free_port()
    cfg = tmp_path / "kamailio.cfg"
    cfg.write_text(KAMAILIO_CFG.format(port=port, daemon=hotline.sip_port))
    log_path = tmp_path / "kamailio.log"
    log = open(log_path, "wb")
    proxy = subprocess.Popen([exe, "-f", str(cfg), "-DD", "-E", "-x", "tlsf", "-X", "tlsf", "-m", "64", "-M", "8",
                              "-w", str(tmp_path)], stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    try:
        assert wait_for(lambda: "INFO: <core>" in log_path.read_text(errors="replace") or proxy.poll() is not None, 10)
        assert proxy.poll() is None, log_path.read_text(errors="replace")[-2000:]
        time.sleep(0.5)
        r = phones(hotline, "--proxy", f"{LOCAL}:{port}")
        check_phone_scenario(hotline, r)
        text = log_path.read_text(errors="replace")
        daemon_src = f"from 127.0.0.1:{hotline.sip_port}"
        assert f"in-dialog NOTIFY {daemon_src}" in text, text[-3000:]
        assert f"in-dialog BYE {daemon_src}" in text, text[-3000:]
    finally:
        proxy.terminate()
        try:
            proxy.wait(10)
        except subprocess.TimeoutExpired:
            proxy.kill()
        log.close()
