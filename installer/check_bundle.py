"""Check a built bundle the way a person would use it, and time it.

    python installer/check_bundle.py [dist/gsmbridge] [--gui] [--json FILE]

1. layout: both executables, the icons, the Qt plugins the icons need, no QML/WebEngine;
2. ``gsmbridge-cli --version`` prints the version (timed, best of 3);
3. ``gsmbridge-cli --headless --modem sim --port 0`` in a temporary data directory with
   credentials from the environment: time until "Webhook listening on ...";
4. a CometChat webhook POST answered 200, then GET /api/jobs/<id> until sent/delivered;
5. GET /metrics: Prometheus text with the gsmbridge_ metrics, the webhook counted;
6. SIGTERM: exit code 0 and "gsmbridge stopped" in the log;
7. the shared store: ``gsmbridge-cli store check`` against PostgreSQL (psycopg must use its
   "binary" implementation, the libpq inside the bundle), then steps 3-6 on that store and
   /api/status naming it; on the server of ``--pg-url URL`` (a database the check may add
   a test job to), else on a throwaway cluster when initdb is found, else skipped (said);
8. with --gui: the windowed executable starts offscreen and listens too.

Standard library only, so it runs with any Python 3.11, beside the bundle or not.
"""

from __future__ import annotations

import argparse
import base64
import glob
import http.client
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
EXE = ".exe" if os.name == "nt" else ""
LISTENING = re.compile(r"Webhook listening on http://127\.0\.0\.1:(\d+)/webhook")
USER, PASSWORD = "bundle-check", "bundle-check-password"
# CometChat's custom SMS provider payload (as in tests/helpers.py ONE_TO_ONE).
PAYLOAD: dict[str, Any] = {
    "trigger": "sms-notification-payload-generated",
    "data": {
        "to": {"uid": "cometchat-uid-1", "phno": "+12125550123", "name": "Andrew Joseph"},
        "messages": [
            {
                "sender": {"uid": "cometchat-uid-4", "name": "Susan Marie"},
                "message": "Are we meeting on this weekend?",
            }
        ],
        "senderDetails": {"uid": "cometchat-uid-4", "name": "Susan Marie"},
        "smsContent": "You've received new messages from Susan Marie! Read them at https://example.com.",
    },
    "appId": "app123",
    "region": "us",
    "webhook": "custom",
}
# Qt libraries that must not be in the bundle (see QT_UNUSED in gsmbridge.spec).
FORBIDDEN = re.compile(r"Qt6?(Qml|Quick|WebEngine|3D|Multimedia|Pdf|Designer)", re.I)
# Qt plugins the spec leaves out (DROP_PLUGINS, DROP_PLUGIN_TYPES), by file and by folder.
DROPPED_PLUGIN = re.compile(r"^(lib)?q(gtk3|vnc|linuxfb|eglfs|pdf|tiff|webp)\.", re.I)
DROPPED_TYPES = ("printsupport", "sqldrivers", "networkinformation", "tls", "multimedia")


# `gsmbridge-cli store check`'s line about the PostgreSQL client (gsmbridge/cli/store.py).
PG_CLIENT = re.compile(r"^client: psycopg (\S+) \((\w+)\), libpq (\S+)$", re.M)
# Metric families every app serves (gsmbridge/web/metrics.py), and the webhook's counter.
METRICS = ("gsmbridge_jobs", "gsmbridge_oldest_due_job_age_seconds", "gsmbridge_modem_up")
WEBHOOK_COUNTED = re.compile(r'^gsmbridge_webhook_requests_total\{code="200"\} ([0-9.]+)$', re.M)


class CheckFailed(AssertionError):
    pass


def expect(ok: bool, message: str) -> None:
    if not ok:
        raise CheckFailed(message)


def check_layout(bundle: Path) -> dict[str, Any]:
    internal = bundle / "_internal"
    for name in ("gsmbridge", "gsmbridge-cli"):
        expect((bundle / f"{name}{EXE}").is_file(), f"missing {name}{EXE} in {bundle}")
    resources = internal / "gsmbridge" / "gui" / "resources"
    for icon in ("gsmbridge.svg", "tray-ok.svg", "tray-sending.svg", "tray-problem.svg"):
        expect((resources / icon).is_file(), f"missing {resources / icon}")
    plugins = next((p for p in internal.glob("PySide6/**/plugins") if p.is_dir()), None)
    expect(plugins is not None, "no Qt plugins directory in the bundle")
    assert plugins is not None
    for kind in ("iconengines", "imageformats", "platforms"):
        found = [p.name for p in (plugins / kind).glob("*")]
        expect(any("svg" in n for n in found) or kind == "platforms", f"no SVG plugin in {kind}")
        expect(bool(found), f"no Qt plugins in {kind}")
    files = [p for p in internal.rglob("*") if p.is_file()]
    bad = sorted({p.name for p in files if FORBIDDEN.search(p.name)})
    expect(not bad, f"unused Qt modules were bundled: {bad}")
    dropped = [p.name for p in files if DROPPED_PLUGIN.match(p.name)]
    dropped += [t for t in DROPPED_TYPES if (plugins / t).exists()]
    expect(not dropped, f"Qt plugins the spec drops were bundled: {sorted(dropped)}")
    size = sum(p.stat().st_size for p in bundle.rglob("*") if p.is_file() and not p.is_symlink())
    return {"bundle_mib": round(size / 2**20, 1), "files": len(files)}


def best_of(n: int, cmd: list[str], env: dict[str, str]) -> tuple[float, str]:
    times, out = [], ""
    for _ in range(n):
        started = time.perf_counter()
        done = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=60)
        times.append(time.perf_counter() - started)
        expect(done.returncode == 0, f"{cmd} exited {done.returncode}: {done.stderr}")
        out = done.stdout + done.stderr
    return min(times), out.strip()


class Running:
    """A started gsmbridge process whose output is read (and kept) by a thread."""

    def __init__(self, cmd: list[str], env: dict[str, str]) -> None:
        self.started = time.perf_counter()
        flags = subprocess.CREATE_NEW_PROCESS_GROUP if os.name == "nt" else 0  # type: ignore[attr-defined]
        self.proc = subprocess.Popen(
            cmd,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            encoding="utf-8",
            errors="replace",
            env=env,
            creationflags=flags,
        )
        self.lines: list[str] = []
        self.port: int | None = None
        self.listening_after: float | None = None
        self._found = threading.Event()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line)
            match = LISTENING.search(line)
            if match and self.port is None:
                self.port = int(match.group(1))
                self.listening_after = time.perf_counter() - self.started
                self._found.set()
        self._found.set()

    @property
    def output(self) -> str:
        return "".join(self.lines)

    def wait_listening(self, timeout: float) -> int:
        self._found.wait(timeout)
        expect(self.port is not None, f"no 'Webhook listening' line:\n{self.output}")
        assert self.port is not None
        return self.port

    def terminate(self, timeout: float = 30) -> int:
        if self.proc.poll() is None:
            if os.name == "nt":
                self.proc.send_signal(signal.CTRL_BREAK_EVENT)  # type: ignore[attr-defined]
            else:
                self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired as exc:
            self.proc.kill()
            self.proc.wait()
            message = f"did not stop within {timeout} s of SIGTERM:\n{self.output}"
            raise CheckFailed(message) from exc


def request(port: int, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    token = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
    headers = {"Authorization": f"Basic {token}"}
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    try:
        conn.request(method, path, body=data, headers=headers)
        response = conn.getresponse()
        raw = response.read()
    finally:
        conn.close()
    try:
        return response.status, json.loads(raw)
    except ValueError:
        return response.status, raw.decode(errors="replace")


def clean_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GSMBRIDGE_")}
    env.update({"GSMBRIDGE_AUTH_USERNAME": USER, "GSMBRIDGE_AUTH_PASSWORD": PASSWORD})
    env.update(extra or {})
    return env


def dir_args(tmp: Path) -> list[str]:
    config = tmp / "config.toml"
    config.touch()
    return ["--data-dir", str(tmp), "--config", str(config)]


def app_args(tmp: Path) -> list[str]:
    return ["--modem", "sim", "--port", "0", *dir_args(tmp)]


def send_one(app: Running, port: int) -> str:
    """POST the webhook, wait until its job is sent; the job's state."""
    status, answer = request(port, "POST", "/webhook", PAYLOAD)
    expect(status == 200, f"webhook answered {status}: {answer}")
    job_id = answer["id"]
    deadline, state = time.monotonic() + 60, ""
    while time.monotonic() < deadline:
        status, job = request(port, "GET", f"/api/jobs/{job_id}")
        expect(status == 200, f"GET /api/jobs/{job_id} answered {status}: {job}")
        state = job["state"]
        if state in ("sent", "delivered"):
            break
        expect(
            state not in ("failed", "cancelled", "needs-number"),
            f"job went {state}: {job.get('last_error')}; log:\n{app.output}",
        )
        time.sleep(0.2)
    expect(
        state in ("sent", "delivered"),
        f"job {job_id} still {state!r} after 60 s; log:\n{app.output}",
    )
    return state


def check_metrics(port: int) -> int:
    """GET /metrics: Prometheus text naming the gsmbridge_ metrics; how many families."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    token = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
    try:
        conn.request("GET", "/metrics", headers={"Authorization": f"Basic {token}"})
        response = conn.getresponse()
        text = response.read().decode("utf-8", errors="replace")
    finally:
        conn.close()
    kind = response.getheader("Content-Type", "")
    expect(response.status == 200, f"/metrics answered {response.status}: {text[:500]}")
    expect(kind.startswith("text/plain"), f"/metrics is not Prometheus text: {kind!r}")
    families = set(re.findall(r"^# TYPE (gsmbridge_\w+) ", text, re.M))
    missing = [name for name in METRICS if name not in families]
    expect(not missing, f"/metrics lacks {missing}:\n{text[:2000]}")
    counted = WEBHOOK_COUNTED.search(text)
    expect(
        counted is not None and float(counted.group(1)) >= 1,
        f"/metrics did not count the webhook answered 200:\n{text[:2000]}",
    )
    return len(families)


def stopped_cleanly(app: Running) -> None:
    code = app.terminate()
    if os.name != "nt":  # CTRL_BREAK on Windows is not the SIGTERM path being checked
        expect(code == 0, f"exit code {code} after SIGTERM:\n{app.output}")
        expect("gsmbridge stopped" in app.output, f"no clean stop in the log:\n{app.output}")


def check_headless(bundle: Path, tmp: Path) -> dict[str, Any]:
    cli = str(bundle / f"gsmbridge-cli{EXE}")
    app = Running([cli, "--headless", *app_args(tmp)], clean_env())
    try:
        port = app.wait_listening(60)
        status, health = request(port, "GET", "/health")
        expect(status == 200, f"/health answered {status}: {health}")
        state = send_one(app, port)
        families = check_metrics(port)
    finally:
        stopped_cleanly(app)
    return {
        "listening_s": round(app.listening_after or 0, 3),
        "job_state": state,
        "metrics_families": families,
    }


def find_initdb() -> Path | None:
    """PostgreSQL's initdb: Debian's newest /usr/lib/postgresql/N/bin, the Windows
    installer's Program Files folder, or the PATH."""

    def newest(pattern: str) -> Path | None:
        found = [Path(p) for p in glob.glob(pattern)]
        found.sort(key=lambda p: int(p.parent.parent.name) if p.parent.parent.name.isdigit() else 0)
        return found[-1] if found else None

    program_files = os.environ.get("ProgramFiles", r"C:\Program Files")
    return (
        newest("/usr/lib/postgresql/*/bin/initdb")
        or newest(str(Path(program_files) / "PostgreSQL" / "*" / "bin" / f"initdb{EXE}"))
        or (Path(found) if (found := shutil.which("initdb")) else None)
    )


class PgServer:
    """A throwaway PostgreSQL cluster in a temporary directory of its own, on a free port
    of 127.0.0.1, trusting local connections; as the postgres user when run as root
    (initdb refuses root). stop() ends it and removes the directory."""

    def __init__(self, initdb: Path) -> None:
        self.bindir = initdb.parent
        self.as_postgres = hasattr(os, "geteuid") and os.geteuid() == 0
        owner = None
        if self.as_postgres:
            import pwd

            try:
                owner = pwd.getpwnam("postgres")
            except KeyError as exc:
                raise OSError("running as root and there is no postgres user") from exc
        self.dir = Path(tempfile.mkdtemp(prefix="gsmbridge-check-pgdata-"))
        if owner is not None:
            os.chown(self.dir, owner.pw_uid, owner.pw_gid)
        self.data = self.dir / "data"
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = int(s.getsockname()[1])
        self.url = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def run(self, tool: str, *args: str) -> None:
        cmd = [str(self.bindir / f"{tool}{EXE}"), *args]
        if self.as_postgres:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
        if done.returncode != 0:
            raise OSError(f"{tool} failed: {(done.stderr or done.stdout).strip()[-500:]}")

    def start(self) -> None:
        self.run("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres", "--no-sync")
        options = f"-c listen_addresses=127.0.0.1 -p {self.port} -c fsync=off"
        if os.name != "nt":
            options += f" -k {self.dir}"  # its socket here, not in /var/run/postgresql
        log = str(self.dir / "log")
        self.run("pg_ctl", "-D", str(self.data), "-l", log, "-w", "-o", options, "start")

    def stop(self) -> None:
        pid_file = self.data / "postmaster.pid"
        if pid_file.exists():
            try:
                self.run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
            except (OSError, subprocess.TimeoutExpired) as exc:
                print(f"could not stop the throwaway PostgreSQL in {self.dir}: {exc}")
        shutil.rmtree(self.dir, ignore_errors=True)


def redact(url: str) -> str:
    return re.sub(r"(//[^/:@]*:)[^/@]*@", r"\1***@", url)


def check_postgres(bundle: Path, tmp: Path, url: str) -> dict[str, Any]:
    """The shared store in the frozen app: store check, then a webhook sent through it."""
    cli = str(bundle / f"gsmbridge-cli{EXE}")
    # The URL (it may hold a password) goes in the environment, not on a command line.
    env = clean_env({"GSMBRIDGE_STORE_URL": url})
    check = subprocess.run(
        [cli, "store", "check", *dir_args(tmp)],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    said = (check.stdout + check.stderr).strip()
    expect(check.returncode == 0, f"store check exited {check.returncode}: {said}")
    expect(": reachable, schema version" in said, f"store check said: {said}")
    client = PG_CLIENT.search(said)
    expect(client is not None, f"store check named no PostgreSQL client: {said}")
    assert client is not None
    psycopg, impl, libpq = client.groups()
    expect(
        impl == "binary",
        f"the frozen psycopg uses its {impl!r} implementation, not 'binary' (the bundle's own "
        "libpq): psycopg_binary was not bundled or does not load; on Windows that is a "
        f"store that cannot connect. store check said: {said}",
    )
    app = Running([cli, "--headless", *app_args(tmp)], env)
    try:
        port = app.wait_listening(60)
        state = send_one(app, port)
        status, answer = request(port, "GET", "/api/status")
        expect(status == 200, f"GET /api/status answered {status}: {answer}")
        store, counts = answer.get("store") or {}, answer.get("counts") or {}
        expect(
            store.get("backend") == "postgresql" and store.get("reachable") is True,
            f"/api/status names another store: {store}",
        )
        expect(counts.get(state, 0) >= 1, f"/api/status counts no {state} job: {counts}")
        families = check_metrics(port)
    finally:
        stopped_cleanly(app)
    expect("Traceback" not in app.output, f"a traceback in the log:\n{app.output}")
    return {
        "pg_url": redact(url),
        "psycopg": psycopg,
        "psycopg_impl": impl,
        "libpq": libpq,
        "pg_job_state": state,
        "pg_backend": store["backend"],
        "pg_metrics_families": families,
    }


def postgres(bundle: Path, tmp: Path, url: str | None) -> dict[str, Any]:
    """check_postgres on --pg-url, else on a throwaway cluster; else a reason to skip."""
    if url:
        return check_postgres(bundle, tmp, url)
    initdb = find_initdb()
    if initdb is None:
        return {"pg_skipped": "no PostgreSQL: pass --pg-url URL, or install PostgreSQL (initdb)"}
    try:
        server = PgServer(initdb)
    except OSError as exc:
        return {"pg_skipped": f"cannot start a throwaway PostgreSQL: {exc}; pass --pg-url URL"}
    try:
        server.start()
    except (OSError, subprocess.TimeoutExpired) as exc:
        server.stop()
        return {"pg_skipped": f"cannot start a throwaway PostgreSQL: {exc}; pass --pg-url URL"}
    try:
        results = check_postgres(bundle, tmp, server.url)
    finally:
        server.stop()
    return {"pg_server": f"throwaway cluster ({initdb.parent})", **results}


def check_ngrok(bundle: Path, tmp: Path) -> dict[str, Any]:
    """--tunnel ngrok in the frozen app: the SDK's native module imports (no program).

    Without an authtoken nothing goes on the network: the tunnel must stop at "needs an
    authtoken", reported as the built-in SDK, not "not installed".
    """
    cli = str(bundle / f"gsmbridge-cli{EXE}")
    home = tmp / "home"  # no ngrok.yml of this machine's user
    home.mkdir()
    env = clean_env({"HOME": str(home), "XDG_CONFIG_HOME": str(home), "LOCALAPPDATA": str(home)})
    env.pop("NGROK_AUTHTOKEN", None)
    app = Running([cli, "--headless", *app_args(tmp), "--tunnel", "ngrok"], env)
    tunnel: dict[str, Any] = {}
    try:
        port = app.wait_listening(60)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            status, answer = request(port, "GET", "/api/status")
            expect(status == 200, f"GET /api/status answered {status}: {answer}")
            tunnel = answer.get("tunnel") or {}
            if tunnel.get("state") in ("failed", "missing", "up", "restarting"):
                break
            time.sleep(0.2)
    finally:
        app.terminate()
    expect(
        str(tunnel.get("executable", "")).startswith("ngrok SDK"),
        f"the frozen app did not load the ngrok SDK: {tunnel}; log:\n{app.output}",
    )
    expect(
        tunnel.get("state") == "failed" and "authtoken" in str(tunnel.get("last_error")),
        f"ngrok without an authtoken should fail asking for one: {tunnel}",
    )
    expect("Traceback" not in app.output, f"a traceback in the log:\n{app.output}")
    return {"ngrok_sdk": tunnel["executable"]}


def check_gui(bundle: Path, tmp: Path) -> dict[str, Any]:
    gui = str(bundle / f"gsmbridge{EXE}")
    env = clean_env({"QT_QPA_PLATFORM": "offscreen"})
    app = Running([gui, *app_args(tmp)], env)
    try:
        app.wait_listening(60)
        time.sleep(1.0)  # let the window finish painting; a crash shows up now
        expect(app.proc.poll() is None, f"the GUI exited:\n{app.output}")
    finally:
        app.terminate()  # Qt installs no SIGTERM handler: the process just ends
    expect("Traceback" not in app.output, f"the GUI logged a traceback:\n{app.output}")
    return {"gui_listening_s": round(app.listening_after or 0, 3)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Check a built gsmbridge bundle.")
    parser.add_argument("bundle", nargs="?", type=Path, default=ROOT / "dist" / "gsmbridge")
    parser.add_argument("--gui", action="store_true", help="also start the windowed exe")
    parser.add_argument("--json", type=Path, help="write the measurements here")
    parser.add_argument(
        "--pg-url",
        metavar="URL",
        help="check the shared store on this PostgreSQL database (one test job is added); "
        "default: a throwaway cluster if initdb is found, else skipped",
    )
    args = parser.parse_args(argv)
    bundle = args.bundle.resolve()
    results: dict[str, Any] = {"bundle": str(bundle)}
    try:
        results.update(check_layout(bundle))
        print(f"layout ok: {results['bundle_mib']} MiB, {results['files']} files")
        cli = [str(bundle / f"gsmbridge-cli{EXE}"), "--version"]
        seconds, out = best_of(3, cli, clean_env())
        expect(re.fullmatch(r"gsmbridge \d+\.\d+\S*", out) is not None, f"--version said {out!r}")
        results.update(version=out, version_s=round(seconds, 3))
        print(f"--version ok: {out!r} in {seconds:.2f} s")
        with tempfile.TemporaryDirectory(prefix="gsmbridge-check-") as tmp:
            results.update(check_headless(bundle, Path(tmp)))
        print(
            f"headless ok: listening after {results['listening_s']:.2f} s, job "
            f"{results['job_state']}, clean exit on SIGTERM"
        )
        print(f"metrics ok: {results['metrics_families']} gsmbridge_ metric families")
        with tempfile.TemporaryDirectory(prefix="gsmbridge-check-pg-") as tmp:
            results.update(postgres(bundle, Path(tmp), args.pg_url))
        if "pg_skipped" in results:
            print(f"postgresql SKIPPED: {results['pg_skipped']}")
        else:
            print(
                f"postgresql ok: psycopg {results['psycopg']} ({results['psycopg_impl']}), "
                f"libpq {results['libpq']}; job {results['pg_job_state']} through "
                f"{results['pg_url']}"
            )
        with tempfile.TemporaryDirectory(prefix="gsmbridge-check-ngrok-") as tmp:
            results.update(check_ngrok(bundle, Path(tmp)))
        print(f"ngrok ok: {results['ngrok_sdk']} in-process, asks for an authtoken")
        if args.gui:
            with tempfile.TemporaryDirectory(prefix="gsmbridge-check-gui-") as tmp:
                results.update(check_gui(bundle, Path(tmp)))
            print(f"gui ok: listening after {results['gui_listening_s']:.2f} s")
    except CheckFailed as exc:
        print(f"check failed: {exc}", file=sys.stderr)
        return 1
    if args.json:
        args.json.write_text(json.dumps(results, indent=2), encoding="utf-8")
    print(json.dumps(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
