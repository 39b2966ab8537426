"""Command line: `python -m enphase_simulator --port 8089 [options]`."""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Callable, Sequence
import contextlib
from datetime import UTC, datetime, timedelta
from pathlib import Path
import signal
import sys

from aiohttp import web

from .access_log import RedactingAccessLogger
from .app import create_app
from .config import PLANS, SimConfig
from .simulator import DEFAULT_EMAIL


def _clock(value: str) -> float:
    if value == "real":
        return 1.0
    kind, _, factor = value.partition(":")
    try:
        speed = float(factor)
    except ValueError:
        speed = -1.0
    if kind != "fast" or speed <= 0:
        msg = "use real or fast:FACTOR (FACTOR > 0)"
        raise argparse.ArgumentTypeError(msg)
    return speed


def _start(value: str) -> datetime:
    if value == "now":
        return datetime.now(UTC)
    parsed = datetime.fromisoformat(value)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """Parse the command line."""
    parser = argparse.ArgumentParser(prog="python -m enphase_simulator", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8089, help="0 picks a free port")
    parser.add_argument("--plan", choices=sorted(PLANS), default="watt")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--state", type=Path, help="JSON file keeping state across restarts")
    parser.add_argument("--clock", type=_clock, default=1.0, help="real (default) or fast:FACTOR")
    parser.add_argument(
        "--start", type=_start, default="now", help="ISO time the clock starts at (default: now)"
    )
    parser.add_argument("--auto-approve", action="store_true", help="skip the consent page")
    parser.add_argument(
        "--apply-delay", type=float, default=60.0, help="seconds before settings reach the battery"
    )
    return parser.parse_args(argv)


def build_config(args: argparse.Namespace) -> SimConfig:
    """Turn parsed arguments into a SimConfig."""
    return SimConfig(
        plan=args.plan,
        seed=args.seed,
        start=args.start,
        clock_factor=args.clock,
        auto_approve=args.auto_approve,
        apply_delay=timedelta(seconds=args.apply_delay),
        state_path=args.state,
    )


def banner(url: str, config: SimConfig) -> str:
    """Return the single line printed once the server listens."""
    return (
        f"Enphase simulator at {url} client_id={config.client_id} "
        f"client_secret={config.client_secret} api_key={config.api_key} "
        f"account={DEFAULT_EMAIL}"
    )


async def serve(
    config: SimConfig, host: str, port: int, ready: Callable[[str], None], stop: asyncio.Event
) -> None:
    """Serve until `stop` is set; `ready` receives the base URL once listening."""
    runner = web.AppRunner(
        create_app(config), handle_signals=False, access_log_class=RedactingAccessLogger
    )
    await runner.setup()
    try:
        site = web.TCPSite(runner, host, port)
        await site.start()
        bound = runner.addresses[0][1] if runner.addresses else port
        ready(f"http://{host}:{bound}")
        await stop.wait()
    finally:
        await runner.cleanup()


async def _main(args: argparse.Namespace) -> None:
    config = build_config(args)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(signum, stop.set)
    await serve(
        config, args.host, args.port, lambda url: print(banner(url, config), flush=True), stop
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Run the simulator until interrupted; return the exit status."""
    args = parse_args(argv)
    try:
        asyncio.run(_main(args))
    except OSError as err:
        # Typically the port is taken: say so in one line, not a traceback.
        print(f"enphase_simulator: cannot serve on {args.host}:{args.port}: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
