"""Class mode as a school's network meets it: `digitlab serve` over HTTPS (a certificate the test makes with trustme,
and one digitlab makes), a browser that stays signed in through reloads and tabs until a sign-out, a reset or a
removal ends it, tokens refused when expired, altered or foreign, and school accounts through a real OpenID Connect
provider on loopback."""

import asyncio
import base64
import concurrent.futures
import hashlib
import http.client
import os
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

import pytest
import trustme
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from digitlab import settings
from digitlab.classroom import roster, sessions, tls
from testkit import protocol
from testkit.browser import ARGS, CHROMIUM, NAV, PROJECT, free_port, nav_items, served, shot

pytestmark = pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="no chromium")
PAD_NAME = "digitlab.drawing_pad"


def spki_pin(pem: bytes) -> str:
    """What Chromium's --ignore-certificate-errors-spki-list takes: base64 SHA-256 of the certificate's public key."""
    key = x509.load_pem_x509_certificate(pem).public_key()
    der = key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return base64.b64encode(hashlib.sha256(der).digest()).decode()


@pytest.fixture(scope="module")
def school(tmp_path_factory):
    """`digitlab serve` in class mode with the teacher's own certificate (issued by a CA the test made)."""
    root = tmp_path_factory.mktemp("school")
    ca = trustme.CA()
    leaf = ca.issue_cert("localhost", "127.0.0.1")
    leaf.cert_chain_pems[0].write_to_path(str(root / "server.pem"))
    leaf.private_key_pem.write_to_path(str(root / "server.key"))
    ca.cert_pem.write_to_path(str(root / "ca.pem"))
    people = root / "roster.toml"
    roster.set_password(people, "ada", "teacher-pass-1", "teacher")
    for name in ("bob", "cy", "dee"):
        roster.set_password(people, name, f"{name}-pass-123", "student")
    (root / "class.toml").write_text('[classroom]\nenabled = true\nroster = "roster.toml"\naddress = "127.0.0.1"\n'
                                     'certificate = "server.pem"\nkey = "server.key"\n')
    env = {"DIGITLAB_SETTINGS": str(root / "class.toml"), "DIGITLAB_RUNS": str(root / "runs"),
           "DIGITLAB_DATA": str(root / "data")}
    with served(env, ca_file=str(root / "ca.pem")) as (url, _, log):
        yield {"url": url, "root": root, "roster": people, "log": log,
               "pin": spki_pin(leaf.cert_chain_pems[0].bytes()), "ca": str(root / "ca.pem")}


@pytest.fixture(scope="module")
def chromium(school):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM,
                                    args=ARGS + [f"--ignore-certificate-errors-spki-list={school['pin']}"])
        yield browser
        browser.close()


def sign_in(page, url: str, name: str, password: str, path: str = "") -> None:
    page.goto(f"{url}/{path}")
    page.get_by_role("button", name="Sign in").wait_for(timeout=30_000)
    page.get_by_role("textbox", name="Name").fill(name)
    page.get_by_role("textbox", name="Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_text("Signed in as").wait_for(timeout=30_000)


def at_the_door(page, timeout: float = 30_000) -> None:
    page.get_by_role("textbox", name="Password").wait_for(timeout=timeout)
    assert page.get_by_text("Signed in as").count() == 0


def test_class_mode_is_https_only_with_the_teachers_certificate(school):
    url = school["url"]
    port = int(url.rsplit(":", 1)[1])
    context = ssl.create_default_context(cafile=school["ca"])
    assert urllib.request.urlopen(f"{url}/_stcore/health", context=context).read() == b"ok"
    with pytest.raises(urllib.error.URLError, match="CERTIFICATE_VERIFY_FAILED"):  # not a public CA's: students check it
        urllib.request.urlopen(f"{url}/_stcore/health", context=ssl.create_default_context())
    plain = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    with pytest.raises((http.client.HTTPException, ConnectionError)):  # plain HTTP on the class's port: no answer
        plain.request("GET", "/_stcore/health")
        plain.getresponse()
    store = school["root"] / "runs"
    assert all(p.stat().st_mode & 0o077 == 0 for p in [store, *store.glob("*")])  # no other user of the machine reads it
    log = school["log"].read_text()
    cert = tls.load(school["root"] / "server.pem", school["root"] / "server.key")
    assert f"SHA-256 fingerprint {tls.fingerprint(cert)}" in log and "a new certificate" not in log


def test_a_browser_stays_signed_in_through_reloads_and_tabs_until_it_signs_out(school, chromium, tmp_path):
    url = school["url"]
    laptop = chromium.new_context(viewport={"width": 1400, "height": 900})
    plain = laptop.new_page()
    with pytest.raises(Exception, match="ERR_"):
        plain.goto(url.replace("https://", "http://"))  # plain HTTP: the browser gets nothing
    plain.close()
    page = laptop.new_page()
    page.goto(f"{url}/runs")
    at_the_door(page)
    assert page.locator('[data-testid="stSidebarNav"]').count() == 0
    assert page.get_by_text("served without encryption").count() == 0
    page.get_by_role("textbox", name="Name").fill("ada")
    page.get_by_role("textbox", name="Password").fill("wrong-password")
    page.get_by_role("button", name="Sign in").click()
    page.get_by_text("That name and password do not match").wait_for(timeout=10_000)
    shot(page, "class-sign-in")
    page.get_by_role("textbox", name="Password").fill("teacher-pass-1")
    page.get_by_role("button", name="Sign in").click()
    page.get_by_text("Signed in as").wait_for(timeout=30_000)
    assert page.url.endswith("/runs") and nav_items(page) == [*NAV, "Class"]  # the page asked for, after sign-in
    shot(page, "class-teacher")
    cookie = next(c for c in laptop.cookies() if c["name"] == sessions.COOKIE)
    assert cookie["httpOnly"] and cookie["secure"] and cookie["sameSite"] == "Strict"
    assert 7000 < cookie["expires"] - time.time() <= 7200  # the lesson's two hours
    assert sessions.COOKIE not in page.evaluate("document.cookie")  # no script on the page can read it

    page.reload()
    page.get_by_text("Signed in as").wait_for(timeout=30_000)
    second = laptop.new_page()
    second.goto(f"{url}/train")
    second.get_by_text("Signed in as").wait_for(timeout=30_000)
    phone = chromium.new_context(viewport={"width": 390, "height": 844})
    sign_in(phone.new_page(), url, "ada", "teacher-pass-1")

    page.locator('[data-testid="stSidebar"]').get_by_role("button", name="Sign out").click()
    at_the_door(page)
    assert not [c for c in laptop.cookies() if c["name"] == sessions.COOKIE]  # this browser forgot it
    second.locator('[data-testid="stSidebar"]').get_by_role("link", name="Draw").click()
    at_the_door(second)  # the other tab: at its next click
    other = phone.pages[0]
    other.reload()
    at_the_door(other)  # the other browser, which still holds its cookie: refused
    other.get_by_text("You signed out: sign in again.").wait_for(timeout=10_000)
    for context in (laptop, phone):
        context.close()


def test_a_reset_or_a_removal_ends_a_session_and_a_link_made_elsewhere_signs_nobody_in(school, chromium):
    url = school["url"]
    bob = chromium.new_context()
    page = bob.new_page()
    sign_in(page, url, "bob", "bob-pass-123")
    roster.set_password(school["roster"], "bob", "bob-new-pass-456")  # the teacher's reset
    page.reload()
    at_the_door(page)
    page.get_by_text("Your place in the class has changed since you signed in").wait_for(timeout=10_000)
    cy = chromium.new_context().new_page()
    sign_in(cy, url, "cy", "cy-pass-123")
    roster.remove(school["roster"], "cy")
    cy.locator('[data-testid="stSidebar"]').get_by_role("link", name="Runs").click()
    at_the_door(cy)

    # dee's own sign-in, its one-time link caught before her browser follows it, then sent to someone else
    caught = []
    dee = chromium.new_context().new_page()
    dee.route("**/session/start*", lambda route: (caught.append(route.request.url), route.abort()))
    dee.goto(url)
    dee.get_by_role("textbox", name="Name").fill("dee")
    dee.get_by_role("textbox", name="Password").fill("dee-pass-123")
    dee.get_by_role("button", name="Sign in").click()
    deadline = time.time() + 30
    while not caught and time.time() < deadline:
        dee.wait_for_timeout(200)
    victim = chromium.new_context()
    victim_page = victim.new_page()
    victim_page.goto(caught[0])  # typed or followed from a chat: not our page's own navigation
    at_the_door(victim_page)
    assert not [c for c in victim.cookies() if c["name"] == sessions.COOKIE]


HOSTILE_PAGE = """<script>
const ws = new WebSocket("WSS/_stcore/stream", ["streamlit"]);
ws.onopen = () => { document.title = "opened"; };
ws.onclose = () => { if (document.title !== "opened") document.title = "refused"; };
fetch("URL/session/end", {credentials: "include", mode: "no-cors"}).finally(() => { window.fetched = true; });
</script>"""


@pytest.mark.parametrize("where", ["another site", "another port of the class's host"])
def test_a_page_of_another_site_can_neither_open_a_session_nor_read_the_cookie(school, chromium, where):
    """A signed-in student opens a hostile page elsewhere (127.0.0.2: another site to the browser; or another port of
    the class's own host, which cookies do not tell apart): its script's websocket to the class is refused (our
    middleware takes only the app's own scheme, host and port; the cookie is SameSite=Strict besides), and its
    request to make this browser forget its cookie changes nothing."""
    import http.server
    import threading

    url = school["url"]
    host = "127.0.0.2" if where == "another site" else urllib.parse.urlsplit(url).hostname
    page_text = HOSTILE_PAGE.replace("WSS", url.replace("https", "wss")).replace("URL", url).encode()

    class Hostile(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.end_headers()
            self.wfile.write(page_text)

        def log_message(self, *args):
            pass

    elsewhere = http.server.HTTPServer((host, 0), Hostile)
    threading.Thread(target=elsewhere.serve_forever, daemon=True).start()
    try:
        context = chromium.new_context()
        ours = context.new_page()
        sign_in(ours, url, "ada", "teacher-pass-1")
        opened = ours.evaluate("""wss => new Promise(done => { const ws = new WebSocket(wss, ["streamlit"]);
            ws.onopen = () => { ws.close(); done(true); }; ws.onclose = () => done(false); })""",
                               url.replace("https", "wss") + "/_stcore/stream")
        assert opened  # the same websocket from the class's own page opens: what refuses the other is its origin
        evil = context.new_page()
        evil.goto(f"http://{host}:{elsewhere.server_port}/")
        evil.wait_for_function("document.title === 'opened' || document.title === 'refused'", timeout=30_000)
        assert evil.title() == "refused"
        ours.reload()
        ours.get_by_text("Signed in as").wait_for(timeout=30_000)  # its fetch of /session/end, cross-site: no effect
        context.close()
    finally:
        elsewhere.shutdown()


def test_the_protocol_client_signs_in_with_a_token_and_an_expired_altered_or_foreign_one_is_refused(school, monkeypatch):
    url, root = school["url"], school["root"]
    context = ssl.create_default_context(cafile=school["ca"])
    key = sessions.secret(root / "class.secret")
    ada = roster.load(school["roster"])["ada"]
    good = sessions.Sessions(key, 2.0).issue(ada, "local")  # made for this machine's browser, as the page makes it
    then = time.time() - 3 * 3600
    monkeypatch.setattr(time, "time", lambda: then)
    expired = sessions.Sessions(key, 2.0).issue(ada, "local")
    monkeypatch.undo()
    foreign = sessions.Sessions(b"f" * 64, 2.0).issue(ada, "local")
    altered = good[:-3] + ("xyz" if not good.endswith("xyz") else "abc")
    elsewhere = sessions.Sessions(key, 2.0).issue(ada, "10.0.0.7")  # carried off from another device

    async def signed_in(token: str) -> bool:
        async with protocol.Session(url, ssl=context, cookie=f"{sessions.COOKIE}={token}") as s:
            await s.wait(lambda s: s.finished >= 1, 60)
            return PAD_NAME in s.components and not s.errors

    async def all_of_them():
        return [await signed_in(t) for t in (good, expired, altered, foreign, elsewhere)]

    with concurrent.futures.ThreadPoolExecutor(1) as pool:  # a thread of its own: Playwright's loop runs in this one
        assert pool.submit(asyncio.run, all_of_them()).result(timeout=300) == [True, False, False, False, False]


def test_a_certificate_made_by_digitlab_is_what_the_server_serves_and_what_it_prints(tmp_path):
    people = tmp_path / "roster.toml"
    roster.set_password(people, "ada", "teacher-pass-1", "teacher")
    (tmp_path / "class.toml").write_text('[classroom]\nenabled = true\nroster = "roster.toml"\naddress = "127.0.0.1"\n')
    env = {"DIGITLAB_SETTINGS": str(tmp_path / "class.toml"), "DIGITLAB_RUNS": str(tmp_path / "runs")}
    made = tmp_path / "class.cert.pem"
    assert tls.of_class(settings.load(tmp_path / "class.toml"))[0] == made
    tls.ensure(*tls.of_class(settings.load(tmp_path / "class.toml")))  # as serve makes it; below its own CA
    with served(env, ca_file=str(made)) as (url, _, log):
        port = int(url.rsplit(":", 1)[1])
        pem = ssl.get_server_certificate(("127.0.0.1", port)).encode()
        cert = x509.load_pem_x509_certificate(pem)
        assert f"SHA-256 fingerprint {tls.fingerprint(cert)}" in log.read_text()
        assert pem.strip() == made.read_bytes().strip()
    for kind in ("cert.pem", "key.pem", "secret"):
        assert os.stat(tmp_path / f"class.{kind}").st_mode & 0o777 == 0o600


def test_serve_refuses_a_class_it_cannot_serve_safely(tmp_path):
    (tmp_path / "class.toml").write_text('[classroom]\nenabled = true\nroster = "roster.toml"\n'
                                         'certificate = "missing.pem"\nkey = "missing.key"\n')
    roster.set_password(tmp_path / "roster.toml", "ada", "teacher-pass-1", "teacher")
    out = subprocess.run([sys.executable, "-m", "digitlab", "serve", "--settings", str(tmp_path / "class.toml")],
                         cwd=PROJECT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 2 and "There is no certificate at" in out.stderr and out.stderr.count("\n") == 1
    (tmp_path / "class.secret").write_text("s" * 64)
    os.chmod(tmp_path / "class.secret", 0o644)
    out = subprocess.run([sys.executable, "-m", "digitlab", "serve", "--settings", str(tmp_path / "class.toml")],
                         cwd=PROJECT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 2 and "may be read by other users of this machine" in out.stderr


def test_a_school_account_signs_in_through_a_real_openid_provider_found_in_the_roster_by_email(school, chromium,
                                                                                               tmp_path):
    from oidc_provider_mock import run_server_in_thread

    people = tmp_path / "roster.toml"
    roster.set_password(people, "ada", "teacher-pass-1", "teacher")
    roster.set_password(people, "eve", None, "student", email="eve@school.org")  # no password: her school account
    cert, key = school["root"] / "server.pem", school["root"] / "server.key"
    port = free_port()
    with run_server_in_thread() as provider:
        (tmp_path / "class.toml").write_text(
            f'[classroom]\nenabled = true\nroster = "roster.toml"\naddress = "127.0.0.1"\ncertificate = "{cert}"\n'
            f'key = "{key}"\n[classroom.oidc]\nprovider = "school account"\nclient_id = "digitlab"\n'
            f'client_secret = "class-secret"\nredirect_uri = "https://localhost:{port}/oauth2callback"\n'
            f'server_metadata_url = "http://localhost:{provider.server_port}/.well-known/openid-configuration"\n')
        env = {"DIGITLAB_SETTINGS": str(tmp_path / "class.toml"), "DIGITLAB_RUNS": str(tmp_path / "runs"),
               "DIGITLAB_DATA": str(tmp_path / "data")}
        with served(env, ca_file=school["ca"], port=port) as (url, _, _):
            def with_school_account(email: str):
                context = chromium.new_context(viewport={"width": 1400, "height": 900})
                page = context.new_page()
                page.goto(url)
                page.get_by_role("button", name="Sign in with your school account").click()
                page.locator('input[name="sub"]').fill(email)  # the provider's own page
                page.get_by_role("button", name="Authorize").click()
                return context, page

            context, page = with_school_account("eve@school.org")
            page.get_by_text("Signed in as").wait_for(timeout=60_000)
            assert page.get_by_text("eve").count() and nav_items(page) == NAV
            shot(page, "class-school-account")
            cookie = next(c for c in context.cookies() if c["name"] == sessions.COOKIE)
            assert cookie["httpOnly"] and cookie["secure"]
            page.reload()
            page.get_by_text("Signed in as").wait_for(timeout=30_000)
            page.locator('[data-testid="stSidebar"]').get_by_role("button", name="Sign out").click()
            at_the_door(page)
            page.reload()
            at_the_door(page)  # the provider's cookie, too, is forgotten: no sign-in without the button
            context.close()

            context, page = with_school_account("mallory@elsewhere.org")
            page.get_by_text("mallory@elsewhere.org is not in this class's roster: ask your teacher").wait_for(
                timeout=60_000)
            at_the_door(page)
            context.close()
