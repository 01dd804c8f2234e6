"""The teacher's page: who is in the class, a new password for one of them, and the class board switch."""

import pandas as pd
import streamlit as st

from app import ui
from digitlab import UserError, roster, settings, tables

ui.routed()
if not ui.viewer().teacher:  # the router lists this page for teachers only; an address typed by hand ends here
    st.stop()
store = ui.store()
path = settings.current().classroom.roster
st.title("Class")

people = roster.load(path)
st.dataframe(pd.DataFrame(tables.class_rows(store, people.values())), hide_index=True, width="stretch")

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
    was = ui.board_on()
    on = st.toggle("Students see everyone's finished runs and accuracy (read-only)", value=was)
    if on != was:
        store.set_option("board", str(on))
        st.rerun()
