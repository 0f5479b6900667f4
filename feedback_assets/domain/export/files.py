"""Paths and byte-level file helpers shared by every export format (local paths or fsspec URLs)."""

from __future__ import annotations

import hashlib
import os
import posixpath
from collections.abc import Iterator, Sequence
from pathlib import PurePosixPath, PureWindowsPath
from typing import Any, Literal, Protocol

import fsspec
import orjson
import pandas as pd

CHUNK_ROWS = 50_000
_BLOCK = 1 << 20


def relative_parts(relative: str) -> list[str]:
    """The normalized components of a path under the export root; ValueError (naming the path)
    if it is empty, absolute, or climbs above the root."""
    if not relative or not relative.strip():
        raise ValueError(f"path {relative!r}: empty path")
    rel = relative.replace("\\", "/")
    if (
        "://" in rel
        or rel.startswith("/")
        or PureWindowsPath(relative).drive
        or rel.startswith("~")
    ):
        raise ValueError(f"path {relative!r}: absolute paths are not allowed under the export root")
    stack: list[str] = []
    for part in PurePosixPath(rel).parts:
        if part == "..":
            if not stack:
                raise ValueError(f"path {relative!r}: escapes the export root")
            stack.pop()
        elif part != ".":
            stack.append(part)
    if not stack:
        raise ValueError(f"path {relative!r}: resolves to the export root itself")
    return stack


def resolve_under_root(root: str, relative: str) -> str:
    """Join `relative` under `root`; ValueError (naming the path) if it is absolute or escapes."""
    stack = relative_parts(relative)
    if "://" in root:
        return posixpath.join(root.rstrip("/"), *stack)
    base = os.path.realpath(os.path.abspath(root))
    out = os.path.join(base, *stack)
    # A symlink inside the root could still point outside it.
    if os.path.commonpath([base, os.path.realpath(out)]) != base:
        raise ValueError(f"path {relative!r}: resolves outside the export root {root!r}")
    return out


def open_binary(path: str, mode: Literal["rb", "wb"]) -> Any:
    fs, p = fsspec.core.url_to_fs(path)
    if mode == "wb":
        fs.makedirs(posixpath.dirname(p) or ".", exist_ok=True)
    return fs.open(p, mode)


def exists(path: str) -> bool:
    fs, p = fsspec.core.url_to_fs(path)
    return bool(fs.exists(p))


def chunks(df: pd.DataFrame, size: int = CHUNK_ROWS) -> Iterator[pd.DataFrame]:
    for start in range(0, len(df), size):
        yield df.iloc[start : start + size]


class Sink(Protocol):
    """A format's incremental writer: rows arrive chunk by chunk, so no format needs the whole
    export in memory. close() returns (rows written, extra manifest fields); abort() releases
    what the sink holds after a failure (the caller removes the partial file)."""

    def write(self, chunk: pd.DataFrame) -> None: ...

    def close(self) -> tuple[int, dict[str, Any]]: ...

    def abort(self) -> None: ...


def drain(sink: Sink, df: pd.DataFrame) -> tuple[int, dict[str, Any]]:
    """Write a whole frame through a sink (the in-memory callers' path)."""
    try:
        for chunk in chunks(df):
            sink.write(chunk)
    except BaseException:
        sink.abort()
        raise
    return sink.close()


def digest(path: str) -> tuple[str, int]:
    """sha256 and size of a file; for a directory, over its data files in name order.

    HF's state.json holds a run-specific fingerprint, so it is left out to keep re-runs equal.
    """
    fs, p = fsspec.core.url_to_fs(path)
    h = hashlib.sha256()
    if not fs.isdir(p):
        with fs.open(p, "rb") as f:
            while block := f.read(_BLOCK):
                h.update(block)
        return h.hexdigest(), int(fs.size(p))
    size = 0
    for name in sorted(fs.find(p)):
        rel = posixpath.relpath(name, p)
        if posixpath.basename(rel) == "state.json":
            continue
        h.update(rel.encode() + b"\0")
        with fs.open(name, "rb") as f:
            while block := f.read(_BLOCK):
                h.update(block)
        size += int(fs.size(name))
    return h.hexdigest(), size


def concat_files(sources: Sequence[str], dest: str, *, skip_first_line: bool = False) -> None:
    """Stream the sources into dest byte for byte, ending each non-empty part with a newline.

    skip_first_line drops every source's first line after the first source (a CSV header).
    """
    with open_binary(dest, "wb") as out:
        for n, src in enumerate(sources):
            with open_binary(src, "rb") as f:
                if skip_first_line and n:
                    f.readline()
                last = b""
                while block := f.read(_BLOCK):
                    out.write(block)
                    last = block[-1:]
                if last and last != b"\n":
                    out.write(b"\n")


def count_lines(path: str) -> int:
    """Non-blank lines of a file, read block by block."""
    n = 0
    with open_binary(path, "rb") as f:
        for line in f:
            n += bool(line.strip())
    return n


class InvalidJson:
    """Marker for a line that did not parse."""


def read_json_lines(path: str) -> Iterator[tuple[int, Any]]:
    with open_binary(path, "rb") as f:
        for n, line in enumerate(f, start=1):
            if not line.strip():
                continue
            try:
                yield n, orjson.loads(line)
            except orjson.JSONDecodeError:
                yield n, InvalidJson()
