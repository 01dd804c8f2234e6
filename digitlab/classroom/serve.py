"""Starting the app: the supervisor beside it, and in class mode the checks before it listens and HTTPS (the
teacher's certificate, or one made beside the settings, its fingerprint printed for students to check)."""

import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

from digitlab import UserError, settings
from digitlab.classroom import roster, sessions, tls
from digitlab.learn import checkpoint
from digitlab.runs.runner.supervisor import Supervisor
from digitlab.runs.store import Store


def class_flags(s: settings.Settings, port: int) -> list[str]:
    """Class mode's checks before it listens, and Streamlit's flags for HTTPS. Plain HTTP only when the settings say."""
    if not roster.load(s.classroom.roster):
        raise UserError(f"The roster {s.classroom.roster} has nobody in it: add a teacher with "
                        "`digitlab roster add NAME --role teacher`.")
    sessions.secret(settings.secret_file(s, "secret"))  # made now, or refused now if others may read it
    if s.classroom.plain_http:
        print("WARNING: class mode without encryption (classroom.plain_http = true): passwords and sessions cross "
              "the network in clear. Use it only behind a proxy that serves HTTPS.", file=sys.stderr)
        return []
    cert_path, key_path, own = tls.of_class(s)
    cert, made = tls.ensure(cert_path, key_path, own)
    print(f"HTTPS with {'a new certificate made for' if made else 'the certificate for'} {', '.join(tls.hosts(cert))}\n"
          f"  {cert_path}\n  SHA-256 fingerprint {tls.fingerprint(cert)}\n"
          f"  students open https://{socket.gethostname()}:{port} and check that their browser shows this "
          "fingerprint before they accept the certificate", flush=True)
    return ["--server.sslCertFile", str(cert_path), "--server.sslKeyFile", str(key_path)]


def serve(runs=None, data_root=None, port: int = 8501) -> int:
    """Run the app until it ends (its exit code): on localhost, or in class mode where the settings say."""
    s = settings.current()
    address = s.classroom.address if s.classroom.enabled else "localhost"
    flags = []
    if s.classroom.enabled:
        flags = class_flags(s, port)
        os.umask(0o077)  # the run store, checkpoints and digits it writes: readable by this user only, as the roster
    store = Store(runs)
    env = {**os.environ, "DIGITLAB_RUNS": str(store.root)}
    if data_root:
        env["DIGITLAB_DATA"] = str(Path(data_root).resolve())
    # The supervisor lives here, from the start, whether or not anybody opens a page; the app's own stands by.
    Supervisor(store, data_root).start()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # stop the app with us, not leave it behind
    script = "server_app.py" if s.classroom.enabled else "streamlit_app.py"  # class mode: with our session routes
    app = subprocess.Popen([sys.executable, "-m", "streamlit", "run", str(checkpoint.PROJECT / script),
                            "--server.address", address, "--server.port", str(port), *flags],
                           cwd=checkpoint.PROJECT, env=env)
    try:
        return app.wait()
    finally:
        if app.poll() is None:
            app.terminate()
            app.wait(10)
