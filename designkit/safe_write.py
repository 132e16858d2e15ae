"""Writing a file the command line was asked for, without surprises.

* An existing file is overwritten only when the user said so (``--force``).
* A symbolic link is never written through: with ``--force`` the link itself is replaced
  by the new file and its target is left alone; without, it is refused.
* A regular file is written whole or not at all (a temporary file beside it, then an
  atomic rename), so a full disk never leaves half a report behind.
* A device or pipe (``/dev/stdout``, ``/dev/null``, a FIFO) is written as a stream.
* What the file system refuses (no space, no such folder, a name too long, a folder where
  a file should be) is one :class:`WriteError` naming the path and the reason.
"""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from pathlib import Path

from designkit.errors import DesignkitError

__all__ = ["WriteError", "write_output"]


class WriteError(DesignkitError, OSError):
    """A file could not be written; the message names the path, the reason and the fix.

    Example:
        >>> str(WriteError("out.svg exists; pass --force to overwrite it"))
        'out.svg exists; pass --force to overwrite it'
    """

    def __str__(self) -> str:
        return str(self.args[0])


def write_output(path: str | os.PathLike[str], data: str | bytes, force: bool = False) -> Path:
    """Write ``data`` (text as UTF-8) to ``path`` as described in the module; returns it.

    Raises:
        WriteError: The path exists (or is a link) and ``force`` is false, or the file
            system refused the write.

    Example:
        >>> import tempfile, pathlib
        >>> out = pathlib.Path(tempfile.mkdtemp()) / "a.txt"
        >>> write_output(out, "one").read_text()
        'one'
        >>> try:
        ...     write_output(out, "two")
        ... except WriteError as err:
        ...     print(str(err).split(";")[1])
         pass --force to overwrite it
        >>> write_output(out, "two", force=True).read_text()
        'two'
    """
    target = Path(path)
    raw = data.encode("utf-8") if isinstance(data, str) else data
    try:
        mode = os.lstat(target).st_mode
    except FileNotFoundError:
        mode = None
    except OSError as err:
        raise _refused(target, err) from None
    if mode is not None and stat.S_ISLNK(mode) and not force:
        raise WriteError(f"{target} is a symbolic link; designkit does not write through "
                         "links: pass --force to replace the link itself (its target is "
                         "left alone)")
    if mode is not None and stat.S_ISDIR(mode):
        raise WriteError(f"{target} is a folder; name a file to write")
    if mode is not None and not stat.S_ISREG(mode) and not stat.S_ISLNK(mode):
        return _stream(target, raw)  # a device or a pipe: written as a stream
    if mode is not None and stat.S_ISREG(mode) and not force:
        raise WriteError(f"{target} exists; pass --force to overwrite it")
    return _replace(target, raw)


def _stream(target: Path, raw: bytes) -> Path:
    try:
        with open(target, "wb") as out:
            out.write(raw)
    except OSError as err:
        raise _refused(target, err) from None
    return target


def _replace(target: Path, raw: bytes) -> Path:
    """A temporary file beside ``target``, then renamed over it (a link is replaced)."""
    temporary: str | None = None
    try:
        handle, temporary = tempfile.mkstemp(dir=target.parent or ".", prefix=".designkit-",
                                             suffix=".tmp")
        with os.fdopen(handle, "wb") as out:
            out.write(raw)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(temporary, 0o666 & ~umask)
        os.replace(temporary, target)
        temporary = None
    except OSError as err:
        raise _refused(target, err) from None
    finally:
        if temporary is not None:
            with contextlib.suppress(OSError):
                os.unlink(temporary)
    return target


def _refused(target: Path, err: OSError) -> WriteError:
    reason = err.strerror or type(err).__name__
    hint = {28: "free some space", 36: "choose a shorter file name",
            2: "create the folder first", 20: "a part of the path is a file, not a folder",
            13: "choose a folder you may write to", 30: "choose a writable place"}.get(
                err.errno or 0, "")
    return WriteError(f"could not write {target}: {reason}" + (f" ({hint})" if hint else ""))
