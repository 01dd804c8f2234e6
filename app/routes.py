"""The two routes digitlab adds to Streamlit's server (server_app.py mounts them): the session cookie is set and
cleared here, over HTTP, so that it is HttpOnly and no script on any page can read it."""

import re
import urllib.parse

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


def from_our_page(request) -> bool:
    """Whether a navigation came from a page of this very app. Browsers say so in Sec-Fetch-Site; one that does not
    send it must name our own origin (host and port: another port of the same host is another site) in Origin or
    Referer; a request with none of them is refused."""
    site = request.headers.get("sec-fetch-site")
    if site is not None:
        return site == "same-origin"
    said = request.headers.get("origin") or request.headers.get("referer") or ""
    return bool(said) and urllib.parse.urlsplit(said).netloc == request.url.netloc


DEFAULT_PORTS = {"http": "80", "https": "443", "ws": "80", "wss": "443"}


def _origin(scheme: str, netloc: str) -> tuple[str, str]:
    """(host, port) of an address, its scheme's default port spelled out; lowercase."""
    host, _, port = netloc.lower().rpartition(":")
    if not host or not port.isdigit() or netloc.endswith("]"):  # no port (or an IPv6 address without one)
        host, port = netloc.lower(), DEFAULT_PORTS.get(scheme, "")
    return host, port


def own_origin(origin: str | None, host: str | None, encrypted: bool) -> bool:
    """Whether a websocket's Origin is this very app: its scheme, host and port. Cookies are not kept apart by port,
    and Streamlit itself accepts any port of an allowed host; a page on another port of the class's host is another
    site, and a client that names no origin is refused."""
    if not origin or not host:
        return False
    said = urllib.parse.urlsplit(origin)
    if said.scheme not in (("https",) if encrypted else ("http", "https")):  # behind a proxy that encrypts, https
        return False
    return _origin(said.scheme, said.netloc) == _origin(said.scheme, host)


class OwnOrigin:
    """ASGI middleware (server_app.py): the app's websocket, the line that drives a person's session, opens only
    from the app's own page."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] == "websocket":
            headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
            if not own_origin(headers.get("origin"), headers.get("host"), encrypted()):
                await send({"type": "websocket.close", "code": 1008})  # refused before the handshake: HTTP 403
                return
        await self.app(scope, receive, send)


async def start(request):
    """Trade a one-time code (from the sign-in page) for the session cookie, then open the page asked for."""
    response = RedirectResponse(_where(request), status_code=303)
    # Only our own page sends a browser here: a link from elsewhere (another site, a chat) could else sign a
    # person in as whoever made the code.
    token = sessions.HANDOFFS.take(request.query_params.get("code")) if from_our_page(request) else None
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
