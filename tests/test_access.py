"""The one access policy: its table spelled out here case by case, what may() and whose() make of it, and no other
module deciding who may do what."""

import ast

import pytest

from digitlab.classroom import access, roster
from digitlab.classroom.access import Action, Reach, Resource
from digitlab.learn.checkpoint import PROJECT

ADA, BOB = roster.Person("ada", "teacher", ""), roster.Person("bob", "student", "")
OWN, ALL, NONE = Reach.OWN, Reach.ALL, Reach.NONE
# A student: their own runs (and models), sweeps, drawings and answers to see, manage and use; lessons only as the
# teacher opens them; nothing of the class's. A teacher: everything, everyone's.
STUDENT = {
    Resource.RUN: {Action.SEE: OWN, Action.MANAGE: OWN, Action.USE: OWN, Action.TEACH: NONE},
    Resource.SWEEP: {Action.SEE: OWN, Action.MANAGE: OWN, Action.USE: OWN, Action.TEACH: NONE},
    Resource.DRAWING: {Action.SEE: OWN, Action.MANAGE: OWN, Action.USE: OWN, Action.TEACH: NONE},
    Resource.ANSWER: {Action.SEE: OWN, Action.MANAGE: OWN, Action.USE: OWN, Action.TEACH: NONE},
    Resource.LESSON: {Action.SEE: NONE, Action.MANAGE: NONE, Action.USE: NONE, Action.TEACH: NONE},
    Resource.CLASS: {Action.SEE: NONE, Action.MANAGE: NONE, Action.USE: NONE, Action.TEACH: NONE},
}
CASES = [(role, action, resource, STUDENT[resource][action] if role == "student" else ALL)
         for role in ("student", "teacher") for resource in Resource for action in Action]


@pytest.mark.parametrize("role, action, resource, expected", CASES, ids=lambda v: str(v))
def test_the_table(role, action, resource, expected):
    person = roster.Person("bob", role, "")
    assert access.reach(person, action, resource) is expected
    assert access.may(person, action, resource, "bob") == (expected is not NONE)
    assert access.may(person, action, resource, "cy") == (expected is ALL)
    if expected is NONE:
        with pytest.raises(ValueError):
            access.whose(person, action, resource)
    else:
        assert access.whose(person, action, resource) == (None if expected is ALL else "bob")


def test_the_single_user_reaches_everything_including_runs_with_no_owner():
    assert all(access.may(roster.LOCAL, a, r, "") and access.may(roster.LOCAL, a, r, "bob")
               for a in Action for r in Resource)
    assert not access.may(BOB, Action.SEE, Resource.RUN, "")  # the machine's runs are not a student's
    assert access.whose(ADA, Action.SEE, Resource.RUN) is None and access.whose(BOB, Action.USE, Resource.RUN) == "bob"


def test_the_queue_holds_a_student_to_their_own_runs_and_lets_a_teacher_use_any(tmp_path, monkeypatch):
    from digitlab import settings
    from digitlab.runs import admission

    people = tmp_path / "roster.toml"
    roster.set_password(people, "ada", "teacher-pass-1", "teacher")
    roster.set_password(people, "bob", "student-pass-1", "student")
    (tmp_path / "class.toml").write_text('[classroom]\nenabled = true\nroster = "roster.toml"\nplain_http = true\n')
    monkeypatch.setenv(settings.ENV, str(tmp_path / "class.toml"))
    assert admission.held_to("bob") == "bob" and admission.held_to("ada") is None
    assert admission.held_to("gone") == "gone"  # removed from the roster: a student's reach, never more
    assert admission.held_to("") is None  # the machine's own CLI


def test_no_other_module_decides_who_may_do_what():
    """A person's role decides in access.py alone (and the roster, which keeps it): elsewhere a page, the CLI or the
    core asks access, or app.ui's may / may_see / may_manage / owner_filter, which ask it. A role is still said (the
    sign-in, the Class page) and stamped into a session token, never compared to decide."""
    deciders = []
    for tree in ("digitlab", "app", "pages"):
        for path in (PROJECT / tree).rglob("*.py"):
            if path.name in ("access.py", "roster.py"):
                continue
            for node in ast.walk(ast.parse(path.read_text())):
                person_teacher = (isinstance(node, ast.Attribute) and node.attr == "teacher"
                                  and not (isinstance(node.value, ast.Name) and node.value.id in ("config", "sources")))
                role_compared = isinstance(node, ast.Compare) and any(
                    isinstance(side, ast.Attribute) and side.attr == "role" for side in (node.left, *node.comparators))
                if person_teacher or role_compared:
                    deciders.append(f"{path.relative_to(PROJECT)}:{node.lineno}")
    # tables.class_rows lists the students of the roster on the Class page (a teacher's page): who is in a list, not
    # who may see it
    assert [d.split(":")[0] for d in deciders] == ["digitlab/runs/tables.py"], deciders
