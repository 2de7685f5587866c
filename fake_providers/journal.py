"""The core's records row by row, and which of them changed: the public surface for a
store that keeps a :class:`~fake_providers.Core`'s state record by record and writes
what each change touched (``conntrack serve --state``, ``conntrack._statefile``).

What a store uses::

    Journal(core)           tracks which of the core's records change; take() the
                            Changes since the last take (None: nothing changed),
                            give_back(changes) those a failed write did not save
    Changes                 rows to upsert and delete, table by table, and the core's seq
    TABLES, EXTRA_TABLES    the tables of rows (one table of records each, and extra
                            tables of keys); FORMAT, the layout of their rows
    columns()               each table's fields, saved with the rows (so a field added
                            later is filled with its default at load)
    random_states(core)     the generators' states, saved now and then
    load(core, bodies, ...) replace the core's state by saved rows; raises
                            StateFormatError / StateProviderError (core unchanged)

The implementation is ``fake_providers.core._journal`` (with ``_persist``, the whole state
as one JSON document: :meth:`Core.dump` / :meth:`Core.load`). This module is imported
only by a store, so ``import fake_providers`` does not load the journal.
"""

from __future__ import annotations

from .core._journal import (
    EXTRA_TABLES,
    FORMAT,
    TABLES,
    Changes,
    Journal,
    columns,
    load,
    random_states,
)
from .core._persist import StateFormatError, StateProviderError

__all__ = [
    "EXTRA_TABLES",
    "FORMAT",
    "TABLES",
    "Changes",
    "Journal",
    "StateFormatError",
    "StateProviderError",
    "columns",
    "load",
    "random_states",
]
