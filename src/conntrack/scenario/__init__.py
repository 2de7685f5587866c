"""Scenarios: YAML files of connections, a timeline and expectations, as a model.

``load_paths(["scenarios/"])`` finds, loads and validates scenario files and returns
:class:`Scenario` objects; every mistake in every file is reported at once, as one
:class:`~conntrack._exceptions.ScenarioError` whose problems read ``file:line: message``.
"""

from ._loader import discover, load_file, load_paths, schema
from ._model import (
    ACCOUNT_EVENTS,
    COMPANY_EVENTS,
    CONNECTION_ACTIONS,
    CONNECTION_KINDS,
    EMAIL_KINDS,
    EVENTS,
    PROVIDER_EVENTS,
    BannerExpect,
    CompanySpec,
    ConnectionSpec,
    EmailExpect,
    Expectation,
    GapExpect,
    ReconnectsExpect,
    Scenario,
    StateExpect,
    TimelineEvent,
    TransitionsExpect,
    Where,
)

__all__ = [
    "ACCOUNT_EVENTS",
    "COMPANY_EVENTS",
    "CONNECTION_ACTIONS",
    "CONNECTION_KINDS",
    "EMAIL_KINDS",
    "EVENTS",
    "PROVIDER_EVENTS",
    "BannerExpect",
    "CompanySpec",
    "ConnectionSpec",
    "EmailExpect",
    "Expectation",
    "GapExpect",
    "ReconnectsExpect",
    "Scenario",
    "StateExpect",
    "TimelineEvent",
    "TransitionsExpect",
    "Where",
    "discover",
    "load_file",
    "load_paths",
    "schema",
]
