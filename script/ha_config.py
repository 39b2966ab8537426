#!/usr/bin/env python3
"""Write a small Home Assistant configuration for the simulator: `script/ha_config.py DIR PORT`.

Home Assistant 2026.10 keeps its HTTP settings in storage, set in the UI; an `http:`
block in `configuration.yaml` raises the "HTTP YAML configuration is deprecated"
repair, and a setting changed at run time asks to be confirmed after a restart. The
listen address and port are therefore written as the stored, confirmed settings,
validated by Home Assistant's own schema. An existing configuration is kept.
"""

from __future__ import annotations

import json
from pathlib import Path
import sys

from homeassistant.components.http.config import (
    HTTP_STORAGE_SCHEMA,
    STORAGE_KEY,
    STORAGE_MINOR_VERSION,
    STORAGE_VERSION,
)
from homeassistant.util import dt as dt_util

CONFIGURATION = """\
# A small configuration: enough for onboarding, the integration and the Energy dashboard.
# The HTTP server's address and port are stored settings (.storage/http), not YAML.
frontend:
config:
energy:
history:
logbook:
repairs:
diagnostics:
logger:
  default: info
  logs:
    custom_components.enphase_cloud: debug
"""
_OLD_HTTP_BLOCK = "http:\n  server_host: 127.0.0.1\n"


def write(config: Path, port: int) -> None:
    """Create `config` with the integration linked in, listening on 127.0.0.1:`port`."""
    config.mkdir(parents=True, exist_ok=True)
    link = config / "custom_components"
    if not link.exists():
        link.symlink_to(Path(__file__).resolve().parent.parent / "custom_components")
    yaml = config / "configuration.yaml"
    if not yaml.exists():
        yaml.write_text(CONFIGURATION, encoding="utf-8")
    else:
        # Earlier versions of script/develop wrote the address as YAML: move it to storage.
        text = yaml.read_text(encoding="utf-8")
        yaml.write_text(text.replace(_OLD_HTTP_BLOCK, ""), encoding="utf-8")
    storage = config / ".storage"
    storage.mkdir(exist_ok=True)
    stable = HTTP_STORAGE_SCHEMA({"server_host": ["127.0.0.1"], "server_port": port})
    stable |= {"created_at": dt_util.utcnow().isoformat(), "error": None, "error_message": None}
    document = {
        "version": STORAGE_VERSION,
        "minor_version": STORAGE_MINOR_VERSION,
        "key": STORAGE_KEY,
        "data": {"stable": stable, "pending": None, "yaml_migration_done": True},
    }
    (storage / STORAGE_KEY).write_text(json.dumps(document, indent=2), encoding="utf-8")


if __name__ == "__main__":
    write(Path(sys.argv[1]), int(sys.argv[2]))
