"""Backups of the store (SQLite's online backup, the newest few kept) and putting one back."""

import shutil
import sqlite3
import time
from contextlib import closing
from pathlib import Path

from digitlab import UserError
from digitlab.runs.store.base import runs_root

BACKUPS_KEPT = 5


class Backups:
    def backup(self) -> Path:
        """A consistent copy of the store (SQLite's online backup), taken while others write; the newest few kept."""
        self.backups.mkdir(exist_ok=True)
        dest = self.backups / f"runs-{time.strftime('%Y%m%d-%H%M%S')}-{time.time_ns() % 10**9:09d}.db"
        tmp = dest.with_suffix(".tmp")
        try:
            with closing(sqlite3.connect(self.path, timeout=30)) as src, closing(sqlite3.connect(tmp)) as dst:
                src.backup(dst)
            tmp.replace(dest)
        except sqlite3.DatabaseError as e:
            tmp.unlink(missing_ok=True)
            raise UserError(f"Could not back up the run store ({e}): the last good backup is kept.") from None
        for old in sorted(self.backups.glob("runs-*.db"))[:-BACKUPS_KEPT]:
            old.unlink(missing_ok=True)
        return dest

    def latest_backup(self) -> Path | None:
        found = sorted(self.backups.glob("runs-*.db"))
        return found[-1] if found else None

    @staticmethod
    def restore(root=None, backup: Path | None = None) -> Path:
        """Put a backup (the newest by default) in place of the store; the damaged file is kept beside it."""
        root = runs_root(root)
        found = sorted((root / "backups").glob("runs-*.db"))
        backup = Path(backup) if backup else (found[-1] if found else None)
        if backup is None or not backup.is_file():
            raise UserError(f"There is no backup of the run store in {root / 'backups'}: nothing to restore.")
        path = root / "runs.db"
        if path.exists():
            path.replace(root / f"runs.db.damaged-{time.strftime('%Y%m%d-%H%M%S')}")
        for extra in ("runs.db-wal", "runs.db-shm"):
            (root / extra).unlink(missing_ok=True)
        shutil.copyfile(backup, path.with_suffix(".tmp"))
        path.with_suffix(".tmp").replace(path)
        return backup
