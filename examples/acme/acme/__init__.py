"""acme: a small social-media scheduling product, as an integrator would write one.

acme keeps its customers' Facebook Pages, LinkedIn organizations and X accounts
connected: it runs each provider's OAuth flow, stores the tokens in SQLite, syncs each
connection's posts every few hours, refreshes tokens by each provider's rules, reads the
providers' error answers to tell an expired token from a revoked one, emails the
company before a connection expires and when it breaks, and shows a banner.

It is the example product of conntrack's product test protocol: everything here is
acme's own code (no import of conntrack or of the fake providers). Time is a virtual
clock that the test protocol moves (``POST /_test/clock``); nothing reads the wall clock.
"""

__version__ = "1.0.0"
