"""A real small filesystem for full-disk tests and the fault drill: a tmpfs mounted (as root) on a folder, filled to
the last byte on demand. Where mounting is not allowed, `small_disk` says why and the test is skipped."""

import os
import subprocess
from contextlib import contextmanager
from pathlib import Path

SIZE = "16m"


def mount(folder: Path, size: str = SIZE) -> str | None:
    """Mount a tmpfs of size on folder; None when done, else why it could not be."""
    folder.mkdir(parents=True, exist_ok=True)
    if os.geteuid() != 0:
        return "mounting a small filesystem needs root"
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)],
                          capture_output=True, text=True)
    return None if done.returncode == 0 else f"mount failed: {done.stderr.strip() or done.returncode}"


def unmount(folder: Path) -> None:
    subprocess.run(["umount", "-l", str(folder)], capture_output=True)


@contextmanager
def small(folder: Path, size: str = SIZE):
    """A small real filesystem on folder while inside; raises RuntimeError saying why when it cannot be mounted."""
    why = mount(folder, size)
    if why:
        raise RuntimeError(why)
    try:
        yield folder
    finally:
        unmount(folder)


def fill(folder: Path) -> Path:
    """Fill the filesystem holding folder to its last byte; returns the filler, whose removal frees it all."""
    filler = Path(folder) / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        for size in (1 << 20, 4096, 1):
            try:
                while True:
                    os.write(fd, b"\0" * size)
            except OSError:
                pass
    finally:
        os.close(fd)
    return filler
