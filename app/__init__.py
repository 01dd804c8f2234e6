"""The app's own code that pages share (Streamlit lives here and in pages/, never in digitlab/): `ui` (the router,
the cached store, models and data, who is looking), `components` (the drawing pad and its answer), `views` (what
several pages show: inside the network, the live runs) and `forms` (the Train form)."""
