"""conntrack: simulate and test the lifecycle of social-media account connections.

The public surface: the lifecycle vocabulary, the error classifier (usable in production
code), the clocks, durations and instants, the provider profiles, the exception
hierarchy, and what every conntrack server shares (``Host``/``Origin`` parsing, the
``whole_body`` ASGI wrapper that keeps keep-alive connections alive); scenario loading
and running are in ``conntrack.scenario``. ``fake_providers`` uses this surface and
nothing private of conntrack (``tests/test_boundary.py``).

Every name is imported on first use (:func:`__getattr__`), so that a submodule's import
(``conntrack.cli`` for ``conntrack --help``) does not load trio, transitions, yaml and
httpx with the package (issue 15: ``--help`` went from 426 modules to a few dozen).
``clients`` and ``classify`` especially: importing the clients registers every
provider's client and error rules, which ``classify`` needs, and costs httpx and a module
a provider, which the fake providers (importing this package for durations and
profiles) do not need.
"""

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from . import clients
    from ._classifier import Action, Verdict, classify
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
    from ._lifecycle import (
        REASONS,
        STATES,
        Connection,
        Reason,
        State,
        TransitionRecord,
        fire,
        mermaid,
    )
    from ._profiles import Profile, load_profile, providers
    from ._wholebody import whole_body

_HOMES = {
    "._classifier": ("Action", "Verdict"),
    "._clock": ("Clock", "Scheduler", "SimClock", "TravelClock"),
    "._durations": ("format_duration", "format_instant", "parse_duration", "parse_instant"),
    "._exceptions": (
        "ConntrackError",
        "DurationError",
        "InputError",
        "LifecycleError",
        "Problem",
        "ProfileError",
        "ProviderProtocolError",
        "ScenarioError",
    ),
    "._hosts": ("local_name", "same_origin", "split_host"),
    "._lifecycle": (
        "REASONS",
        "STATES",
        "Connection",
        "Reason",
        "State",
        "TransitionRecord",
        "fire",
        "mermaid",
    ),
    "._profiles": ("Profile", "load_profile", "providers"),
    "._wholebody": ("whole_body",),
}
"""Where each public name lives; imported on first use (:func:`__getattr__`)."""

_HOME = {name: module for module, names in _HOMES.items() for name in names}

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
    """A public name, imported on first use (see the module docstring); ``classify``
    only after every provider's client has registered its error rules."""
    home = _HOME.get(name)
    if home is not None:
        value = getattr(importlib.import_module(home, __name__), name)
        globals()[name] = value
        return value
    if name in ("clients", "classify"):
        # import_module, not ``from . import clients``: that asks this very hook first.
        clients = importlib.import_module(f"{__name__}.clients")
        from ._classifier import classify

        globals()["classify"] = classify
        return clients if name == "clients" else classify
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
