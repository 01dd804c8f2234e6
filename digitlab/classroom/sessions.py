"""Signed in once per lesson: a signed, expiring token per sign-in (itsdangerous), kept by the browser in an HttpOnly
cookie, so that a reload, a second tab or a phone that dropped the tab stays signed in.

The token holds the person's name, when it was made, a stamp of the device it was made for (its address: replayed
from elsewhere it opens nothing) and a stamp of their roster entry (an HMAC under the secret:
never the password or its hash); it is refused once it is older than the session's length, when the roster entry
changed since (a new password, another role, removed), or when the person signed out after it was made. The secret
lives beside the settings file, readable by its owner only. The browser gets the cookie from our own route (app/
routes.py) in exchange for a one-time code, so no script on the page ever holds the token.
"""

import hashlib
import hmac
import secrets
import threading
import time
from pathlib import Path

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from digitlab import UserError
from digitlab.classroom import roster
from digitlab.files import write_atomically

COOKIE = "digitlab_session"
SALT = "digitlab.session.v1"
MAX_TOKEN = 1024  # characters of a cookie we read at all
HANDOFF_SECONDS = 60.0
SIGNED_OUT = "signed_out:"  # store option per person: when they last signed out, everywhere


def secret(path: Path) -> bytes:
    """The signing secret kept in path (made on first use, mode 0600); one sentence when others may read it."""
    path = Path(path)
    if not path.exists():
        write_atomically(path, lambda f: f.write(secrets.token_hex(32).encode()), mode=0o600)
    st = path.stat()
    if st.st_mode & 0o077:
        raise UserError(f"{path} may be read by other users of this machine: run `chmod 600 {path}` "
                        "(or delete it to make a new one, which signs everybody out).")
    key = path.read_bytes().strip()
    if len(key) < 32:
        raise UserError(f"{path} is not a digitlab secret: delete it and start again (everybody signs in again).")
    return key


def stamp(key: bytes, person: roster.Person) -> str:
    """What a token remembers of the roster entry: any change to it (password, role, e-mail, and when it changed, so
    that a role changed and changed back still ends the sessions from before) changes this."""
    entry = "\0".join((person.name, person.role, person.password_hash, person.email))
    entry += f"\0{person.changed!r}" if person.changed else ""  # entries from before digitlab kept it: as they were
    return hmac.new(key, entry.encode(), hashlib.sha256).hexdigest()[:24]


class Sessions:
    """Makes and checks the tokens of one class (its secret and session length)."""

    def __init__(self, key: bytes, hours: float):
        self.key, self.seconds = key, hours * 3600
        self._signer = URLSafeTimedSerializer(key, salt=SALT)

    def issue(self, person: roster.Person, client: str = "") -> str:
        """A token for person, good only from client (the device's address): a token carried off elsewhere (a
        cookie sent to another port of the host, say) opens no session there."""
        return self._signer.dumps({"n": person.name, "s": stamp(self.key, person), "t": time.time(),
                                   "c": self._device(client)})

    def _device(self, client: str) -> str:
        return hmac.new(self.key, f"client\0{client}".encode(), hashlib.sha256).hexdigest()[:24]

    def check(self, token, people: dict[str, roster.Person], signed_out, client: str = "") -> tuple[roster.Person, float]:
        """(the person, when they signed in) of a token, or a UserError saying to sign in again. signed_out(name):
        when that person last signed out everywhere (0.0: never); client: the device presenting it."""
        again = "sign in again."
        if not isinstance(token, str) or not 0 < len(token) <= MAX_TOKEN:
            raise UserError(f"There is no sign-in in this browser: {again}")
        try:
            body = self._signer.loads(token, max_age=self.seconds)
        except SignatureExpired:
            raise UserError(f"Your sign-in has expired (after {self.seconds / 3600:g} hours): {again}") from None
        except BadSignature:
            raise UserError(f"This browser's sign-in is not one of this class's: {again}") from None
        if not isinstance(body, dict) or not {"n", "s", "t", "c"} <= set(body):
            raise UserError(f"This browser's sign-in is not one of this class's: {again}")
        if not hmac.compare_digest(str(body["c"]), self._device(client)):
            raise UserError(f"This sign-in was made on another device or network: {again}")
        person = people.get(body["n"]) if isinstance(body["n"], str) else None
        if person is None or not hmac.compare_digest(str(body["s"]), stamp(self.key, person)):
            raise UserError(f"Your place in the class has changed since you signed in: {again}")
        since = float(body["t"])
        if since <= signed_out(person.name):
            raise UserError(f"You signed out: {again}")
        return person, since


class Handoffs:
    """One-time codes that a page hands the browser after a sign-in, traded once, within a minute, for the token's
    cookie at our route: the token itself never passes through the page."""

    def __init__(self):
        self._codes: dict[str, tuple[float, str]] = {}
        self._lock = threading.Lock()

    def give(self, token: str) -> str:
        code = secrets.token_urlsafe(24)
        now = time.monotonic()
        with self._lock:
            self._codes = {c: v for c, v in self._codes.items() if v[0] > now}
            self._codes[code] = (now + HANDOFF_SECONDS, token)
        return code

    def take(self, code) -> str | None:
        """The token for a code, once; None for an unknown, used or stale code."""
        if not isinstance(code, str) or len(code) > 64:
            return None
        with self._lock:
            deadline, token = self._codes.pop(code, (0.0, None))
        return token if deadline > time.monotonic() else None


HANDOFFS = Handoffs()  # one per server process: the route and the pages share it


def signed_out(store, name: str) -> float:
    return float(store.option(SIGNED_OUT + name, "0"))


def sign_out(store, name: str) -> None:
    """End every session of this person, in every browser, now."""
    store.set_option(SIGNED_OUT + name, repr(time.time()))

