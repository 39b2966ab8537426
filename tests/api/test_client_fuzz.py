"""Response fuzzing: any answer to any client method gives a model or an `EnphaseError`.

Enphase's documented and recorded bodies (the shared reference samples) are
mutated at random: leaves become absurd values (a date at year 1, a 400-digit
number, NaN, the wrong type), whole bodies become other JSON or garbage, and the
status is sometimes an error. The outcome must be a model or an `EnphaseError`,
never anything else and never a hang, and no message or chained exception may
hold the token or the API key. Seeded, so a failure repeats; the suite runs
`ENPHASE_FUZZ_CASES` cases (default 2,000); set it higher for a longer run.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
import json
import os
from pathlib import Path
import random
from typing import Any

import aiohttp
import pytest

from custom_components.enphase_cloud.api import EnphaseClient, EnphaseError

from .conftest import API_KEY, TOKEN
from .fake_server import FakeEnphase, Received, Reply

SAMPLES = Path(__file__).resolve().parents[2] / ".." / "shared" / "reference" / "samples"
CASES = int(os.environ.get("ENPHASE_FUZZ_CASES", "2000"))
START = datetime(2026, 6, 15, tzinfo=UTC)
SID = 1001

type Call = Callable[[EnphaseClient], Awaitable[object]]
METHODS: dict[str, tuple[Call, str]] = {
    "systems": (lambda c: c.async_get_systems(), "doc_systems.json"),
    "summary": (lambda c: c.async_get_summary(SID), "doc_summary.json"),
    "devices": (lambda c: c.async_get_devices(SID), "doc_devices.json"),
    "latest": (lambda c: c.async_get_latest_telemetry(SID), "doc_latest_telemetry.json"),
    "production": (
        lambda c: c.async_get_production_telemetry(SID, start_at=START),
        "doc_production_meter.json",
    ),
    "consumption": (
        lambda c: c.async_get_consumption_telemetry(SID, start_at=START),
        "doc_consumption_meter.json",
    ),
    "import": (
        lambda c: c.async_get_import_telemetry(SID, start_at=START),
        "doc_energy_import_telemetry.json",
    ),
    "export": (
        lambda c: c.async_get_export_telemetry(SID, start_at=START),
        "doc_energy_export_telemetry.json",
    ),
    "battery": (
        lambda c: c.async_get_battery_telemetry(SID, start_at=START),
        "doc_battery_telemetry.json",
    ),
    "settings": (lambda c: c.async_get_battery_settings(SID), "doc_battery_settings_get.json"),
    "set_settings": (
        lambda c: c.async_set_battery_settings(SID, reserve_soc=40),
        "doc_battery_settings_put.json",
    ),
    "storm_guard": (lambda c: c.async_get_storm_guard(SID), "doc_storm_guard_get.json"),
    "set_storm_guard": (
        lambda c: c.async_set_storm_guard(SID, enabled=True),
        "doc_storm_guard_put.json",
    ),
    "grid": (lambda c: c.async_get_grid_status(SID), "doc_grid_status.json"),
}
ABSURD: tuple[object, ...] = (
    10**400,
    -(10**400),
    -62135596801,  # one second before year 1
    253402300800,  # year 10000
    2**63,
    -1,
    0,
    1e308,
    -1e308,
    float("nan"),
    float("inf"),
    "",
    "9" * 400,
    "2026-13-45",
    "0001-01-01T00:00:00Z",
    "97%",
    "1e999",
    None,
    True,
    [],
    {},
    [[[]]],
    {"end_at": 10**400},
)
PATHS = (
    "/systems",
    *(
        f"/systems/{SID}/{tail}"
        for tail in (
            "summary",
            "devices",
            "latest_telemetry",
            "telemetry/production_meter",
            "telemetry/consumption_meter",
            "energy_import_telemetry",
            "energy_export_telemetry",
            "telemetry/battery",
        )
    ),
    *(
        f"/systems/config/{SID}/{tail}"
        for tail in ("battery_settings", "storm_guard", "grid_status")
    ),
)
STATUSES = (200, 200, 200, 200, 201, 204, 301, 400, 401, 403, 404, 405, 422, 429, 500, 503, 599)


def _mutate(value: Any, rng: random.Random, rate: float) -> Any:
    """Return `value` with some leaves (or whole branches) replaced by absurd values."""
    if rng.random() < rate:
        return rng.choice(ABSURD)
    if isinstance(value, dict):
        out = {key: _mutate(item, rng, rate) for key, item in value.items()}
        if out and rng.random() < rate:
            out.pop(rng.choice(list(out)))
        return out
    if isinstance(value, list):
        items = [_mutate(item, rng, rate) for item in value]
        if rng.random() < rate:
            rng.shuffle(items)
        return items
    return value


def _body(sample: object, rng: random.Random) -> bytes:
    """Return one fuzzed body: mostly a mutated sample, sometimes anything at all."""
    roll = rng.random()
    if roll < 0.05:
        return rng.randbytes(rng.randrange(64))
    if roll < 0.1:
        return b"[" * 100_000
    if roll < 0.15:
        return json.dumps(rng.choice(ABSURD)).encode()
    return json.dumps(_mutate(sample, rng, rng.choice((0.02, 0.1, 0.3)))).encode()


def _chain(err: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    current: BaseException | None = err
    while current is not None and current not in seen:
        seen.append(current)
        current = current.__cause__ or (
            None if current.__suppress_context__ else current.__context__
        )
    return seen


async def test_any_answer_gives_a_model_or_an_enphase_error(
    fake: FakeEnphase, session: aiohttp.ClientSession
) -> None:
    if not SAMPLES.is_dir():
        pytest.skip(f"Enphase's reference samples are not next to the checkout ({SAMPLES})")
    samples = {
        name: json.loads((SAMPLES / file).read_text()) for name, (_, file) in METHODS.items()
    }
    rng = random.Random(15)  # noqa: S311 - a reproducible fuzzer, not a secret
    reply = Reply()

    def answer(_received: Received) -> Reply:
        return reply

    for path in PATHS:
        fake.replies[path] = answer

    async def token() -> str:
        return TOKEN

    client = EnphaseClient(session, token, API_KEY, base_url=fake.base_url, timeout=5)
    outcomes = {"model": 0, "error": 0}
    for _ in range(CASES):
        name = rng.choice(list(METHODS))
        call, _file = METHODS[name]
        sample = samples[name] if rng.random() < 0.9 else rng.choice(list(samples.values()))
        reply.status = rng.choice(STATUSES)
        reply.raw = _body(sample, rng)
        try:
            await call(client)
        except EnphaseError as err:
            outcomes["error"] += 1
            for link in _chain(err):
                assert not isinstance(link, aiohttp.ClientError), (name, link)
                assert API_KEY not in str(link), (name, link)
                assert TOKEN not in str(link), (name, link)
        else:
            outcomes["model"] += 1
    # Both outcomes were reached: the fuzzer tried sound answers as well as absurd ones.
    assert outcomes["model"] > CASES // 20
    assert outcomes["error"] > CASES // 20
