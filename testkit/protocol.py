"""A Streamlit session without a browser: the app's own websocket protocol, spoken from Python.

For the server's share of a class's load (the students' browsers run on their own machines): a session opens a page
as the browser does (a BackMsg rerun_script on /_stcore/stream), sends a component's new state as the browser's widget
manager does (a rerun of the fragment that holds it), and follows the page's st.fragment(run_every=) reruns on a timer,
as the browser does. It draws nothing: what it measures is the time from a message sent to the answer received.
"""

import asyncio
import base64
import contextlib
import io
import json
import time

import websockets
from PIL import Image, ImageDraw
from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
from streamlit.proto.WidgetStates_pb2 import WidgetState

PREFIX, SIDE = "data:image/png;base64,", 280  # the pad's (app/components/pad.py, not importable from the benchmarks)


class Session:
    """One visitor's session on one page (url_path as in the address: "" for the default page, "train", ...)."""

    def __init__(self, url: str, page: str = "", ssl=None, cookie: str = ""):
        self.url, self.page, self.ssl, self.cookie = url, page, ssl, cookie  # ssl: a context for wss://
        self.page_hash = ""
        self.components: dict[str, dict] = {}  # component name -> {"id", "fragment", "data"} as last received
        self.states: dict[str, str] = {}  # widget id -> the JSON state this session sends with every rerun
        self.finished = 0  # script runs (whole or fragment) the server has finished for this session
        self.auto_reruns: dict[str, tuple] = {}  # fragment id -> (interval, its timer), as the server asked
        self.errors: list[str] = []
        self.paused = False  # while True, the page's timers send nothing (a page in a hidden tab, say)
        self._changed = asyncio.Condition()
        self._tasks: list[asyncio.Task] = []

    async def __aenter__(self):
        ws_url = self.url.replace("http", "ws", 1) + "/_stcore/stream"
        headers = {"Cookie": self.cookie} if self.cookie else None  # a signed-in browser's session cookie
        self.ws = await websockets.connect(ws_url, subprotocols=["streamlit"], max_size=None, open_timeout=120,
                                           origin=self.url, ssl=self.ssl, additional_headers=headers)
        self._tasks.append(asyncio.create_task(self._receive()))
        await self.rerun()
        return self

    async def __aexit__(self, *exc):
        for task in self._tasks + [timer for _, timer in self.auto_reruns.values()]:
            task.cancel()
        with contextlib.suppress(Exception):
            await self.ws.close()

    async def rerun(self, fragment: str = "", auto: bool = False) -> int:
        """Ask for a rerun (of one fragment, or the page) with this session's widget states; the count of finished
        runs before it, for wait_finished."""
        msg = BackMsg()
        state = msg.rerun_script
        state.query_string, state.page_script_hash, state.page_name = "", self.page_hash, self.page
        state.fragment_id, state.is_auto_rerun = fragment, auto
        for widget, value in self.states.items():
            state.widget_states.widgets.append(WidgetState(id=widget, json_value=value))
        before = self.finished
        await self.ws.send(msg.SerializeToString())
        return before

    async def wait_finished(self, before: int, timeout: float = 120) -> None:
        """Until a run finished after the count `before`."""
        await self.wait(lambda s: s.finished > before, timeout)

    async def wait(self, predicate, timeout: float) -> None:
        """Until predicate(this session) holds, checked on every message that changes what the session knows."""
        async with self._changed:
            await asyncio.wait_for(self._changed.wait_for(lambda: predicate(self)), timeout)

    async def set_state(self, component: str, state: dict) -> int:
        """Send a component's new state (its setStateValue), rerunning the fragment that holds it."""
        found = self.components[component]
        self.states[found["id"]] = json.dumps(state)
        return await self.rerun(found["fragment"])

    async def _receive(self) -> None:
        try:
            async for raw in self.ws:
                msg = ForwardMsg.FromString(raw)
                kind = msg.WhichOneof("type")
                if kind == "new_session":
                    self.page_hash = msg.new_session.page_script_hash or self.page_hash
                elif kind == "navigation":
                    self.page_hash = msg.navigation.page_script_hash or self.page_hash
                elif kind == "auto_rerun":  # as the browser: a new interval replaces the fragment's timer
                    fragment, interval = msg.auto_rerun.fragment_id, msg.auto_rerun.interval
                    if self.auto_reruns.get(fragment, (None,))[0] != interval:
                        if fragment in self.auto_reruns:
                            self.auto_reruns[fragment][1].cancel()
                        self.auto_reruns[fragment] = (interval, asyncio.create_task(self._every(fragment, interval)))
                elif kind == "delta" and msg.delta.WhichOneof("type") == "new_element":
                    element = msg.delta.new_element
                    if element.WhichOneof("type") == "bidi_component":
                        c = element.bidi_component
                        self.components[c.component_name] = {"id": c.id, "fragment": msg.delta.fragment_id,
                                                              "data": json.loads(c.json) if c.json else None}
                    elif element.WhichOneof("type") == "exception":
                        self.errors.append(element.exception.message)
                elif kind == "script_finished":
                    self.finished += 1
                else:
                    continue
                async with self._changed:
                    self._changed.notify_all()
        except websockets.ConnectionClosed:
            self.errors.append("the server closed the connection")

    async def _every(self, fragment: str, interval: float) -> None:
        """The browser's timer for a fragment's run_every: a rerun of it every interval seconds."""
        while True:
            await asyncio.sleep(interval)
            if not self.paused:
                await self.rerun(fragment, auto=True)


async def timed(session: Session, component: str, state: dict, answered, timeout: float = 15) -> float:
    """Seconds from sending a component's state to the first message that satisfies answered(session)."""
    t0 = time.perf_counter()
    await session.set_state(component, state)
    await session.wait(answered, timeout)
    return time.perf_counter() - t0


def pad_image(*strokes, width: int = 20) -> str:
    """What the Draw page's pad sends after strokes, each through its points: a PNG data URL of its canvas, white on
    black."""
    image = Image.new("L", (SIDE, SIDE), 0)
    pen = ImageDraw.Draw(image)
    for points in strokes:
        pen.line(points, fill=255, width=width, joint="curve")
        for x, y in (points[0], points[-1]):  # the canvas's round caps
            pen.ellipse((x - width / 2, y - width / 2, x + width / 2, y + width / 2), fill=255)
    png = io.BytesIO()
    image.save(png, "PNG")
    return PREFIX + base64.b64encode(png.getvalue()).decode()
