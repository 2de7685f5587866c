"""What every provider's consent page shares: reading the person's answer, redirecting back.

Each provider's authorize endpoint shows its page on GET and takes the answer on POST: the
request's own parameters (hidden fields on the form), the chosen ``account_id``, one
``granted`` field per permission left ticked, ``action`` (approve or cancel), and the
server's ``csrf_token`` (``_security.check_consent``: a browser's post needs it). A
person may also type an account id (``typed_account_id``, a text field beside the list):
filled in, it wins over the account chosen in the list. The
redirect back to the app carries the provider's parameters in the query, and a fragment
where the provider appends one (Facebook ``#_=_``, Instagram ``#_``).
"""

from __future__ import annotations

from urllib.parse import urlencode

from quart import Response, request

from ._current import core
from ._security import CSRF_FIELD, check_consent
from .core import Account

#: The text field where a person types an account id instead of choosing one in the list.
TYPED_ACCOUNT = "typed_account_id"

#: How many accounts a consent page lists at most. A real provider's page shows the one
#: person logged in ("Continue as ..."); the fakes' picker stands in for that login, and
#: a list of thousands helps nobody: any other account is typed (``typed_account_id``).
#: Listing every account made each login cost one step per account in the world, so a
#: company of N connections cost N² (issue 15: 1 000 Facebook Pages 18 s, 2 000 58 s).
LISTED_ACCOUNTS = 50


def listed_accounts(provider: str) -> list[Account]:
    """The accounts a consent page of ``provider`` lists: the first
    :data:`LISTED_ACCOUNTS`, oldest first."""
    return core().first_accounts(provider, LISTED_ACCOUNTS)


async def submission() -> tuple[dict[str, str], list[str]]:
    """The request's fields (query on GET, form on POST) and the permissions granted.

    On POST, a typed account id (``typed_account_id``, if not blank) becomes the
    ``account_id``: what a person typed wins over what the list had selected.
    """
    if request.method == "POST":
        form = await request.form
        fields = dict(form.items())
        # A browser's post must come from the page itself, with its CSRF token.
        check_consent(fields.pop(CSRF_FIELD, None))
        typed = fields.pop(TYPED_ACCOUNT, "").strip()
        if typed:
            fields["account_id"] = typed
        return fields, form.getlist("granted")
    return dict(request.args.items()), []


def with_query(uri: str, query: dict[str, str], fragment: str | None = None) -> str:
    """``uri`` with ``query`` appended (after any query it has) and an optional fragment."""
    sep = "&" if "?" in uri else "?"
    tail = f"#{fragment}" if fragment is not None else ""
    return f"{uri}{sep}{urlencode(query)}{tail}"


def found(location: str) -> Response:
    """A 302 to ``location``: the redirect back to the app."""
    return Response("", status=302, headers={"Location": location})


def error_redirect(redirect_uri: str, error: str, description: str, state: str) -> Response:
    """The standard OAuth error redirect: ``error``, ``error_description`` and ``state``."""
    query = {"error": error, "error_description": description}
    if state:
        query["state"] = state
    return found(with_query(redirect_uri, query))
