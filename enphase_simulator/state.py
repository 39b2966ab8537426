"""The state file: atomic JSON writes, reads, and the autosave task."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
from pathlib import Path
import tempfile
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .simulator import Simulator

_LOGGER = logging.getLogger(__name__)
VERSION = 1


def read(path: Path) -> dict[str, Any] | None:
    """Return the saved state, or None when there is none or it is unusable."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as err:
        _LOGGER.warning("ignoring unreadable state file %s: %s", path, err)
        return None
    if not isinstance(data, dict) or data.get("version") != VERSION:
        _LOGGER.warning("ignoring state file %s of another version", path)
        return None
    return data


def write(path: Path, data: dict[str, Any]) -> None:
    """Write `data` to `path` atomically (a reader sees the old or the new file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as file:
            json.dump(data, file, indent=1, sort_keys=True)
            file.flush()
            os.fsync(file.fileno())
        Path(temp).replace(path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


async def autosave(sim: Simulator, interval: float) -> None:
    """Write the state whenever it changed, every `interval` seconds, until cancelled."""
    while True:
        await asyncio.sleep(interval)
        if sim.dirty:
            with contextlib.suppress(OSError):
                sim.save_state()
