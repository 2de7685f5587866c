"""The ``conntrack serve --config FILE`` file, and which providers a server serves.

A server config is one YAML document::

    seed: 7                          # names and tokens (default 0; --seed wins)
    providers: [facebook, linkedin]  # profile names to serve (default all; --providers wins)
    profiles:                        # overrides of provider facts, as in a scenario
      facebook: {long_token_lifetime: 30d}
    apps:                            # registered OAuth clients
      - {provider: facebook, client_id: "1234", client_secret: s3cret,
         redirect_uris: ["http://localhost:3000/callback"], name: My App}
    accounts:                        # people at the providers (faker fills what is not given)
      - {provider: facebook, id: "100000000000001", name: Ada Admin, pages: 2}

Everything is checked before the server starts; every problem is one
``file:line: message`` (with a "did you mean" for a misspelt key or provider) and the
command exits 2, as for a scenario. :func:`apply_config` then creates the apps and
accounts in a core; what the core refuses (a ``client_id`` given twice, a
``linked_page`` that does not exist) is reported the same way, at the line of the value.

Which providers: :func:`served_profiles` turns ``--providers`` (or the config's
``providers:``) and the config's ``profiles:`` into the profile in force for each
protocol served. A name is a profile of the catalog (``facebook``, ``tiktok-2026``,
``instagram-facebook``…); two names for one protocol are an error. Without a list every
protocol is served with the profile of its own name, unless ``profiles:`` overrides a
sibling profile (``tiktok-2026``), which is then served instead.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from ._exceptions import InputError, Problem, ScenarioError
from ._profiles import Profile, load_profile, override_problems, providers
from .scenario._marks import DocReader, Document, read_one, suggest
from .scenario._marks import Path as DataPath

if TYPE_CHECKING:
    import fake_providers

KEYS = ("seed", "providers", "profiles", "apps", "accounts")
APP_KEYS = ("provider", "client_id", "client_secret", "redirect_uris", "name", "publishing_status")
ACCOUNT_KEYS = (
    "provider", "id", "name", "email", "pages", "type", "page_kind", "linked_instagram",
    "linked_page",
)  # fmt: skip
PUBLISHING_STATUSES = ("production", "testing")
ACCOUNT_TYPES = ("business", "creator", "personal")
_ACCOUNT_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")
#: Core fields (``InvalidRequest.field``) that are not named like the config's keys.
_FIELD_KEYS = {"account_id": "id"}


def _is_uri(text: str) -> bool:
    try:
        return bool(urlsplit(text).scheme) and " " not in text
    except ValueError:  # "http://localhost]:3000/": an IPv6 bracket without its pair
        return False


class ConfigError(ScenarioError):
    """A server config that does not load: every ``file:line:`` problem."""


class ProvidersError(InputError):
    """Providers that cannot be served together: ``name`` is the offending profile name,
    ``where`` says whether it came from the provider list or from ``profiles:``."""

    def __init__(self, message: str, *, name: str, where: str) -> None:
        super().__init__(message)
        self.name, self.where = name, where


@dataclass(frozen=True)
class Item:
    """One app or account of the config: its settings and where they are written."""

    settings: dict[str, Any]
    path: DataPath

    @property
    def provider(self) -> str:
        return str(self.settings["provider"])


@dataclass(frozen=True)
class ServeConfig:
    """A loaded, checked server config."""

    file: str
    doc: Document
    seed: int | None = None
    providers: tuple[str, ...] | None = None
    profiles: dict[str, dict[str, Any]] = field(default_factory=dict)
    apps: tuple[Item, ...] = ()
    accounts: tuple[Item, ...] = ()

    def problem(self, path: DataPath, message: str, *, key: bool = False) -> Problem:
        line = self.doc.key_line_of(path) if key else self.doc.line_of(path)
        return Problem(self.file, line, message)


def unknown_provider(name: str, allowed: Sequence[str] | None = None) -> str:
    allowed = list(allowed or providers())
    return f"unknown provider '{name}'{suggest(name, allowed)} (allowed: {', '.join(allowed)})"


# -- which providers -------------------------------------------------------------------


def parse_providers(text: str) -> list[str]:
    """``--providers facebook,linkedin``: the profile names, or InputError (exit 2)."""
    names = [n.strip() for n in text.split(",") if n.strip()]
    if not names:
        raise InputError(f"--providers needs profile names, like facebook,linkedin; got {text!r}")
    for name in names:
        if name not in providers():
            raise InputError(f"--providers: {unknown_provider(name)}")
    return names


def served_profiles(
    names: Sequence[str] | None, overrides: Mapping[str, Mapping[str, Any]] | None = None
) -> dict[str, Profile]:
    """The profile in force for each protocol served (see the module docstring).

    ``names`` are catalog profile names (checked), ``overrides`` profile name → settings.
    Raises :class:`ProvidersError` for two names of one protocol, or for an override of
    a profile that is not served (``conntrack serve`` turns it into a ``file:line:``).
    """
    chosen: dict[str, str] = {}
    for name in names if names is not None else _protocols():
        protocol = load_profile(name).protocol
        if chosen.get(protocol, name) != name:
            raise ProvidersError(
                f"'{chosen[protocol]}' and '{name}' both speak the {protocol} protocol: "
                "a server serves one profile of each; name one of them",
                name=name,
                where="providers",
            )
        chosen[protocol] = name
    for name in overrides or {}:
        protocol = load_profile(name).protocol
        if protocol not in chosen:
            raise ProvidersError(
                f"profiles: '{name}' is not served (providers: {', '.join(chosen.values())}); "
                f"add it to the providers or remove its overrides",
                name=name,
                where="profiles",
            )
        if chosen[protocol] != name:
            if names is not None:
                raise ProvidersError(
                    f"profiles: '{name}' is not served: the providers name "
                    f"'{chosen[protocol]}' for the {protocol} protocol",
                    name=name,
                    where="profiles",
                )
            chosen[protocol] = name
    return {p: load_profile(n, (overrides or {}).get(n)) for p, n in sorted(chosen.items())}


def _protocols() -> list[str]:
    """Every protocol of the catalog, by the profile of its own name."""
    names = providers()
    return sorted({load_profile(n).protocol for n in names} & set(names))


# -- reading the file ------------------------------------------------------------------


class _Reader(DocReader):
    """Reads one server config, collecting every problem (see :class:`DocReader`)."""

    def provider(self, path: DataPath, value: Any) -> bool:
        if not isinstance(value, str):
            self.problem(path, f"'provider' must be a provider name, like facebook; got {value!r}")
            return False
        if value not in providers():
            self.problem(path, unknown_provider(value))
            return False
        return True

    def text(self, path: DataPath, value: Any, what: str, *, numbers: bool = False) -> bool:
        """A non-empty string (or, with ``numbers``, a whole number written bare)."""
        if numbers and isinstance(value, int) and not isinstance(value, bool):
            return True
        if not isinstance(value, str) or not value.strip():
            self.problem(path, f"'{path[-1]}' must be {what}; got {value!r}")
            return False
        return True

    def choice(self, path: DataPath, value: Any, allowed: Sequence[str]) -> bool:
        if not isinstance(value, str) or value not in allowed:
            hint = suggest(value, allowed) if isinstance(value, str) else ""
            self.problem(
                path, f"'{path[-1]}' must be one of {', '.join(allowed)}; got {value!r}{hint}"
            )
            return False
        return True

    def items(self, key: str, allowed: Sequence[str], what: str) -> list[Item]:
        value = self.doc.data.get(key)
        if value is None:
            return []
        if not isinstance(value, list):
            self.problem((key,), f"'{key}' must be a list of {what}s, each a mapping")
            return []
        out = []
        ident = "client_id" if key == "apps" else "id"
        first: dict[str, int] = {}
        for i, entry in enumerate(value):
            path: DataPath = (key, i)
            if not self.mapping(path, entry, allowed, f"an {what}"):
                continue
            if "provider" not in entry:
                self.problem(path, f"each {what} needs 'provider', like facebook")
                continue
            ok = self.provider((*path, "provider"), entry["provider"])
            check = self.app if key == "apps" else self.account
            ok = check(path, entry) and ok
            given = entry.get(ident)
            if ok and given is not None:
                line = self.doc.line_of((*path, ident))
                if str(given) in first:
                    self.problem(
                        (*path, ident),
                        f"{ident} '{given}' is given twice (first at line {first[str(given)]})",
                    )
                    ok = False
                first.setdefault(str(given), line)
            if ok:
                settings = {
                    k: str(v) if k in ("client_id", "client_secret", "id") else v
                    for k, v in entry.items()
                }
                if isinstance(settings.get("redirect_uris"), str):
                    settings["redirect_uris"] = [settings["redirect_uris"]]
                out.append(Item(settings, path))
        return out

    def app(self, path: DataPath, entry: dict[str, Any]) -> bool:
        ok = True
        for key in ("client_id", "client_secret"):
            if key in entry:
                ok &= self.text((*path, key), entry[key], 'text, like "1234"', numbers=True)
        if "name" in entry:
            ok &= self.text((*path, "name"), entry["name"], "text")
        if "publishing_status" in entry:
            ok &= self.choice((*path, "publishing_status"), entry["publishing_status"],
                              PUBLISHING_STATUSES)  # fmt: skip
        uris = entry.get("redirect_uris")
        if uris is None:
            self.problem(
                path, "each app needs 'redirect_uris', like [http://localhost:3000/callback]"
            )
            return False
        listed = [uris] if isinstance(uris, str) else uris
        if not isinstance(listed, list) or not listed:
            self.problem((*path, "redirect_uris"), "'redirect_uris' must be a list of URIs")
            return False
        for i, uri in enumerate(listed):
            where = (
                (*path, "redirect_uris") if isinstance(uris, str) else (*path, "redirect_uris", i)
            )
            if not isinstance(uri, str) or not _is_uri(uri):
                self.problem(
                    where,
                    f"not a URI: {uri!r}; write it whole, like http://localhost:3000/callback",
                )
                ok = False
                continue
            from fake_providers import redirect_uri_problem

            problem = redirect_uri_problem(uri)
            if problem is not None:
                self.problem(where, problem)
                ok = False
        return ok

    def account(self, path: DataPath, entry: dict[str, Any]) -> bool:
        ok = True
        if "id" in entry:
            given = entry["id"]
            if isinstance(given, bool) or not _ACCOUNT_ID.fullmatch(str(given)):
                self.problem(
                    (*path, "id"),
                    f"'id' must be letters, digits, '.', '_' or '-' (it goes in URLs), like "
                    f'"100000000000001"; got {given!r}',
                )
                ok = False
            elif isinstance(entry.get("provider"), str) and entry["provider"] in providers():
                # A provider whose ids are numbers (X) refuses a word id here, at its line,
                # with the core's own words, before anything is created.
                from fake_providers import account_id_problem

                problem = account_id_problem(load_profile(entry["provider"]), str(given))
                if problem is not None:
                    self.problem((*path, "id"), problem)
                    ok = False
        for key in ("name", "email", "page_kind", "linked_page"):
            if key in entry:
                ok &= self.text((*path, key), entry[key], "text")
        if "type" in entry:
            ok &= self.choice((*path, "type"), entry["type"], ACCOUNT_TYPES)
        pages = entry.get("pages")
        if pages is not None and (
            isinstance(pages, bool) or not isinstance(pages, int) or not 0 <= pages <= 100
        ):
            self.problem(
                (*path, "pages"), f"'pages' must be a whole number from 0 to 100; got {pages!r}"
            )
            ok = False
        if "linked_instagram" in entry and not isinstance(entry["linked_instagram"], bool):
            self.problem((*path, "linked_instagram"), "'linked_instagram' must be true or false")
            ok = False
        return ok

    def profiles(self) -> dict[str, dict[str, Any]]:
        value = self.doc.data.get("profiles")
        if value is None:
            return {}
        if not isinstance(value, dict):
            self.problem(("profiles",), "'profiles' must map provider names to settings")
            return {}
        out: dict[str, dict[str, Any]] = {}
        for name, overrides in value.items():
            path: DataPath = ("profiles", name)
            if name not in providers():
                self.problem(path, unknown_provider(name), key=True)
                continue
            if not isinstance(overrides, dict):
                self.problem(path, f"'profiles: {name}' must be a mapping of settings")
                continue
            if self.overrides(name, overrides):
                out[name] = dict(overrides)
        return out

    def overrides(self, name: str, overrides: dict[str, Any]) -> bool:
        path: DataPath = ("profiles", name)
        problems = override_problems(name, overrides)
        for key, message, about_key in problems:
            self.problem(path if key is None else (*path, key), message, key=about_key)
        return not problems

    def read(self) -> ServeConfig | None:
        data = self.doc.data
        if not self.mapping((), data, KEYS, "a server config") and not isinstance(data, dict):
            return None
        seed = data.get("seed")
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
            self.problem(("seed",), f"'seed' must be a whole number; got {seed!r}")
        names = None
        if data.get("providers") is not None:
            listed = data["providers"]
            if not isinstance(listed, list) or not listed:
                self.problem(("providers",), "'providers' must be a list like [facebook, linkedin]")
            else:
                good = [self.provider(("providers", i), n) for i, n in enumerate(listed)]
                names = tuple(listed) if all(good) else None
        profiles = self.profiles()
        apps = self.items("apps", APP_KEYS, "app")
        accounts = self.items("accounts", ACCOUNT_KEYS, "account")
        if self.problems:
            return None
        return ServeConfig(
            self.file, self.doc, seed if isinstance(seed, int) else None, names, profiles,
            tuple(apps), tuple(accounts),
        )  # fmt: skip


def load_config(path: str | Path) -> ServeConfig:
    """A server config file, or :class:`ConfigError` with every ``file:line:`` problem."""
    file = str(path)
    doc, problems = read_one(path, "config file")
    if problems:
        raise ConfigError(problems)
    if doc is None:
        return ServeConfig(file, Document(data={}, line=1))
    reader = _Reader(file, doc)
    config = reader.read()
    if config is None:
        raise ConfigError(reader.problems)
    return config


# -- applying it -----------------------------------------------------------------------


def apply_config(
    core: fake_providers.Core, config: ServeConfig, *, fresh: bool
) -> tuple[list[str], list[str]]:
    """Create the config's apps, then its accounts, in ``core``.

    An app whose ``client_id`` (an account whose ``id``) the core already has is kept as
    it is; one without is created only when ``fresh`` (a new state), so a restart on a
    state file does not make it twice. Answers the created apps' client ids and the
    created accounts' ids; raises :class:`ConfigError` for what the core refuses.
    """
    from fake_providers import FakeProviderError

    problems: list[Problem] = []
    apps: list[str] = []
    accounts: list[str] = []
    for item in config.apps:
        s = item.settings
        cid = s.get("client_id")
        if (cid is not None and core.app(cid) is not None) or (cid is None and not fresh):
            continue
        try:
            app = core.create_app_registration(
                s["provider"],
                client_id=cid,
                client_secret=s.get("client_secret"),
                redirect_uris=s["redirect_uris"],
                name=s.get("name"),
                publishing_status=s.get("publishing_status", "production"),
            )
            apps.append(app.client_id)
        except FakeProviderError as e:
            problems.append(_refused(config, item, e))
    for item in config.accounts:
        s = item.settings
        aid = s.get("id")
        if (aid is not None and core.account(aid) is not None) or (aid is None and not fresh):
            continue
        try:
            account = core.create_account(
                s["provider"],
                account_id=aid,
                name=s.get("name"),
                email=s.get("email"),
                pages=s.get("pages"),
                type=s.get("type", "business"),
                page_kind=s.get("page_kind"),
                linked_instagram=s.get("linked_instagram", False),
                linked_page=s.get("linked_page"),
            )
            accounts.append(account.id)
        except FakeProviderError as e:
            problems.append(_refused(config, item, e))
    if problems:
        raise ConfigError(problems)
    return apps, accounts


def _refused(config: ServeConfig, item: Item, error: Exception) -> Problem:
    name = getattr(error, "field", None)
    key = _FIELD_KEYS.get(str(name), str(name))
    path = (*item.path, key) if key in item.settings else item.path
    return config.problem(path, str(error))
