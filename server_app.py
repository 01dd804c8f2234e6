"""digitlab with its own routes (the session cookie's, app/routes.py): what `digitlab serve` runs in class mode, as
`streamlit run server_app.py`. It serves streamlit_app.py; school accounts (st.login) get their settings here."""

from pathlib import Path

import streamlit as st
from starlette.middleware import Middleware

from app import routes
from digitlab import settings
from digitlab.classroom import sessions

routes.served = True
s = settings.current()
oidc = s.classroom.oidc if s.classroom.enabled else None
secrets = {}
if oidc is not None:  # st.login's own settings, from ours: no secrets.toml to keep in step
    secrets["auth"] = {"redirect_uri": oidc.redirect_uri,
                       "cookie_secret": sessions.secret(settings.secret_file(s, "secret")).decode(),
                       "client_id": oidc.client_id, "client_secret": oidc.client_secret,
                       "server_metadata_url": oidc.server_metadata_url}
app = st.App(str(Path(__file__).resolve().parent / "streamlit_app.py"), routes=routes.ROUTES, secrets=secrets or None,
             middleware=[Middleware(routes.OwnOrigin)])  # the session's websocket only from our own origin
