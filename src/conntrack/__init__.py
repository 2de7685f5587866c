"""conntrack: simulate and test the lifecycle of social-media account connections.

The public surface: the lifecycle vocabulary, the error classifier (usable in production
code), the clocks, scenario loading and running, and the exception hierarchy.
"""

# Importing the clients registers every provider's client and error rules.
from . import clients
from ._classifier import Action, Verdict, classify
from ._clock import Clock, Scheduler, SimClock, TravelClock
from ._durations import format_duration, parse_duration, parse_instant
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
from ._lifecycle import REASONS, STATES, Connection, Reason, State, TransitionRecord, fire, mermaid
from ._profiles import Profile, load_profile, providers

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
    "load_profile",
    "mermaid",
    "parse_duration",
    "parse_instant",
    "providers",
]
