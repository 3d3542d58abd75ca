"""Markdown for RESULTS.md: tables, number formats and the generated blocks between markers."""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np


def md_table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A GitHub markdown table; every row padded or checked to the header's width."""
    width = len(headers)
    lines = ["| " + " | ".join(map(_cell, headers)) + " |", "|" + "---|" * width]
    for row in rows:
        if len(row) != width:
            raise ValueError(f"row has {len(row)} cells, header has {width}: {row}")
        lines.append("| " + " | ".join(map(_cell, row)) + " |")
    return "\n".join(lines) + "\n"


def _cell(value: object) -> str:
    return str(value).replace("|", "\\|").replace("\n", " ")


def machine_markdown(info: dict[str, str]) -> str:
    """``harness.machine.machine_info()`` as a two-column table."""
    rows = [[k, v] for k, v in info.items()]
    return md_table(["machine", ""], rows)


def markers(name: str) -> tuple[str, str]:
    """The begin/end comments around the generated block ``name``."""
    return f"<!-- {name}:begin -->", f"<!-- {name}:end -->"


def write_block(path: Path, name: str, body: str) -> None:
    """Put ``body`` between the ``name`` markers of ``path``, leaving the rest untouched.

    The block is replaced where both markers exist, appended (after a blank line) where
    neither does, and a file holding only one of them is refused (ValueError) rather than
    guessed at. The file is replaced atomically.
    """
    begin, end = markers(name)
    block = f"{begin}\n{body.strip()}\n{end}\n"
    path = Path(path)
    text = path.read_text() if path.exists() else ""
    has_begin, has_end = text.count(begin), text.count(end)
    if (has_begin, has_end) == (1, 1) and text.index(begin) < text.index(end):
        head, rest = text.split(begin, 1)
        tail = rest.split(end, 1)[1]
        new = head + block.rstrip("\n") + tail
        if not new.endswith("\n"):
            new += "\n"
    elif has_begin == has_end == 0:
        new = (text.rstrip("\n") + "\n\n" if text.strip() else "") + block
    else:
        raise ValueError(f"{path}: malformed {name} markers ({has_begin} begin, {has_end} end)")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(new)
    os.replace(tmp, path)


def read_block(path: Path, name: str) -> str | None:
    """The text between the ``name`` markers of ``path`` (None when absent)."""
    begin, end = markers(name)
    text = Path(path).read_text() if Path(path).exists() else ""
    match = re.search(re.escape(begin) + r"\n(.*?)" + re.escape(end), text, flags=re.S)
    return match.group(1) if match else None


def fmt_seconds(s: float | None) -> str:
    if s is None or not np.isfinite(s):
        return "-"
    return f"{s:.3f} s" if s >= 0.01 else f"{s * 1e3:.2f} ms"


def fmt_bytes(b: float | None) -> str:
    if b is None:
        return "-"
    return f"{b / 2**30:.2f} GiB" if b >= 2**30 else f"{b / 2**20:.0f} MiB"
