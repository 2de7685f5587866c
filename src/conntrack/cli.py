"""The ``conntrack`` command.

``conntrack run PATH...``       replay scenarios; exit 0 all pass, 1 an expectation
                                failed, 2 invalid input; ``--product FILE`` runs them
                                against a product under test (1 also: the product broke
                                the protocol), 130 after Ctrl-C, 143 after SIGTERM
``conntrack validate PATH...``  load and validate only
``conntrack deliver OUTBOX``    (re)deliver an outbox file's emails over SMTP / webhook
``conntrack population``       a seeded customer base over time: daily series (CSV, JSON,
                                PNG, HTML)
``conntrack notifications PATH`` the notification schedule in local time, who each
                                email left out and why (table, --csv, --json),
                                ``--offsets``, ``--by-recipient``, ``--policy FILE``,
                                ``--compare FILE`` (the differences, date by date)
``conntrack serve``             the fake providers over HTTP (default 127.0.0.1:8400)
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from collections import Counter
from collections.abc import Sequence
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from ._cliargs import check_attempts, only
from ._cliparser import parser
from ._exceptions import InputError

if TYPE_CHECKING:
    from ._delivery import Sink
    from ._policy import PolicySet
    from .population import PopulationSpec
    from .product._file import ProductFile
    from .scenario import Scenario

EXIT_OK, EXIT_FAILED, EXIT_INPUT = 0, 1, 2


def _err(message: str) -> None:
    print(f"conntrack: {message}", file=sys.stderr)


def _load(paths: Sequence[str]) -> list[Scenario]:
    from .scenario import load_paths

    if any(not p.strip() for p in paths):
        raise InputError(
            "a scenario path is empty (''): give a scenario file or folder, like scenarios/"
        )
    return load_paths(paths)


def _inputs(scenarios: Sequence[Scenario], *files: str | None) -> list[str]:
    """The files a command reads (an output may not overwrite one of them)."""
    return [s.where.file for s in scenarios] + [f for f in files if f]


def cmd_validate(args: argparse.Namespace) -> int:
    scenarios = _load(args.paths)
    for s in scenarios:
        print(f"ok  {s.where}  {s.name}")
    print(f"{len(scenarios)} scenario(s) valid")
    return EXIT_OK


def _policy(value: str | None) -> PolicySet | None:
    """``--policy``/``--compare``: a policy file, or a packaged policy by name."""
    from ._policy import resolve_policy

    return resolve_policy(value) if value else None


def cmd_notifications(args: argparse.Namespace) -> int:
    from ._output import check_distinct, check_output, write_output

    policy = _policy(args.policy)
    other = _policy(args.compare)
    scenarios = _load(args.paths)
    # Only now what runs them (~0.3 CPU s): a bad file is refused as fast as `validate`.
    from ._console import make_console
    from ._schedule import schedule, summarise, to_csv, to_json
    from ._schedule_diff import diff
    from ._schedule_people import by_recipient
    from ._schedule_view import diff_table, people_table, schedule_table, summary_table
    from .scenario._runner import run_scenario

    for option in ("csv", "json"):
        if getattr(args, option) is not None:
            inputs = _inputs(scenarios, args.policy, args.compare)
            check_output(f"--{option}", getattr(args, option), inputs=inputs, stdout=True)
    check_distinct({"--csv": args.csv, "--json": args.json})
    console = make_console(args.color)
    csv_parts, json_parts = [], []
    for s in scenarios:
        first = run_scenario(s, policy=policy)
        results = [first] if other is None else [first, run_scenario(s, policy=other)]
        zone = s.company.timezone
        rows = [schedule(r) for r in results]
        names = [r.policy.name if r.policy else "default" for r in results]
        for r, r_rows, name in zip(results, rows, names, strict=True):
            title = f"{s.name} — policy {name}, times in {zone}"
            if args.by_recipient:
                people = by_recipient(r, r_rows)
                console.print(people_table(people, f"{title}, by person", offsets=args.offsets))
            elif other is None:
                console.print(schedule_table(r_rows, title, offsets=args.offsets))
        if other is not None:
            title = f"{s.name} — policy {names[1]} against {names[0]}, times in {zone}"
            console.print(diff_table(diff(rows[0], rows[1]), title, offsets=args.offsets))
        console.print(summary_table([summarise(r) for r in results], offsets=args.offsets))
        csv_parts.append(to_csv(rows[0]))
        json_parts.append(to_json(results))
    if args.csv:
        write_output("--csv", args.csv, "".join(csv_parts))
    if args.json:
        text = json_parts[0] if len(json_parts) == 1 else "[" + ",".join(json_parts) + "]\n"
        write_output("--json", args.json, text)
    return EXIT_OK


def cmd_population(args: argparse.Namespace) -> int:
    import dataclasses

    from ._limits import MAX_DAYS, MAX_INTEGER
    from .population import load_population
    from .population._model import (
        MAX_COMPANIES,
        MAX_WORKERS,
        asgi_problem,
        companies_problem,
        days_problem,
        size_problem,
        syncs_problem,
    )
    from .population._report import out_folder

    spec = load_population(args.config)
    overrides = {k: getattr(args, k) for k in ("companies", "days", "seed")}
    for key, value in overrides.items():
        if value is not None and value < (0 if key == "seed" else 1):
            raise InputError(
                f"--{key} must be {'0' if key == 'seed' else '1'} or more, got {value}"
            )
    if (args.days or 0) > MAX_DAYS:
        raise InputError(f"--days {days_problem(args.days)}")
    if (args.companies or 0) > MAX_COMPANIES:
        raise InputError(f"--companies {companies_problem(args.companies)}")
    if (args.seed or 0) > MAX_INTEGER:
        raise InputError(f"--seed must be at most 2**63 - 1, got {len(str(args.seed))} digits")
    spec = dataclasses.replace(spec, **{k: v for k, v in overrides.items() if v is not None})
    # The full-stack engine replays every sync (the direct one computes them).
    many = syncs_problem(spec) if args.transport == "asgi" else None
    where = f"{args.config}: " if args.config else ""
    if many is not None:
        raise InputError(f"{where}{many} (--days {spec.days}, --transport asgi)")
    big = size_problem(spec) or (asgi_problem(spec) if args.transport == "asgi" else None)
    if big is not None:
        raise InputError(f"{where}too large a run: {big} (--companies, --days or the file)")
    if not 1 <= args.workers <= MAX_WORKERS:
        raise InputError(
            f"--workers must be 1 or more and at most {MAX_WORKERS}, got {args.workers} (this "
            f"machine has {os.cpu_count()} cores; more workers than cores are no faster)"
        )
    if args.cluster is not None:
        _cluster_options(args)
    policy = _policy(args.policy)
    out = out_folder(args.out)
    try:
        return _population(args, spec, policy, out)
    except KeyboardInterrupt:
        print(f"\nconntrack: interrupted; nothing written to {out}", file=sys.stderr)
        return EXIT_INTERRUPTED


def _cluster_options(args: argparse.Namespace) -> None:
    """``--cluster`` is checked before any work: its form, then that Dask is installed."""
    from .population._cluster import parse_cluster, require_dask

    if args.workers != 1:
        raise InputError(
            "--cluster and --workers cannot be combined: --workers runs processes on this "
            "machine, a cluster has its own workers (use --cluster local:N for N of them here)"
        )
    args.cluster = parse_cluster(args.cluster)
    require_dask()


def _population(
    args: argparse.Namespace, spec: PopulationSpec, policy: PolicySet | None, out: Path
) -> int:
    import time

    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    from ._console import make_console
    from .population import run_sharded
    from .population._report import summary_table, write_outputs

    console = make_console("auto")
    t0 = time.perf_counter()
    with Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        disable=args.no_progress,
        transient=True,
    ) as bar:
        task = bar.add_task(f"{spec.companies} companies x {spec.days} days", total=spec.companies)
        if args.cluster is not None:
            from .population._cluster import run_on_cluster

            series = run_on_cluster(
                spec,
                args.cluster,
                transport=args.transport,
                policy=policy,
                progress=lambda n: bar.advance(task, n),
            )
        else:
            series = run_sharded(
                spec,
                workers=args.workers,
                transport=args.transport,
                policy=policy,
                progress=lambda n: bar.advance(task, n),
            )
    wall = time.perf_counter() - t0
    meta = {
        "seed": spec.seed,
        "companies": spec.companies,
        "days": spec.days,
        "start": spec.start.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "transport": args.transport,
        "workers": args.workers,
        "policy": policy.name if policy else "default",
    }
    written = write_outputs(series, out, meta=meta, wall=wall)
    console.print(summary_table(series, meta, wall))
    if args.cluster is not None:
        print(f"ran on {args.cluster.describe()}")
    for path in written:
        print(f"wrote {path}")
    return EXIT_OK


def _cmd_deliver(args: argparse.Namespace) -> int:
    from ._delivery import cmd_deliver  # it checks --attempts and the outbox path itself

    return cmd_deliver(args)


IN_PROCESS_ONLY = {
    "exact_sync": (
        "--exact-sync",
        "it chooses which syncs conntrack's own model makes; a product makes its own",
    ),
    "policy": (
        "--policy",
        "it is the notification policy of conntrack's own model; a product sends its "
        "emails by its own rules",
    ),
}
"""``run`` options that only mean something for the in-process model: refused with
``--product`` (dest -> option, why)."""

EXIT_INTERRUPTED = 130
"""Ctrl-C: 128 + SIGINT, as a shell reports it."""


def interrupted(error: BaseException) -> bool:
    """Whether ``error`` is Ctrl-C: a ``KeyboardInterrupt``, or a group (trio's nurseries
    raise them) that holds one."""
    if isinstance(error, KeyboardInterrupt):
        return True
    if isinstance(error, BaseExceptionGroup):
        return error.subgroup(KeyboardInterrupt) is not None
    return False


def _product(args: argparse.Namespace) -> ProductFile | None:
    """The product file of ``--product``, loaded and checked (``None`` without it);
    options that make no sense with a product are refused first."""
    if args.product is None:
        return None
    for dest, (option, why) in IN_PROCESS_ONLY.items():
        if getattr(args, dest):
            raise InputError(
                f"{option} cannot be used with --product: {why}. Leave out {option} or --product"
            )
    from .product._file import load_product

    return load_product(args.product)


def input_error_in(error: BaseException) -> InputError | None:
    """The bad input ``error`` is about: itself, or, when it is a group (trio's nurseries
    wrap what ends them, e.g. a product that did not start), its first ``InputError`` if
    it holds nothing else; ``None`` otherwise."""
    if isinstance(error, InputError):
        return error
    if isinstance(error, BaseExceptionGroup):
        inputs, rest = error.split(InputError)
        if inputs is not None and rest is None:
            return input_error_in(inputs.exceptions[0])
    return None


EXIT_TERMINATED = 143
"""``SIGTERM``: 128 + 15, as a shell reports it."""


def _raise_terminated(signum: int, frame: object) -> None:
    from .product._harness import Terminated

    raise Terminated()


def _terminated(error: BaseException) -> bool:
    """Whether ``error`` is (or holds) the harness's ``Terminated``; without the harness
    imported (``_raise_terminated`` imports it) it cannot be, and is not imported."""
    harness = sys.modules.get("conntrack.product._harness")
    if harness is None:
        return False
    terminated = harness.Terminated
    return isinstance(error, terminated) or (
        isinstance(error, BaseExceptionGroup) and error.subgroup(terminated) is not None
    )


def cmd_run(args: argparse.Namespace) -> int:
    # A SIGTERM between two scenarios ends the run as Ctrl-C does (one line, no
    # traceback); during one, the harness receives it itself and stops the product first.
    main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _raise_terminated) if main_thread else None
    try:
        return _run(args)
    except BaseException as e:
        if _terminated(e):
            print("\nconntrack: terminated; no report written", file=sys.stderr)
            return EXIT_TERMINATED
        if interrupted(e):
            # Whatever ran was stopped on the way out (the harness stops the product, the
            # fakes and the SMTP capture in its finally blocks); say so briefly.
            print("\nconntrack: interrupted; no report written", file=sys.stderr)
            return EXIT_INTERRUPTED
        bad = input_error_in(e)
        if bad is None or bad is e:
            raise
        raise bad from None  # exit 2 with its message, not a group's traceback
    finally:
        if main_thread:
            signal.signal(signal.SIGTERM, previous)


DELIVERY_OPTIONS = ("smtp", "smtp_from", "smtp_user", "smtp_starttls", "webhook")
"""``run``'s options that deliver emails (:func:`conntrack._delivery.sinks_from_args`)."""


def _sinks(args: argparse.Namespace) -> list[Sink]:
    """The delivery sinks ``run``'s options ask for; without any of those options the
    delivery code (httpx's and smtplib's users, ~15 ms) is not imported at all."""
    if all(getattr(args, o, None) in (None, False) for o in DELIVERY_OPTIONS):
        return []
    from ._delivery import sinks_from_args

    return sinks_from_args(args)


def _freeze_imports() -> None:
    """Take every object alive now (what the run imported: the dependencies' modules,
    ~60 000 objects) out of the cyclic garbage collector's sight (``gc.freeze``).

    They live as long as the process anyway, but the collector walked them at every full
    collection and again when the interpreter shut down: ~0.13 s of CPU at exit, as much
    as the replay of a 365-day scenario (issue 15). Only in the ``conntrack`` command's
    own process (``main()`` without arguments), which ends with the command: a caller of
    ``main(argv)`` (a test session) keeps its collector as it was."""
    import gc

    gc.freeze()


def _run(args: argparse.Namespace) -> int:
    from ._records import new_run_id, run_id_problem

    # One run id for the whole invocation, in every email's id: random, or pinned.
    run_id = new_run_id() if args.run_id is None else args.run_id
    problem = run_id_problem(run_id)
    if problem is not None:
        raise InputError(f"--run-id {problem}; leave --run-id out for a random one")
    product = _product(args)
    label = None if product is None else product.name
    policy = _policy(args.policy)
    sinks = _sinks(args)
    check_attempts(args)
    if sinks and not args.outbox:
        raise InputError(
            "--smtp/--webhook need --outbox FILE: every email is kept there with its "
            "delivery status, so none is lost when a server refuses it"
        )
    from ._output import check_distinct, check_output, jsonl_outbox, write_output

    reports = {"--json": args.json, "--junit": args.junit, "--html": args.html}
    check_distinct({**reports, "--outbox": args.outbox})
    if args.outbox is not None:
        check_output("--outbox", args.outbox, inputs=args.paths, regular=True)
    if args.outbox and Path(args.outbox).exists():
        from ._delivery import OutboxFile

        waiting = [e for e in OutboxFile(args.outbox).load() if e.status == "failed"]
        if waiting:
            raise InputError(
                f"--outbox {args.outbox} still holds {len(waiting)} email(s) that could not "
                f"be delivered; send them with 'conntrack deliver {args.outbox} …' or "
                "choose another --outbox file"
            )
    scenarios = _load(args.paths)
    # Only now what runs them (~0.3 CPU s): a bad file is refused as fast as `validate`.
    from ._console import make_console, print_result
    from ._notify import Outbox
    from ._report import json_report, junit_report, ok, summary
    from .scenario._runner import RunResult, run_name, run_scenario

    if getattr(args, "own_process", False):
        _freeze_imports()
    inputs = _inputs(scenarios, args.policy, args.product, args.outbox)
    for option, target in reports.items():
        if target is not None:
            check_output(option, target, inputs=inputs)
    console = make_console(args.color)
    if product is not None:
        print(f"product: {product.name}  ({product.file})")
    results: list[RunResult] = []
    # Copies of one scenario (same name and seed) in one run: each its own email ids.
    runs: Counter[tuple[str, int]] = Counter()
    # The outbox replaces the old file only once every scenario has run (Ctrl-C, a full
    # disk: the old one stays, no half-written one).
    with jsonl_outbox(args.outbox) as jsonl:
        for s in scenarios:
            outboxes: list[Outbox] = []
            if jsonl:
                jsonl.scenario = s.name
                jsonl.run_id = run_id
                outboxes.append(jsonl)
            repeat = runs[s.name, s.seed]
            runs[s.name, s.seed] += 1
            if product is None:
                result = run_scenario(
                    s,
                    outboxes=outboxes,
                    exact_sync=args.exact_sync,
                    policy=policy,
                    run=run_name(s, repeat, run_id),
                )
            else:
                from .product._harness import run_product_scenario

                result = run_product_scenario(
                    s, product, outboxes=outboxes, run=run_name(s, repeat, run_id)
                )
            results.append(result)
            print_result(console, result, verbose=args.verbose)
            sys.stdout.flush()
    failed = sum(not ok(r) for r in results)  # errors count; skips do not
    print(f"\n{summary(results)}")
    if sinks:
        from ._delivery import OutboxFile, deliver

        report = deliver(OutboxFile(args.outbox), sinks, attempts=args.attempts)
        print(report.summary())
        if not report.ok:
            return EXIT_FAILED  # the summary says which, and they wait in the outbox
    if args.json:
        write_output("--json", args.json, json_report(results, product=label))
    if args.junit:
        write_output("--junit", args.junit, junit_report(results, product=label))
    if args.html:
        from ._html import html_report

        write_output("--html", args.html, html_report(results, product=label))
    return EXIT_FAILED if failed else EXIT_OK


def cmd_serve(args: argparse.Namespace) -> int:
    import trio

    from ._serve import bind_warning, control_token_of, prepare, serve
    from ._serveconfig import parse_providers

    if not 0 <= args.port <= 65535:
        raise InputError(f"--port must be between 0 and 65535, got {args.port}")
    token = control_token_of(args.control_token, os.environ)
    warning = bind_warning(args.host, token)
    if warning is not None:
        print(f"conntrack: {warning}", file=sys.stderr, flush=True)
    # Config, providers, state and certificates first: bad input exits 2 before listening.
    try:
        server = prepare(
            host=args.host,
            seed=args.seed,
            providers=parse_providers(args.providers) if args.providers is not None else None,
            config=args.config,
            state=args.state,
            tls=args.tls,
            ca_file=args.ca_file,
            allow_hosts=args.allow_host,
            control_token=token,
            state_lag=None if args.state_lag is None else args.state_lag / 1000,
        )
    except KeyboardInterrupt:
        # Ctrl-C while a large state loads: nothing was written, the file is as it was.
        print("conntrack: stopped before listening", file=sys.stderr)
        return 130

    async def main() -> None:
        # Ctrl-C (SIGINT), SIGTERM or SIGHUP (the terminal closed) stops the server cleanly
        # instead of raising mid-request or dying unsaved; serve() writes the state once
        # more as it stops.
        stops = [signal.SIGINT, signal.SIGTERM]
        if hasattr(signal, "SIGHUP"):  # not on Windows
            stops.append(signal.SIGHUP)
        with trio.open_signal_receiver(*stops) as signals:
            async with trio.open_nursery() as nursery:
                binds = await nursery.start(partial(serve, args.host, args.port, server=server))
                for b in binds:
                    print(f"conntrack: fake providers listening on {b}", flush=True)
                for note in server.notes:
                    print(f"conntrack: {note}", flush=True)
                print(f"conntrack: ready: {' '.join(binds)}", flush=True)
                async for _ in signals:
                    nursery.cancel_scope.cancel()
                    break
        if args.state and server.unsaved:
            return  # said below, once the state file is closed
        saved = f"; state saved to {args.state}" if args.state else ""
        print(f"conntrack: stopped{saved}", file=sys.stderr)

    try:
        trio.run(main)
    except (OSError, BaseExceptionGroup) as e:
        # hypercorn's bind fails inside a nursery: the OSError comes wrapped in a group.
        cause = e if isinstance(e, OSError) else only(e, OSError)
        if cause is None:
            raise
        raise InputError(
            f"cannot listen on {args.host}:{args.port}: {cause.strerror or cause}; choose "
            "another --port (0: any free one) or --host"
        ) from None
    finally:
        server.close()
    if args.state and server.unsaved:
        print(
            f"conntrack: stopped; the state could not be saved to {args.state} (see above): "
            "the changes since its last write are lost",
            file=sys.stderr,
        )
        return EXIT_FAILED
    return EXIT_OK


def cmd_reference_product(args: argparse.Namespace) -> int:
    from .product._server import run_reference_product

    return run_reference_product(args.host, args.port)


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    # Without arguments main is the `conntrack` command itself: its process ends with it.
    args.own_process = argv is None
    handler = {
        "run": cmd_run,
        "validate": cmd_validate,
        "serve": cmd_serve,
        "notifications": cmd_notifications,
        "deliver": _cmd_deliver,
        "population": cmd_population,
        "reference-product": cmd_reference_product,
    }[args.command]
    try:
        return handler(args)
    except InputError as e:
        # Multi-line messages are file:line: lists (a ScenarioError); print them as they are.
        message = str(e)
        print(message if "\n" in message else f"conntrack: {message}", file=sys.stderr)
        return EXIT_INPUT
    except OSError as e:
        _err(f"{e.filename or ''}: {e.strerror or e}")
        return EXIT_INPUT
    except KeyboardInterrupt:
        _err("interrupted")
        return EXIT_INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
