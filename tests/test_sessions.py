"""Session tokens, their secret and the one-time codes; the certificate class mode makes or checks; the settings."""

import base64
import datetime
import json
import os
import time

import pytest
import trustme

from digitlab import UserError, settings
from digitlab.classroom import roster, sessions, tls

HOURS = 2.0


@pytest.fixture
def people(class_roster):
    return class_roster


@pytest.fixture
def class_sessions(tmp_path):
    return sessions.Sessions(sessions.secret(tmp_path / "class.secret"), HOURS)


def never(_name):
    return 0.0


def test_a_token_signs_its_person_back_in_and_holds_neither_password_nor_hash(people, class_sessions):
    bob = roster.load(people)["bob"]
    token = class_sessions.issue(bob)
    person, since = class_sessions.check(token, roster.load(people), never)
    assert person == bob and time.time() - since < 5
    ok, body = class_sessions._signer.loads_unsafe(token)  # what anyone holding the cookie can read of it
    text = json.dumps(body)
    assert ok and body["n"] == "bob"
    assert "student-pass-1" not in text and bob.password_hash not in text and "argon2" not in text


def test_a_role_changed_and_changed_back_keeps_the_old_tokens_dead(people, class_sessions):
    token = class_sessions.issue(roster.load(people)["bob"])
    roster.set_password(people, "bob", None, "teacher")
    roster.set_password(people, "bob", None, "student")  # as he was, but not the same entry
    bob = roster.load(people)["bob"]
    assert bob.role == "student" and bob.changed > 0
    with pytest.raises(UserError, match="changed since you signed in: sign in again"):
        class_sessions.check(token, roster.load(people), never)
    assert class_sessions.check(class_sessions.issue(bob), roster.load(people), never)[0] == bob  # a new one works


def test_an_entry_from_before_changes_were_kept_keeps_its_sessions(people, class_sessions):
    """A roster written by an older digitlab has no 'changed': its people's tokens stay good across the upgrade."""
    text = people.read_text()
    people.write_text("\n".join(line for line in text.splitlines() if not line.startswith("changed = ")) + "\n")
    bob = roster.load(people)["bob"]
    assert bob.changed == 0.0
    import hashlib
    import hmac

    before = "\0".join((bob.name, bob.role, bob.password_hash, bob.email))  # what older digitlabs stamped
    assert sessions.stamp(class_sessions.key, bob) == hmac.new(class_sessions.key, before.encode(),
                                                               hashlib.sha256).hexdigest()[:24]


@pytest.mark.parametrize("change", ["reset", "role", "removed", "email"])
def test_a_reset_a_new_role_a_removal_or_a_new_email_ends_every_token(people, class_sessions, change):
    token = class_sessions.issue(roster.load(people)["bob"])
    if change == "reset":
        roster.set_password(people, "bob", "a-new-password")
    elif change == "role":
        roster.set_password(people, "bob", "student-pass-1", "teacher")
    elif change == "email":
        roster.set_password(people, "bob", None, email="bob@school.org")
    else:
        roster.remove(people, "bob")
    with pytest.raises(UserError, match="changed since you signed in: sign in again"):
        class_sessions.check(token, roster.load(people), never)


def test_an_expired_altered_foreign_or_hostile_token_is_refused(people, class_sessions, tmp_path, monkeypatch):
    bob = roster.load(people)["bob"]
    token = class_sessions.issue(bob)
    everyone = roster.load(people)
    later = time.time() + HOURS * 3600 + 5
    monkeypatch.setattr(time, "time", lambda: later)
    with pytest.raises(UserError, match=r"expired \(after 2 hours\)"):
        class_sessions.check(token, everyone, never)
    monkeypatch.undo()
    stamp, signature = token.split(".")[-2:]
    forged = base64.urlsafe_b64encode(json.dumps({"n": "ada", "s": "x", "t": time.time(), "c": "x"}).encode()).decode()
    other = sessions.Sessions(sessions.secret(tmp_path / "other.secret"), HOURS)
    for bad in (f"{forged.rstrip('=')}.{stamp}.{signature}", token[:-2] + ("AA" if token[-2:] != "AA" else "BB"),
                other.issue(bob), "", "x" * 5000, None, 42, "....", "a.b.c"):
        with pytest.raises(UserError, match="sign in again"):
            class_sessions.check(bad, everyone, never)


def test_signing_out_ends_the_tokens_made_before_it_not_after(people, class_sessions, tmp_path):
    from digitlab.runs.store import Store

    store = Store(tmp_path / "runs")
    bob = roster.load(people)["bob"]
    before = class_sessions.issue(bob)
    time.sleep(0.01)
    sessions.sign_out(store, "bob")
    with pytest.raises(UserError, match="You signed out"):
        class_sessions.check(before, roster.load(people), lambda n: sessions.signed_out(store, n))
    after = class_sessions.issue(bob)
    assert class_sessions.check(after, roster.load(people), lambda n: sessions.signed_out(store, n))[0] == bob
    assert sessions.signed_out(store, "ada") == 0.0  # ada's sessions stand


def test_the_secret_is_made_once_mode_0600_and_refused_when_others_may_read_it(tmp_path):
    path = tmp_path / "class.secret"
    key = sessions.secret(path)
    assert len(key) == 64 and os.stat(path).st_mode & 0o777 == 0o600 and sessions.secret(path) == key
    os.chmod(path, 0o644)
    with pytest.raises(UserError, match="may be read by other users of this machine: run `chmod 600"):
        sessions.secret(path)
    os.chmod(path, 0o600)
    path.write_text("short")
    with pytest.raises(UserError, match="is not a digitlab secret"):
        sessions.secret(path)


def test_a_handoff_code_is_good_once_and_for_a_minute(monkeypatch):
    handoffs = sessions.Handoffs()
    code = handoffs.give("token-1")
    assert handoffs.take(code) == "token-1" and handoffs.take(code) is None
    stale = handoffs.give("token-2")
    now = time.monotonic()
    monkeypatch.setattr(time, "monotonic", lambda: now + sessions.HANDOFF_SECONDS + 1)
    assert handoffs.take(stale) is None
    for hostile in (None, 7, "", "x" * 100, ["a"]):
        assert handoffs.take(hostile) is None


def test_a_made_certificate_is_for_this_machine_kept_0600_and_made_again_only_near_its_end(tmp_path):
    cert_path, key_path = tmp_path / "c.cert.pem", tmp_path / "c.key.pem"
    cert, made = tls.ensure(cert_path, key_path, own=False)
    assert made and {"localhost", "127.0.0.1"} <= set(tls.hosts(cert))
    assert all(os.stat(p).st_mode & 0o777 == 0o600 for p in (cert_path, key_path))
    again, made = tls.ensure(cert_path, key_path, own=False)
    assert not made and tls.fingerprint(again) == tls.fingerprint(cert)
    assert len(tls.fingerprint(cert).split(":")) == 32
    key_path.write_text("damaged")
    renewed, made = tls.ensure(cert_path, key_path, own=False)  # ours, damaged: made again
    assert made and tls.fingerprint(renewed) != tls.fingerprint(cert)


def test_a_teachers_certificate_is_checked_not_replaced(tmp_path):
    ca = trustme.CA()
    leaf = ca.issue_cert("localhost", "127.0.0.1")
    cert_path, key_path = tmp_path / "server.pem", tmp_path / "server.key"
    leaf.cert_chain_pems[0].write_to_path(str(cert_path))
    leaf.private_key_pem.write_to_path(str(key_path))
    cert, made = tls.ensure(cert_path, key_path, own=True)
    assert not made and "localhost" in tls.hosts(cert)
    other = ca.issue_cert("localhost")
    other.private_key_pem.write_to_path(str(tmp_path / "other.key"))
    cases = {tmp_path / "other.key": "is not the key of the certificate", tmp_path / "missing.key": "There is no key at"}
    for key, sentence in cases.items():
        with pytest.raises(UserError, match=sentence):
            tls.ensure(cert_path, key, own=True)
    (tmp_path / "junk.pem").write_text("not a certificate")
    with pytest.raises(UserError, match="is not a PEM certificate"):
        tls.ensure(tmp_path / "junk.pem", key_path, own=True)
    with pytest.raises(UserError, match="is not an unencrypted PEM private key"):
        tls.ensure(cert_path, cert_path, own=True)
    old = trustme.CA().issue_cert("localhost", not_after=datetime.datetime(2020, 1, 1))
    old.cert_chain_pems[0].write_to_path(str(tmp_path / "old.pem"))
    old.private_key_pem.write_to_path(str(tmp_path / "old.key"))
    with pytest.raises(UserError, match="expired on 2020-01-01"):
        tls.ensure(tmp_path / "old.pem", tmp_path / "old.key", own=True)
    (tmp_path / "huge.pem").write_bytes(b"x" * (tls.MAX_PEM_BYTES + 1))
    with pytest.raises(UserError, match="is over 1 MB"):
        tls.ensure(tmp_path / "huge.pem", key_path, own=True)


def test_class_settings_for_https_sessions_and_school_accounts(tmp_path):
    path = tmp_path / "class.toml"

    def load(text):
        path.write_text('[classroom]\nenabled = true\nroster = "roster.toml"\n' + text)
        return settings.load(path)

    c = load('certificate = "tls/server.pem"\nkey = "tls/server.key"\nsession_hours = 1.5\n').classroom
    assert c.certificate == str(tmp_path / "tls/server.pem") and c.session_hours == 1.5 and not c.plain_http
    assert settings.secret_file(load(""), "secret") == tmp_path / "class.secret"
    oidc = load('[classroom.oidc]\nprovider = "Google"\nserver_metadata_url = "https://p/.well-known/openid-'
                'configuration"\nclient_id = "id"\nclient_secret = "s"\nredirect_uri = "https://h:8501/oauth2callback"\n')
    assert oidc.classroom.oidc.provider == "Google"
    for text, sentence in (('certificate = "c.pem"\n', "classroom.certificate and classroom.key go together"),
                           ("session_hours = 0\n", "must be between 0.05 and 336"),
                           ("plain_http = 1\n", "must be a bool"),
                           ("oidc = 3\n", r"\[classroom.oidc\] in .* must be a table"),
                           ('[classroom.oidc]\nclient_id = "a"\n', "needs server_metadata_url"),
                           ('[classroom.oidc]\nissuer = "a"\n', "Unknown setting classroom.oidc.issuer"),
                           ('[classroom.oidc]\nserver_metadata_url = "u"\nclient_id = "a"\nclient_secret = "b"\n'
                            'redirect_uri = "https://h/elsewhere"\n', "must be this app's address ending in /oauth2callback")):
        with pytest.raises(UserError, match=sentence):
            load(text)


def test_the_roster_keeps_emails_for_school_accounts_and_people_without_a_password(tmp_path):
    path = tmp_path / "roster.toml"
    roster.set_password(path, "ada", "teacher-pass-1", "teacher", email="Ada@School.org ")
    roster.set_password(path, "eve", None, "student", email="eve@school.org")
    people = roster.load(path)
    assert roster.by_email(people, "ADA@school.org").name == "ada" and people["eve"].password_hash == ""
    assert roster.by_email(people, "nobody@school.org") is None and roster.by_email(people, "") is None
    with pytest.raises(UserError, match="do not match"):
        roster.SignIn(path)("eve", "")  # no password: only her school account signs her in
    with pytest.raises(UserError, match="already has the e-mail eve@school.org"):
        roster.set_password(path, "bob", None, "student", email="eve@school.org")
    with pytest.raises(UserError, match="needs a password or an e-mail address"):
        roster.set_password(path, "bob", None, "student")
    for bad in ("not-an-address", "a@b@c", "x" * 70 + "@school.org"):
        with pytest.raises(UserError, match="is not an e-mail address"):
            roster.set_password(path, "bob", None, "student", email=bad)
    text = path.read_text()
    path.write_text(text.replace('"eve@school.org"', '"ada@school.org"'))
    with pytest.raises(UserError, match="have the same e-mail ada@school.org"):
        roster.load(path)


@pytest.mark.parametrize("named,goes", [
    ("/runs?compare=3%2C4&run=3", "/runs?compare=3%2C4&run=3"), ("/", "/"), ("//evil.example/x", "/"),
    ("https://evil.example/", "/"), ("/runs\r\nSet-Cookie: x=1", "/"), ("/../../etc", "/"), ("/" + "a" * 40, "/"),
    ("/runs?" + "a" * 600, "/"), ("javascript:alert(1)", "/"), ("", "/")])
def test_after_a_sign_in_the_route_opens_only_a_page_of_ours(named, goes):
    from types import SimpleNamespace

    from app import routes

    assert routes._where(SimpleNamespace(query_params={"next": named})) == goes


@pytest.mark.parametrize("headers,signed_in", [
    ({"Sec-Fetch-Site": "same-origin"}, True),
    ({"Sec-Fetch-Site": "cross-site"}, False),
    ({"Sec-Fetch-Site": "same-site"}, False),  # another port or subdomain of the teacher's host
    ({"Sec-Fetch-Site": "none"}, False),  # typed or pasted into the address bar: a link one student sent another
    ({"Referer": "http://testserver/"}, True),  # a browser without Sec-Fetch-Site, from our own page
    ({"Origin": "http://testserver"}, True),
    ({"Referer": "http://testserver:8502/"}, False),  # the same host on another port is another site
    ({"Referer": "https://evil.example/"}, False),
    ({}, False),  # nothing says where it came from: refused
])
def test_the_session_route_takes_a_code_only_from_our_own_page(headers, signed_in):
    import warnings

    from starlette.applications import Starlette

    from app import routes

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from starlette.testclient import TestClient

        client = TestClient(Starlette(routes=routes.ROUTES), follow_redirects=False)
    code = sessions.HANDOFFS.give("a-token")
    response = client.get(f"{routes.START}?code={code}&next=/runs", headers=headers)
    assert response.status_code == 303 and response.headers["location"] == "/runs"
    assert (sessions.COOKIE in response.cookies) == signed_in
    # a code is good once: spent by the sign-in; a refused request leaves it to our own page (a minute at most)
    assert sessions.HANDOFFS.take(code) == (None if signed_in else "a-token")


@pytest.mark.parametrize("origin, host, encrypted, ok", [
    ("https://class.school:8501", "class.school:8501", True, True),
    ("https://CLASS.school:8501", "class.school:8501", True, True),
    ("https://class.school", "class.school:443", True, True),
    ("https://class.school:9000", "class.school:8501", True, False),   # another port of the class's host
    ("http://class.school:8501", "class.school:8501", True, False),    # not what the class serves
    ("https://evil.example:8501", "class.school:8501", True, False),
    (None, "class.school:8501", True, False),                           # a client that names no origin
    ("null", "class.school:8501", True, False),
    ("https://[::1]:8501", "[::1]:8501", True, True),
    ("https://[::1]:9000", "[::1]:8501", True, False),
    ("https://class.school", "class.school", False, True),              # behind a proxy that encrypts
    ("http://localhost:8501", "localhost:8501", False, True),
])
def test_the_websocket_opens_only_from_the_apps_own_origin(origin, host, encrypted, ok):
    from app import routes

    assert routes.own_origin(origin, host, encrypted) is ok


def test_a_token_replayed_from_another_device_opens_nothing(tmp_path):
    key = sessions.secret(tmp_path / "class.secret")
    ada = roster.Person("ada", "teacher", "hash", "")
    token = sessions.Sessions(key, 2.0).issue(ada, "10.0.0.7")
    people = {"ada": ada}
    assert sessions.Sessions(key, 2.0).check(token, people, lambda n: 0.0, "10.0.0.7")[0] == ada
    with pytest.raises(UserError, match=r"^This sign-in was made on another device or network: sign in again\.$"):
        sessions.Sessions(key, 2.0).check(token, people, lambda n: 0.0, "10.0.0.8")
