"""Class mode's people: argon2 hashes only, one sentence for any failure, a wait after repeated failures."""

import stat

import pytest

from digitlab import UserError
from digitlab.runs.store import Store
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


@pytest.mark.parametrize("kept", ["in the store", "in memory (no store, or a full disk)"])
def test_repeated_failures_make_that_name_wait_on_that_device(class_roster, tmp_path, kept):
    check = roster.SignIn(class_roster, Store(tmp_path / "runs") if kept == "in the store" else None)
    for _ in range(roster.MOST["pair"]):
        with pytest.raises(UserError, match="do not match"):
            check("bob", "guess-guess", "10.0.0.9")
    with pytest.raises(UserError, match=r"^Too many failed sign-ins for this name from this device: wait 15 min, then"):
        check("bob", "student-pass-1", "10.0.0.9")  # even the right password waits
    assert check("bob", "student-pass-1", "10.0.0.5").name == "bob"  # bob's own device is not held
    assert check("ada", "teacher-pass-1", "10.0.0.9").name == "ada"  # nor are the others' names


def test_failures_are_counted_in_the_store_across_servers_and_restarts(class_roster, tmp_path):
    store = Store(tmp_path / "runs")
    one, two = roster.SignIn(class_roster, store), roster.SignIn(class_roster, Store(tmp_path / "runs"))
    for k in range(roster.MOST["pair"]):
        with pytest.raises(UserError, match="do not match"):
            (one, two)[k % 2]("bob", "guess-guess", "10.0.0.9")
    for door in (one, two, roster.SignIn(class_roster, Store(tmp_path / "runs"))):  # the third: after a restart
        with pytest.raises(UserError, match="Too many failed sign-ins for this name from this device"):
            door("bob", "guess-again", "10.0.0.9")


def test_parallel_guesses_are_counted_before_any_is_checked(class_roster, tmp_path):
    import concurrent.futures

    door = roster.SignIn(class_roster, Store(tmp_path / "runs"))

    def guess(k: int) -> str:
        try:
            door("bob", f"guess-{k:04d}", "10.0.0.9")
        except UserError as e:
            return "checked" if "do not match" in str(e) else "held"
        return "in"

    with concurrent.futures.ThreadPoolExecutor(12) as pool:
        said = list(pool.map(guess, range(12)))
    assert said.count("checked") == roster.MOST["pair"] and said.count("held") == 12 - roster.MOST["pair"]


def test_one_device_cannot_go_through_the_class(class_roster, tmp_path):
    door = roster.SignIn(class_roster, Store(tmp_path / "runs"))
    for k in range(roster.MOST["client"]):
        with pytest.raises(UserError, match="do not match"):
            door(f"name{k}", "guess-guess", "10.0.0.9")
    with pytest.raises(UserError, match=r"^Too many failed sign-ins from this device: wait 15 min"):
        door("bob", "student-pass-1", "10.0.0.9")
    assert door("bob", "student-pass-1", "10.0.0.2").name == "bob"


def test_guesses_at_the_teachers_name_do_not_keep_the_teacher_out(class_roster, tmp_path):
    store = Store(tmp_path / "runs")
    door = roster.SignIn(class_roster, store)
    assert door("ada", "teacher-pass-1", "10.0.0.1").teacher  # her laptop, known from before
    for k in range(roster.MOST["name"]):  # from many devices, each under its own limit
        with pytest.raises(UserError, match="do not match"):
            door("ada", "guess-guess", f"10.6.{k // 4}.{k % 4}")
    with pytest.raises(UserError, match=r"^Too many failed sign-ins for this name from devices it has not signed in "
                                        r"from: sign in from a device you used before, or ask your teacher"):
        door("ada", "teacher-pass-1", "10.0.0.77")  # a device she never used waits
    assert door("ada", "teacher-pass-1", "10.0.0.1").teacher  # hers does not
    assert store.let_in("ada") == roster.MOST["name"]  # `digitlab roster unlock ada`
    assert door("ada", "teacher-pass-1", "10.0.0.77").teacher


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


def test_roster_unlock_lets_a_person_in(class_roster, runs, capsys):
    door = roster.SignIn(class_roster, Store(runs))
    for _ in range(roster.MOST["pair"]):
        with pytest.raises(UserError, match="do not match"):
            door("bob", "guess-guess", "10.0.0.9")
    assert main(["roster", "unlock", "bob", "--roster", str(class_roster)]) == 0
    assert "bob may sign in again (5 failed sign-in(s) forgotten)" in capsys.readouterr().out
    assert door("bob", "student-pass-1", "10.0.0.9").name == "bob"
    assert main(["roster", "unlock", "nobody", "--roster", str(class_roster)]) == 2
    assert "There is no 'nobody' in the roster" in capsys.readouterr().err
