"""The console timeline of ``conntrack run``: a rich table, coloured on a terminal only."""

from __future__ import annotations

import io
import re
from datetime import timedelta
from pathlib import Path

import pytest

from conntrack._console import (
    ColorMode,
    make_console,
    print_result,
    render_plain,
    result_view,
    timeline_table,
)
from conntrack._durations import parse_duration
from conntrack._lifecycle import TransitionRecord
from conntrack._records import (
    BannerRecord,
    EmailRecord,
    SyncErrorRecord,
)
from conntrack._report import _grouped_emails, describe, group_sends
from conntrack.cli import main
from conntrack.scenario import load_file
from conntrack.scenario._runner import RunResult, run_scenario

ROOT = Path(__file__).resolve().parent.parent
RECONNECT = ROOT / "scenarios" / "facebook_password_change_reconnect.yaml"
FAILING = Path(__file__).parent / "data" / "failing_expectations.yaml"
ANSI = "\x1b["
RED, GREEN, YELLOW = "\x1b[31m", "\x1b[32m", "\x1b[33m"


@pytest.fixture(autouse=True)
def _plain_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Whatever the shell running the tests says about colour and width, start from none."""
    for name in ("FORCE_COLOR", "NO_COLOR", "TTY_COMPATIBLE", "COLUMNS", "TERM"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(scope="module")
def reconnect() -> RunResult:
    [scenario] = load_file(RECONNECT)
    return run_scenario(scenario)


@pytest.fixture(scope="module")
def failing() -> RunResult:
    [scenario] = load_file(FAILING)
    return run_scenario(scenario)


def rows(text: str) -> list[list[str]]:
    """The table's rows as [offset, connection, what, detail], without the UTC column of a
    wide table (rendered wide enough that no cell wraps; cells are two spaces apart)."""
    lines = text.splitlines()
    rule = next(i for i, line in enumerate(lines) if set(line.strip()) == {"─"})
    found = []
    for line in lines[rule + 1 :]:
        line = re.sub(r"  \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ(?=  )", "", line)
        found.append(re.split(r"\s{2,}", line.strip(), maxsplit=3))
    return found


def test_one_row_per_transition_send_banner_sync_error_and_event_in_time_order(
    reconnect: RunResult,
) -> None:
    tl = reconnect.timeline
    records = tl.records_only
    got = rows(render_plain(timeline_table(records, tl), width=400))

    assert len(got) == len(group_sends(records))
    offsets = [parse_duration(r[0]) for r in got]
    assert offsets == sorted(offsets)
    assert offsets[-1] == max(r.at for r in records) - tl.start

    whats = [r[2] for r in got]
    transitions = [t for t in records if isinstance(t, TransitionRecord)]
    assert [w for w in whats if w in {t.trigger for t in transitions}] == [
        t.trigger for t in transitions
    ]
    assert [r[3] for r in got if r[2] == "invalidate"] == [
        "connected → invalid (password_changed)  ← sync answered 400 190/460"
    ]
    # One row per send: the invalid email went to the four users at once.
    sends = {(e.at, e.kind) for e in records if isinstance(e, EmailRecord)}
    assert whats.count("email") == len(sends) < len(tl.emails())
    assert "invalid to user1, user2, user3, user4" in [r[3] for r in got if r[2] == "email"]
    errors = [r for r in records if isinstance(r, SyncErrorRecord)]
    assert whats.count("sync error") == len(errors) >= 1
    banners = [r[3] for r in got if r[2] == "banner"]
    shown = [b for b in records if isinstance(b, BannerRecord)]
    assert [b.split(":")[0] for b in banners] == [
        "cleared" if b.shows == "none" else f"shows {b.shows}" for b in shown
    ]
    assert banners[:2] == [f"shows invalid: {shown[0].dashboard}", "cleared"]
    assert "(password changed)" in banners[0]
    assert banners[-2:] == [
        f"shows expiring: {shown[-2].dashboard}",
        f"shows expired: {shown[-1].dashboard}",
    ]
    assert "event" in whats


def test_describe_and_the_plain_lines_handle_banners(reconnect: RunResult) -> None:
    tl = reconnect.timeline
    lines = _grouped_emails(tl.records_only, tl)
    assert len(lines) == len(group_sends(tl.records_only))
    banner = [line for line in lines if " banner " in line]
    first = next(r for r in tl.records_only if isinstance(r, BannerRecord))
    assert banner[0].endswith(f"fb         banner       shows invalid: {first.dashboard}")
    assert banner[1].endswith("fb         banner       cleared")
    email = next(r for r in tl.records_only if isinstance(r, EmailRecord))
    assert describe(email, tl).endswith(f"email        invalid to {email.to} <{email.address}>")


def test_utc_instants_only_when_wide(reconnect: RunResult) -> None:
    tl = reconnect.timeline
    narrow = render_plain(timeline_table(tl.records_only, tl), width=120)
    wide = render_plain(timeline_table(tl.records_only, tl, wide=True), width=200)
    assert "2026-01-25T09:00:00Z" in wide and "UTC" in wide
    assert "2026-01-25T09:00:00Z" not in narrow


def test_colours_when_forced(reconnect: RunResult) -> None:
    out = io.StringIO()
    print_result(make_console("always", file=out), reconnect, verbose=True)
    text = out.getvalue()
    assert ANSI in text
    line = next(line for line in text.splitlines() if "← sync answered" in line)
    assert f"{GREEN}connected" in line and f"{RED}invalid" in line
    line = next(line for line in text.splitlines() if "near_expiry" in line)
    assert f"{YELLOW}expiring" in line


def test_force_color_and_no_color_are_honoured(
    reconnect: RunResult, monkeypatch: pytest.MonkeyPatch
) -> None:
    def shown(color: ColorMode = "auto") -> str:
        out = io.StringIO()
        print_result(make_console(color, file=out), reconnect, verbose=True)
        return out.getvalue()

    assert ANSI not in shown()
    monkeypatch.setenv("FORCE_COLOR", "1")
    assert RED in shown()
    assert ANSI not in shown("never")
    monkeypatch.setenv("NO_COLOR", "1")
    assert RED not in shown() and GREEN not in shown()
    assert RED in shown("always")  # a flag on the command line wins over NO_COLOR


def test_run_prints_plain_text_when_not_a_terminal(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", str(RECONNECT), "-v"]) == 0
    out = capsys.readouterr().out
    assert ANSI not in out
    assert out.startswith("PASS  ") and str(RECONNECT) in out
    table = out.split("  timeline:\n")[1].split("\n\n")[0].splitlines()
    assert len(table) > 10
    assert all(len(line) <= 120 and line == line.rstrip() for line in table)
    assert any("invalidate" in line and "connected → invalid" in line for line in table)


def test_run_color_option(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert main(["run", str(RECONNECT), "-v", "--color", "always"]) == 0
    out = capsys.readouterr().out
    assert ANSI in out and "PASS" in out
    monkeypatch.setenv("FORCE_COLOR", "1")
    assert main(["run", str(RECONNECT), "-v", "--color", "never"]) == 0
    assert ANSI not in capsys.readouterr().out
    with pytest.raises(SystemExit):
        main(["run", str(RECONNECT), "--color", "sometimes"])


def test_a_failed_expectation_shows_expected_actual_and_the_rows_around_it(
    failing: RunResult, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "400")  # wide enough that no cell wraps, and UTC shown
    assert main(["run", str(FAILING)]) == 1
    out = capsys.readouterr().out
    assert out.startswith("FAIL  ") and "Expectations that must fail" in out
    block = out.split("fb is invalid (checkpoint) at 20d 6h\n")[1].split("\n  ✗ ")[0]
    assert "      expected: invalid (checkpoint)\n" in block
    assert "      actual:   invalid (password_changed)\n" in block
    assert "timeline around 20d 6h:" in block
    got = rows(block)
    # The rows before the check, then the red row of the expectation at its instant.
    assert [r[2] for r in got][-4:] == ["invalidate", "banner", "email", "✗ expected"]
    assert got[-1][:2] == ["20d 6h", "fb"]
    assert got[-1][3] == "invalid (checkpoint)  (actual: invalid (password_changed))"
    assert "password_change" in [r[3] for r in got if r[2] == "event"]
    assert "2026-01-25T15:00:00Z" in block  # the expectation's instant, in the UTC column
    # The expectation that held shows no table.
    assert "  ✓ " in out and out.count("timeline around") == 3


def test_the_failed_row_is_red_when_coloured(failing: RunResult) -> None:
    out = io.StringIO()
    print_result(make_console("always", file=out), failing)
    marker = next(line for line in out.getvalue().splitlines() if "✗ expected" in line)
    assert "\x1b[1;31m" in marker


def test_pytest_failure_text_is_plain_even_when_colour_is_forced(
    failing: RunResult, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FORCE_COLOR", "1")
    text = render_plain(result_view(failing))
    assert ANSI not in text
    assert "expected: invalid (checkpoint)" in text
    assert all(line == line.rstrip() for line in text.splitlines())


def test_a_send_folds_only_emails_of_one_instant_kind_and_connection(
    reconnect: RunResult,
) -> None:
    tl = reconnect.timeline
    at = tl.start + timedelta(days=1)

    def email(to: str, kind: str = "invalid", about: str = "fb", later: int = 0) -> EmailRecord:
        return EmailRecord(at + timedelta(hours=later), kind, about, to, f"{to}@x.test", "s")

    records = [
        email("user1"),
        email("user2"),
        email("user1", kind="expiry_reminder"),
        email("user1", about="li"),
        email("user3", later=1),
    ]
    assert [len(g) for g in group_sends(records) if isinstance(g, tuple)] == [2, 1, 1, 1]
