"""A quick fuzz of every YAML reader (``make fuzz`` runs the same shapes for longer).

Scenarios, policies, population models, server configs and product files each get a
few hundred hostile documents (alias bombs, deep nesting, huge numbers, odd dates and
durations, junk bytes, tags, merge and duplicate keys, long strings and lists, edits of
the text): every one must load or be refused with ``file:line`` problems, in under a
few seconds.
"""

from __future__ import annotations

import random
import re
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conntrack._exceptions import InputError

from .hostile import LOADERS, READERS, SHAPES, check, document

#: The slowest document may take this long (a document of 100 000 values, the most a
#: file may expand to, loads in about 1.5 s; the machine may be busy).
SLOW = 5.0


@pytest.mark.parametrize("reader", READERS)
@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(rng=st.randoms(use_true_random=True))
def test_hostile_documents(
    tmp_path_factory: pytest.TempPathFactory, reader: str, rng: random.Random
) -> None:
    _, shape, content = document(rng, reader)
    path = tmp_path_factory.mktemp("fuzz") / "doc.yaml"
    path.write_bytes(content)
    t0 = time.process_time()
    found = check(reader, path)
    assert found is None, f"{reader}, {shape}:\n{found}"
    assert time.process_time() - t0 < SLOW, f"{reader}, {shape}: slow"


@pytest.mark.parametrize("reader", READERS)
@pytest.mark.parametrize("shape", SHAPES)
def test_every_shape_once_per_reader(tmp_path: Path, reader: str, shape: str) -> None:
    """Each shape at least once for each reader, whatever hypothesis draws."""
    rng = random.Random(f"{reader}:{shape}")
    content = SHAPES[shape](rng, reader)
    path = tmp_path / "doc.yaml"
    path.write_bytes(
        content if isinstance(content, bytes) else content.encode("utf-8", "surrogatepass")
    )
    assert check(reader, path) is None


#: Documents ``make fuzz`` found a traceback with, as they are now answered.
FOUND = [
    (
        "serve config",
        "apps:\n- provider: facebook\n  redirect_uris:\n  - http://localost]:3000/callback\n",
        "doc.yaml:4: not a URI: 'http://localost]:3000/callback'",
    ),
    (
        "product",
        'base: http://x/\nredirect_uri: http://x/{protocol}\nstart: {command: [a], cwd: "\\0"}\n',
        "doc.yaml:3: 'cwd' holds a NUL character",
    ),
]


@pytest.mark.parametrize(("reader", "text", "answer"), FOUND)
def test_what_make_fuzz_found(tmp_path: Path, reader: str, text: str, answer: str) -> None:
    path = tmp_path / "doc.yaml"
    path.write_text(text)
    assert check(reader, path) is None
    with pytest.raises(InputError, match=re.escape(answer)):
        LOADERS[reader](path)
