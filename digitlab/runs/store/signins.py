"""Sign-in attempts of a class, counted in the store before any password is checked: every server on the store sees
them, a restart keeps them, and parallel guesses are counted one after another."""

import time

KNOWN_FOR = 30 * 86400.0  # seconds a device that signed in as a name counts as that person's


class SignIns:
    def begin_sign_in(self, name: str, client: str, window: float, most: dict[str, int]) -> tuple[int | None, str, float]:
        """In one transaction, the failed attempts of the last window seconds: this client's for this name ('pair'),
        this client's for any name ('client') and, unless this client signed in as this name within KNOWN_FOR, this
        name's from clients that never did ('name'). When one count reaches most[kind]: (None, kind, when its oldest
        counted attempt was). Else the attempt is recorded, failed until `signed_in` says otherwise: (its id, '', 0)."""
        now = time.time()
        with self._db() as db:
            db.execute("BEGIN IMMEDIATE")
            known = "SELECT client FROM sign_ins WHERE name=? AND ok=1 AND at>?"
            counts = {"pair": ("name=? AND client=?", (name, client)), "client": ("client=?", (client,))}
            if db.execute(f"SELECT ? IN ({known})", (client, name, now - KNOWN_FOR)).fetchone()[0] == 0:
                counts["name"] = (f"name=? AND client NOT IN ({known})", (name, name, now - KNOWN_FOR))
            for kind, (where, args) in counts.items():
                n, oldest = db.execute(f"SELECT count(*), min(at) FROM sign_ins WHERE ok=0 AND at>? AND {where}",
                                       (now - window, *args)).fetchone()
                if n >= most[kind]:
                    return None, kind, oldest
            cur = db.execute("INSERT INTO sign_ins (name, client, at, ok) VALUES (?, ?, ?, 0)", (name, client, now))
            return cur.lastrowid, "", 0.0

    def signed_in(self, attempt: int) -> None:
        """The attempt was right: it no longer counts as failed, and its client counts as its person's device."""
        with self._db() as db:
            db.execute("UPDATE sign_ins SET ok=1 WHERE id=?", (attempt,))
            db.execute("DELETE FROM sign_ins WHERE at<?", (time.time() - KNOWN_FOR,))

    def let_in(self, name: str) -> int:
        """Forget the failed attempts for a name (a teacher lets a person in); returns how many there were."""
        with self._db() as db:
            return db.execute("DELETE FROM sign_ins WHERE name=? AND ok=0", (name,)).rowcount
