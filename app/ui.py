"""Streamlit helpers the pages share: the router, cached resources, the model list, who is looking (sign-in:
app/signin.py; the run store and errors: app/base.py). The core stays Streamlit-free."""

import hashlib
import threading
from pathlib import Path

import streamlit as st
import torch

from app import routes, signin
from app.base import _store, runs_folder, show_error, store  # the pages' names for them
from digitlab import UserError, files, markdown, settings
from digitlab.classroom import access, roster
from digitlab.classroom.access import Action, Resource
from digitlab.datasets import data, handwriting
from digitlab.learn import checkpoint, evaluation
from digitlab.runs import catalog
from digitlab.runs.live import Live
from digitlab.runs.runner.supervisor import Supervisor
from digitlab.runs.store import Run

PAGES = Path(__file__).resolve().parent.parent / "pages"
torch.set_num_threads(1)  # one drawing's answer takes ~3 ms on one thread; many sessions share the cores
_routing = threading.local()  # set while the router runs a page, in the script thread that runs it

# On a narrow screen the sidebar covers the page. Streamlit closes it after a page change only on phones that say
# so in their user agent; this closes it on any screen narrower than Streamlit's own breakpoint, after a page change
# or when one of the CLOSING_BUTTONS was pressed (a launch from the sidebar's form), never while a person uses it.
CLOSING_BUTTONS = ("launch", "compare")  # the Train form's: what the person wants to see next is the page
_sidebar_closer = st.components.v2.component(
    "digitlab.sidebar_closer",
    html="<span hidden></span>",
    js="""export default function ({ data }) {
  const seen = window.__digitlabSidebar;
  window.__digitlabSidebar = data;
  if (!seen || (seen.page === data.page && seen.close === data.close)) return;
  if (!window.matchMedia("(max-width: 767.98px)").matches) return;
  const side = document.querySelector('[data-testid="stSidebar"]');
  if (side && side.dataset.collapsed === "false") {
    side.querySelector('[data-testid="stSidebarCollapseButton"] button')?.click();
  }
}""",
)


def run_app() -> None:
    """The router: sign-in in class mode, our navigation, then the page the address asks for."""
    st.set_page_config(page_title="digitlab", page_icon="✏️", layout="wide")  # an emoji: no font fetched from afar
    _routing.active = True
    try:
        if class_mode() and not routes.encrypted() and not settings.current().classroom.plain_http:
            st.title("digitlab")
            show_error(UserError("This class's digitlab is served without encryption, so nobody may sign in: start "
                                 "it with digitlab serve --settings FILE (HTTPS), or set classroom.plain_http = "
                                 "true if a proxy in front of it encrypts."))
            return
        if signin.going():
            return
        if class_mode():
            signin.check_session()
        if viewer() is None:  # before sign-in every address shows the sign-in, and no page list at all
            door = [st.Page(signin.sign_in, title="Sign in", default=True)]
            door += [st.Page(signin.sign_in, title="Sign in", url_path=p.stem) for p in sorted(PAGES.glob("*.py"))]
            nav = st.navigation(door, position="hidden")
            st.session_state.door = nav.url_path
            nav.run()
            return
        pages = [st.Page(PAGES / "lessons.py", title="Lessons", icon=":material/school:"),  # the course first
                 st.Page(PAGES / "draw.py", title="Draw", icon=":material/draw:", default=True),
                 st.Page(PAGES / "train.py", title="Train", icon=":material/model_training:"),
                 st.Page(PAGES / "runs.py", title="Runs", icon=":material/monitoring:"),
                 st.Page(PAGES / "inside.py", title="Inside", icon=":material/neurology:"),
                 st.Page(PAGES / "sweeps.py", title="Sweeps", icon=":material/tune:"),
                 st.Page(PAGES / "digits.py", title="My digits", icon=":material/gesture:"),
                 st.Page(PAGES / "data.py", title="Data", icon=":material/dataset:")]
        if class_mode() and may(Action.TEACH, Resource.CLASS):
            pages.append(st.Page(PAGES / "classroom.py", title="Class", icon=":material/groups:"))
        nav = st.navigation(pages)
        if class_mode():
            with st.sidebar:
                st.caption(f"Signed in as **{markdown.as_text(viewer().name)}** ({viewer().role})")
                st.button("Sign out", key="sign_out", on_click=signin.sign_out)
        supervisor()
        if files.disk_full(runs_folder()):  # said on every page: what is kept stays in view, nothing new is kept
            said = (str(files.full_disk(runs_folder(), "nothing new can be kept and runs wait (what is kept is safe)"))
                    if not class_mode() or may(Action.TEACH, Resource.CLASS) else
                    "The class's disk is full, so nothing new can be kept and runs wait (what is kept is safe): tell "
                    "your teacher.")
            st.warning(markdown.as_text(said), icon=":material/hard_drive:")
        if any(st.session_state.get(key) for key in CLOSING_BUTTONS):  # pressed in this very run
            st.session_state.close_sidebar = st.session_state.get("close_sidebar", 0) + 1
        with st.sidebar:
            _sidebar_closer(key="sidebar_closer",
                            data={"page": nav.url_path, "close": st.session_state.get("close_sidebar", 0)})
        nav.run()
    except UserError as e:  # a damaged store, say: one sentence, whatever the page
        show_error(e)
    finally:
        _routing.active = False


def class_mode() -> bool:
    return settings.current().classroom.enabled


def viewer() -> roster.Person | None:
    """Who is looking: the signed-in person in class mode (None before sign-in), else the machine's one user."""
    return signin.viewer() if class_mode() else roster.LOCAL


def may(action: Action, resource: Resource, owner: str = "") -> bool:
    """Whether this viewer may do action to a resource of owner's (digitlab.classroom.access's table)."""
    return access.may(viewer(), action, resource, owner)


def may_manage(run: Run) -> bool:
    """Whether this viewer may cancel, delete or download a run."""
    return may(Action.MANAGE, Resource.RUN, run.owner)


def may_see(run: Run) -> bool:
    """Whether this viewer may look at a run in depth (report on it, export it)."""
    return may(Action.SEE, Resource.RUN, run.owner)


def board_on() -> bool:
    """Whether students see the class board: the setting, until a teacher switches it on the Class page."""
    return store().option("board", str(settings.current().classroom.board)) == "True"


def owner_filter() -> str | None:
    """Whose runs this viewer works with: everyone's for a teacher (and the single user), else their own."""
    return access.whose(viewer(), Action.SEE, Resource.RUN)


def routed() -> None:
    """Every page calls this first. A folder named pages/ makes Streamlit run a page file directly, with its own
    page list, on the server's first session until st.navigation has been called once; we then route from here."""
    if not getattr(_routing, "active", False):
        run_app()
        st.stop()


@st.cache_resource
def _live(root: str) -> Live:
    return Live(_store(root))


def live() -> Live:
    """The runs in progress, read once a second for every open Train page together."""
    return _live(runs_folder())


@st.cache_resource
def _supervisor(root: str, data_root: str) -> Supervisor:
    return Supervisor(_store(root), data_root).start()


def supervisor() -> Supervisor:
    """The one supervisor of this server's run store: reaps dead workers and keeps the queue moving."""
    return _supervisor(runs_folder(), str(data.data_root()))


@st.cache_resource(show_spinner="Measuring every training pixel…")
def _training_set_stats(raw: str) -> list[dict]:
    return data.normalized_stats(_mnist(raw).train_x)


def training_set_stats() -> list[dict]:
    """Each normalization's mean, std, min and max over the whole training split (the Data page's table)."""
    return _training_set_stats(str(data.raw_dir()))


@st.cache_resource(max_entries=8)
def _checkpoint(path: str, mtime: float) -> checkpoint.Checkpoint:
    return checkpoint.load(path)


def model(path) -> checkpoint.Checkpoint:
    """The checkpoint at path, loaded once per version; one that cannot be read is one sentence naming it as a person
    knows it (a run's, a shipped model's), never by the server's path."""
    p = Path(path)
    try:
        return _checkpoint(str(p), p.stat().st_mtime if p.exists() else 0.0)
    except UserError as e:
        run = p.parent.name if p.parent.parent == Path(runs_folder()) and p.parent.name.isdigit() else None
        if run is not None:
            raise UserError(f"Run {run}'s checkpoint cannot be read (damaged or gone): delete the run, then train it "
                            "again.") from None
        raise UserError(str(e).replace(str(p), p.name)) from None


def digits_score(path) -> dict | None:
    """digits_report for a table's row: None where there are no digits or the checkpoint cannot be read (that row
    says so; the others stand)."""
    try:
        return digits_report(path)
    except UserError:
        return None


UPLOADS_KEPT = 32  # uploaded checkpoints kept on disk at once (the oldest go first): a bound on what visitors fill


def uploaded_model(up) -> str:
    """A checkpoint a person uploaded (from an exported script, say) kept where ui.model reads it: its path. Its size
    is checked before it is read whole, and checkpoint.load checks the rest (what it holds, the model it builds)."""
    settings.current().limits.check_bytes("checkpoint_mb", up.name, up.size)
    blob = up.getvalue()
    folder = Path(runs_folder()) / "uploads"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{hashlib.sha256(blob).hexdigest()[:24]}.pt"  # the same file uploaded twice is kept once
    if not path.exists():
        files.write_atomically(path, lambda f: f.write(blob))
        for old in sorted(folder.glob("*.pt"), key=lambda q: q.stat().st_mtime)[:-UPLOADS_KEPT]:
            old.unlink(missing_ok=True)
    try:
        model(path)  # refused files are not kept
    except UserError as e:
        path.unlink(missing_ok=True)
        raise UserError(str(e).replace(path.name, up.name)) from None  # ui.model names a file by its name
    return str(path)


@st.cache_resource
def _mnist(raw_dir: str) -> data.MNIST:
    return data.load(Path(raw_dir).parent.parent)


def dataset() -> data.MNIST | None:
    """The MNIST tensors, or None (with a hint on screen) when they are not prepared."""
    if not data.is_prepared():
        st.info(data.not_prepared())
        return None
    return _mnist(str(data.raw_dir()))


def models(flagged: bool = False) -> dict[str, str]:
    """The models a page can read a drawing with; runs that diverged or did not learn only when flagged is asked."""
    return catalog.model_choices(store(), owner=owner_filter(), flagged=flagged)


def set_address(**params: str) -> None:
    """Keep these query parameters in the address (an empty value removes one); the others stay."""
    for key, value in params.items():
        if not value:
            st.query_params.pop(key, None)
        elif st.query_params.get(key) != value:
            st.query_params[key] = value


def not_yours(named, available, noun: str = "run") -> None:
    """One sentence for what an address names that this viewer has no such thing of (another's, or none at all:
    the two read the same, so an address never tells whether someone else's exists)."""
    missing = list(dict.fromkeys(str(n) for n in named if n and n not in available))
    if missing:
        whose = " of yours" if class_mode() else ""
        st.warning(f"There is no {noun} {', '.join(missing[:5])}{whose}: the address named "
                   f"{'it' if len(missing) == 1 else 'them'}, so the page shows what there is instead.",
                   icon=":material/link_off:")


@st.cache_data(max_entries=16, show_spinner=False)
def _digits(root: str, owner: str | None, version: int) -> tuple:
    rows = _store(root).digits(owner)
    return (*handwriting.arrays(rows), [r["id"] for r in rows])


def my_digits(pooled: bool = False) -> tuple:
    """(images (N, 28, 28) uint8, labels, ids) of the viewer's saved digits, or of the whole class's when pooled."""
    return _digits(runs_folder(), None if pooled else viewer().name, store().digits_version())


@st.cache_data(max_entries=256, show_spinner=False)
def _digits_report(path: str, mtime: float, root: str, owner: str | None, version: int) -> dict:
    x, y, _ = _digits(root, owner, version)
    return evaluation.evaluate(_checkpoint(path, mtime), x, y)


def digits_report(path, pooled: bool = False) -> dict | None:
    """evaluation.evaluate of a checkpoint on the viewer's saved digits (the class's when pooled); None without any."""
    x, _, _ = my_digits(pooled)
    if len(x) == 0:
        return None
    p = Path(path)
    return _digits_report(str(p), p.stat().st_mtime if p.exists() else 0.0, runs_folder(),
                          None if pooled else viewer().name, store().digits_version())
