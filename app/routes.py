"""The two routes digitlab adds to Streamlit's server (server_app.py mounts them): the session cookie is set and
cleared here, over HTTP, so that it is HttpOnly and no script on any page can read it."""

import re

from starlette.responses import RedirectResponse
from starlette.routing import Route
from streamlit import config

from digitlab import settings
from digitlab.classroom import sessions

START, END = "/session/start", "/session/end"
served = False  # set by server_app.py: whether this process's server has these routes
_NEXT = re.compile(r"/[a-z_]{0,32}(\?[A-Za-z0-9_=&:,.%+-]{0,512})?")  # one of our pages, with its query


def encrypted() -> bool:
    return bool(config.get_option("server.sslCertFile"))


def _flags() -> dict:
    """Every cookie of ours: for the whole app, out of scripts' reach, over HTTPS only when it is served so."""
    return {"path": "/", "httponly": True, "secure": encrypted()}


def _where(request) -> str:
    """Where to go after: one of this app's own pages, never another site."""
    target = request.query_params.get("next", "/")
    return target if _NEXT.fullmatch(target) else "/"


async def start(request):
    """Trade a one-time code (from the sign-in page) for the session cookie, then open the page asked for."""
    response = RedirectResponse(_where(request), status_code=303)
    # Only our own page sends a browser here: a link from elsewhere (another site, a chat) could else sign a
    # person in as whoever made the code. Browsers say where a navigation came from in Sec-Fetch-Site.
    ours = request.headers.get("sec-fetch-site", "same-origin") == "same-origin"
    token = sessions.HANDOFFS.take(request.query_params.get("code")) if ours else None
    if token is not None:
        hours = settings.current().classroom.session_hours
        response.set_cookie(sessions.COOKIE, token, max_age=int(hours * 3600), samesite="strict", **_flags())
    response.headers["Cache-Control"] = "no-store"
    return response


async def end(request):
    """Forget this browser's session cookie (signing out has already ended the session itself, everywhere)."""
    response = RedirectResponse("/", status_code=303)
    response.delete_cookie(sessions.COOKIE, samesite="strict", **_flags())
    for name in request.cookies:  # a school account's (st.login's) identity cookie, and its chunks
        if name.startswith("_streamlit_user"):
            response.delete_cookie(name, samesite="lax", **_flags())
    response.headers["Cache-Control"] = "no-store"
    return response


ROUTES = [Route(START, start, methods=["GET"]), Route(END, end, methods=["GET"])]
