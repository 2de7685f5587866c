"""Why a provider held, locked, suspended or restricted an account: the ``cause:`` of a
scenario's ``checkpoint``, ``locked``, ``suspended`` and ``restricted`` events.

The help centers conntrack models name these causes (``/work/shared/seeds``): Meltwater's
"Social platform's security measures" (alias usernames, the same credentials from
multiple IP addresses, content flagged for copyright or as inappropriate), its Facebook
security checks (unrecognized logins, reports of inappropriate content or copyright
violations, the setup of two-factor authentication), its X locks (suspicious behaviour,
a compromised account) and suspensions and LinkedIn restrictions (a violation of the
acceptable use policies, a hacked account).

A provider never tells an app why: its error body is the same whatever the cause (Graph
API 190/459 for a checkpoint, X's 326 "temporarily locked", 64 "suspended", LinkedIn's
65601). So the cause lives on the world's side only: the event's record says it in plain
words, and the timeline ties it to the incident it led to (the connection turning
invalid, the invalid-connection email), see :meth:`conntrack._records.Timeline.cause_of`.
"""

from __future__ import annotations

#: The events that take ``cause:``.
CAUSE_EVENTS = ("checkpoint", "locked", "suspended", "restricted")

#: Each cause, with the words that end the sentence "Facebook held the account at a
#: security check …", in the seeds' terms.
CAUSES: dict[str, str] = {
    "suspicious_login": "after a login it found suspicious",
    "unrecognized_login": "after a login from an unrecognized place or device",
    "multiple_ips": "after the same login was used from several IP addresses (a team "
    "sharing it, or several devices)",
    "alias_username": "for the use of an alias username",
    "copyright": "after content was reported for a copyright violation",
    "inappropriate_content": "after content was reported as inappropriate",
    "two_factor_setup": "until two-factor authentication is set up",
    "policy_violation": "for a violation of its rules (its acceptable use policies)",
    "hacked": "because the account may have been hacked",
}

#: What each event does to the account, in plain words.
_DOES = {
    "checkpoint": "held the account at a security check",
    "locked": "locked the account",
    "suspended": "suspended the account",
    "restricted": "restricted the account",
}

#: How the fakes' protocols are called in a sentence (an ``instagram-facebook``
#: connection's account is a Facebook account: Facebook holds it at a check).
_PROVIDER = {
    "facebook": "Facebook",
    "instagram": "Instagram",
    "linkedin": "LinkedIn",
    "twitter": "X",
    "tiktok": "TikTok",
    "google": "Google",
}


def cause_sentence(event: str, cause: str, protocol: str) -> str:
    """``Facebook held the account at a security check after content was reported for a
    copyright violation``: what ``event`` with ``cause`` means, on a ``protocol`` account."""
    who = _PROVIDER.get(protocol, protocol.capitalize())
    return f"{who} {_DOES.get(event, event.replace('_', ' '))} {CAUSES.get(cause, cause)}"


#: What the invalid-connection email says about why a provider does this, as the help
#: centers tell people (the product cannot know this incident's cause: it lists the
#: ones its provider names); ``(family, reason)`` before ``reason``.
_WHY: dict[tuple[str, str] | str, str] = {
    ("facebook", "checkpoint"): "Facebook asks for a security check when it sees a possible "
    "security problem with the account or an admin's: a login from an unrecognized place, a "
    "report of inappropriate content or of a copyright violation, or two-factor "
    "authentication to set up.",
    ("twitter", "locked"): "X locks an account for a while when it thinks the account's "
    "security may be compromised, or when it detects suspicious behaviour against the X "
    "Rules or Terms of Service.",
    ("twitter", "suspended"): "X suspends accounts that violate its rules or may have been hacked.",
    ("linkedin", "restricted"): "LinkedIn restricts accounts that violate its acceptable use "
    "policies, for a while or for good; signing in to LinkedIn shows why and for how long.",
}
#: Meltwater's "Social platform's security measures", for every other provider.
_FLAGGED = (
    "{provider} does this when it flags suspicious behaviour on an account: an alias "
    "username, the same login used from several IP addresses (a team sharing it, or several "
    "devices), or content flagged for a copyright violation or as inappropriate."
)


def why_text(provider: str, display_provider: str, reason: str) -> str:
    """Why ``provider`` (a profile id like ``instagram-facebook``; its family is the part
    before ``-``) holds, locks, suspends or restricts accounts, for a ``reason`` of
    :data:`CAUSE_EVENTS`; ``""`` for every other reason."""
    if reason not in CAUSE_EVENTS:
        return ""
    text = _WHY.get((provider.split("-")[0], reason), _FLAGGED)
    return text.format(provider=display_provider)
