"""Class mode's people: argon2 hashes only, one sentence for any failure, a wait after repeated failures."""

import stat

import pytest

from digitlab import UserError
from digitlab.classroom import roster
from digitlab.cli import main


def test_passwords_are_stored_only_as_salted_hashes(class_roster):
    text = class_roster.read_text()
    assert "teacher-pass-1" not in text and "student-pass-1" not in text and text.count("$argon2id$") == 2
    assert stat.S_IMODE(class_roster.stat().st_mode) == 0o600
    people = roster.load(class_roster)
    assert {p.name: p.role for p in people.values()} == {"ada": "teacher", "bob": "student"}
    roster.set_password(class_roster, "cy", "teacher-pass-1", "student")  # same password, different salt
    again = roster.load(class_roster)
    assert again["cy"].password_hash != again["ada"].password_hash


def test_sign_in(class_roster):
    check = roster.SignIn(class_roster)
    assert check("ada", "teacher-pass-1").teacher and not check(" Bob ", "student-pass-1").teacher
    wrong = "That name and password do not match"
    with pytest.raises(UserError, match=wrong):
        check("ada", "student-pass-1")
    with pytest.raises(UserError, match=wrong):  # the same sentence: it never says who exists
        check("nobody", "whatever-123")


def test_removed_reset_or_moved_people_are_signed_out(class_roster):
    check = roster.SignIn(class_roster)
    ada, bob = check("ada", "teacher-pass-1"), check("bob", "student-pass-1")
    assert check.current(ada) and check.current(bob)
    roster.remove(class_roster, "bob")
    assert not check.current(bob) and check.current(ada)
    roster.set_password(class_roster, "ada", "a-new-pass-22")  # the teacher's password was reset
    assert not check.current(ada)
    ada = check("ada", "a-new-pass-22")
    assert check.current(ada)
    class_roster.write_text("[people\n")  # a damaged roster keeps nobody signed in
    assert not check.current(ada)


def test_repeated_failures_make_that_name_wait(class_roster):
    check = roster.SignIn(class_roster)
    for _ in range(roster.FAILURES_ALLOWED):
        with pytest.raises(UserError, match="do not match"):
            check("bob", "guess-guess")
    with pytest.raises(UserError, match=r"Too many failed sign-ins for this name: wait \d+ seconds"):
        check("bob", "student-pass-1")  # even the right password waits
    assert check("ada", "teacher-pass-1").name == "ada"  # others are not locked out


@pytest.mark.parametrize("name,password,message", [
    ("Ada Lovelace", "long-enough", "is not a valid name"), ("../etc", "long-enough", "is not a valid name"),
    ("x" * 40, "long-enough", "is not a valid name"), ("dan", "short", "needs 8 to 256 characters"),
    ("dan", "p" * 300, "needs 8 to 256 characters"), ("dan", "long-enough", "give a role"),
])
def test_bad_names_and_passwords(class_roster, name, password, message):
    with pytest.raises(UserError, match=message):
        roster.set_password(class_roster, name, password)


def test_a_damaged_roster_is_one_sentence(tmp_path):
    (tmp_path / "r.toml").write_text('[people.ada]\nrole = "admin"\npassword = "x"\n')
    with pytest.raises(UserError, match="needs a role"):
        roster.load(tmp_path / "r.toml")
    (tmp_path / "bad.toml").write_text("[people\n")
    with pytest.raises(UserError, match="is not a readable TOML file"):
        roster.load(tmp_path / "bad.toml")


def test_the_roster_command(tmp_path, monkeypatch, capsys):
    path = tmp_path / "class" / "roster.toml"
    monkeypatch.setattr("sys.stdin", __import__("io").StringIO("first-password\n"))
    assert main(["roster", "add", "ada", "--role", "teacher", "--roster", str(path), "--password-stdin"]) == 0
    monkeypatch.setattr("sys.stdin", __import__("io").StringIO("second-password\n"))
    assert main(["roster", "reset", "ada", "--roster", str(path), "--password-stdin"]) == 0
    assert roster.SignIn(path)("ada", "second-password").teacher
    assert main(["roster", "list", "--roster", str(path)]) == 0 and "ada" in capsys.readouterr().out
    assert main(["roster", "remove", "ada", "--roster", str(path)]) == 0
    assert roster.load(path) == {}
    assert main(["roster", "add", "bob", "--roster", str(path), "--password-stdin"]) == 2
    assert "needs --role" in capsys.readouterr().err
