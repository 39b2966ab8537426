"""`python -m enphase_simulator` as a process, driven by the stdlib client script/sim_client.py."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
import json
import os
from pathlib import Path
import re
import selectors
import signal
import socket
import subprocess
import sys
import time
from urllib import request

import pytest

from enphase_simulator import SimConfig
from enphase_simulator.__main__ import banner, build_config, parse_args, serve

ROOT = Path(__file__).resolve().parents[2]
CLIENT = ROOT / "script" / "sim_client.py"
BANNER = re.compile(
    r"^Enphase simulator at (?P<url>http://127\.0\.0\.1:\d+) client_id=demo-client "
    r"client_secret=demo-secret api_key=demo-key account=demo@example\.com$"
)
START_LIMIT_S = 2.0


def free_port() -> int:
    """Return a port nobody listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def read_line(process: subprocess.Popen[str], timeout: float) -> str:
    """Return the first stdout line of `process`, or fail after `timeout` seconds."""
    assert process.stdout is not None
    with selectors.DefaultSelector() as selector:
        selector.register(process.stdout, selectors.EVENT_READ)
        if not selector.select(timeout):
            pytest.fail(f"no banner within {timeout} s")
    return process.stdout.readline().rstrip("\n")


Started = tuple[subprocess.Popen[str], str, float]
Starter = Callable[..., Started]


@pytest.fixture
def start_server(socket_enabled: None) -> Iterator[Starter]:
    """Start simulator processes; they are stopped in teardown."""
    processes: list[subprocess.Popen[str]] = []

    def start(*extra: str) -> Started:
        command = [sys.executable, "-m", "enphase_simulator", "--host", "127.0.0.1"]
        command += ["--port", str(free_port()), *extra]
        began = time.monotonic()
        process = subprocess.Popen(  # noqa: S603 - our own interpreter and module
            command,
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=os.environ | {"PYTHONPATH": str(ROOT)},
        )
        processes.append(process)
        line = read_line(process, 10)
        return process, line, time.monotonic() - began

    yield start
    for process in processes:
        if process.poll() is None:
            process.kill()
        process.communicate(timeout=10)


def run_client(url: str) -> dict[str, object]:
    """Run the stdlib client against `url` and return its JSON result."""
    done = subprocess.run(  # noqa: S603 - our own interpreter and script
        [sys.executable, str(CLIENT), "--base-url", url],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    result: dict[str, object] = json.loads(done.stdout)
    return result


@pytest.mark.parametrize("approve", [["--auto-approve"], []], ids=["auto-approve", "consent"])
def test_starts_fast_and_serves_the_scripted_client(
    start_server: Starter, approve: list[str]
) -> None:
    process, line, took = start_server(*approve)
    match = BANNER.match(line)
    assert match, line
    assert took < START_LIMIT_S
    result = run_client(match["url"])
    assert result["enl_uid"] == "4001"
    assert result["systems"] == [
        {"system_id": 1001, "name": "Casa Solar"},
        {"system_id": 1002, "name": "Texas Ranch"},
    ]
    battery = result["battery"]
    assert isinstance(battery, dict)
    assert battery["system_id"] == 1001
    # A whole local day: 96 quarter hours (92 or 100 on a daylight saving day).
    assert battery["intervals"] in {92, 96, 100}
    assert battery["last_end_at"] - battery["first_end_at"] == (battery["intervals"] - 1) * 900
    assert 10 <= battery["last_soc_percent"] <= 100
    # The client made exactly two API calls: the systems list and one day of battery.
    with request.urlopen(f"{match['url']}/_sim/usage", timeout=5) as answer:  # noqa: S310
        usage = json.load(answer)
    assert usage["total"] == 2
    process.send_signal(signal.SIGINT)
    assert process.wait(timeout=10) == 0


def test_flags_and_state_file(start_server: Starter, tmp_path: Path) -> None:
    state = tmp_path / "sim.json"
    flags = ["--plan", "megawatt", "--seed", "9", "--state", str(state), "--clock", "fast:600"]
    process, line, _ = start_server(*flags)
    url = BANNER.match(line)
    assert url, line
    with request.urlopen(f"{url['url']}/_sim/status", timeout=5) as answer:  # noqa: S310
        status = json.load(answer)
    assert status["plans"]["demo-key"] == "megawatt"
    first = status["clock"]["now_ts"]
    time.sleep(0.2)
    with request.urlopen(f"{url['url']}/_sim/clock", timeout=5) as answer:  # noqa: S310
        later = json.load(answer)["now_ts"]
    assert later - first >= 60  # 600 times as fast as the wall clock
    # SIGTERM stops it cleanly and writes the state file.
    process.terminate()
    assert process.wait(timeout=10) == 0
    saved = json.loads(state.read_text(encoding="utf-8"))
    assert (saved["seed"], saved["plans"]["demo-key"]) == (9, "megawatt")


def test_a_taken_port_is_one_line_of_error(start_server: Starter) -> None:
    _, line, _ = start_server()
    url = BANNER.match(line)
    assert url, line
    port = url["url"].rsplit(":", 1)[1]
    done = subprocess.run(  # noqa: S603 - our own interpreter and module
        [sys.executable, "-m", "enphase_simulator", "--port", port],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
        env=os.environ | {"PYTHONPATH": str(ROOT)},
    )
    assert done.returncode == 1
    assert done.stderr.startswith("enphase_simulator: cannot serve on 127.0.0.1:")
    assert "Traceback" not in done.stderr


def test_bad_clock_flag_is_refused() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "enphase_simulator", "--clock", "slow:2"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
        env=os.environ | {"PYTHONPATH": str(ROOT)},
    )
    assert done.returncode == 2
    assert "real or fast:FACTOR" in done.stderr


def test_arguments_become_the_config() -> None:
    args = parse_args(
        [
            "--plan",
            "partner",
            "--seed",
            "4",
            "--clock",
            "fast:30",
            "--start",
            "2026-01-02T03:04:05",
            "--auto-approve",
            "--apply-delay",
            "5",
            "--state",
            "/tmp/x.json",  # noqa: S108 - only parsed, never written
        ]
    )
    config = build_config(args)
    assert (config.plan, config.seed, config.clock_factor) == ("partner", 4, 30.0)
    assert config.start == datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    assert config.auto_approve is True
    assert config.apply_delay == timedelta(seconds=5)
    assert config.state_path == Path("/tmp/x.json")  # noqa: S108
    defaults = build_config(parse_args([]))
    assert (defaults.plan, defaults.clock_factor, defaults.auto_approve) == ("watt", 1.0, False)
    assert defaults.start is not None
    assert abs((defaults.start - datetime.now(UTC)).total_seconds()) < 60


async def test_serve_announces_the_bound_port_and_stops(socket_enabled: None) -> None:
    announced: list[str] = []
    stop = asyncio.Event()

    def ready(url: str) -> None:
        announced.append(url)
        stop.set()

    await asyncio.wait_for(serve(SimConfig(), "127.0.0.1", 0, ready, stop), 10)
    assert len(announced) == 1
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+", announced[0])
    assert not announced[0].endswith(":0")
    assert BANNER.match(banner(announced[0], SimConfig()))
