"""Good scenario files load into exactly the model; the edges of discovery and reading."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from conntrack._exceptions import Problem, ScenarioError
from conntrack.scenario import (
    BannerExpect,
    CompanySpec,
    ConnectionSpec,
    EmailExpect,
    GapExpect,
    ReconnectsExpect,
    Scenario,
    StateExpect,
    TimelineEvent,
    Where,
    discover,
    load_file,
    load_paths,
)

HERE = Path(__file__).parent
GOOD = HERE / "good"
LIBRARY = HERE.parent.parent / "scenarios"
d, h = timedelta(days=1), timedelta(hours=1)
START = datetime(2026, 1, 5, 9, tzinfo=UTC)


def write(tmp_path: Path, text: str, name: str = "s.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, "utf-8")
    return path


def test_full_file_loads_into_the_exact_model() -> None:
    path = GOOD / "full.yaml"
    f = str(path)
    assert load_file(path) == [
        Scenario(
            name="Facebook password change, then reconnect",
            description="plain words",
            seed=7,
            start=START,
            until=120 * d,
            company=CompanySpec(users=4, opt_out=("user3",), name="Acme"),
            profiles={"facebook": {"long_token_lifetime": "30d"}},
            connections={
                "fb": ConnectionSpec(
                    id="fb",
                    provider="facebook",
                    kind="owned",
                    connected_by="user1",
                    sync_every=6 * h,
                    connect_at=timedelta(0),
                    scopes=("pages_show_list",),
                    where=Where(f, 10),
                ),
                "fb2": ConnectionSpec(
                    id="fb2",
                    provider="facebook",
                    kind="monitored",
                    connected_by="user1",
                    sync_every=6 * h,
                    connect_at=1 * d,
                    scopes=None,
                    where=Where(f, 11),
                ),
            },
            # Sorted by time; equal times keep their order in the file.
            timeline=(
                TimelineEvent(20 * d, "password_change", "fb", Where(f, 17)),
                TimelineEvent(20 * d, "checkpoint", "fb2", Where(f, 18)),
                TimelineEvent(23 * d, "reconnect", "fb", Where(f, 16), by="user2"),
            ),
            expect=(
                StateExpect(20 * d + 6 * h, "fb", "invalid", Where(f, 20), "password_changed"),
                EmailExpect(
                    "invalid", "fb", Where(f, 21), to="all", within=(20 * d, 20 * d + 6 * h)
                ),
                EmailExpect(
                    "expiry_reminder",
                    "fb",
                    Where(f, 22),
                    at=(73 * d, 78 * d, 82 * d, 83 * d),
                    count=4,
                    tolerance=12 * h,
                ),
                EmailExpect(
                    "invalid",
                    "fb2",
                    Where(f, 23),
                    to=("user2",),
                    at=(21 * d,),
                    within=(20 * d, 22 * d),
                ),
                EmailExpect("expiry_reminder", "fb2", Where(f, 24), to=("user1", "user4"), count=0),
                GapExpect("fb", 20 * d, 23 * d, Where(f, 25), tolerance=timedelta(0)),
                GapExpect("fb2", 20 * d, None, Where(f, 26)),
            ),
            where=Where(f, 2),
        )
    ]


def test_every_document_of_a_file_is_a_scenario() -> None:
    path = GOOD / "multi.yaml"
    first, second = load_file(path)
    assert first.name == "minimal"
    assert first.where == Where(str(path), 2)
    assert first.until == 60 * d  # an instant, as an offset from start
    assert first.seed == 0 and first.description == "" and first.profiles == {}
    assert first.company == CompanySpec(users=1)
    assert first.timeline == () and first.expect == ()
    page = first.connections["page"]
    assert (page.kind, page.connected_by, page.sync_every, page.connect_at, page.scopes) == (
        "owned",
        "user1",
        6 * h,
        timedelta(0),
        None,
    )
    assert second.where == Where(str(path), 8)
    assert second.start == START  # 10:00+01:00 is 09:00 UTC
    assert second.connections["a"].sync_every == 1 * h
    b = second.connections["b"]  # merged from the anchor, own keys win
    assert (b.provider, b.connected_by, b.sync_every) == (
        "facebook",
        "user2",
        90 * timedelta(minutes=1),
    )
    assert second.timeline == (TimelineEvent(1 * h, "app_removed", "b", Where(str(path), 19)),)
    assert second.users == ["user1", "user2"]


def test_the_scenario_library_loads() -> None:
    if not LIBRARY.is_dir():  # pragma: no cover - the library ships with the repo
        pytest.skip("no scenarios/ folder")
    assert load_paths([LIBRARY])


def test_times_as_instants_numbers_and_windows(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """\
scenario: times written every way
start: "2026-01-05T09:00:00Z"
until: 2026-02-04T09:00:00+00:00
connections: {fb: {provider: facebook, connect_at: 90, sync_every: 1.5h}}
expect:
  - {email: invalid, about: fb, at: 2026-01-06T09:00:00Z, within: "1d..1d 12h", tolerance: 0}
  - {email: invalid, about: fb, within: [2026-01-06T09:00:00Z, 30d]}
""",
    )
    [s] = load_file(path)
    assert s.until == 30 * d
    assert s.connections["fb"].connect_at == timedelta(seconds=90)
    assert s.connections["fb"].sync_every == 90 * timedelta(minutes=1)
    first, second = s.expect
    assert isinstance(first, EmailExpect) and isinstance(second, EmailExpect)
    assert first.at == (1 * d,) and first.within == (1 * d, 1 * d + 12 * h)
    assert first.tolerance == timedelta(0)
    assert second.within == (1 * d, 30 * d)


def test_discover_walks_folders_sorted_and_skips_readmes(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / ".hidden").mkdir()
    for name in ("b.yaml", "a.yml", "sub/c.yaml", "README.yaml", "notes.txt", ".hidden/x.yaml"):
        (tmp_path / name).write_text("x: 1\n")
    explicit = tmp_path / "notes.txt"
    assert discover([tmp_path, explicit, tmp_path / "b.yaml"]) == [
        tmp_path / "a.yml",
        tmp_path / "b.yaml",
        tmp_path / "sub" / "c.yaml",
        explicit,
    ]


def test_discover_names_every_missing_path(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(ScenarioError) as info:
        discover([tmp_path / "nope.yaml", tmp_path / "empty"])
    empty, nope = info.value.problems  # sorted by file
    assert nope.file == str(tmp_path / "nope.yaml") and nope.line == 0
    assert nope.message.startswith("no such file or directory — check the spelling")
    assert empty.message == "no *.yaml or *.yml scenario files in this folder"


def test_load_paths_collects_problems_of_all_files(tmp_path: Path) -> None:
    good = (GOOD / "multi.yaml").read_text("utf-8")
    write(tmp_path, good, "1.yaml")
    write(tmp_path, "scenario: x\n", "2.yaml")
    write(tmp_path, "a: [\n", "3.yaml")
    with pytest.raises(ScenarioError) as info:
        load_paths([tmp_path])
    assert [(Path(p.file).name, p.line) for p in info.value.problems] == [
        ("2.yaml", 1),
        ("2.yaml", 1),
        ("2.yaml", 1),
        ("3.yaml", 2),
    ]
    write(tmp_path, good, "2.yaml")
    write(tmp_path, good, "3.yaml")
    assert [s.name for s in load_paths([tmp_path])] == ["minimal", "anchors and merge keys"] * 3


def test_files_that_cannot_be_read(tmp_path: Path) -> None:
    latin = tmp_path / "latin.yaml"
    latin.write_bytes("scenario: caf\xe9\n".encode("latin-1"))
    with pytest.raises(ScenarioError) as info:
        load_file(latin)
    [problem] = info.value.problems
    assert problem.line == 0 and "not UTF-8 text" in problem.message
    with pytest.raises(ScenarioError) as info:
        load_file(tmp_path)  # a folder is not a file
    assert info.value.problems[0].message.startswith("cannot read the file")
    control = write(tmp_path, "scenario: x\nseed: \x01\n")
    with pytest.raises(ScenarioError) as info:
        load_file(control)
    assert info.value.problems == [
        Problem(
            str(control),
            2,
            "YAML cannot read this file: unacceptable character #x0001: special characters "
            "are not allowed — remove or replace that character",
        )
    ]


def test_stray_document_separators_are_ignored(tmp_path: Path) -> None:
    text = (GOOD / "multi.yaml").read_text("utf-8").split("---")[0]
    assert len(load_file(write(tmp_path, f"---\n{text}---\n"))) == 1
    with pytest.raises(ScenarioError, match="the file holds no scenario"):
        load_file(write(tmp_path, "---\n---\n"))


def test_problems_of_the_documents_before_a_syntax_error_are_kept(tmp_path: Path) -> None:
    path = write(tmp_path, "scenario: 1\n---\nscenario: [\n")
    with pytest.raises(ScenarioError) as info:
        load_file(path)
    lines = [p.line for p in info.value.problems]
    assert lines[-1] == 4  # the syntax error, at the end of the stream
    assert "'scenario' must be a name (text); got a number 1" in str(info.value)


def test_whole_floats_count_as_integers(tmp_path: Path) -> None:
    text = (GOOD / "multi.yaml").read_text("utf-8").split("---")[0]
    path = write(tmp_path, f"{text}seed: 7.0\ncompany: {{users: 2.0}}\n")
    [s] = load_file(path)
    assert (s.seed, s.company.users) == (7, 2)
    assert isinstance(s.seed, int) and isinstance(s.company.users, int)


def test_people_login_and_fault_events_load_into_the_model(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """\
scenario: every kind of new event
start: 2026-01-05T09:00:00Z
until: 60d
company: {users: 2}
connections:
  fb: {provider: facebook, scopes: [pages_show_list, pages_read_engagement]}
timeline:
  - {at: 30d, event: user_joined, user: user3}
  - {at: 1d, event: opt_out, user: user2}
  - {at: 2d, event: reconnect, connection: fb, account: other, by: user2}
  - {at: 3d, event: reconnect, connection: fb, popup: blocked}
  - {at: 4d, event: reconnect, connection: fb, decline: [pages_read_engagement]}
  - {at: 5d, event: reconnect, connection: fb, decline: all}
  - {at: 6d, event: outage, connection: fb, for: 6h}
  - {at: 7d, event: rate_limited, connection: fb, for: 1h 30m}
  - {at: 8d, event: disconnect, connection: fb, by: user2}
  - {at: 9d, event: add, connection: fb, by: user1}
  - {at: 40d, event: user_left, user: user1}
expect:
  - {banner: fb, at: 52d, shows: expiring, says: expires on}
  - {settings: fb, during: 10d..20d, shows: none}
  - {email: invalid, about: fb, reaches: [user3], count: 0}
  - {reconnects: fb, count: 0, failed: 4}
""",
    )
    [s] = load_file(path)
    f = str(path)
    assert [e.event for e in s.timeline] == [
        "opt_out", "reconnect", "reconnect", "reconnect", "reconnect", "outage",
        "rate_limited", "disconnect", "add", "user_joined", "user_left",
    ]  # fmt: skip
    by_event = {(e.event, e.at): e for e in s.timeline}
    assert by_event["opt_out", d] == TimelineEvent(d, "opt_out", None, Where(f, 9), user="user2")
    assert by_event["reconnect", 2 * d].account == "other"
    assert by_event["reconnect", 2 * d].by == "user2"
    assert by_event["reconnect", 3 * d].popup == "blocked"
    assert by_event["reconnect", 4 * d].decline == ("pages_read_engagement",)
    assert by_event["reconnect", 5 * d].decline == "all"
    assert by_event["outage", 6 * d].duration == 6 * h
    assert by_event["rate_limited", 7 * d].duration == timedelta(hours=1, minutes=30)
    assert s.connections["fb"].scopes == ("pages_show_list", "pages_read_engagement")
    assert s.users == ["user1", "user2", "user3"]
    assert s.members_at(29 * d) == ["user1", "user2"]
    assert s.members_at(30 * d) == ["user1", "user2", "user3"]
    assert s.members_at(40 * d) == ["user2", "user3"]
    banner, settings, reach, attempts = s.expect
    assert banner == BannerExpect(
        "fb", "banner", "expiring", 52 * d, Where(f, 20), says="expires on"
    )
    assert settings == BannerExpect("fb", "settings", "none", 10 * d, Where(f, 21), until=20 * d)
    assert isinstance(reach, EmailExpect) and reach.reaches == ("user3",) and reach.count == 0
    assert attempts == ReconnectsExpect("fb", 0, Where(f, 23), failed=4)
