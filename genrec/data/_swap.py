"""Installing a dataset folder so a kill at any moment leaves the old or the new one, never none.

Linux swaps the two folders in one `renameat2(RENAME_EXCHANGE)`; elsewhere the old folder is
renamed aside first and `recover` puts it back if the new one never arrived. Leftovers of killed
runs (`.import-*` of dead processes, `.NAME.old`) are removed on the next run.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import shutil
from pathlib import Path

_RENAME_EXCHANGE = 2
_AT_FDCWD = -100


def _exchange(a: Path, b: Path) -> bool:
    """Swap two paths atomically (Linux renameat2); False when the system cannot."""
    try:
        fn = ctypes.CDLL(None, use_errno=True).renameat2
    except (AttributeError, OSError):
        return False
    fn.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    rc = fn(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE)
    return rc == 0


def old_path(target: Path) -> Path:
    return target.with_name(f".{target.name}.old")


def install(work: Path, target: Path) -> None:
    """Put the finished folder `work` at `target` (replacing what is there) atomically.

    `work` is gone afterwards (with an exchange it briefly holds the old folder, then removed).
    """
    if target.exists() and _exchange(work, target):
        shutil.rmtree(work, ignore_errors=True)
        return
    old = old_path(target)
    shutil.rmtree(old, ignore_errors=True)
    if target.exists():
        target.rename(old)  # a kill from here ...
    work.rename(target)  # ... to here is undone by `recover`
    shutil.rmtree(old, ignore_errors=True)


def recover(target: Path, complete: str) -> None:
    """Undo a swap a kill interrupted: no `target` but a complete `.NAME.old` -> put it back;
    both present -> the new one arrived, drop the old one. `complete` names a file a finished
    folder always has."""
    old = old_path(target)
    if not old.exists():
        return
    if not target.exists() and (old / complete).is_file():
        with contextlib.suppress(OSError):
            old.rename(target)
        return
    if target.exists():
        shutil.rmtree(old, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def work_prefix(name: str) -> str:
    """The temporary folder prefix of an import by this process (its pid inside)."""
    return f".import-{name}-{os.getpid()}-"


def clean_leftovers(datasets_dir: Path) -> list[Path]:
    """Remove `.import-*` folders whose process is gone (the ones returned)."""
    removed: list[Path] = []
    if not datasets_dir.is_dir():
        return removed
    for p in datasets_dir.glob(".import-*"):
        parts = p.name.rsplit("-", 2)
        try:
            pid = int(parts[-2])
        except (IndexError, ValueError):
            pid = -1
        if pid != os.getpid() and (pid < 0 or not _alive(pid)):
            shutil.rmtree(p, ignore_errors=True)
            removed.append(p)
    return removed
