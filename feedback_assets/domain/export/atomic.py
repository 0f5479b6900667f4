"""Atomic, symlink-safe writes under the export root.

A file (or a whole directory, e.g. an HF dataset) is written under a temp name in its final
directory, fsynced, then renamed over the old one, so a reader sees the old version or the new
one, never a partial file. The directory is reached from the root one component at a time with
O_NOFOLLOW (a symlink anywhere below the root is refused), the writer goes through that opened
descriptor (/proc/self/fd), and the descriptor's real path is checked to be under the root again
just before the rename: flipping a directory to a symlink mid-write cannot move a file outside.
"""

from __future__ import annotations

import contextlib
import errno
import os
import posixpath
import shutil
import stat
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TypeVar

import fsspec

from feedback_assets.domain.export.files import relative_parts, resolve_under_root

T = TypeVar("T")
_PROC_FD = "/proc/self/fd"
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | getattr(os, "O_NOFOLLOW", 0)


class UnsafePath(ValueError):
    """A path under the export root goes through a symlink or a non-directory."""


def write_atomic(root: str, relative: str, write: Callable[[str], T]) -> tuple[str, T]:
    """Call write(temp path) then publish it as root/relative: (final path, write's result)."""
    with staged_writes(root) as staged:
        result = write(staged.stage(relative))
    return staged.finals[relative], result


@dataclass
class _Staged:
    final: str
    tmp: str
    dir_fd: int = -1  # local: the opened parent directory
    parts: list[str] = field(default_factory=list)


class StagedWrites:
    """Several files (or directories) written under temp names and published together on
    commit, so a streamed export publishes nothing when it fails half way (PII, a bad row)."""

    def __init__(self, root: str) -> None:
        self.root = root
        self.finals: dict[str, str] = {}
        self._staged: dict[str, _Staged] = {}
        self._made: list[str] = []  # directories staging created, removed again on discard
        self._committed = False

    def stage(self, relative: str) -> str:
        """A temp path to write; published as root/relative on commit."""
        if relative in self._staged:
            raise ValueError(f"path {relative!r}: staged twice in one write")
        final = resolve_under_root(self.root, relative)
        if "://" in self.root:
            parent, name = posixpath.split(final)
            tmp = posixpath.join(parent, f".{name}.tmp-{uuid.uuid4().hex[:12]}")
            self._staged[relative] = _Staged(final, tmp)
        else:
            parts = relative_parts(relative)
            base = os.path.realpath(os.path.abspath(self.root))
            os.makedirs(base, exist_ok=True)
            self._note_missing(base, parts[:-1])
            dir_fd = open_dir_nofollow(base, parts[:-1], relative)
            tmp = f".{parts[-1]}.tmp-{uuid.uuid4().hex[:12]}"
            staged = _Staged(final, tmp, dir_fd, parts)
            self._staged[relative] = staged
            tmp = _fd_path(dir_fd, base, parts[:-1], tmp)
        self.finals[relative] = final
        return tmp

    def _note_missing(self, base: str, parts: list[str]) -> None:
        for i in range(len(parts)):
            path = os.path.join(base, *parts[: i + 1])
            if not os.path.lexists(path) and path not in self._made:
                self._made.append(path)

    def commit(self) -> None:
        """fsync everything, then rename each temp over its final name."""
        self._committed = True
        base = os.path.realpath(os.path.abspath(self.root))
        for relative, s in self._staged.items():
            if s.dir_fd >= 0:
                _fsync_tree(s.dir_fd, s.tmp)
                _check_inside(s.dir_fd, base, relative)
        for s in self._staged.values():
            if s.dir_fd < 0:
                fs, p = fsspec.core.url_to_fs(s.final)
                if fs.exists(p):
                    fs.rm(p, recursive=True)
                fs.mv(fsspec.core.url_to_fs(s.tmp)[1], p, recursive=True)
                continue
            _publish(s.dir_fd, s.tmp, s.parts[-1])
            os.fsync(s.dir_fd)

    def discard(self) -> None:
        """Remove what is left of the temps and close the directories."""
        for s in self._staged.values():
            if s.dir_fd < 0:
                fs, p = fsspec.core.url_to_fs(s.tmp)
                if fs.exists(p):
                    fs.rm(p, recursive=True)
                continue
            _remove(s.dir_fd, s.tmp)
            os.close(s.dir_fd)
        self._staged.clear()
        if not self._committed:  # a refused write leaves no trace, not even a directory
            for path in reversed(self._made):
                with contextlib.suppress(OSError):
                    os.rmdir(path)


@contextlib.contextmanager
def staged_writes(root: str) -> Iterator[StagedWrites]:
    """Stage files in the block; all are published when it ends, none if it raises."""
    staged = StagedWrites(root)
    try:
        yield staged
        staged.commit()
    finally:
        staged.discard()


def remove_nofollow(root: str, relative: str) -> None:
    """Delete root/relative (a file or a link, never a link's target) if it exists."""
    if "://" in root:
        fs, p = fsspec.core.url_to_fs(resolve_under_root(root, relative))
        if fs.exists(p):
            fs.rm(p)
        return
    parts = relative_parts(relative)
    base = os.path.realpath(os.path.abspath(root))
    if not os.path.isdir(base):
        return
    try:
        dir_fd = open_dir_nofollow(base, parts[:-1], relative, create=False)
    except FileNotFoundError:
        return
    try:
        _remove(dir_fd, parts[-1])
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def open_dir_nofollow(base: str, parts: list[str], relative: str, create: bool = True) -> int:
    """An fd of base/parts..., each component opened with O_NOFOLLOW (made if missing)."""
    fd = os.open(base, os.O_RDONLY | os.O_DIRECTORY)
    try:
        for part in parts:
            try:
                nfd = os.open(part, _DIR_FLAGS, dir_fd=fd)
            except FileNotFoundError:
                if not create:
                    raise
                with contextlib.suppress(FileExistsError):  # made by a concurrent writer
                    os.mkdir(part, dir_fd=fd)
                nfd = os.open(part, _DIR_FLAGS, dir_fd=fd)
            except OSError as exc:
                if exc.errno in (errno.ELOOP, errno.ENOTDIR):
                    raise UnsafePath(
                        f"path {relative!r}: {part!r} is a symlink or not a directory; "
                        "export writes never follow links under the export root"
                    ) from exc
                raise
            os.close(fd)
            fd = nfd
    except BaseException:
        os.close(fd)
        raise
    return fd


def _fd_path(dir_fd: int, base: str, parts: list[str], name: str) -> str:
    """A path that reaches `name` inside the opened directory, whatever happens to its path."""
    if os.path.isdir(_PROC_FD):
        return f"{_PROC_FD}/{dir_fd}/{name}"
    return os.path.join(base, *parts, name)  # no /proc: the final check still guards the rename


def _check_inside(dir_fd: int, base: str, relative: str) -> None:
    if not os.path.isdir(_PROC_FD):
        return
    real = os.readlink(f"{_PROC_FD}/{dir_fd}")
    if os.path.commonpath([base, real]) != base:
        raise UnsafePath(f"path {relative!r}: its directory moved outside the export root")


def _fsync_tree(dir_fd: int, name: str) -> None:
    """fsync a written file, or every file and directory of a written directory."""
    fd = os.open(name, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0), dir_fd=dir_fd)
    try:
        os.fsync(fd)
        if stat.S_ISDIR(os.fstat(fd).st_mode):
            for entry in os.listdir(fd):
                _fsync_tree(fd, entry)
    finally:
        os.close(fd)


def _publish(dir_fd: int, tmp: str, name: str) -> None:
    """Rename tmp over name. A directory (or a file replacing one) is swapped whole: the old one
    is moved aside, the new one renamed in, the old one deleted (links in it are not followed)."""
    try:
        old = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
    except FileNotFoundError:
        old = None
    new_is_dir = stat.S_ISDIR(os.stat(tmp, dir_fd=dir_fd).st_mode)
    if old is None or not (new_is_dir or stat.S_ISDIR(old.st_mode)):
        os.replace(tmp, name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
        return
    aside = f".{name}.old-{uuid.uuid4().hex[:12]}"
    os.rename(name, aside, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
    os.rename(tmp, name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
    _remove(dir_fd, aside)


def _remove(dir_fd: int, name: str) -> None:
    try:
        st = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
    except FileNotFoundError:
        return
    if stat.S_ISDIR(st.st_mode):
        shutil.rmtree(name, dir_fd=dir_fd)
    else:
        os.unlink(name, dir_fd=dir_fd)
