"""acme's configuration, from the environment (the conntrack harness sets most of it).

- ``CONNTRACK_PRODUCT_PORT`` the port to listen on; ``CONNTRACK_START`` the first
  instant of the virtual clock; ``CONNTRACK_DATA_DIR`` where the SQLite file lives
  (``ACME_DB`` overrides the file).
- ``CONNTRACK_FAKES_URL`` where the providers are: a real URL ``https://HOST/PATH`` is
  called as ``{fakes}/HOST/PATH``; without it acme calls the real hosts.
  ``CONNTRACK_CA_FILE`` the CA to trust for them.
- ``CONNTRACK_SMTP_HOST`` / ``CONNTRACK_SMTP_PORT`` where emails go.
- ``CONNTRACK_<PROTOCOL>_CLIENT_ID`` / ``_CLIENT_SECRET`` / ``_REDIRECT_URI`` (or the
  JSON ``CONNTRACK_APPS``) acme's registered app at each provider.
- ``CONNTRACK_SYNC_EVERY`` how often each connection syncs, when the harness says it:
  one duration (``6h``) or JSON ``{"connection name": "4h"}``. Else ``ACME_SYNC_EVERY``:
  one duration or per provider (``facebook=4h,twitter=1h``); default 6 hours.
- ``ACME_BUGS`` comma-separated known integration bugs to switch on (see :data:`BUGS`).
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

BUGS = {
    "no_invalid_email": "never sends the 'connection needs attention' email",
    "no_refresh": "never refreshes a token (LinkedIn, X): waits for it to die",
    "reminder_off_by_one_day": "sends each expiry reminder a day late",
    "ignores_password_change": "reads Facebook's 190/460 as a passing hiccup and retries",
    "no_banner": "shows no dashboard banner or settings message",
    "reminders_to_opted_out": "sends expiry reminders to users who opted out",
    "no_rerequest": "opens Facebook's login without auth_type=rerequest (declined stays declined)",
}
PROTOCOLS = ("facebook", "linkedin", "twitter")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_PART = re.compile(r"(\d+)\s*([smhdw])")


class SettingsError(Exception):
    """A setting acme cannot start with; the message says which and how to fix it."""


def parse_duration(text: str) -> timedelta:
    """``6h``, ``1d 12h``, ``90m`` or a number of seconds."""
    value = text.strip()
    if value.isdigit():
        value = f"{value}s"
    parts = _PART.findall(value)
    if not parts or _PART.sub("", value).strip():
        raise SettingsError(f"not a duration: {text!r} (write it like 6h, 30m or 1d 12h)")
    seconds = sum(int(n) * _UNITS[u] for n, u in parts)
    if seconds <= 0:
        raise SettingsError(f"a sync interval must be longer than 0s, not {text!r}")
    return timedelta(seconds=seconds)


def parse_instant(text: str) -> datetime:
    """An ISO 8601 instant; ``Z`` or an offset, or UTC when it has none."""
    value = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def iso(at: datetime | None) -> str | None:
    """``2026-03-01T09:00:00Z`` (what the test protocol and the database hold)."""
    if at is None:
        return None
    text = at.astimezone(UTC).isoformat().replace("+00:00", "Z")
    return text


@dataclass(frozen=True)
class App:
    """acme's registered app at one provider."""

    client_id: str
    client_secret: str
    redirect_uri: str


@dataclass(frozen=True)
class Settings:
    port: int
    start: datetime
    db_path: Path
    fakes_url: str | None
    ca_file: str | None
    smtp_host: str
    smtp_port: int
    apps: dict[str, App]
    sync_every: dict[str, timedelta]
    sync_by_connection: dict[str, timedelta] = field(default_factory=dict)
    bugs: frozenset[str] = field(default_factory=frozenset)

    def url(self, host: str, path: str) -> str:
        """The URL of ``https://{host}/{path}``, at the fakes when they are configured."""
        if self.fakes_url:
            return f"{self.fakes_url.rstrip('/')}/{host}/{path.lstrip('/')}"
        return f"https://{host}/{path.lstrip('/')}"

    def sync_interval(self, provider: str, connection: str = "") -> timedelta:
        found = self.sync_by_connection.get(connection) or self.sync_by_connection.get("*")
        return found or self.sync_every.get(provider) or self.sync_every["*"]

    def bug(self, name: str) -> bool:
        return name in self.bugs


def _apps(env: dict[str, str]) -> dict[str, App]:
    apps: dict[str, App] = {}
    raw = env.get("CONNTRACK_APPS")
    if raw:
        try:
            data = json.loads(raw)
        except ValueError as e:
            raise SettingsError(f"CONNTRACK_APPS is not JSON: {e}") from None
        for protocol, app in data.items():
            apps[protocol] = App(
                str(app["client_id"]), str(app.get("client_secret", "")), str(app["redirect_uri"])
            )
    for protocol in PROTOCOLS:
        key = protocol.upper()
        client_id = env.get(f"CONNTRACK_{key}_CLIENT_ID")
        if client_id:
            apps[protocol] = App(
                client_id,
                env.get(f"CONNTRACK_{key}_CLIENT_SECRET", ""),
                env.get(f"CONNTRACK_{key}_REDIRECT_URI", ""),
            )
    return apps


def _sync_every(text: str) -> dict[str, timedelta]:
    out = {"*": timedelta(hours=6)}
    for item in (p.strip() for p in text.split(",")):
        if not item:
            continue
        name, sep, value = item.partition("=")
        if sep:
            out[name.strip()] = parse_duration(value)
        else:
            out["*"] = parse_duration(name)
    return out


def _by_connection(text: str) -> dict[str, timedelta]:
    text = text.strip()
    if not text:
        return {}
    if not text.startswith("{"):
        return {"*": parse_duration(text)}
    try:
        data = json.loads(text)
    except ValueError as e:
        raise SettingsError(f"CONNTRACK_SYNC_EVERY is not JSON: {e}") from None
    if not isinstance(data, dict):
        raise SettingsError("CONNTRACK_SYNC_EVERY must be a duration or a JSON object")
    return {str(k): parse_duration(str(v)) for k, v in data.items()}


def load(env: dict[str, str] | None = None) -> Settings:
    """Settings from ``env`` (default: the process environment)."""
    e = dict(os.environ if env is None else env)
    port = e.get("CONNTRACK_PRODUCT_PORT") or e.get("ACME_PORT") or "8500"
    if not port.isdigit():
        raise SettingsError(f"CONNTRACK_PRODUCT_PORT must be a port number, not {port!r}")
    start = e.get("CONNTRACK_START")
    try:
        first = parse_instant(start) if start else datetime(2026, 1, 1, tzinfo=UTC)
    except ValueError:
        raise SettingsError(f"CONNTRACK_START is not an ISO instant: {start!r}") from None
    data = Path(e.get("CONNTRACK_DATA_DIR") or ".")
    bugs = frozenset(b.strip() for b in e.get("ACME_BUGS", "").split(",") if b.strip())
    unknown = sorted(bugs - set(BUGS))
    if unknown:
        raise SettingsError(
            f"ACME_BUGS: unknown bug(s) {', '.join(unknown)}; known: {', '.join(BUGS)}"
        )
    smtp_port = e.get("CONNTRACK_SMTP_PORT", "25")
    if not smtp_port.isdigit():
        raise SettingsError(f"CONNTRACK_SMTP_PORT must be a port number, not {smtp_port!r}")
    return Settings(
        port=int(port),
        start=first,
        db_path=Path(e.get("ACME_DB") or data / "acme.db"),
        fakes_url=e.get("CONNTRACK_FAKES_URL") or None,
        ca_file=e.get("CONNTRACK_CA_FILE") or None,
        smtp_host=e.get("CONNTRACK_SMTP_HOST", "127.0.0.1"),
        smtp_port=int(smtp_port),
        apps=_apps(e),
        sync_every=_sync_every(e.get("ACME_SYNC_EVERY", "")),
        sync_by_connection=_by_connection(e.get("CONNTRACK_SYNC_EVERY", "")),
        bugs=bugs,
    )
