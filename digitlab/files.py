"""Files written whole or not at all, and locks between processes: the one place digitlab does either."""

import errno
import fcntl
import os
import shutil
import tempfile
from pathlib import Path

from digitlab import UserError


class DiskFull(UserError):
    """The disk has no room for what was being written: nothing is half-written, and it can be tried again once
    space is freed (a run waits in the queue rather than fail)."""


def write_atomically(path: Path, write, mode: int | None = None) -> Path:
    """write(file) into a temp file in path's folder, then rename it into place: never a half-written file. mode:
    the file's permissions (0o600 for a secret), set before it is in place."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as e:
        raise UserError(f"Could not write {path} ({e.strerror or e}): choose a folder you can write.") from None
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
        if mode is not None:
            os.chmod(tmp, mode)
        os.replace(tmp, path)
    except (OSError, RuntimeError) as e:  # a full disk (torch.save says so as a RuntimeError): no partial file
        full = getattr(e, "errno", None) == errno.ENOSPC or disk_full(path.parent)  # looked at before tmp goes
        Path(tmp).unlink(missing_ok=True)
        if full:
            raise full_disk(path.parent, f"{path.name} could not be written") from None
        if isinstance(e, RuntimeError):
            raise
        raise UserError(f"Could not write {path} ({e.strerror or e}): free some disk space, then try again.") from None
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


FULL_BELOW = 1 << 20      # bytes free under which a disk counts as full: nothing of ours fits in less
FREE_WANTED = 64 << 20    # what a person is asked to free: room for the store's writes, a backup and checkpoints


def disk_full(folder) -> bool:
    """Whether the disk holding folder (or its nearest existing parent) has next to no space left."""
    try:
        return shutil.disk_usage(_existing(folder)).free < FULL_BELOW
    except OSError:
        return False


def full_disk(folder, what: str) -> DiskFull:
    """The one sentence for a full disk: which folder, what could not be done, how much to free."""
    usage = shutil.disk_usage(_existing(folder))
    wanted = max(FULL_BELOW, min(FREE_WANTED, usage.total // 4) - usage.free)
    return DiskFull(f"The disk holding {folder} is full ({megabytes(usage.free)} free), so {what}: free at least "
                     f"{megabytes(wanted)} there (old runs, old backups or other files), then try again.")


def megabytes(n: int) -> str:
    return f"{n / 2**20:.1f} MB" if n < 10 << 20 else f"{n / 2**20:,.0f} MB"


def _existing(folder) -> Path:
    folder = Path(folder)
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    return folder


def try_lock(path):
    """An exclusive lock on path, held as long as the returned file is open; None when another process holds it."""
    f = open(path, "w")
    try:
        fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        f.close()
        return None
    return f


def lock(path):
    """An exclusive lock on path, waited for; held as long as the returned file is open (use it in `with`)."""
    f = open(path, "w")
    fcntl.flock(f, fcntl.LOCK_EX)
    return f
