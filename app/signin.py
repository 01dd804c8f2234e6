"""Class mode's sign-in: the door (a password, or a school account through st.login), the session a browser keeps
(a cookie our route sets, app/routes.py; digitlab.classroom.sessions makes and checks its token) and its end (sign-out, a
reset, a removal, the lesson's length)."""

import time
import urllib.parse

import streamlit as st

from app import routes
from app.base import runs_folder, show_error, store
from digitlab import UserError, markdown, settings
from digitlab.classroom import roster, sessions


def viewer() -> roster.Person | None:
    """The signed-in person (None before sign-in): a browser that signed in before brings its session cookie."""
    if "viewer" not in st.session_state:
        _from_cookie()
    return st.session_state.get("viewer")


def check_session() -> None:
    """Once a run: the session ends when its person was removed, reset or given another role, signed out in any tab
    or browser, or when the lesson's length is over."""
    person = viewer()
    if person is None:
        return
    since = st.session_state.get("since", 0.0)
    if (not _sign_in(settings.current().classroom.roster).current(person)
            or sessions.signed_out(store(), person.name) >= since
            or time.time() - since > _class_sessions().seconds):  # the token's own length
        _forget()


def _forget() -> None:
    for key in ("viewer", "since"):
        st.session_state.pop(key, None)


@st.cache_resource
def _door(path: str, runs: str) -> roster.SignIn:
    return roster.SignIn(path, store())  # failed attempts are counted in the store: across sessions and servers


def _sign_in(path: str) -> roster.SignIn:
    return _door(path, runs_folder())


def client() -> str:
    """The device of this session: its address as the server sees it ('local' on this machine)."""
    ip = st.context.ip_address
    return ip if isinstance(ip, str) and ip else "local"


@st.cache_resource
def _sessions(secret_path: str, hours: float) -> sessions.Sessions:
    return sessions.Sessions(sessions.secret(secret_path), hours)


def _class_sessions() -> sessions.Sessions:
    s = settings.current()
    return _sessions(str(settings.secret_file(s, "secret")), s.classroom.session_hours)


def _from_cookie() -> None:
    """Sign in from this browser's session cookie, if it holds one that still stands; else say why it does not.
    Tried once a session: a cookie refused stays refused until the next sign-in."""
    if st.session_state.get("cookie_tried"):
        return
    st.session_state.cookie_tried = True
    token = st.context.cookies.get(sessions.COOKIE)
    if token is None:
        return
    try:
        people = roster.load(settings.current().classroom.roster)
        person, since = _class_sessions().check(token, people, lambda name: sessions.signed_out(store(), name),
                                                client())
    except UserError as e:
        st.session_state.door_note = str(e)
        return
    st.session_state.viewer, st.session_state.since = person, since


def _begin(person: roster.Person) -> None:
    """Signed in: this session at once, and the browser (through our route's cookie) for reloads and other tabs."""
    st.session_state.viewer, st.session_state.since = person, time.time()
    if routes.served:
        code = sessions.HANDOFFS.give(_class_sessions().issue(person, client()))
        query = urllib.parse.urlencode(st.query_params.to_dict())
        page = "/" + st.session_state.get("door", "") + (f"?{query}" if query else "")
        st.session_state.going = f"{routes.START}?code={code}&next={urllib.parse.quote(page, safe='')}"
    st.rerun()


def sign_out() -> None:
    """End every session of this person, in every browser; this browser forgets its cookie too."""
    person = st.session_state.get("viewer")
    if person is not None:
        sessions.sign_out(store(), person.name)
    _forget()
    if routes.served:
        st.session_state.going = routes.END


def going() -> bool:
    """Send the browser to one of our routes (after a sign-in or a sign-out); True while it goes."""
    target = st.session_state.pop("going", None)
    if target is None:
        return False
    _go(key="go", data={"to": target})
    st.caption("One moment…")
    return True


_go = st.components.v2.component(
    "digitlab.go", html="<span hidden></span>",
    js="export default function ({ data }) { if (data && data.to) window.location.replace(data.to); }")


def sign_in() -> None:
    st.title("digitlab")
    c = settings.current().classroom
    if not routes.encrypted():
        st.warning("This class's digitlab is served without encryption (classroom.plain_http): your password "
                   "crosses the network as it is. Ask your teacher.", icon=":material/lock_open:")
    note = st.session_state.pop("door_note", None)
    if note:
        st.info(markdown.as_text(note), icon=":material/login:")
    if c.oidc is not None:
        _school_account(c.oidc)
    st.write(("Or sign in" if c.oidc is not None else "This is a class's digitlab: sign in")
             + " with the name and password your teacher gave you.")
    with st.form("sign_in"):
        name = st.text_input("Name", max_chars=64, key="sign_in_name")
        password = st.text_input("Password", type="password", max_chars=roster.MAX_PASSWORD, key="sign_in_password")
        if st.form_submit_button("Sign in", type="primary", key="sign_in"):
            try:
                _begin(_sign_in(c.roster)(name, password, client()))
            except UserError as e:
                show_error(e)


FRESH_LOGIN = 600.0  # seconds: a school account's sign-in (its ID token's iat) counts only this soon after it


def _school_account(oidc) -> None:
    """Sign in with the school's accounts (st.login), the person found in the roster by e-mail address."""
    user = st.user
    if user.get("is_logged_in") and not st.session_state.get("school_tried"):
        st.session_state.school_tried = True  # once a session: a refused account is said once, then the button
        try:
            _begin(_school_person(dict(user)))
        except UserError as e:
            show_error(e)
    st.button(f"Sign in with your {markdown.as_text(oidc.provider)}", key="sign_in_oidc", on_click=st.login,
              type="primary")


def _school_person(claims: dict) -> roster.Person:
    person = roster.by_email(roster.load(settings.current().classroom.roster), claims.get("email", ""))
    if person is None:
        raise UserError(f"{str(claims.get('email') or 'That account')[:100]} is not in this class's roster: ask your teacher "
                        "to add your e-mail address.")
    issued = claims.get("iat")
    issued = float(issued) if isinstance(issued, (int, float)) else 0.0
    if not time.time() - FRESH_LOGIN < issued or issued <= sessions.signed_out(store(), person.name):
        raise UserError("Your school account's sign-in is from before: press the button to sign in again.")
    return person
