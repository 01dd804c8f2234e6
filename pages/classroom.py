"""The teacher's page: who is in the class, a new password for one of them, the class board switch, and the
lessons: which are open to the class, and each student's progress and answers."""

import pandas as pd
import streamlit as st

from app import ui
from digitlab import UserError, settings
from digitlab.classroom import roster
from digitlab.course import lessons
from digitlab.runs import tables
from digitlab.classroom.access import Action, Resource

ui.routed()
if not ui.may(Action.TEACH, Resource.CLASS):  # the router lists this page for teachers only; an address typed by hand ends here
    st.stop()
store = ui.store()
path = settings.current().classroom.roster
st.title("Class")

people = roster.load(path)
limits = settings.current().limits
st.dataframe(pd.DataFrame(tables.class_rows(store, people.values(), int(limits.stored_mb_per_person * 2**20))),
             hide_index=True, width="stretch",
             column_config={"stored MB": st.column_config.NumberColumn(
                 format="%.1f", help=f"Their drawings and their runs' files, of the {limits.stored_mb_per_person:g} "
                                     "MB each person may keep (limits.stored_mb_per_person).")})

left, right = st.columns(2, gap="large")
with left:
    st.subheader("A new password")
    with st.form("reset", clear_on_submit=True):
        name = st.selectbox("Person", sorted(people))
        first = st.text_input("New password", type="password", max_chars=roster.MAX_PASSWORD)
        again = st.text_input("Again", type="password", max_chars=roster.MAX_PASSWORD)
        if st.form_submit_button("Set the password", type="primary"):
            try:
                if first != again:
                    raise UserError("The two passwords differ: type the same one twice.")
                roster.set_password(path, name, first)
                store.let_in(name)  # their failed sign-ins are forgotten with the old password
                st.success(f"{name} has a new password: tell them in person.")
            except UserError as e:
                ui.show_error(e)
with right:
    st.subheader("Class board")
    was = ui.board_on()
    on = st.toggle("Students see everyone's finished runs and accuracy (read-only)", value=was)
    if on != was:
        store.set_option("board", str(on))
        st.rerun()

st.subheader("Lessons")
try:
    shipped = lessons.all_lessons()
except UserError as e:
    ui.show_error(e)
    st.stop()
opened = set(store.open_lessons() or [])
st.caption("Students see only the lessons you open: open one at a time as the class gets to it.")
columns = st.columns(4)
for k, lesson in enumerate(shipped):
    on = columns[k % 4].toggle(f"{lesson.number}. {lesson.title}", value=lesson.id in opened, key=f"open:{lesson.id}")
    if on != (lesson.id in opened):
        store.set_open_lessons(sorted(opened ^ {lesson.id}))
        st.rerun()
st.dataframe(pd.DataFrame(tables.lesson_rows(store, people.values(), shipped)), hide_index=True, width="stretch")
given = store.answers()
if given:
    with st.expander(f"Every answer given ({len(given)})"):
        asks = {(lesson.id, q.id): (lesson, q) for lesson in shipped for q in lesson.questions}
        st.dataframe(pd.DataFrame([{"student": a["owner"], "lesson": asks[(a["lesson"], a["question"])][0].number,
                                    "question": asks[(a["lesson"], a["question"])][1].ask,
                                    "answer": asks[(a["lesson"], a["question"])][1].choices.get(a["answer"], a["answer"]),
                                    "right": a["correct"], "tries": a["tries"]}
                                   for a in given if (a["lesson"], a["question"]) in asks]),
                     hide_index=True, width="stretch")
