"""Files written whole or not at all, and locks between processes: the one place digitlab does either."""

import fcntl
import os
import tempfile
from pathlib import Path

from digitlab import UserError


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
    except OSError as e:  # a full disk, say: no partial file, one sentence
        Path(tmp).unlink(missing_ok=True)
        raise UserError(f"Could not write {path} ({e.strerror or e}): free some disk space, then try again.") from None
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


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
