"""The command-line options of email delivery (``conntrack run``'s and ``conntrack
deliver``'s), apart from the delivery itself (:mod:`conntrack._delivery`): building the
parser, for ``conntrack --help`` too, then needs neither httpx nor smtplib (~70 ms).
"""

from __future__ import annotations

import argparse

DEFAULT_SENDER = "conntrack <notifications@conntrack.test>"
PASSWORD_ENV = "CONNTRACK_SMTP_PASSWORD"


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def add_delivery_options(parser: argparse.ArgumentParser) -> None:
    """``--smtp``, ``--smtp-from``, ``--smtp-starttls``, ``--smtp-user``, ``--webhook``,
    ``--attempts``: where and how to deliver emails (read back by :func:`sinks_from_args`).
    """
    group = parser.add_argument_group(
        "delivery",
        "send the emails for real after the run; an email that cannot be delivered stays "
        "in the outbox file with its error, for `conntrack deliver FILE` to retry",
    )
    group.add_argument(
        "--smtp",
        metavar="HOST[:PORT]",
        help="send each email to this SMTP server (port 25 unless given; IPv6: [::1]:2525)",
    )
    group.add_argument(
        "--smtp-from",
        metavar="ADDRESS",
        help=f"the From: of every message (default {DEFAULT_SENDER!r})",
    )
    group.add_argument(
        "--smtp-starttls", action="store_true", help="upgrade the SMTP connection with STARTTLS"
    )
    group.add_argument(
        "--smtp-user",
        metavar="USER",
        help=f"log in to the SMTP server as USER; the password is read from ${PASSWORD_ENV}",
    )
    group.add_argument(
        "--webhook",
        metavar="URL",
        action="append",
        help="POST each email as JSON to this http(s) URL; any non-2xx answer is a "
        "failure (may be given more than once)",
    )
    group.add_argument(
        "--attempts",
        metavar="N",
        type=_positive_int,
        default=3,
        help="delivery attempts per email and sink, with exponential backoff (default 3)",
    )


def add_deliver_arguments(parser: argparse.ArgumentParser) -> None:
    """The arguments of ``conntrack deliver``: ``OUTBOX_FILE`` and the delivery options."""
    parser.add_argument(
        "outbox",
        metavar="OUTBOX_FILE",
        help="an outbox file (written by `conntrack run --outbox FILE` or by a delivery)",
    )
    add_delivery_options(parser)
