"""The provider registry: each provider package adds its blueprint here.

A provider package (``fake_providers/<name>/__init__.py``) calls :func:`register` at
import time with its protocol, a blueprint factory, and optionally hooks that shape
the errors no route of its own answered (an unmatched path, a wrong method, an
unexpected exception) for paths under its hosts, and the answer it gives while a
provider-wide fault (an outage, a rate limit) is active. :func:`load_providers`
imports every subpackage of ``fake_providers`` (but ``core``), so ``create_app``
serves whatever provider packages exist, without a list to edit; given the protocols a
core serves, it imports only their packages (each is named after its protocol), so a
world of one provider does not load the other five (~20 ms, issue 15).

Hooks are ``async def`` like every handler here (Quart would run a sync one in a
worker thread, and a thread lets a simulation's virtual clock jump mid-request).
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from quart import Blueprint, Response

from .core import Fault

#: ``(path, status, description) -> Response | None``: a provider-shaped answer for an
#: HTTP error on ``path``, or None when ``path`` is not the provider's.
HttpErrorHook = Callable[[str, int, str], Awaitable[Response | None]]
#: ``(path, exception) -> Response | None``: the same for an unexpected exception.
UnexpectedHook = Callable[[str, Exception], Awaitable[Response | None]]
#: ``(path, fault) -> Response | None``: the provider's own answer to a request on
#: ``path`` (one of its hosts) while ``fault`` is active, or None when the fault does
#: not touch that path (a rate limit on an OAuth endpoint).
FaultHook = Callable[[str, Fault], Awaitable[Response | None]]


@dataclass(frozen=True)
class Provider:
    """One registered provider package."""

    protocol: str
    blueprint: Callable[[], Blueprint]
    http_error: HttpErrorHook | None = None
    unexpected: UnexpectedHook | None = None
    fault: FaultHook | None = None


#: Blueprint factories by protocol.
PROVIDERS: dict[str, Callable[[], Blueprint]] = {}
#: Everything registered, by protocol.
ENTRIES: dict[str, Provider] = {}

_NOT_PROVIDERS = frozenset({"core", "templates"})


def register(
    protocol: str,
    blueprint: Callable[[], Blueprint],
    *,
    http_error: HttpErrorHook | None = None,
    unexpected: UnexpectedHook | None = None,
    fault: FaultHook | None = None,
) -> None:
    """Add a provider's blueprint factory (and error and fault hooks) under its protocol."""
    PROVIDERS[protocol] = blueprint
    ENTRIES[protocol] = Provider(protocol, blueprint, http_error, unexpected, fault)


def load_providers(protocols: Iterable[str] | None = None) -> dict[str, Provider]:
    """Import the provider packages present (each registers itself): every one, or
    those of ``protocols`` only; answer every provider registered so far. A package is
    named after the protocol it registers; should one of ``protocols`` have no package of
    its name, every package is imported."""
    root = Path(__file__).parent
    packages = [
        info.name
        for info in sorted(pkgutil.iter_modules([str(root)]), key=lambda i: i.name)
        if info.ispkg and not info.name.startswith("_") and info.name not in _NOT_PROVIDERS
    ]
    wanted = None if protocols is None else set(protocols)
    for name in packages:
        if wanted is None or name in wanted:
            importlib.import_module(f"{__package__}.{name}")
    if wanted is not None and not wanted <= ENTRIES.keys():
        for name in packages:
            importlib.import_module(f"{__package__}.{name}")
    return dict(ENTRIES)
