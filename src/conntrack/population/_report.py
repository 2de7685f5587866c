"""What ``conntrack population`` writes and prints."""

from __future__ import annotations

from pathlib import Path

from rich import box
from rich.table import Table

from ._series import DAY, Series


def write_outputs(series: Series, out: Path, *, meta: dict[str, object], wall: float) -> list[Path]:
    """``series.csv``, ``series.json``, ``series.png`` and ``report.html`` in ``out``.

    CSV and JSON hold no wall-clock figure: the same seed gives byte-identical files.
    """
    out.mkdir(parents=True, exist_ok=True)
    written = []
    csv_path = out / "series.csv"
    csv_path.write_text(series.to_csv(), encoding="utf-8")
    written.append(csv_path)
    json_path = out / "series.json"
    json_path.write_text(series.to_json(**meta), encoding="utf-8")
    written.append(json_path)
    from ._plot import html_page, write_png

    title = (
        f"{meta.get('companies')} companies, {series.connections} connections, {series.days} days"
    )
    png = out / "series.png"
    write_png(series, png, title)
    written.append(png)
    html = out / "report.html"
    html.write_text(
        html_page(series, title, {**meta, "wall_seconds": round(wall, 2)}), encoding="utf-8"
    )
    written.append(html)
    return written


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
