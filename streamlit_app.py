"""digitlab: the router. Each page lives in app_pages/."""

import streamlit as st

st.set_page_config(page_title="digitlab", page_icon=":material/draw:", layout="wide")
nav = st.navigation([
    st.Page("app_pages/draw.py", title="Draw", icon=":material/draw:", default=True),
    st.Page("app_pages/train.py", title="Train", icon=":material/model_training:"),
    st.Page("app_pages/runs.py", title="Runs", icon=":material/monitoring:"),
    st.Page("app_pages/data.py", title="Data", icon=":material/dataset:"),
])
nav.run()
