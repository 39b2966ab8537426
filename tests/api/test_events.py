"""Events, alarms and event types: models (tolerant parsing) and client against the simulator."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from custom_components.enphase_cloud.api import (
    Endpoint,
    EnphaseNotFound,
    EnphaseResponseError,
)
from custom_components.enphase_cloud.api.models.events import (
    Alarm,
    Alarms,
    EventStatus,
    EventType,
    SystemEvent,
    SystemEvents,
)
from enphase_simulator import SYSTEM_BATTERY

from .test_client_simulator import NOW, SimRun, start_sim, watt  # noqa: F401 - fixtures

# The spec's examples (enphase-v4-openapi.yaml), word for word.
DOC_EVENTS = {
    "events": [
        {
            "status": "Closed",
            "event_type_id": 28,
            "event_start_time": 1740213328,
            "event_end_time": 1740373425,
            "serial_number": "202241095486",
        }
    ],
    "system_id": 701644354,
}
DOC_ALARMS = {
    "alarms": [
        {
            "id": "1082701398",
            "cleared": False,
            "severity": 4,
            "events": [
                {"serial_number": "202241095486", "start_date": 1737750626, "end_date": 1737866703}
            ],
            "event_type_id": 28,
            "alarm_start_time": 1737750626,
            "alarm_end_time": None,
        }
    ],
    "system_id": 701644354,
}
DOC_TYPES = {
    "event_types": [
        {
            "event_type_id": 28,
            "event_type_key": "envoy_no_report",
            "stateful": True,
            "event_name": "Gateway not reporting",
            "event_description": "The broadband Internet connection ...",
            "recommended_action": "Check that your gateway and Internet router are plugged in.",
        }
    ]
}


def test_documented_bodies_parse() -> None:
    [event] = SystemEvents.from_dict(DOC_EVENTS).events
    assert event.status is EventStatus.CLOSED
    assert not event.is_open
    assert event.started_at == datetime.fromtimestamp(1740213328, UTC)
    assert event.key.startswith("28:1740213328:")
    assert "202241095486" not in event.key
    [alarm] = Alarms.from_dict(DOC_ALARMS).alarms
    assert alarm == Alarm(
        alarm_id="1082701398",
        event_type_id=28,
        cleared=False,
        started_at=datetime.fromtimestamp(1737750626, UTC),
        severity=4,
        devices=1,
    )
    [kind] = EventType.list_from_dict(DOC_TYPES)
    assert kind.key == "envoy_no_report"
    assert kind.stateful is True


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"event_type_id": 1, "event_start_time": 5}, EventStatus.OPEN),
        ({"event_type_id": 1, "event_start_time": 5, "event_end_time": 9}, EventStatus.CLOSED),
        ({"event_type_id": 1, "event_start_time": 5, "status": "INFO"}, EventStatus.INFO),
        ({"event_type_id": 1.0, "event_start_time": 5, "status": "Weird"}, EventStatus.OPEN),
    ],
)
def test_event_status_is_tolerant(body: dict[str, Any], status: EventStatus) -> None:
    assert SystemEvent.from_dict(body).status is status


def test_alarm_tolerances() -> None:
    alarm = Alarm.from_dict(
        {"id": 17, "event_type_id": 5, "alarm_start_time": 1, "alarm_end_time": 2}
    )
    assert alarm.alarm_id == "17"
    assert alarm.cleared is True
    assert alarm.severity is None
    assert Alarms.from_dict({}).alarms == ()
    assert SystemEvents.from_dict({"events": None}).events == ()


@pytest.mark.parametrize(
    "body",
    [
        [],
        {"events": {}},
        {"events": [1]},
        {"events": [{"event_type_id": "x", "event_start_time": 1}]},
        {"events": [{"event_type_id": 1}]},
    ],
)
def test_broken_events_raise(body: object) -> None:
    with pytest.raises(EnphaseResponseError):
        SystemEvents.from_dict(body)


@pytest.mark.parametrize(
    "body",
    [
        {"alarms": [{"event_type_id": 1, "alarm_start_time": 1}]},
        {"alarms": [{"id": True, "event_type_id": 1, "alarm_start_time": 1}]},
        {"alarms": [{"id": "1", "event_type_id": 1}]},
        {"event_types": [{"event_name": "no id"}]},
    ],
)
def test_broken_alarms_and_types_raise(body: dict[str, Any]) -> None:
    parse = EventType.list_from_dict if "event_types" in body else Alarms.from_dict
    with pytest.raises(EnphaseResponseError):
        parse(body)


async def test_events_and_alarms_from_the_simulator(watt: SimRun) -> None:  # noqa: F811
    watt.sim.health.inject(SYSTEM_BATTERY, "micro_not_producing", at=int(NOW.timestamp()) - 7200)
    client = watt.client()
    start = NOW - timedelta(days=1)
    [event] = (await client.async_get_events(SYSTEM_BATTERY, start=start, end=NOW)).events
    assert event.is_open
    assert event.serial_number is not None
    [alarm] = (await client.async_get_alarms(SYSTEM_BATTERY, start=start, end=NOW)).alarms
    assert alarm.event_type_id == event.event_type_id
    assert not alarm.cleared
    cleared = await client.async_get_alarms(SYSTEM_BATTERY, start=start, end=NOW, cleared=True)
    assert cleared.alarms == ()
    types = await client.async_get_event_types()
    assert event.event_type_id in {t.event_type_id for t in types}
    [one] = await client.async_get_event_types(28)
    assert one.name == "Gateway not reporting"
    with pytest.raises(EnphaseNotFound):
        await client.async_get_event_types(4242)
    assert [c[1:] for c in watt.limiter.calls if c[0] == "record"] == [
        (Endpoint.EVENTS, 200),
        (Endpoint.ALARMS, 200),
        (Endpoint.ALARMS, 200),
        (Endpoint.EVENT_TYPES, 200),
        (Endpoint.EVENT_TYPES, 200),
        (Endpoint.EVENT_TYPES, 404),
    ]


@pytest.mark.parametrize(
    ("start", "end"),
    [
        (NOW, NOW - timedelta(seconds=1)),
        (NOW - timedelta(days=8), NOW),
        (NOW.replace(tzinfo=None), NOW),
    ],
)
async def test_bad_windows_are_refused_before_calling(
    watt: SimRun,  # noqa: F811
    start: datetime,
    end: datetime,
) -> None:
    with pytest.raises(ValueError, match=r"window|timezone"):
        await watt.client().async_get_events(SYSTEM_BATTERY, start=start, end=end)
    assert watt.limiter.calls == []
