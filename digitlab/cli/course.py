"""Commands for the course: lessons, and a run taken home (export, report)."""

from pathlib import Path

from digitlab import UserError


def add(command) -> None:
    ls = command("lessons", "the course as lessons: list them, show one, launch its runs, answer its questions",
                 cmd_lessons)
    ls.add_argument("lesson", nargs="?", type=int, help="a lesson's number (none: list them with your progress)")
    ls.add_argument("--launch", action="store_true", help="queue the lesson's runs (the app's workers train them)")
    ls.add_argument("--answer", action="append", default=[], metavar="QUESTION=ANSWER",
                    help="answer a question (its id, shown with the lesson): checked against your runs")
    x = command("export", "a run as plain PyTorch: a script or a notebook that trains the same model the same way",
                cmd_export)
    x.add_argument("run", nargs="?", type=int, help="the run's number (`digitlab runs`)")
    x.add_argument("--preset", help="a preset instead of a run (`digitlab presets`)")
    x.add_argument("--script", metavar="FILE.py", help="write a Python script here")
    x.add_argument("--notebook", metavar="FILE.ipynb", help="write a Jupyter notebook here")
    o = command("report", "the report of some runs to hand in: curves, the course's summary, confusion matrices, "
                          "per-class metrics, mistakes, commands and code, in one HTML file or a PDF", cmd_report)
    o.add_argument("run_ids", nargs="+", type=int, metavar="RUN", help="the runs' numbers (`digitlab runs`)")
    o.add_argument("-o", "--output", required=True, metavar="FILE", help="report.html, or report.pdf (needs Chromium)")


def cmd_lessons(a) -> int:
    from digitlab.course import lessons
    from digitlab.datasets import data
    from digitlab.runs import admission
    from digitlab.learn.presets import preset
    from digitlab.runs.store import Store

    store, shipped = Store(a.runs), lessons.all_lessons()
    given = {(x["lesson"], x["question"]): x for x in store.answers("")}
    if a.lesson is None:
        for lesson in shipped:
            right = sum(given.get((lesson.id, q.id), {}).get("correct", False) for q in lesson.questions)
            print(f"{lesson.number}. {lesson.title:28s} {right}/{len(lesson.questions)} answered right"
                  + (" · done" if right == len(lesson.questions) else ""))
        return 0
    lesson = next((x for x in shipped if x.number == a.lesson), None)
    if lesson is None:
        raise UserError(f"There is no lesson {a.lesson}: choose one of 1 to {len(shipped)} (`digitlab lessons`).")
    if a.launch:
        if not lesson.launch:
            raise UserError(f"Lesson {lesson.number} has no runs to launch: {lesson.title} is done on its page.")
        ids = admission.queue(store, [preset(name) for name in lesson.launch], a.data)
        print(f"queued runs {', '.join(map(str, ids))} ({', '.join(lesson.launch)}): `digitlab worker` or the app "
              "trains them")
        return 0
    wanted = dict(x.split("=", 1) if "=" in x else (x, "") for x in a.answer)
    by_id = {q.id: q for q in lesson.questions}
    unknown = [k for k in wanted if k not in by_id]
    if unknown:
        raise UserError(f"Lesson {lesson.number} has no question {unknown[0]!r}: its questions are "
                        f"{', '.join(by_id)}.")
    if not wanted:
        print(f"{lesson.number}. {lesson.title}\n\n{lesson.text.strip()}\n\nWatch: {lesson.watch.strip()}")
        if lesson.course:
            print(lesson.course)
        if lesson.launch:
            print(f"Runs: {', '.join(lesson.launch)} (`digitlab lessons {lesson.number} --launch`)")
        for q in lesson.questions:
            said = given.get((lesson.id, q.id))
            choices = f" [{' | '.join(q.choices.values())}]" if q.kind == "choice" else ""
            print(f"  {q.id}: {q.ask}{choices}" + (f"  (you: {said['answer']}, "
                                                     f"{'right' if said['correct'] else 'wrong'})" if said else ""))
        missing = lessons.missing_runs(lesson, store, None)
        if missing:
            print(f"Launch first: {', '.join(missing)}")
        return 0
    for qid, answer in wanted.items():
        try:
            marked = lessons.answer(lesson, by_id[qid], answer, store, "", None, mnist=lambda: data.load(a.data))
        except lessons.Missing as e:
            raise UserError(f"Question {qid}: {e} (`digitlab lessons {lesson.number} --launch`)") from None
        if lessons.shows_answer(marked):
            print(f"{qid}: {'right' if marked.correct else 'not quite'}: {marked.expected}. {marked.reason}")
        else:
            print(f"{qid}: not quite. Hint: {marked.hint} (answer again: a second try shows the answer)")
    return 0


def cmd_export(a) -> int:
    from digitlab.course import export
    from digitlab.files import write_atomically
    from digitlab.learn.presets import preset
    from digitlab.runs.store import Store

    if (a.run is None) == (a.preset is None):
        raise UserError("Name one run (its number) or one --preset to export.")
    if not a.script and not a.notebook:
        raise UserError("Say where it goes: --script FILE.py, --notebook FILE.ipynb, or both.")
    made = export.of_run(Store(a.runs).get(a.run)) if a.run is not None else \
        dict(config=preset(a.preset), title=f"the {a.preset} preset", checkpoint=f"{a.preset}.pt")
    texts = {path: export.text(path, **made) for path in (a.script, a.notebook) if path}  # both, or neither
    for path, content in texts.items():
        write_atomically(Path(path), lambda f, content=content: f.write(content.encode()))
        print(f"wrote {path}")
    for line in export.left_out(made["config"]):
        print(f"left out: {line}")
    return 0


def cmd_report(a) -> int:
    from digitlab.course import report
    from digitlab.runs.store import Store

    path = report.save(Store(a.runs), a.run_ids, a.output, root=a.data)
    print(f"wrote {path}")
    return 0
