"""`conntrack serve --config FILE` and `--providers`: what a good file creates, the exact
`file:line: message` of a bad one, and which providers (and profiles) are served."""

from __future__ import annotations

import textwrap
from pathlib import Path

import httpx
import pytest

from conntrack._exceptions import InputError
from conntrack._serve import prepare
from conntrack._serveconfig import ConfigError, load_config, parse_providers, served_profiles
from conntrack.cli import main
from fake_providers import Core, InvalidRequest, create_app

from .support import ManualClock

GOOD = """\
seed: 7
providers: [facebook, instagram, linkedin, tiktok-2026]
profiles:
  facebook: {long_token_lifetime: 30d}
apps:
  - provider: facebook
    client_id: 1234567890
    client_secret: s3cret
    redirect_uris: [http://localhost:3000/callback]
    name: My App
  - provider: linkedin
    client_id: li-app
    redirect_uris: http://localhost:3000/li
    publishing_status: testing
  - {provider: tiktok-2026, redirect_uris: ["com.example.app:/oauth"]}
accounts:
  - {provider: facebook, id: 100000000000001, name: Ada Admin, email: ada@example.com, pages: 2, linked_instagram: true}
  - {provider: linkedin, id: lin-1, type: personal}
  - {provider: tiktok}
"""


def write(tmp_path: Path, text: str, name: str = "conntrack.yaml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


def problems(path: Path, **kw: object) -> list[str]:
    with pytest.raises(ConfigError) as err:
        prepare(config=path, **kw).close()  # type: ignore[arg-type]
    return [str(p) for p in err.value.problems]


def test_a_good_config_makes_its_apps_and_accounts(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD)
    server = prepare(config=path)
    core = server.core
    try:
        assert set(core.profiles) == {"facebook", "instagram", "linkedin", "tiktok"}
        assert core.profile("tiktok").provider == "tiktok-2026"
        assert core.profile("facebook")["long_token_lifetime"] == "30d"
        assert core.seed == 7
        fb = core.app("1234567890")
        assert fb is not None and fb.client_secret == "s3cret" and fb.name == "My App"
        assert fb.redirect_uris == ("http://localhost:3000/callback",)
        li = core.app("li-app")
        assert li is not None and li.publishing_status == "testing" and li.client_secret
        assert li.redirect_uris == ("http://localhost:3000/li",)
        assert [a.provider for a in core.apps()] == ["facebook", "linkedin", "tiktok"]
        ada = core.account("100000000000001")
        assert ada is not None and ada.name == "Ada Admin" and ada.email == "ada@example.com"
        assert len(ada.pages) == 2 and all(p.instagram_account_id for p in ada.pages)
        lin = core.account("lin-1")
        assert lin is not None and lin.type == "personal"
        assert len(core.accounts("tiktok")) == 1 and len(core.accounts("instagram")) == 2
        assert "config" in server.notes[-1] and "3 apps and 3 accounts created" in server.notes[-1]
    finally:
        server.close()


def test_a_config_on_a_state_file_is_applied_once(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD)
    state = tmp_path / "state.db"
    server = prepare(config=path, state=state)
    counts = (len(server.core.apps()), len(server.core.accounts()))
    server.close()
    server = prepare(config=path, state=state)
    try:
        assert (len(server.core.apps()), len(server.core.accounts())) == counts
        assert "0 apps and 0 accounts created" in server.notes[-1]
    finally:
        server.close()
    # An app or account added to the file later is created on the next start.
    write(tmp_path, GOOD + "  - {provider: facebook, id: late-1}\n")
    server = prepare(config=path, state=state)
    try:
        assert server.core.account("late-1") is not None
        assert len(server.core.accounts()) == counts[1] + 1
    finally:
        server.close()


def test_a_bad_config_names_file_and_line(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """\
        seed: seven
        providrs: [facebook]
        profiles:
          facebok: {long_token_lifetime: 30d}
          linkedin: {acess_token_lifetime: 30d}
          tiktok: {access_token_lifetime: soon}
        apps:
          - provider: facebok
            redirect_uris: [http://localhost/cb]
          - provider: linkedin
            client_id: abc
            redirect_uris: localhost
            publishing_status: tsting
          - {provider: google, secret: x, redirect_uris: [http://x/cb]}
          - {provider: twitter}
          - {provider: twitter, client_id: abc, redirect_uris: [http://x/cb]}
          - {provider: twitter, client_id: abc, redirect_uris: [http://x/cb]}
        accounts:
          - {provider: facebook, pages: 101, type: buisness}
          - {provider: instagram, linked_instagram: yes please, id: "a b"}
          - just text
        """,
    )
    f = str(path)
    got = problems(path)
    assert got == [
        f"{f}:1: 'seed' must be a whole number; got 'seven'",
        f"{f}:2: unknown key 'providrs' in a server config — did you mean 'providers'? (allowed: seed, providers, profiles, apps, accounts)",
        f"{f}:4: unknown provider 'facebok' — did you mean 'facebook'? (allowed: facebook, google, google-business, instagram, instagram-facebook, linkedin, tiktok, tiktok-2026, twitter)",
        got[3],
        f"{f}:6: profile 'tiktok', setting 'access_token_lifetime': expected a duration like '20d 6h' (units w, d, h, m, s), got 'soon'; write a duration like '30d' or 'never'",
        f"{f}:8: unknown provider 'facebok' — did you mean 'facebook'? (allowed: facebook, google, google-business, instagram, instagram-facebook, linkedin, tiktok, tiktok-2026, twitter)",
        f"{f}:12: not a URI: 'localhost'; write it whole, like http://localhost:3000/callback",
        f"{f}:13: 'publishing_status' must be one of production, testing; got 'tsting' — did you mean 'testing'?",
        f"{f}:14: unknown key 'secret' in an app — did you mean 'client_secret'? (allowed: provider, client_id, client_secret, redirect_uris, name, publishing_status)",
        f"{f}:15: each app needs 'redirect_uris', like [http://localhost:3000/callback]",
        f"{f}:17: client_id 'abc' is given twice (first at line 16)",
        f"{f}:19: 'pages' must be a whole number from 0 to 100; got 101",
        f"{f}:19: 'type' must be one of business, creator, personal; got 'buisness' — did you mean 'business'?",
        f"{f}:20: 'id' must be letters, digits, '.', '_' or '-' (it goes in URLs), like \"100000000000001\"; got 'a b'",
        f"{f}:20: 'linked_instagram' must be true or false",
        f"{f}:21: an account must be a mapping of provider, id, name, email, pages, type, page_kind, linked_instagram, linked_page",
    ]
    assert got[3].startswith(
        f"{f}:5: the linkedin profile has no setting 'acess_token_lifetime' — did you mean 'access_token_lifetime'?"
    )


def test_what_the_core_refuses_is_reported_at_its_line(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """\
        accounts:
          - {provider: facebook, id: "7", pages: 1}
          - {provider: instagram, linked_page: "404"}
          - {provider: facebook, id: "8", linked_instagram: true}
        providers: [facebook]
        """,
    )
    assert problems(path) == [
        f"{path}:3: provider 'instagram' is not enabled here; enabled: facebook",
        f"{path}:4: no instagram provider to link accounts from",
    ]


def test_providers_in_the_config_and_conflicts(tmp_path: Path) -> None:
    both = write(tmp_path, "providers: [facebook, instagram-facebook]\n", "both.yaml")
    assert problems(both) == [
        f"{both}:1: 'facebook' and 'instagram-facebook' both speak the facebook protocol: "
        "a server serves one profile of each; name one of them"
    ]
    unserved = write(
        tmp_path,
        "providers: [facebook]\nprofiles:\n  tiktok: {access_token_lifetime: 2h}\n",
        "u.yaml",
    )
    assert problems(unserved) == [
        f"{unserved}:3: profiles: 'tiktok' is not served (providers: facebook); add it to the "
        "providers or remove its overrides"
    ]
    # --providers wins over the config's list.
    server = prepare(config=unserved, providers=["tiktok", "linkedin"])
    try:
        assert set(server.core.profiles) == {"tiktok", "linkedin"}
        assert server.core.profile("tiktok")["access_token_lifetime"] == "2h"
    finally:
        server.close()
    with pytest.raises(ConfigError) as err:
        prepare(config=unserved, providers=["tiktok-2026"])
    assert "the providers name 'tiktok-2026' for the tiktok protocol" in str(err.value)


def test_syntax_errors_and_missing_files(tmp_path: Path) -> None:
    broken = write(tmp_path, "apps: [\n", "broken.yaml")
    assert problems(broken)[0].startswith(f"{broken}:2: YAML syntax error")
    assert problems(tmp_path / "none.yaml") == [
        f"{tmp_path / 'none.yaml'}: cannot read the config file: No such file or directory"
    ]
    empty = write(tmp_path, "# nothing yet\n", "empty.yaml")
    assert load_config(empty).apps == ()


def test_the_command_exits_2_with_the_problems(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path, "apps:\n  - {provider: facebok, redirect_uris: [http://x/cb]}\n")
    assert main(["serve", "--port", "0", "--config", str(path)]) == 2
    err = capsys.readouterr().err
    assert f"{path}:2: unknown provider 'facebok' — did you mean 'facebook'?" in err
    assert "Traceback" not in err
    assert main(["serve", "--port", "0", "--providers", "facebook,linkdin"]) == 2
    err = capsys.readouterr().err
    assert err == (
        "conntrack: --providers: unknown provider 'linkdin' — did you mean 'linkedin'? (allowed: "
        "facebook, google, google-business, instagram, instagram-facebook, linkedin, tiktok, tiktok-2026, "
        "twitter)\n"
    )
    assert main(["serve", "--port", "0", "--ca-file", "x.pem"]) == 2
    assert "--ca-file goes with --tls" in capsys.readouterr().err


# -- --providers ------------------------------------------------------------------------


def test_parse_and_resolve_providers() -> None:
    assert parse_providers(" facebook, linkedin ,") == ["facebook", "linkedin"]
    with pytest.raises(InputError, match="needs profile names"):
        parse_providers(",")
    assert {
        p: v.provider for p, v in served_profiles(["instagram-facebook", "tiktok-2026"]).items()
    } == {
        "facebook": "instagram-facebook",
        "tiktok": "tiktok-2026",
    }
    every = served_profiles(None, {"tiktok-2026": {"access_token_lifetime": "1h"}})
    assert len(every) == 6 and every["tiktok"].provider == "tiktok-2026"
    assert every["tiktok"]["access_token_lifetime"] == "1h"


async def test_only_enabled_providers_are_served() -> None:
    core = Core(ManualClock(), enabled=["facebook", "linkedin"])
    assert set(core.profiles) == {"facebook", "linkedin"}
    with pytest.raises(
        InvalidRequest, match="'twitter' is not enabled here; enabled: facebook, linkedin"
    ):
        core.create_account("twitter")
    transport = httpx.ASGITransport(app=create_app(core))
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
        r = await http.get("/graph.facebook.com/v21.0/me")
        assert r.status_code == 400 and r.json()["error"]["code"] == 2500  # served
        expected = (
            "provider 'twitter' is not enabled on this server (enabled: facebook, linkedin); "
            "restart it with `conntrack serve --providers facebook,linkedin,twitter`, or "
            "without --providers to serve every provider"
        )
        for r in (
            await http.get("/api.x.com/2/users/me"),
            await http.post("/api.twitter.com/2/oauth2/token", data={"grant_type": "x"}),
            await http.get("/2/users/me", headers={"Host": "api.x.com"}),
        ):
            assert r.status_code == 404
            assert r.json() == {
                "error": {
                    "message": expected,
                    "field": None,
                    "provider": "twitter",
                    "enabled": False,
                }
            }
        r = await http.get("/x.com/i/oauth2/authorize", headers={"Accept": "text/html"})
        assert r.status_code == 404 and r.headers["content-type"].startswith("text/html")
        assert (
            "twitter is not enabled" in r.text and "--providers facebook,linkedin,twitter" in r.text
        )
        r = await http.post("/_conntrack/accounts", json={"provider": "google"})
        assert r.status_code == 400 and r.json()["error"]["field"] == "provider"
        assert "not enabled" in r.json()["error"]["message"]


def test_an_x_account_id_must_be_a_number(tmp_path: Path) -> None:
    """X ids are numbers that clients parse as integers: a word id for an X account is
    refused at its line, saying why and what to write; digits (quoted or bare) are fine."""
    path = write(
        tmp_path,
        """\
        accounts:
          - {provider: twitter, id: "2244994945"}
          - {provider: twitter, id: 1234567890123}
          - {provider: twitter, id: ada}
          - {provider: facebook, id: ada-fb}
          - {provider: twitter, id: "0123", pages: 101}
        """,
    )
    got = problems(path)
    # Found while reading, with the file's other problems, before anything is made.
    assert [p.split(": ", 1)[0] for p in got] == [f"{path}:4", f"{path}:6", f"{path}:6"]
    assert got[0].startswith(f"{path}:4: id 'ada' is refused: X (Twitter)")
    sixth = sorted(p.split(": ", 1)[1] for p in got[1:])
    assert sixth[0].startswith("'pages' must be a whole number")
    assert sixth[1].startswith("id '0123' is refused")
    assert "64-bit integers" in got[0] and "leave id out" in got[0]
    fixed = path.with_name("fixed.yaml")
    fixed.write_text(
        path.read_text()
        .replace("twitter, id: ada", "twitter, id: 7")
        .replace('"0123", pages: 101', '"123", pages: 1')
    )
    server = prepare(config=fixed)
    try:
        ids = sorted(a.id for a in server.core.accounts("twitter"))
        assert ids == ["123", "1234567890123", "2244994945", "7"]
    finally:
        server.close()


def test_a_redirect_uri_a_browser_would_run_is_refused_at_its_line(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """\
        apps:
          - provider: facebook
            redirect_uris: ["javascript:alert(1)"]
          - provider: google
            redirect_uris:
              - com.example.app:/oauth2redirect
              - "data:text/html,<script>alert(1)</script>"
          - {provider: linkedin, redirect_uris: "FILE:///etc/passwd"}
          - {provider: twitter, redirect_uris: ["myapp://callback", "https://a.example/cb"]}
        """,
    )
    got = problems(path)
    assert [p.split(": ", 1)[0] for p in got] == [f"{path}:3", f"{path}:7", f"{path}:8"]
    for problem, scheme in zip(got, ("javascript", "data", "FILE"), strict=True):
        assert f"{scheme}:" in problem and "https://" in problem, problem
        assert "myapp://callback" in problem, problem
