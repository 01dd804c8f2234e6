"""The teacher's page: who is in the class, a new password for one of them, and the class board switch."""

import pandas as pd
import streamlit as st

import ui
from digitlab import UserError, roster, settings
from digitlab.store import Status

ui.routed()
if not ui.viewer().teacher:  # the router lists this page for teachers only; an address typed by hand ends here
    st.stop()
store = ui.store()
path = settings.load().classroom.roster
st.title("Class")

people = roster.load(path)
counts = {}
for run in store.runs():
    counts.setdefault(run["owner"], {"runs": 0, "active": 0})
    counts[run["owner"]]["runs"] += 1
    counts[run["owner"]]["active"] += run["status"] in (Status.QUEUED, Status.RUNNING)
st.dataframe(pd.DataFrame([{"name": p.name, "role": p.role, **counts.get(p.name, {"runs": 0, "active": 0})}
                           for p in people.values()]), hide_index=True, width="stretch")

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
                st.success(f"{name} has a new password: tell them in person.")
            except UserError as e:
                ui.show_error(e)
with right:
    st.subheader("Class board")
    on = st.toggle("Students see everyone's finished runs and accuracy (read-only)", value=ui.board_on())
    if on != ui.board_on():
        store.set_option("board", str(on))
        st.rerun()
