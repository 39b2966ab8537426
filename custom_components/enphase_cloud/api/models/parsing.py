"""Tolerant parsing helpers shared by the models (see the package docstring for the rules)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, date, datetime
import math
import re
from typing import Any, Final

from ..errors import EnphaseResponseError


def type_name(value: object) -> str:
    """Return the JSON type name of a value, for error messages."""
    return "null" if value is None else type(value).__name__


def mapping(value: object, what: str) -> Mapping[str, Any]:
    """Return `value` as an object, or raise naming `what`."""
    if not isinstance(value, Mapping):
        msg = f"{what}: expected an object, got {type_name(value)}"
        raise EnphaseResponseError(msg)
    return value


def missing(what: str, key: str) -> EnphaseResponseError:
    """Return the error for a required field that is missing or null."""
    return EnphaseResponseError(f"{what}: required field {key!r} is missing or null")


def wrong_type(what: str, key: str, value: object, expected: str) -> EnphaseResponseError:
    """Return the error for a field of the wrong type (never quoting its value)."""
    return EnphaseResponseError(
        f"{what}: field {key!r} should be {expected}, got {type_name(value)}"
    )


def as_int(value: object) -> int | None:
    """Return an int for an int or finite float (rounded); None for anything else."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and math.isfinite(value):
        return round(value)
    return None


def as_str(value: object) -> str | None:
    """Return `value` if it is a string, else None."""
    return value if isinstance(value, str) else None


def as_mapping(value: object) -> Mapping[str, Any] | None:
    """Return `value` if it is an object, else None."""
    return value if isinstance(value, Mapping) else None


def as_list(value: object) -> list[object] | None:
    """Return `value` if it is a list, else None."""
    return value if isinstance(value, list) else None


def as_datetime(value: object) -> datetime | None:
    """Return an aware UTC datetime for epoch seconds or ISO 8601 text."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        try:
            return datetime.fromtimestamp(value, tz=UTC)
        except OverflowError, OSError, ValueError:
            return None
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            return None
        return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
    return None


def as_date(value: object) -> date | None:
    """Return the date of "YYYY-MM-DD" text (a time part after it is ignored)."""
    if isinstance(value, str):
        try:
            return date.fromisoformat(value[:10])
        except ValueError:
            return None
    return None


_TRUE_WORDS: Final = frozenset({"enabled", "enable", "true", "on", "yes", "active", "1"})
_FALSE_WORDS: Final = frozenset({"disabled", "disable", "false", "off", "no", "inactive", "0"})


def as_bool(value: object) -> bool | None:
    """Return a bool for true/false or "enabled"/"disabled"-like text.

    Only the first word counts, so "Enabled (Inactive)" is True.
    """
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return value != 0
    if isinstance(value, str) and (words := re.findall(r"[a-z0-9]+", value.lower())):
        if words[0] in _TRUE_WORDS:
            return True
        if words[0] in _FALSE_WORDS:
            return False
    return None


def as_percent(value: object) -> int | None:
    """Return an int for 97, 97.0, "97" or "97%"."""
    if isinstance(value, str):
        match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*%?\s*", value)
        return round(float(match.group(1))) if match else None
    return as_int(value)


def required[T](
    data: Mapping[str, Any],
    key: str,
    what: str,
    convert: Callable[[object], T | None],
    expected: str,
) -> T:
    """Return a required field converted by `convert`, or raise."""
    value = data.get(key)
    if value is None:
        raise missing(what, key)
    result = convert(value)
    if result is None:
        raise wrong_type(what, key, value, expected)
    return result


def req_int(data: Mapping[str, Any], key: str, what: str) -> int:
    """Return a required integer field, or raise."""
    return required(data, key, what, as_int, "an integer")


def req_str(data: Mapping[str, Any], key: str, what: str) -> str:
    """Return a required string field, or raise."""
    return required(data, key, what, as_str, "a string")


def req_datetime(data: Mapping[str, Any], key: str, what: str) -> datetime:
    """Return a required epoch-seconds field as an aware datetime, or raise."""
    return required(data, key, what, as_datetime, "epoch seconds")


def opt_int(data: Mapping[str, Any], key: str) -> int | None:
    """Return an optional integer field, None when absent or unusable."""
    return as_int(data.get(key))


def opt_str(data: Mapping[str, Any], key: str) -> str | None:
    """Return an optional string field, None when absent or unusable."""
    return as_str(data.get(key))


def opt_datetime(data: Mapping[str, Any], key: str) -> datetime | None:
    """Return an optional time field, None when absent or unusable."""
    return as_datetime(data.get(key))


def opt_bool(data: Mapping[str, Any], key: str) -> bool | None:
    """Return an optional boolean-like field, None when absent or unusable."""
    return as_bool(data.get(key))


def opt_list(data: Mapping[str, Any], key: str, what: str) -> Sequence[object]:
    """Return an optional list field: missing or null is empty, another type raises."""
    value = data.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise wrong_type(what, key, value, "a list")
    return value


def interval_objects(data: Mapping[str, Any], what: str) -> list[Mapping[str, Any]]:
    """Return the required `intervals`, flattening an array of arrays (import/export)."""
    flat: list[Mapping[str, Any]] = []
    for item in required(data, "intervals", what, as_list, "a list"):
        if isinstance(item, list):
            flat.extend(mapping(inner, f"{what}.intervals[][]") for inner in item)
        else:
            flat.append(mapping(item, f"{what}.intervals[]"))
    return flat


def meta_last_report(data: Mapping[str, Any]) -> datetime | None:
    """Return `meta.last_report_at` of an interval answer, if any."""
    meta = data.get("meta")
    return opt_datetime(meta, "last_report_at") if isinstance(meta, Mapping) else None


def normalise(text: str) -> str:
    """Return the lower-case letters of `text` only (for spelling-tolerant matching)."""
    return re.sub(r"[^a-z]", "", text.lower())
