"""The served app through its own websocket protocol, as the load benchmark speaks it (testkit.protocol): a drawing
is answered, and the Train pages refresh less often as more of them watch."""

import asyncio
import contextlib

import pytest

from testkit import protocol
from testkit.browser import SEVEN, running_app
from testkit.fixtures import prepared_dataset

PAD, ANSWER = "digitlab.drawing_pad", "digitlab.drawing_answer"


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    root = prepared_dataset(tmp_path_factory.mktemp("data"))
    with running_app({"DIGITLAB_RUNS": str(tmp_path_factory.mktemp("runs")), "DIGITLAB_DATA": str(root)}) as url:
        yield url


def test_a_session_without_a_browser_draws_a_seven_and_reads_the_answer(app):
    async def draw():
        async with protocol.Session(app) as s:
            await s.wait(lambda s: PAD in s.components and s.finished, 60)
            seen = lambda s: (s.components[ANSWER]["data"] or {}).get("seen") is not None  # noqa: E731
            await protocol.timed(s, PAD, {"image": protocol.pad_image(SEVEN)}, seen)
            answer = s.components[ANSWER]["data"]
            await s.set_state(PAD, {"image": None})  # Clear
            await s.wait(lambda s: not seen(s), 15)
            return answer, s.errors

    answer, errors = asyncio.run(draw())
    assert answer["digit"] == 7 and answer["headline"] == "7" and len(answer["seen"]) == 28 * 28
    assert errors == []


def test_a_dot_is_too_small_to_read_not_a_zero(app):
    async def draw():
        async with protocol.Session(app) as s:
            await s.wait(lambda s: PAD in s.components and s.finished, 60)
            seen = lambda s: (s.components[ANSWER]["data"] or {}).get("seen") is not None  # noqa: E731
            await protocol.timed(s, PAD, {"image": protocol.pad_image([(140, 140), (143, 141)], width=12)}, seen)
            return s.components[ANSWER]["data"], s.errors

    answer, errors = asyncio.run(draw())
    assert answer["headline"] == "too small" and not answer["sure"] and "draw bigger" in answer["detail"]
    assert errors == []


def _answer_to(app, *strokes):
    async def draw():
        async with protocol.Session(app) as s:
            await s.wait(lambda s: PAD in s.components and s.finished, 60)
            seen = lambda s: (s.components[ANSWER]["data"] or {}).get("seen") is not None  # noqa: E731
            await protocol.timed(s, PAD, {"image": protocol.pad_image(*strokes)}, seen)
            return s.components[ANSWER]["data"], s.errors

    return asyncio.run(draw())


def test_an_x_of_two_strokes_is_not_read_as_a_digit(app):
    answer, errors = _answer_to(app, [(60, 50), (220, 230)], [(220, 50), (60, 230)])
    assert answer["headline"] == "not a digit?" and not answer["sure"] and "none of 0-9" in answer["detail"]
    assert errors == []
    answer, errors = _answer_to(app, SEVEN)  # while a digit still is one
    assert answer["headline"] == "7" and errors == []


def test_train_pages_refresh_less_often_as_more_watch(app):
    def intervals(sessions):
        return [next(iter(s.auto_reruns.values()))[0] if s.auto_reruns else None for s in sessions]

    async def watch():
        async with contextlib.AsyncExitStack() as stack:
            first = await stack.enter_async_context(protocol.Session(app, "train"))
            await first.wait(lambda s: s.auto_reruns, 60)
            alone = intervals([first])
            sessions = [first] + [await stack.enter_async_context(protocol.Session(app, "train")) for _ in range(6)]
            for s in sessions:  # seven pages: 3 s each, the first one told at its next refresh
                await s.wait(lambda s: intervals([s]) == [3.0], 30)
            return alone, intervals(sessions), [e for s in sessions for e in s.errors]

    alone, crowded, errors = asyncio.run(watch())
    assert alone == [2.0] and crowded == [3.0] * 7 and errors == []  # faster again when they leave: test_live
