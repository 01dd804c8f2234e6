"""Who may do what, in one table: role x action x resource -> whose (everyone's, their own, or none). The pages
(through app/ui.py), the queue (what a run may start from or learn from), the report, the export and the CLI all ask
here. The machine's own user (one person on localhost, the CLI) is roster.LOCAL, a teacher: everything."""

from enum import StrEnum

from digitlab.classroom.roster import Person


class Action(StrEnum):
    SEE = "see"        # find it in a list, look at it in depth, report on it, export or download it
    MANAGE = "manage"  # cancel it, delete it, relabel it
    USE = "use"        # start a run from it, learn from it, read a drawing with it
    TEACH = "teach"    # what only the class's teacher does with it: open lessons, the Class page, prepare MNIST


class Resource(StrEnum):
    RUN = "run"          # a run, and the model its checkpoint holds
    SWEEP = "sweep"
    DRAWING = "drawing"  # a saved digit of My digits
    ANSWER = "answer"    # an answer to a lesson's question
    LESSON = "lesson"    # every lesson, opened or not (students see the ones their teacher opened)
    CLASS = "class"      # the roster, the class board's switch, the data set the class trains on


class Reach(StrEnum):
    ALL = "everyone's"
    OWN = "their own"
    NONE = "none"


_OWNED = (Resource.RUN, Resource.SWEEP, Resource.DRAWING, Resource.ANSWER)
TABLE: dict[str, dict[tuple[Action, Resource], Reach]] = {
    "teacher": {(a, r): Reach.ALL for a in Action for r in Resource},
    "student": {(a, r): Reach.OWN if a is not Action.TEACH and r in _OWNED else Reach.NONE
                for a in Action for r in Resource},
}


def reach(person: Person, action: Action, resource: Resource) -> Reach:
    """How far a person's role reaches for an action on a kind of resource."""
    return TABLE[person.role][action, resource]


def may(person: Person, action: Action, resource: Resource, owner: str = "") -> bool:
    """Whether person may do action to one resource of owner's."""
    r = reach(person, action, resource)
    return r is Reach.ALL or (r is Reach.OWN and owner == person.name)


def whose(person: Person, action: Action, resource: Resource) -> str | None:
    """Whose resources of a kind person may act on, for a list: None (everyone's) or their own name."""
    r = reach(person, action, resource)
    if r is Reach.NONE:
        raise ValueError(f"a {person.role} may {action} no {resource}: ask may() instead")
    return None if r is Reach.ALL else person.name
