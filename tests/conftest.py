"""Shared by every test: pytester, and the README's marked code blocks (``readme_block``)."""

import re
from collections.abc import Callable
from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

README = Path(__file__).resolve().parent.parent / "README.md"


@pytest.fixture
def readme_block() -> Callable[[str], str]:
    """The code of the README block marked ``<!-- readme-test: NAME … -->``, so a test
    runs the example a developer reads and the two cannot drift apart."""

    def block(name: str) -> str:
        marker = rf"<!-- readme-test: {re.escape(name)}[ (][^>]*-->\n```[a-z]*\n(.*?)\n```"
        found = re.findall(marker, README.read_text(encoding="utf-8"), re.DOTALL)
        assert len(found) == 1, f"README.md: {len(found)} blocks marked readme-test: {name}"
        return str(found[0])

    return block
