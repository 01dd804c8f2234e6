"""Backups of the store (SQLite's online backup, the newest few kept) and putting one back, safely."""

import os
import shutil
import sqlite3
import time
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

from digitlab import UserError, files
from digitlab.runs.store.base import read_only, runs_root

BACKUPS_KEPT = 5


@dataclass(frozen=True)
class Restored:
    """What a restore did: the backup put back, how old it was, the runs it does not hold, where the old store went."""

    backup: Path
    age: float                 # seconds between the backup and the restore
    lost: list[int]            # runs the replaced store (or the runs folder) had that the backup does not
    moved_to: Path | None      # the replaced store, kept with its -wal and -shm beside it (None: there was none)


class Backups:
    def backup(self) -> Path:
        """A consistent copy of the store (SQLite's online backup), taken while others write. The newest few are kept
        and, when the store now holds fewer runs than before, the newest backup that held more: a store emptied by
        accident never pushes out the last good copy."""
        self.backups.mkdir(exist_ok=True)
        dest = self.backups / f"runs-{time.strftime('%Y%m%d-%H%M%S')}-{time.time_ns() % 10**9:09d}.db"
        tmp = dest.with_suffix(".tmp")
        try:
            with closing(sqlite3.connect(self.path, timeout=30)) as src, closing(sqlite3.connect(tmp)) as dst:
                src.backup(dst)
            tmp.replace(dest)
        except (sqlite3.DatabaseError, OSError) as e:
            tmp.unlink(missing_ok=True)
            if files.disk_full(self.backups):
                raise files.full_disk(self.backups, "the run store could not be backed up (the last good backup "
                                                    "is kept)") from None
            raise UserError(f"Could not back up the run store ({e}): the last good backup is kept.") from None
        found = sorted(self.backups.glob("runs-*.db"))
        kept = set(found[-BACKUPS_KEPT:])
        counts = {p: len(_run_ids(p) or ()) for p in found}
        if not any(counts[p] > counts[dest] for p in kept):
            kept |= set([p for p in found if counts[p] > counts[dest]][-1:])
        for old in found:
            if old not in kept:
                old.unlink(missing_ok=True)
        return dest

    def latest_backup(self) -> Path | None:
        found = sorted(self.backups.glob("runs-*.db"))
        return found[-1] if found else None

    @staticmethod
    def restore(root=None, backup: Path | None = None, force: bool = False) -> Restored:
        """Put a backup (the newest by default) in place of the store. Nothing is moved or deleted until the restored
        copy is complete and checked; the replaced store is kept beside it with its WAL; a healthy store is replaced
        only with force; the restored file keeps the replaced one's permissions."""
        root = runs_root(root)
        found = sorted((root / "backups").glob("runs-*.db"))
        backup = Path(backup) if backup else (found[-1] if found else None)
        if backup is None or not backup.is_file():
            raise UserError(f"There is no backup of the run store in {root / 'backups'}: nothing to restore.")
        held = _run_ids(backup)
        if held is None:
            raise UserError(f"The backup {backup} is damaged too: name an older one, `digitlab restore --runs {root} "
                            "BACKUP` (the files in backups/); nothing was changed.")
        path = root / "runs.db"
        now = _run_ids(path) if path.exists() else None
        lost = sorted((set(now or ()) | _run_folders(root)) - held)
        age = time.time() - backup.stat().st_mtime
        if now is not None and not force:
            raise UserError(f"The run store {path} is healthy: restoring {backup.name} (taken {ago(age)}) would "
                            f"lose {named_runs(lost)}; pass --force to replace it anyway.")
        free, size = shutil.disk_usage(root).free, backup.stat().st_size
        if free < size + files.FULL_BELOW:
            raise UserError(f"The disk holding {root} has {files.megabytes(free)} free, too little to restore "
                            f"{backup.name} ({files.megabytes(size)}): free at least "
                            f"{files.megabytes(size + files.FULL_BELOW - free)} there, then run `digitlab restore` "
                            "again; nothing was changed.")
        tmp = root / "runs.db.restoring"
        try:
            shutil.copyfile(backup, tmp)
            os.chmod(tmp, (path if path.exists() else backup).stat().st_mode & 0o777)
            with open(tmp, "rb") as f:
                os.fsync(f.fileno())
            if _run_ids(tmp) != held:
                raise UserError(f"The copy of {backup.name} did not read back whole: nothing was changed; free some "
                                "space and run `digitlab restore` again.")
        except OSError as e:
            tmp.unlink(missing_ok=True)
            if files.disk_full(root):
                raise files.full_disk(root, "the backup could not be copied (nothing was changed)") from None
            raise UserError(f"Could not restore {backup.name} ({e.strerror or e}): nothing was changed.") from None
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        moved_to = None
        if path.exists():
            moved_to = root / f"runs.db.damaged-{time.strftime('%Y%m%d-%H%M%S')}"
            for extra in ("-wal", "-shm", ""):  # the WAL first: the main file last, so that it never stands alone
                if (root / f"runs.db{extra}").exists():
                    (root / f"runs.db{extra}").replace(root / f"{moved_to.name}{extra}")
        tmp.replace(path)
        return Restored(backup, age, lost, moved_to)


def _run_ids(path: Path) -> set[int] | None:
    """The runs a store file holds, read without writing anything beside it; None when it is damaged."""
    try:
        with closing(read_only(path)) as db:
            if db.execute("PRAGMA quick_check").fetchone()[0] != "ok":
                return None
            return {row[0] for row in db.execute("SELECT id FROM runs")}
    except sqlite3.DatabaseError:
        return None


def _run_folders(root: Path) -> set[int]:
    return {int(p.name) for p in root.iterdir() if p.name.isdigit() and p.is_dir()}


def named_runs(ids: list[int]) -> str:
    if not ids:
        return "no run"
    shown = ", ".join(str(i) for i in ids[:12]) + (f" and {len(ids) - 12} more" if len(ids) > 12 else "")
    return f"run {shown}" if len(ids) == 1 else f"runs {shown}"


def ago(seconds: float) -> str:
    minutes = max(0, round(seconds / 60))
    if minutes < 60:
        return f"{minutes} min ago"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min ago" if hours < 48 else f"{hours // 24} days ago"
