"""My digits: drawings people saved with their labels, within a limit per person, and the bytes each person keeps."""

import time

from digitlab import UserError
from digitlab.files import megabytes


class Digits:
    def add_digits(self, items: list[tuple[int, bytes, bytes]], owner: str, limit: int,
                   quota: int | None = None) -> list[int]:
        """Keep (label, drawing PNG, 784 bytes seen) items of one owner, all or none, within limit per owner and,
        given quota, within the bytes the owner may keep in all (see bytes_kept)."""
        adding = sum(len(drawing) + len(seen) for _, drawing, seen in items)
        runs = self._run_bytes(owner) if quota is not None else 0  # files: read outside the transaction
        with self._db() as db:
            db.execute("BEGIN IMMEDIATE")
            have = db.execute("SELECT count(*) FROM digits WHERE owner=?", (owner,)).fetchone()[0]
            if have + len(items) > limit:
                more = f", and these {len(items)} would pass" if len(items) > 1 else ","
                raise UserError(f"You keep {have} digits{more} the limit of {limit} (limits.digits_per_person in the "
                                "settings): delete some on the My digits page first.")
            if quota is not None:  # the drawings counted inside the transaction: two imports at once add up
                kept = {"drawings": _drawing_bytes(db, owner), "runs": runs}
                if sum(kept.values()) + adding > quota:
                    raise over_quota(kept, quota, adding)
            now = time.time()
            ids = [db.execute("INSERT INTO digits (owner, label, created, drawing, seen) VALUES (?, ?, ?, ?, ?)",
                              (owner, int(label), now, drawing, seen)).lastrowid for label, drawing, seen in items]
            self._digits_changed(db)
        return ids

    def digits(self, owner: str | None = None, *, images: bool = True) -> list[dict]:
        """Saved digits, oldest first: everyone's, or one owner's; without the images when images is False."""
        cols = "id, owner, label, created" + (", drawing, seen" if images else "")
        where, args = ("WHERE owner=?", (owner,)) if owner is not None else ("", ())
        with self._db() as db:
            return [dict(r) for r in db.execute(f"SELECT {cols} FROM digits {where} ORDER BY id", args)]

    def relabel_digits(self, labels: dict[int, int], owner: str | None = None) -> int:
        """Give digits new labels (only owner's, when given); returns how many changed."""
        mine, args = ("AND owner=?", [owner]) if owner is not None else ("", [])
        with self._db() as db:
            n = sum(db.execute(f"UPDATE digits SET label=? WHERE id=? AND label<>? {mine}",
                               (int(label), int(i), int(label), *args)).rowcount for i, label in labels.items())
            self._digits_changed(db)
        return n

    def delete_digits(self, ids, owner: str | None = None) -> int:
        """Delete digits (only owner's, when given); returns how many went."""
        mine, args = ("AND owner=?", [owner]) if owner is not None else ("", [])
        with self._db() as db:
            n = sum(db.execute(f"DELETE FROM digits WHERE id=? {mine}", (int(i), *args)).rowcount for i in ids)
            self._digits_changed(db)
        return n

    def bytes_kept(self, owner: str) -> dict[str, int]:
        """What one person keeps, in bytes: their drawings (as stored) and their runs' folders (checkpoints, the
        state a run resumes from, first-layer snapshots, records)."""
        with self._db() as db:
            drawings = _drawing_bytes(db, owner)
        return {"drawings": drawings, "runs": self._run_bytes(owner)}

    def _run_bytes(self, owner: str) -> int:
        with self._db() as db:
            runs = [r[0] for r in db.execute("SELECT id FROM runs WHERE owner=?", (owner,))]
        return sum(_folder_bytes(self.run_dir(i)) for i in runs)

    def digits_version(self) -> int:
        """A number that changes whenever any saved digit does: the key of what is computed from them."""
        with self._db() as db:
            row = db.execute("SELECT value FROM options WHERE key='digits_changed'").fetchone()
        return int(row["value"]) if row else 0

    @staticmethod
    def _digits_changed(db) -> None:
        db.execute("INSERT INTO options (key, value) VALUES ('digits_changed', '1') ON CONFLICT(key) DO UPDATE SET "
                   "value = CAST(value AS INTEGER) + 1")


def _drawing_bytes(db, owner: str) -> int:
    return db.execute("SELECT coalesce(sum(length(drawing) + length(seen)), 0) FROM digits WHERE owner=?",
                      (owner,)).fetchone()[0]


def _folder_bytes(folder) -> int:
    try:
        return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())
    except OSError:  # a file gone while counting (a run ending): counted at the next look
        return 0


def over_quota(kept: dict[str, int], quota: int, adding: int = 0) -> UserError:
    """The one sentence for a person at their byte quota (limits.stored_mb_per_person)."""
    parts = ", ".join(f"{what} {megabytes(n)}" for what, n in kept.items())
    more = f", and this would add {megabytes(adding)}" if adding else ""
    return UserError(f"You keep {megabytes(sum(kept.values()))} ({parts}){more}, over your {megabytes(quota)} "
                     "(limits.stored_mb_per_person in the settings): delete some digits or runs first.")
