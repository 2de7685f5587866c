"""Shared by every test: pytester, the README's and the docs pages' marked code blocks
(``readme_block``, ``docs_block``), and ``asyncio.run`` where the browser tests leave a
loop running (``asyncio_run``)."""

import asyncio
import concurrent.futures
import re
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any, TypeVar

import pytest

pytest_plugins = ["pytester"]

T = TypeVar("T")
README = Path(__file__).resolve().parent.parent / "README.md"
DOCS = README.parent / "docs"


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


@pytest.fixture
def docs_block() -> Callable[[str], str]:
    """The code of the block marked ``<!-- docs-test: NAME … -->`` in a page under docs/,
    the one block of that name across every page, so the docs' examples run as written."""

    def block(name: str) -> str:
        marker = rf"<!-- docs-test: {re.escape(name)}[ (][^>]*-->\n```[a-z]*\n(.*?)\n```"
        found = [
            str(code)
            for page in sorted(DOCS.rglob("*.md"))
            for code in re.findall(marker, page.read_text(encoding="utf-8"), re.DOTALL)
        ]
        assert len(found) == 1, f"docs/: {len(found)} blocks marked docs-test: {name}"
        return found[0]

    return block


@pytest.fixture
def asyncio_run() -> Callable[[Coroutine[Any, Any, T]], T]:
    """``asyncio.run`` on a thread of its own.

    The browser tests' Playwright (sync API) keeps an event loop running in the main
    thread for the rest of the session, and ``asyncio.run`` refuses to start where a
    loop runs: a test that runs after them on the same xdist worker would fail for that
    alone. A fresh thread has no loop."""

    def run(coroutine: Coroutine[Any, Any, T]) -> T:
        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            return pool.submit(asyncio.run, coroutine).result()

    return run
