"""The ``conntrack`` command's argument parser: every command, option and help text.

Kept apart from :mod:`conntrack.cli`, which carries the commands out, so that each
stays a readable size; the option types (bounded whole numbers, text without control
characters, choices) are in :mod:`conntrack._cliargs`.
"""

from __future__ import annotations

import argparse

from ._cliargs import Parser, text, whole


def parser() -> argparse.ArgumentParser:
    """The ``conntrack`` command's arguments: every command and option, with its help."""
    from ._limits import MAX_INTEGER

    p = Parser(
        prog="conntrack",
        description="Simulate and test social-media account connections in virtual time.",
    )
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = sub.add_parser("run", help="replay scenarios and check their expectations")
    run.add_argument("paths", nargs="+", metavar="PATH", help="scenario files or folders")
    run.add_argument("--json", metavar="FILE", help="write a machine-readable report")
    run.add_argument("--junit", metavar="FILE", help="write a JUnit XML report for CI")
    run.add_argument(
        "--html", metavar="FILE", help="write one self-contained HTML page of every scenario"
    )
    run.add_argument("--outbox", metavar="FILE", help="write every email as JSON lines")
    run.add_argument(
        "--run-id",
        metavar="TEXT",
        help="the run's id, part of every email's Message-ID/Idempotency-Key (default: a "
        "random one, so a second run is new emails with new ids); the same TEXT again "
        "gives the same ids on purpose (up to 128 printable characters)",
    )
    from ._deliveryargs import add_deliver_arguments, add_delivery_options

    add_delivery_options(run)
    run.add_argument(
        "--policy",
        metavar="FILE|NAME",
        help="the notification policy in force: a policy file, or a packaged policy by name "
        "(default, every-expiry; default: default); a scenario's own 'policy:' still "
        "applies on top",
    )
    run.add_argument(
        "-v", "--verbose", action="store_true", help="show every expectation and the timeline"
    )
    run.add_argument(
        "--color",
        choices=["auto", "always", "never"],
        default="auto",
        help="colour the console timeline: auto (default) on a terminal only, as "
        "FORCE_COLOR and NO_COLOR say; always, even into a pipe; never",
    )
    run.add_argument(
        "--exact-sync",
        action="store_true",
        help="make every sync a real request (default: skip syncs whose answer cannot "
        "have changed; the results are the same)",
    )
    run.add_argument(
        "--product",
        metavar="FILE",
        help="run the scenarios against the product this product file (product.yaml) "
        "starts, through the product test protocol, instead of conntrack's own model; "
        "scenarios for providers it does not support are skipped",
    )

    notes = sub.add_parser(
        "notifications",
        help="the notification schedule of scenarios in the company's local time: channel, "
        "kind, about, recipients, and who each email left out and why",
    )
    notes.add_argument("paths", nargs="+", metavar="SCENARIO", help="scenario files or folders")
    notes.add_argument(
        "--policy",
        metavar="FILE|NAME",
        help="replay with this policy: a file, or a packaged one (default, every-expiry)",
    )
    notes.add_argument(
        "--compare",
        metavar="FILE|NAME",
        help="replay also with this policy and list the differences date by date (sends "
        "added, removed, moved; banner and settings windows that changed), then both "
        "summaries (emails sent, earliest warning, connections that expired without a "
        "warning)",
    )
    notes.add_argument(
        "--offsets",
        action="store_true",
        help="also show each row's offset from the scenario's start (as an expectation's "
        "'at:' writes it)",
    )
    notes.add_argument(
        "--by-recipient",
        action="store_true",
        help="the schedule by person: each user, every email and whether it reached them "
        "or why not (opted out, left, not yet joined)",
    )
    notes.add_argument("--csv", metavar="FILE", help="write the schedule as CSV ('-': stdout)")
    notes.add_argument("--json", metavar="FILE", help="write schedule and summary as JSON ('-')")
    notes.add_argument("--color", choices=["auto", "always", "never"], default="auto")

    pop = sub.add_parser(
        "population",
        help="simulate a seeded customer base for a while: daily series of emails, states, "
        "reconnects and data gaps",
    )
    pop.add_argument(
        "--config", metavar="FILE", help="population, disruption and behaviour model (YAML)"
    )
    pop.add_argument(
        "--companies",
        type=int,
        help="how many companies (overrides the file; at most a million)",
    )
    pop.add_argument("--days", type=int, help="how many days (overrides the file; at most 36500)")
    pop.add_argument("--seed", type=int, help="the seed (overrides the file)")
    pop.add_argument(
        "--policy",
        metavar="FILE|NAME",
        help="the notification policy in force: a file, or a packaged one (default, every-expiry)",
    )
    pop.add_argument(
        "--transport",
        choices=["direct", "asgi"],
        default="direct",
        help="direct (default): each connection woken only when something changes it; "
        "asgi: every company through the full stack (fakes over HTTP, every sync a request); "
        "both give the same series",
    )
    pop.add_argument(
        "--workers",
        type=int,
        default=1,
        help="processes, sharded by company (at most 32)",
    )
    pop.add_argument(
        "--cluster",
        metavar="ADDRESS",
        help="run the companies on Dask distributed (pip install 'conntrack[cluster]'): "
        "local, local:N (a local cluster of N workers) or tcp://HOST:PORT of a running "
        "`dask scheduler`; instead of --workers",
    )
    pop.add_argument(
        "--out",
        metavar="DIR",
        default="population",
        help="where to write series.csv, "
        "series.json, series.png and report.html (default ./population)",
    )
    pop.add_argument("--no-progress", action="store_true", help="no progress bar")

    dlv = sub.add_parser(
        "deliver",
        help="deliver the pending and failed emails of an outbox file (SMTP, webhook)",
    )
    add_deliver_arguments(dlv)

    val = sub.add_parser("validate", help="load and validate scenarios without running them")
    val.add_argument("paths", nargs="+", metavar="PATH")

    srv = sub.add_parser("serve", help="serve the fake providers over HTTP")
    srv.add_argument(
        "--host", type=text, default="127.0.0.1", help="address to bind (default 127.0.0.1)"
    )
    srv.add_argument("--port", type=int, default=8400, help="port (default 8400; 0 = any)")
    srv.add_argument(
        "--seed",
        type=whole(0, MAX_INTEGER, "7"),
        default=None,
        help="seed for names and tokens (default 0)",
    )
    srv.add_argument(
        "--providers",
        metavar="NAMES",
        help="serve only these providers, comma-separated profile names like "
        "facebook,linkedin or tiktok-2026 (default: all)",
    )
    srv.add_argument(
        "--config", metavar="FILE", help="YAML: apps, accounts and profile overrides to start with"
    )
    srv.add_argument(
        "--state",
        metavar="FILE",
        help="SQLite file that keeps apps, accounts, grants, tokens and the clock across "
        "restarts (created if missing)",
    )
    srv.add_argument(
        "--state-lag",
        metavar="MS",
        type=int,
        default=None,
        help="with --state: what changed is written within MS milliseconds of its answer "
        "(an answer that changed something waits while older changes are not written), "
        "so a kill -9 loses at most what was answered in about the last MS milliseconds; "
        # The default is _serve.DEFAULT_STATE_LAG (a test checks that they agree).
        "0: every answer waits for its write, nothing answered is lost (default 20)",
    )
    srv.add_argument(
        "--tls",
        action="store_true",
        help="serve HTTPS with a certificate from a local CA (written to --ca-file)",
    )
    srv.add_argument(
        "--ca-file",
        metavar="PATH",
        help="where --tls writes the CA certificate clients trust (default: "
        "conntrack-ca.pem here, or beside the --state file)",
    )
    srv.add_argument(
        "--allow-host",
        metavar="NAME",
        action="append",
        default=[],
        help="also answer requests whose Host header is NAME (repeatable); loopback names, "
        "IP addresses and the provider hosts are always answered, other names refused "
        "(421) so that no web page can rebind its own name to this server",
    )
    srv.add_argument(
        "--control-token",
        metavar="TOKEN",
        help="require TOKEN on the control API (Authorization: Bearer TOKEN) and the index "
        "page (open /_conntrack/?token=TOKEN once); default: $CONNTRACK_CONTROL_TOKEN, "
        "else none",
    )
    ref = sub.add_parser(
        "reference-product",
        help="serve conntrack's own model as a product under test (the product test "
        "protocol; configured by the CONNTRACK_* environment the harness sets)",
    )
    ref.add_argument(
        "--host", type=text, default="127.0.0.1", help="address to bind (default 127.0.0.1)"
    )
    ref.add_argument(
        "--port", type=int, default=None, help="port (default: $CONNTRACK_PRODUCT_PORT)"
    )
    return p
