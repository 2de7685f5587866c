"""What acme tells people about a connection that stopped working: why, in a few words
(the dashboard banner, the settings line, the email), and what to do first (the banner
and the email), as the providers' help pages tell account owners.

The words depend on the reason and, where the way back differs, on the provider: a
LinkedIn account LinkedIn restricted comes back only once LinkedIn lifts the
restriction, a Facebook Page whose admin lost their role comes back with another admin's
login.
"""

from __future__ import annotations

from .providers import base as pb

#: Why the connection stopped, by ``(provider, reason)`` before ``reason``;
#: ``{provider}`` is the provider's display name.
_WHY: dict[tuple[str, str] | str, str] = {
    pb.PASSWORD_RESET: "the password changed",
    pb.APP_REMOVED: "Acme's access was removed from the account",
    ("facebook", pb.NOT_ADMIN): "the person who connected it is no longer an admin of the Page",
    pb.NOT_ADMIN: "the person who connected it lost their role on the page",
    pb.CHECKPOINT: "the provider asks for a security check",
    pb.LOCKED: "the account is locked",
    pb.SUSPENDED: "the account is suspended",
    ("linkedin", pb.RESTRICTED): "LinkedIn restricted the account of the member who connected it",
    pb.RESTRICTED: "{provider} restricted the account of the person who connected it",
    pb.NO_ORG_ROLE: "the person who connected it is no longer an admin of the organization",
    pb.PERMISSION: "a permission Acme needs was not granted",
    pb.DATA_ACCESS: "data access ended (90 days without a login)",
    pb.REFRESH_FAILED: "the provider refused to renew Acme's access",
    pb.UNKNOWN: "an unexpected error",
}

#: What to do first, by ``(provider, reason)`` before ``reason``. Each says "reconnect".
_STEP: dict[tuple[str, str] | str, str] = {
    pb.PASSWORD_RESET: "Reconnect it and log in to {provider} with the new password.",
    pb.APP_REMOVED: "Reconnect it and allow Acme again.",
    ("facebook", pb.NOT_ADMIN): "Reconnect it with the Facebook login of someone who is "
    "still an admin of the Page (or ask a Page admin to give the role back first).",
    pb.NOT_ADMIN: "Reconnect it with the login of someone who still manages the page.",
    pb.CHECKPOINT: "Log in to {provider}, complete the security check it shows, wait 24 "
    "hours, then reconnect.",
    pb.LOCKED: "Log in to {provider} and unlock the account, then reconnect.",
    pb.SUSPENDED: "Get the {provider} account restored, then reconnect.",
    ("linkedin", pb.RESTRICTED): "The member should sign in to LinkedIn and follow what it "
    "asks to lift the restriction; once it is lifted, reconnect (a reconnect before then "
    "fails).",
    pb.RESTRICTED: "The person who connected it should log in to {provider} and follow what "
    "it asks to lift the restriction, then reconnect.",
    pb.NO_ORG_ROLE: "Reconnect it with a LinkedIn member who is a Designated Admin or Super "
    "Admin of the page.",
    pb.PERMISSION: "Reconnect it and allow every permission Acme asks for.",
    pb.DATA_ACCESS: "Reconnect it to renew Acme's data access.",
    pb.REFRESH_FAILED: "Reconnect it to renew Acme's access.",
    pb.UNKNOWN: "Reconnect it; if that fails, log in to {provider} and see what it asks for.",
}


def _pick(table: dict[tuple[str, str] | str, str], provider: str, reason: str | None) -> str:
    key = reason or pb.UNKNOWN
    return table.get((provider, key)) or table.get(key) or table[pb.UNKNOWN]


def why(provider: str, display: str, reason: str | None) -> str:
    """Why the connection stopped working, for ``reason`` on ``provider``."""
    return _pick(_WHY, provider, reason).format(provider=display)


def first_step(provider: str, display: str, reason: str | None) -> str:
    """What to do first, a sentence that says how to reconnect."""
    return _pick(_STEP, provider, reason).format(provider=display)
