"""The people of a class: names, roles, and passwords kept only as salted argon2 hashes (argon2-cffi).

A roster is a TOML file of tables `[people.NAME]` with `role = "student" | "teacher"`, `password = "<hash>"` ("" for
one who signs in only with a school account) and, optionally, `email` (how a school account finds them), written by
`digitlab roster`. Sign-in failures are counted per name: after a few, that name waits.
"""

import json
import re
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from digitlab import UserError
from digitlab.files import write_atomically
from digitlab.settings import read_toml

ROLES = ("student", "teacher")
NAME = re.compile(r"[a-z0-9][a-z0-9._-]{0,31}")
EMAIL = re.compile(r"[^@\s]{1,64}@[^@\s]{1,190}")
MIN_PASSWORD, MAX_PASSWORD = 8, 256
FAILURES_ALLOWED, LOCKOUT_SECONDS = 5, 60.0
_hasher = PasswordHasher()
_DUMMY = _hasher.hash("not anyone's password")  # unknown names cost the same time as known ones


@dataclass(frozen=True)
class Person:
    name: str
    role: str
    password_hash: str
    email: str = ""
    changed: float = 0.0  # when the entry last changed (password, role, e-mail); 0: not since digitlab kept it

    @property
    def teacher(self) -> bool:
        return self.role == "teacher"


LOCAL = Person("", "teacher", "")  # the one person of a single-user machine: sees and manages everything


def check_name(name: str) -> str:
    if not isinstance(name, str) or not NAME.fullmatch(name):
        raise UserError(f"{name!r} is not a valid name: use 1 to 32 lowercase letters, digits, '.', '_' or '-'.")
    return name


def check_password(password: str) -> str:
    if not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
        raise UserError(f"A password needs {MIN_PASSWORD} to {MAX_PASSWORD} characters, got {len(password)}.")
    return password


def check_email(email: str) -> str:
    """An e-mail address as the roster keeps it (lowercase), or one sentence."""
    if not isinstance(email, str) or not EMAIL.fullmatch(email.strip()):
        raise UserError(f"{email!r} is not an e-mail address: give one like pupil@school.org.")
    return email.strip().lower()


def load(path) -> dict[str, Person]:
    path = Path(path)
    raw = read_toml(path, f"No roster at {path}: create it with `digitlab roster add NAME --role teacher`.")
    people, emails = {}, {}
    for name, entry in (raw.get("people") or {}).items():
        if not isinstance(entry, dict) or entry.get("role") not in ROLES or not isinstance(entry.get("password"), str):
            raise UserError(f"The roster entry {name!r} in {path} needs a role (student or teacher) and a password hash.")
        email = check_email(entry["email"]) if entry.get("email") else ""
        if email and emails.setdefault(email, name) != name:
            raise UserError(f"{emails[email]} and {name} in {path} have the same e-mail {email}: give each their own.")
        changed = entry.get("changed", 0.0)
        if not isinstance(changed, (int, float)) or isinstance(changed, bool):
            raise UserError(f"The roster entry {name!r} in {path} has a 'changed' that is not a time: remove that line.")
        people[check_name(name)] = Person(name, entry["role"], entry["password"], email, float(changed))
    return people


def by_email(people: dict[str, Person], email: str) -> Person | None:
    """The person a school account's e-mail address belongs to."""
    email = email.strip().lower() if isinstance(email, str) else ""
    return next((p for p in people.values() if email and p.email == email), None)


def save(path, people: dict[str, Person]) -> None:
    """Write the roster atomically (a temp file renamed into place), readable by its owner only."""
    path = Path(path)
    lines = ["# digitlab class roster: written by `digitlab roster`; passwords are argon2 hashes.", ""]
    for p in sorted(people.values(), key=lambda p: p.name):
        lines += [f"[people.{json.dumps(p.name)}]", f"role = {json.dumps(p.role)}",
                  f"password = {json.dumps(p.password_hash)}"]
        lines += [f"email = {json.dumps(p.email)}"] if p.email else []
        lines += [f"changed = {p.changed!r}"] if p.changed else []
        lines.append("")
    text = "\n".join(lines)
    write_atomically(path, lambda f: f.write(text.encode()), mode=0o600)


def set_password(path, name: str, password: str | None, role: str | None = None, email: str | None = None) -> Person:
    """Add a person, or give one a new password (and, if given, a new role or e-mail). password None: none at all
    (a school account signs them in); an existing person keeps theirs."""
    path = Path(path)
    people = load(path) if path.exists() else {}
    name = check_name(name)
    if password is not None:
        check_password(password)
    was = people.get(name)
    role = role or (was.role if was else None)
    if role not in ROLES:
        raise UserError(f"{name} is not in the roster yet: give a role, student or teacher.")
    email = check_email(email) if email else (was.email if was else "")
    if email and (other := by_email(people, email)) is not None and other.name != name:
        raise UserError(f"{other.name} already has the e-mail {email}: give {name} their own.")
    if password is not None:
        hashed = _hasher.hash(password)  # checked above, before anything else
    elif was is not None and email == was.email and role == was.role:
        raise UserError(f"{name} is in the roster already: give a new password, role or e-mail.")
    else:
        hashed = was.password_hash if was else ""
    if not hashed and not email:
        raise UserError(f"{name} needs a password or an e-mail address (for a school account) to sign in with.")
    # every change is later than the one before, whatever the clock did: a role changed and changed back is a change
    changed = max(time.time(), (was.changed if was else 0.0) + 1e-3)
    people[name] = Person(name, role, hashed, email, changed)
    save(path, people)
    return people[name]


def remove(path, name: str) -> None:
    people = load(path)
    if people.pop(name, None) is None:
        raise UserError(f"There is no {name!r} in the roster {path}.")
    save(path, people)


class SignIn:
    """Checks names and passwords against a roster, counting failures per name."""

    def __init__(self, path):
        self.path = Path(path)
        self._failures: dict[str, list[float]] = {}
        self._lock = threading.Lock()
        self._people: tuple[float, dict[str, Person]] = (-1.0, {})  # the roster as last read, by its mtime

    def current(self, person: Person) -> bool:
        """Whether a signed-in person still stands in the roster as they signed in: removed, reset or given another
        role, they sign in again. The roster is read again only when its file changed."""
        try:
            mtime = self.path.stat().st_mtime
            with self._lock:
                if mtime != self._people[0]:
                    self._people = (mtime, load(self.path))
                people = self._people[1]
        except (OSError, UserError):  # no roster, or a damaged one: nobody stays signed in
            return False
        return people.get(person.name) == person

    def __call__(self, name: str, password: str) -> Person:
        """The person, or a UserError that never says whether the name exists."""
        name = name.strip().lower()[:64]
        now = time.monotonic()
        with self._lock:
            recent = [t for t in self._failures.get(name, []) if now - t < LOCKOUT_SECONDS]
            self._failures[name] = recent
        if len(recent) >= FAILURES_ALLOWED:
            wait = LOCKOUT_SECONDS - (now - recent[0])
            raise UserError(f"Too many failed sign-ins for this name: wait {wait:.0f} seconds, then try again.")
        person = load(self.path).get(name)
        try:
            _hasher.verify(person.password_hash if person and person.password_hash else _DUMMY, password[:MAX_PASSWORD])
            if person is None or not person.password_hash:
                raise VerifyMismatchError
        except (VerificationError, InvalidHashError):
            with self._lock:
                self._failures.setdefault(name, []).append(now)
            raise UserError("That name and password do not match: try again, or ask your teacher to reset it.") from None
        with self._lock:
            self._failures.pop(name, None)
        return person
