"""What ``conntrack population`` writes and prints."""

from __future__ import annotations

import errno
import os
import shutil
import tempfile
from pathlib import Path

from rich import box
from rich.table import Table

from .._exceptions import InputError
from ._series import DAY, Series

NAMES = ("series.csv", "series.json", "series.png", "report.html")
"""What a run writes into ``--out``."""


def out_folder(target: str) -> Path:
    """The ``--out`` folder, created if missing: checked before a run, so that a bad path
    costs no work (:class:`InputError` saying why)."""
    if not target.strip():
        raise InputError("--out needs a folder name; got an empty one")
    path = Path(target)
    if path.exists() and not path.is_dir():
        raise InputError(
            f"--out {target} is not a folder: give a folder for {', '.join(NAMES)}, like "
            "--out population"
        )
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise InputError(f"--out {target}: cannot create the folder: {e.strerror or e}") from None
    if not os.access(path, os.W_OK | os.X_OK):
        raise InputError(f"--out {target}: permission denied; write somewhere else")
    return path


def write_outputs(series: Series, out: Path, *, meta: dict[str, object], wall: float) -> list[Path]:
    """``series.csv``, ``series.json``, ``series.png`` and ``report.html`` in ``out``.

    CSV and JSON hold no wall-clock figure: the same seed gives byte-identical files.
    All four are written into a temporary folder inside ``out`` and moved in place only
    when all four are whole: a full disk or a Ctrl-C leaves the previous files (or none),
    never a half-written set that looks complete.
    """
    from ._plot import html_page, live_base, write_png

    live = live_base(series)
    title = (
        f"{meta.get('companies')} companies, {series.days} days: {live[0] if live else 0} "
        f"connections live on day one ({series.connections} over the run)"
    )
    try:
        temp = Path(tempfile.mkdtemp(prefix=".partial-", dir=out))
    except OSError as e:
        raise InputError(f"--out {out}: cannot write there: {e.strerror or e}") from None
    try:
        (temp / NAMES[0]).write_text(series.to_csv(), encoding="utf-8")
        (temp / NAMES[1]).write_text(series.to_json(**meta), encoding="utf-8")
        write_png(series, temp / NAMES[2], title)
        page = html_page(series, title, {**meta, "wall_seconds": round(wall, 2)})
        (temp / NAMES[3]).write_text(page, encoding="utf-8")
        for name in NAMES:
            with open(temp / name, "rb") as written:
                os.fsync(written.fileno())
        for name in NAMES:
            os.replace(temp / name, out / name)
    except OSError as e:
        full = e.errno in (errno.ENOSPC, errno.EFBIG, errno.EDQUOT)
        why = (e.strerror or str(e)) + (" (the disk or your quota is full)" if full else "")
        raise InputError(
            f"cannot write the series to --out {out}: {why}; the files there were left as they were"
        ) from None
    finally:
        shutil.rmtree(temp, ignore_errors=True)
    return [out / name for name in NAMES]


def summary_table(series: Series, meta: dict[str, object], wall: float) -> Table:
    s = series.summary()
    table = Table(box=box.SIMPLE, title="population run", title_justify="left", show_header=False)
    table.add_column("what", justify="left", no_wrap=True)
    table.add_column("figure", justify="right")
    rate = series.connections * series.days / wall if wall else 0.0
    rows: list[tuple[str, str]] = [
        ("companies / connections", f"{series.companies} / {series.connections}"),
        ("days", str(series.days)),
        ("seed, transport, workers", f"{meta['seed']}, {meta['transport']}, {meta['workers']}"),
        ("expiry reminder emails", str(s["emails"]["expiry_reminder"])),  # type: ignore[index]
        ("invalid-connection emails", str(s["emails"]["invalid"])),  # type: ignore[index]
        ("reconnects", str(s["reconnects"])),
        ("arrivals / disconnections", f"{s['arrivals']} / {s['disconnections']}"),
        ("data-gap days", f"{sum(series.gap_seconds) / DAY:,.1f}"),
        ("peak expired / invalid", f"{s['peak_expired']} / {s['peak_invalid']}"),
    ]
    end = s["at_the_end"]
    assert isinstance(end, dict)
    rows.append(("at the end", ", ".join(f"{k} {v}" for k, v in end.items() if v)))
    rows.append(("wall time", f"{wall:.2f} s ({rate:,.0f} connection-days/s)"))
    for k, v in rows:
        table.add_row(k, v)
    return table
