"""conntrack: simulate and test the lifecycle of social-media account connections.

The public surface: the lifecycle vocabulary, the error classifier (usable in production
code), the clocks, durations and instants, the provider profiles, the exception
hierarchy, and what every conntrack server shares (``Host``/``Origin`` parsing, the
``whole_body`` ASGI wrapper that keeps keep-alive connections alive); scenario loading
and running are in ``conntrack.scenario``. ``fake_providers`` uses this surface and
nothing private of conntrack (``tests/test_boundary.py``).

``clients`` and ``classify`` are imported on first use (:func:`__getattr__`): importing
the clients registers every provider's client and error rules, which ``classify`` needs,
and costs httpx and a module a provider — a quarter of ``import conntrack``, which the
fake providers (importing this package for durations and profiles) do not need.
"""

import importlib
from typing import TYPE_CHECKING

from ._classifier import Action, Verdict
from ._clock import Clock, Scheduler, SimClock, TravelClock
from ._durations import format_duration, format_instant, parse_duration, parse_instant
from ._exceptions import (
    ConntrackError,
    DurationError,
    InputError,
    LifecycleError,
    Problem,
    ProfileError,
    ProviderProtocolError,
    ScenarioError,
)
from ._hosts import local_name, same_origin, split_host
from ._lifecycle import REASONS, STATES, Connection, Reason, State, TransitionRecord, fire, mermaid
from ._profiles import Profile, load_profile, providers
from ._wholebody import whole_body

if TYPE_CHECKING:
    from . import clients
    from ._classifier import classify

__version__ = "0.1.0"

__all__ = [
    "REASONS",
    "STATES",
    "Action",
    "Clock",
    "Connection",
    "ConntrackError",
    "DurationError",
    "InputError",
    "LifecycleError",
    "Problem",
    "Profile",
    "ProfileError",
    "ProviderProtocolError",
    "Reason",
    "ScenarioError",
    "Scheduler",
    "SimClock",
    "State",
    "TransitionRecord",
    "TravelClock",
    "Verdict",
    "__version__",
    "classify",
    "clients",
    "fire",
    "format_duration",
    "format_instant",
    "load_profile",
    "local_name",
    "mermaid",
    "parse_duration",
    "parse_instant",
    "providers",
    "same_origin",
    "split_host",
    "whole_body",
]


def __getattr__(name: str) -> object:
    """``clients`` and ``classify``, imported on first use (see the module docstring);
    ``classify`` only after every provider's client has registered its error rules."""
    if name in ("clients", "classify"):
        # import_module, not ``from . import clients``: that asks this very hook first.
        clients = importlib.import_module(f"{__name__}.clients")
        from ._classifier import classify

        globals()["classify"] = classify
        return clients if name == "clients" else classify
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
