"""Commands for running the app and its class: serve, worker, supervise, restore, roster."""

import os
import sys

from digitlab import UserError


def add(command) -> None:
    v = command("serve", "start the app (class mode when the settings say so) on the address the settings give",
                cmd_serve)
    v.add_argument("--port", type=int, default=8501)
    r = command("roster", "the people of a class: add one, reset a password, remove one, let one in after failed "
                "sign-ins, list them", cmd_roster)
    r.add_argument("action", choices=("add", "reset", "remove", "unlock", "list"))
    r.add_argument("name", nargs="?", help="a name: 1 to 32 lowercase letters, digits, '.', '_' or '-'")
    r.add_argument("--role", choices=("student", "teacher"), help="with add: the person's role")
    r.add_argument("--roster", help="the roster file (default: classroom.roster in the settings)")
    r.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    r.add_argument("--email", help="with add or reset: the address a school account signs them in with")
    r.add_argument("--no-password", action="store_true", help="with add: no password (a school account only)")
    command("worker", "drain the queue of runs in one slot (the supervisor starts it)", cmd_worker).add_argument(
        "--slot", type=int, default=0, help="the worker slot to hold (default 0)")
    command("supervise", "keep the queue moving without the app: reap dead workers, fill the slots, back up the store",
            cmd_supervise)
    v = command("restore", "put the newest backup (or BACKUP) in place of a damaged run store", cmd_restore)
    v.add_argument("backup", nargs="?", help="a file in the runs folder's backups/ (default: the newest)")
    v.add_argument("--force", action="store_true", help="replace the store even when it is healthy")


def cmd_serve(a) -> int:
    from digitlab.classroom import serve

    return serve.serve(a.runs, a.data, a.port)


def cmd_roster(a) -> int:
    import getpass

    from digitlab import settings
    from digitlab.classroom import roster

    path = a.roster or settings.current().classroom.roster
    if not path:
        raise UserError("No roster file: give --roster PATH, or set classroom.roster in the settings file.")
    if a.action == "list":
        for person in roster.load(path).values():
            print(f"{person.name:<32} {person.role:<8} {person.email}".rstrip())
        return 0
    if not a.name:
        raise UserError(f"`digitlab roster {a.action}` needs a NAME.")
    if a.action == "remove":
        roster.remove(path, a.name)
        print(f"{a.name} removed from {path}")
        return 0
    if a.action == "unlock":
        return _let_in(a, roster.load(path), a.name, said=True)
    if a.action == "add" and not a.role:
        raise UserError("`digitlab roster add` needs --role student or --role teacher.")
    if a.no_password:
        password = None
    elif a.password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = getpass.getpass(f"password for {a.name}: ")
        if getpass.getpass("again: ") != password:
            raise UserError("The two passwords differ: run the command again.")
    person = roster.set_password(path, a.name, password, a.role, a.email)
    what = "added to" if a.action == "add" else "has a new password in" if password else "changed in"
    print(f"{person.name} ({person.role}{', ' + person.email if person.email else ''}) {what} {path}")
    return _let_in(a, {person.name: person}, person.name, said=True) if a.action == "reset" else 0


def _let_in(a, people: dict, name: str, said: bool) -> int:
    """Forget the failed sign-ins for name in the class's run store (a new password, or `roster unlock`)."""
    from digitlab.runs.store import Store

    if name not in people:
        raise UserError(f"There is no {name!r} in the roster: list it with `digitlab roster list`.")
    forgotten = Store(a.runs).let_in(name)
    if said:
        print(f"{name} may sign in again ({forgotten} failed sign-in(s) forgotten)")
    return 0


def cmd_worker(a) -> int:
    import torch

    from digitlab.runs.runner import workers
    from digitlab.runs.store import Store

    os.nice(workers.WORKER_NICE)  # training takes the CPU time that the app's answers leave
    torch.set_num_threads(workers.worker_threads())
    workers.work(Store(a.runs), a.data, a.slot)
    return 0


def cmd_supervise(a) -> int:
    from digitlab.runs.runner.supervisor import Supervisor
    from digitlab.runs.store import Store

    sup = Supervisor(Store(a.runs), a.data)
    if not sup.acting():
        raise UserError(f"A supervisor already keeps the run store in {sup.store.root}: stop it first.")
    print(f"supervising {sup.store.root} with {sup.slots} slot(s) ({type(sup.executor).__name__.lower()}); Ctrl-C stops",
          file=sys.stderr)
    sup.run()
    return 0


def cmd_restore(a) -> int:
    from digitlab.runs.store import Store, runs_root

    from digitlab.runs.store.backups import ago, named_runs

    done = Store.restore(a.runs, a.backup, force=a.force)
    print(f"restored {runs_root(a.runs) / 'runs.db'} from {done.backup} (taken {ago(done.age)})")
    if done.lost:
        print(f"the backup does not hold {named_runs(done.lost)}: their folders are kept, but the store no longer lists them")
    if done.moved_to:
        print(f"the store it replaced is kept as {done.moved_to} (with its -wal and -shm, if it had them)")
    return 0
