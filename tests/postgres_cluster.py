"""A throwaway PostgreSQL cluster for tests: initdb in a temporary folder, started on a free
port with its socket in that folder, stopped and deleted afterwards. As root (a container)
it runs as the ``postgres`` user, which PostgreSQL requires. Where PostgreSQL is not
installed, the tests that need it skip with the one-line command that installs it."""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

INSTALL = "sudo apt-get install -y postgresql (or: make postgres)"


def binaries() -> Path | None:
    """The folder of ``initdb`` and ``pg_ctl``, if PostgreSQL is installed."""
    found = shutil.which("initdb")
    if found:
        return Path(found).resolve().parent
    versions = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    return Path(versions[-1]).parent if versions else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def cluster() -> Iterator[str]:
    """A running cluster's connection URL (user ``designkit``, trust auth, Unix socket)."""
    bin_dir = binaries()
    if bin_dir is None:
        raise RuntimeError(f"PostgreSQL is not installed: {INSTALL}")
    root = Path(tempfile.mkdtemp(prefix="designkit-pg-"))
    data, port = root / "data", _free_port()
    data.mkdir()
    as_user: list[str] = []
    if os.geteuid() == 0:  # PostgreSQL refuses to run as root
        shutil.chown(root, "postgres")
        shutil.chown(data, "postgres")
        as_user = ["runuser", "-u", "postgres", "--"]
    run = [*as_user, str(bin_dir / "pg_ctl"), "-D", str(data)]
    subprocess.run([*as_user, str(bin_dir / "initdb"), "-D", str(data), "-A", "trust", "-U",
                    "designkit", "--no-sync", "-E", "UTF8"], check=True,
                   capture_output=True)
    subprocess.run([*run, "-o", f"-p {port} -k {data} -c listen_addresses='' -c fsync=off",
                    "-w", "-l", str(data / "log"), "start"], check=True, capture_output=True)
    try:
        yield f"postgresql://designkit@/postgres?host={data}&port={port}"
    finally:
        subprocess.run([*run, "-m", "immediate", "-w", "stop"], check=False,
                       capture_output=True)
        shutil.rmtree(root, ignore_errors=True)
