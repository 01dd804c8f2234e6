"""The course, one lesson at a time: what to do (one click), what to watch, and questions checked against your runs."""

import streamlit as st

from app import ui
from digitlab import UserError, markdown
from digitlab.course import lessons, plots
from digitlab.datasets import data
from digitlab.runs import admission
from digitlab.classroom.access import Action, Resource
from digitlab.learn.presets import preset

ui.routed()
st.title("Lessons")
store = ui.store()
me = ui.viewer().name
mine = me if ui.class_mode() else None  # whose runs answer: yours in a class, every run on your own machine
try:
    shipped = lessons.all_lessons()
except UserError as e:
    ui.show_error(e)
    st.stop()
opened = store.open_lessons()
if not ui.may(Action.SEE, Resource.LESSON):  # a student: the lessons the teacher opened
    shipped = [lesson for lesson in shipped if opened is not None and lesson.id in opened]
    named = st.query_params.get("lesson", "")
    if named and named not in {str(lesson.number) for lesson in shipped}:
        st.warning(f"Lesson {named[:8]} is not open: your teacher opens lessons one at a time, on the Class page.",
                   icon=":material/link_off:")
    if not shipped:
        st.info("Your teacher has not opened a lesson yet: they open them one at a time on the Class page.")
        st.stop()
given = {(a["lesson"], a["question"]): a for a in store.answers(me)}


def done(lesson) -> bool:
    return all(given.get((lesson.id, q.id), {}).get("correct") for q in lesson.questions)


labels = {f"{lesson.number}. {lesson.title}{' ✓' if done(lesson) else ''}": lesson for lesson in shipped}
wanted = st.query_params.get("lesson", "")
start = next((k for k, lesson in enumerate(shipped) if str(lesson.number) == wanted), 0)
lesson = labels[st.selectbox("Lesson", list(labels), index=start, key="lesson",
                             help="Each lesson: what to do, what to watch, and questions your own runs answer.")]
ui.set_address(lesson=str(lesson.number))
right = sum(bool(given.get((lesson.id, q.id), {}).get("correct")) for q in lesson.questions)
st.progress(right / len(lesson.questions), text=f"{right} of {len(lesson.questions)} questions answered right")

st.markdown(lesson.text)
if lesson.course:
    st.info(lesson.course, icon=":material/school:")

st.subheader("What to do")
missing = lessons.missing_runs(lesson, store, mine)
if lesson.launch:
    names = ", ".join(lesson.launch)
    if st.button(f"Queue this lesson's {len(lesson.launch)} run{'s' * (len(lesson.launch) > 1)} ({names})",
                 type="primary" if missing else "secondary", icon=":material/play_arrow:", key="lesson_launch"):
        try:
            ids = admission.queue(store, [preset(name) for name in lesson.launch], owner=me)
            ui.supervisor().wake()
            st.success(f"Queued runs {', '.join(map(str, ids))}: watch them train on the Train page.")
        except UserError as e:
            ui.show_error(e)
page = {"data": "data.py", "train": "train.py", "runs": "runs.py", "draw": "draw.py", "digits": "digits.py",
        "inside": "inside.py"}[lesson.page]
to_train = {"lesson": str(lesson.number), **({"preset": lesson.launch[0]} if lesson.launch else {})}
st.page_link(f"pages/{page}", label=f"Open the {lesson.page.capitalize()} page for this lesson"
             + (" (only its settings in view)" if lesson.page == "train" and lesson.controls else ""),
             icon=":material/arrow_forward:", query_params=to_train if lesson.page == "train" else None)
if lesson.watch:
    st.markdown(f"**What to watch.** {lesson.watch}")
to_runs = lessons.runs_link(lesson, store, mine)
if to_runs and lesson.page != "runs":
    shown = " and ".join(lessons.SPLITS[x] for x in lesson.splits)
    st.page_link("pages/runs.py", label=f"Compare this lesson's runs on the Runs page ({shown})",
                 icon=":material/monitoring:", query_params=to_runs)
if missing:
    st.caption(f"The questions read runs you have not finished yet with this lesson's settings: {', '.join(missing)}.")

def mnist():
    found = ui.dataset()
    if found is None:
        raise UserError(data.not_prepared())
    return found


st.subheader("Questions")
for q in lesson.questions:
    key = f"{lesson.id}/{q.id}"
    said = given.get((lesson.id, q.id))
    with st.container(border=True):
        st.markdown(f"**{markdown.as_text(q.ask)}**")
        drawn, ids, course = lessons.figure_runs(q, store, mine)
        fig = plots.deciding(q.check, drawn, split=q.split, target=q.target, course=course,
                             colors=[plots.run_color(i) for i in ids]) if drawn else None
        if fig is not None:  # the figure that decides it, from the learner's own runs (the course's as open circles)
            st.plotly_chart(fig, width="stretch", key=f"fig:{key}")
        if q.kind == "choice":
            options = list(q.choices)
            answer = st.radio(q.ask, options, format_func=q.choices.get, key=f"a:{key}", horizontal=True,
                              label_visibility="collapsed",
                              index=options.index(said["answer"]) if said and said["answer"] in options else None)
        else:
            answer = st.text_input(q.ask, key=f"a:{key}", max_chars=lessons.MAX_ANSWER, label_visibility="collapsed",
                                   value=said["answer"] if said else "", placeholder="a number")
        if st.button("Check", key=f"check:{key}"):
            try:
                marked = lessons.answer(lesson, q, answer if answer is not None else "", store, me, mine, mnist)
                st.session_state[f"marked:{key}"] = marked
                st.session_state.pop(f"asked:{key}", None)
                st.rerun()
            except lessons.Missing as e:
                st.warning(str(e), icon=":material/hourglass_empty:")
            except UserError as e:
                ui.show_error(e)
        marked = st.session_state.get(f"marked:{key}")
        if marked is not None and marked.correct:
            st.success(f"Right: {markdown.as_text(marked.expected)}. {markdown.as_text(marked.reason)}",
                       icon=":material/check:")
        elif marked is not None and lessons.shows_answer(marked, st.session_state.get(f"asked:{key}", False)):
            st.error(f"Not quite: the answer is {markdown.as_text(marked.expected)}. {markdown.as_text(marked.reason)}",
                     icon=":material/close:")
        elif marked is not None:  # a first wrong answer: where to look, not the answer
            st.warning(f"Not quite. Hint: {markdown.as_text(marked.hint)}", icon=":material/lightbulb:")
            if st.button("Show me the answer", key=f"show:{key}"):
                st.session_state[f"asked:{key}"] = True
                st.rerun()
        elif said:
            st.caption(f"You answered {markdown.as_text(q.choices.get(said['answer'], said['answer']))}: "
                       f"{'right' if said['correct'] else 'not right yet'} ({said['tries']} "
                       f"tr{'ies' if said['tries'] > 1 else 'y'}).")
