from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_the_library_index_lists_every_scenario() -> None:
    index = (ROOT / "scenarios" / "README.md").read_text()
    files = sorted(p.name for p in (ROOT / "scenarios").glob("*.yaml"))
    missing = [f for f in files if f"[`{f}`]({f})" not in index]
    assert not missing, f"add these to scenarios/README.md: {missing}"
