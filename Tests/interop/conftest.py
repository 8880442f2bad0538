"""Fixtures for the interop suite: start the hotline daemon on free loopback ports, wait until
it answers SIP OPTIONS, stop it with SIGTERM and insist on exit code 0.

Environment:
  HOTLINE_BIN     daemon binary (default <repo>/.build/debug/hotline)
  HOTLINE_CONFIG  config file (default <repo>/hotline.yaml)
"""
from __future__ import annotations

import os
import random
import signal
import socket
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from siputil import LOCAL, options_ok  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
HOTLINE_BIN = Path(os.environ.get("HOTLINE_BIN", REPO / ".build" / "debug" / "hotline"))
HOTLINE_CONFIG = Path(os.environ.get("HOTLINE_CONFIG", REPO / "hotline.yaml"))
STARTUP_TIMEOUT = float(os.environ.get("HOTLINE_STARTUP_TIMEOUT", "20"))
STOP_TIMEOUT = 15.0
LOG_TAIL_LINES = 60

_used_ports: set[int] = set()


def free_port() -> int:
    """A port free on 127.0.0.1 for both UDP and TCP (the daemon listens on both)."""
    for _ in range(200):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as t:
            t.bind((LOCAL, 0))
            port = t.getsockname()[1]
            if port in _used_ports:
                continue
            try:
                with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
                    u.bind((LOCAL, port))
            except OSError:
                continue
        _used_ports.add(port)
        return port
    raise RuntimeError("no free port")


def free_udp_range(count: int) -> tuple[int, int]:
    """An even-based range of `count` UDP ports all free on 127.0.0.1 right now."""
    for _ in range(200):
        base = random.randrange(20000, 60000 - count, 2)
        ports = range(base, base + count)
        if any(p in _used_ports for p in ports):
            continue
        socks = []
        try:
            for p in ports:
                s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                socks.append(s)
                s.bind((LOCAL, p))
        except OSError:
            continue
        finally:
            for s in socks:
                s.close()
        _used_ports.update(ports)
        return base, base + count - 1
    raise RuntimeError("no free UDP port range")


def copy_dialplans(target: Path, hours: str = "00:00-24:00", holidays: bool = False) -> None:
    """Copies Dialplans/ to `target`, the 12345 service hours replaced by `hours`."""
    if target.exists():
        shutil.rmtree(target)
    shutil.copytree(REPO / "Dialplans", target)
    plan = target / "12345.yaml"
    text = plan.read_text()
    assert 'time: "08:00-22:00"' in text and "if: { day: holiday }" in text
    text = text.replace('time: "08:00-22:00"', f'time: "{hours}"')
    if not holidays:
        text = text.replace("if: { day: holiday }", 'if: { date: "2000-01-01" }')
    plan.write_text(text)


def http_listening(port: int) -> bool:
    try:
        with socket.create_connection((LOCAL, port), timeout=0.3):
            return True
    except OSError:
        return False


class Hotline:
    def __init__(self, tmp: Path, rtp_range: tuple[int, int] | None = None,
                 no_media_timeout: float | None = None, drain_timeout: float | None = None,
                 extra: list[str] | None = None, config_edit=None, dialplan_hours: str = "00:00-24:00",
                 dialplans: dict[str, str] | None = None):
        """`config_edit(text) -> text` derives a config from hotline.yaml (written to `tmp`,
        with the prompt directory made absolute)."""
        self.sip_port = free_port()
        self.http_port = free_port()
        self.data_dir = tmp / "data"
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.log_path = tmp / "hotline.log"
        self.rtp_range = rtp_range
        self.expected_rc = 0
        # The sample dialplans, with the service hours made all day and holidays ignored, so
        # that a test walks the same path at any hour of any day (test_dialplan.py checks the
        # hours and holiday branches with edited copies).
        self.dialplans = tmp / "Dialplans"
        copy_dialplans(self.dialplans, hours=dialplan_hours)
        for name, text in (dialplans or {}).items():   # extra dialplans for a test's own lines
            (self.dialplans / name).write_text(text)
        text = (HOTLINE_CONFIG.read_text()
                .replace("directory: Prompts", f"directory: {REPO / 'Prompts'}")
                .replace("directory: Dialplans", f"directory: {self.dialplans}"))
        if config_edit is not None:
            text = config_edit(text)
        config = tmp / "hotline.yaml"
        config.write_text(text)
        self.args = [str(HOTLINE_BIN), "serve", "--config", str(config),
                     "--sip-address", LOCAL, "--sip-port", str(self.sip_port),
                     "--http-port", str(self.http_port), "--data-dir", str(self.data_dir)]
        if rtp_range:
            self.args += ["--rtp-port-min", str(rtp_range[0]), "--rtp-port-max", str(rtp_range[1])]
        if no_media_timeout is not None:
            self.args += ["--no-media-timeout", f"{no_media_timeout:g}"]
        if drain_timeout is not None:
            self.args += ["--drain-timeout", f"{drain_timeout:g}"]
        self.args += extra or []
        self.proc: subprocess.Popen | None = None

    def start(self) -> "Hotline":
        if not HOTLINE_BIN.exists():
            pytest.fail(f"daemon binary {HOTLINE_BIN} does not exist: run `swift build` "
                        f"or set HOTLINE_BIN", pytrace=False)
        self._log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(self.args, stdout=self._log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, cwd=REPO, start_new_session=True)
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                pytest.fail(f"hotline exited with {self.proc.returncode} during startup:\n"
                            f"{self.tail()}", pytrace=False)
            # Ready: SIP answers OPTIONS and the HTTP API accepts connections (the API starts
            # as a service after the SIP listeners).
            if options_ok(self.sip_port, timeout=0.3) and http_listening(self.http_port):
                return self
            time.sleep(0.1)
        self.kill()
        pytest.fail(f"hotline did not answer OPTIONS on {LOCAL}:{self.sip_port} within "
                    f"{STARTUP_TIMEOUT}s:\n{self.tail()}", pytrace=False)

    @property
    def uri(self) -> str:
        return f"sip:12345@{LOCAL}:{self.sip_port}"

    def metric(self, name: str, labels: str = "") -> float:
        """A value from the Prometheus endpoint (0 when the series does not exist yet)."""
        import urllib.request
        text = urllib.request.urlopen(f"http://{LOCAL}:{self.http_port}/metrics", timeout=5).read().decode()
        series = f"{name}{{{labels}}}" if labels else name
        for line in text.splitlines():
            if line.startswith(series + " "):
                return float(line.split()[-1])
        return 0.0

    def api(self, method: str, path: str, body: dict | None = None) -> tuple[int, dict]:
        """An HTTP API call: (status, JSON body), errors included."""
        import json
        import urllib.error
        import urllib.request
        data = json.dumps(body).encode() if body is not None else (b"" if method == "POST" else None)
        req = urllib.request.Request(f"http://{LOCAL}:{self.http_port}{path}", data=data, method=method,
                                     headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=10) as r:
                return r.status, json.loads(r.read() or b"{}")
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read() or b"{}")

    def login(self, agent: str, seat: str, timeout: float = 10) -> dict:
        """Logs an agent in once its seat has registered (409 until then)."""
        deadline = time.time() + timeout
        while True:
            status, body = self.api("POST", f"/v1/agents/{agent}/login", {"seat": seat})
            if status == 200 or time.time() > deadline:
                assert status == 200, (status, body)
                return body
            time.sleep(0.2)

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def sigterm(self) -> None:
        if self.alive():
            self.proc.send_signal(signal.SIGTERM)

    def wait(self, timeout: float) -> int | None:
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            return None

    def kill(self) -> None:
        if self.alive():
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.proc.wait(5)

    def stop(self) -> int | None:
        """SIGTERM, wait, SIGKILL as a last resort. Returns the exit code (None if killed)."""
        if self.proc is None:
            return None
        if self.alive():
            self.sigterm()
            if self.wait(STOP_TIMEOUT) is None:
                self.kill()
                self._log.close()
                return None
        self._log.close()
        return self.proc.returncode

    def tail(self, lines: int = LOG_TAIL_LINES) -> str:
        try:
            self._log.flush()
        except (AttributeError, ValueError):
            pass
        try:
            text = self.log_path.read_bytes().decode("utf-8", "replace")
        except OSError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    setattr(item, "rep_" + report.when, report)
    if report.failed:
        for h in getattr(item, "_hotlines", []):
            report.sections.append((f"hotline log (tail, {h.log_path})", h.tail()))


@pytest.fixture
def hotline_factory(request, tmp_path):
    """Start daemons with options; all are stopped at teardown and must exit with 0."""
    started: list[Hotline] = []
    request.node._hotlines = started

    def start(**kw) -> Hotline:
        h = Hotline(tmp_path / f"hotline{len(started)}", **kw)
        started.append(h)
        return h.start()

    yield start
    problems = []
    for h in started:
        rc = h.stop()
        if rc != h.expected_rc:
            problems.append(f"hotline on port {h.sip_port} exited with {rc} "
                            f"(want {h.expected_rc}); log tail:\n{h.tail()}")
    if problems:
        pytest.fail("\n".join(problems), pytrace=False)


@pytest.fixture
def hotline(hotline_factory) -> Hotline:
    return hotline_factory()


@pytest.fixture
def port():
    return free_port


def require_tool(name: str) -> str:
    from shutil import which
    path = which(name)
    if path is None:
        pytest.fail(f"'{name}' is not installed (apt-get install sip-tester)", pytrace=False)
    return path
