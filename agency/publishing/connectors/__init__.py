"""Network connectors, one module each; :func:`load` imports every module of this package so
each registers itself (a new network needs no edit here)."""

from __future__ import annotations

import importlib
import pkgutil

from agency.publishing.connectors.base import CONNECTORS, Connector

_loaded = False


def load() -> dict[str, type[Connector]]:
    """Every registered connector class by network name."""
    global _loaded
    if not _loaded:
        for module in pkgutil.iter_modules(__path__):
            if module.name != "base":
                importlib.import_module(f"{__name__}.{module.name}")
        _loaded = True
    return CONNECTORS


def inbound_networks() -> list[str]:
    """Networks whose connector fetches inbound comments and mentions."""
    return sorted(
        name
        for name, cls in load().items()
        if cls.supports_inbound and cls.fetch_inbound is not Connector.fetch_inbound
    )
