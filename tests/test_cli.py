"""The command line: help that says what applies where, the contacts commands, and one
line (never a traceback) for every expected failure, in-process and as a subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from gsmbridge.__main__ import build_parser, main
from gsmbridge.core.models import Contact
from gsmbridge.core.store import Store
from gsmbridge.service import DB_NAME


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, _clean_env: None) -> Path:
    """A data directory and a default config location of the test's own."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config-home"))
    monkeypatch.setenv("GSMBRIDGE_DATA_DIR", str(tmp_path / "data"))
    return tmp_path


def contacts_in(home: Path) -> list[Contact]:
    store = Store(home / "data" / DB_NAME)
    try:
        return store.list_contacts()
    finally:
        store.close()


def help_of(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    with pytest.raises(SystemExit) as done:
        main([*argv, "--help"])
    assert done.value.code == 0
    return capsys.readouterr().out


# -- help ------------------------------------------------------------------------------


def test_usage_shows_the_command_as_optional(capsys) -> None:
    out = help_of([], capsys)
    usage = out.split("\n\n")[0]
    assert usage.rstrip().endswith("[COMMAND]")
    assert "COMMAND ..." not in usage
    for command in ("contacts", "set-password", "send", "modem", "simulate-modem"):
        assert f"    {command}" in out  # listed with its description
    assert "Without a command, gsmbridge runs the desktop app" in out


def test_commands_list_only_the_options_that_apply(capsys) -> None:
    contacts_list = help_of(["contacts", "list"], capsys)
    assert "--config" in contacts_list and "--data-dir" in contacts_list
    for flag in ("--host", "--port", "--tunnel", "--modem", "--log-level"):
        assert flag not in contacts_list
    send = help_of(["send"], capsys)
    assert "--modem" in send and "--config" in send
    assert "--tunnel" not in send and "--host" not in send
    simulate = help_of(["simulate-modem"], capsys)
    assert "--config" not in simulate and "--tunnel" not in simulate


def test_every_simulate_modem_option_has_help() -> None:
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    simulate = sub.choices["simulate-modem"]  # type: ignore[attr-defined]
    undocumented = [
        a.option_strings[0]
        for a in simulate._actions
        if a.option_strings and not a.help and a.dest != "help"
    ]
    assert undocumented == []


def test_a_global_option_still_works_after_the_command(home: Path, capsys) -> None:
    other = home / "other"
    assert main(["contacts", "add", "alice", "+14155550123", "--data-dir", str(other)]) == 0
    store = Store(other / DB_NAME)
    try:
        assert store.get_contact("alice") is not None
    finally:
        store.close()


def test_an_option_that_does_not_apply_is_refused(home: Path, capsys) -> None:
    with pytest.raises(SystemExit) as done:
        main(["contacts", "list", "--tunnel", "ngrok"])
    assert done.value.code == 2
    assert "unrecognized arguments: --tunnel" in capsys.readouterr().err


# -- contacts --------------------------------------------------------------------------


def test_contacts_add_uses_the_configured_region(home: Path, capsys) -> None:
    config = home / "c.toml"
    config.write_text('[sending]\ndefault_region = "DE"\n', encoding="utf-8")
    assert main(["contacts", "add", "hans", "030 1234567", "--config", str(config)]) == 0
    assert "saved hans -> +49301234567" in capsys.readouterr().out


def test_contacts_add_bad_number_is_one_line(home: Path, capsys) -> None:
    assert main(["contacts", "add", "alice", "abc"]) == 2
    err = capsys.readouterr().err
    assert err == "gsmbridge: phone number 'abc' does not look like a phone number\n"


def test_contacts_remove(home: Path, capsys) -> None:
    main(["contacts", "add", "alice", "+14155550123"])
    main(["contacts", "add", "bob", "+14155550124"])
    capsys.readouterr()
    assert main(["contacts", "remove", "alice", "carol"]) == 1
    captured = capsys.readouterr()
    assert "removed 1 contact(s)" in captured.out
    assert captured.err == "gsmbridge: no contact with uid carol\n"
    assert [c.uid for c in contacts_in(home)] == ["bob"]
    assert main(["contacts", "remove", "bob"]) == 0
    assert contacts_in(home) == []


def test_contacts_import_names_the_winning_line(home: Path, capsys) -> None:
    csv_file = home / "in.csv"
    csv_file.write_text(
        "uid,phone,name\nalice,+14155550100,Old\nalice,+14155550102,New\n", encoding="utf-8"
    )
    assert main(["contacts", "import", str(csv_file)]) == 0
    captured = capsys.readouterr()
    assert "imported 1 contact(s), 0 bad row(s)" in captured.out
    assert f"{csv_file}:3: note: uid alice is also on line 2; this line (3) wins" in captured.err
    assert [(c.uid, c.number) for c in contacts_in(home)] == [("alice", "+14155550102")]


def test_contacts_import_of_an_excel_ansi_file(home: Path, capsys) -> None:
    csv_file = home / "excel.csv"
    csv_file.write_bytes("uid;phone;name\r\nzoe;+33612345678;Zoé\r\n".encode("cp1252"))
    assert main(["contacts", "import", str(csv_file)]) == 0
    captured = capsys.readouterr()
    assert f"{csv_file}: note: the file is not UTF-8; read it as cp1252" in captured.err
    assert [(c.uid, c.name) for c in contacts_in(home)] == [("zoe", "Zoé")]


def test_contacts_import_of_excel_unicode_text(home: Path, capsys) -> None:
    """Excel's "Unicode Text" is UTF-16 with a BOM and tabs (found by a reviewer: it was
    read as cp1252 and its header refused)."""
    csv_file = home / "excel.txt"
    csv_file.write_bytes("uid\tphone\tname\r\nzoe\t+33612345678\tZoé\r\n".encode("utf-16"))
    assert main(["contacts", "import", str(csv_file)]) == 0
    assert "cp1252" not in capsys.readouterr().err
    assert [(c.uid, c.name) for c in contacts_in(home)] == [("zoe", "Zoé")]


def test_contacts_export_to_a_missing_folder_is_one_line(home: Path, capsys) -> None:
    target = home / "nonexistent" / "dir" / "x.csv"
    assert main(["contacts", "export", str(target)]) == 2
    err = capsys.readouterr().err
    assert err == f"gsmbridge: cannot write {target}: the folder {target.parent} does not exist\n"


def test_contacts_export_does_not_replace_a_file_without_force(home: Path, capsys) -> None:
    main(["contacts", "add", "alice", "+14155550123"])
    target = home / "mine.csv"
    target.write_text("uid,phone,name\nbob,+14155550124,Bob\n", encoding="utf-8")
    assert main(["contacts", "export", str(target)]) == 2
    assert "exists; use --force to replace it" in capsys.readouterr().err
    assert "bob" in target.read_text(encoding="utf-8")
    assert main(["contacts", "export", str(target), "--force"]) == 0
    assert "alice" in target.read_text(encoding="utf-8")


def test_a_data_dir_that_is_a_file_is_one_line(home: Path, capsys) -> None:
    not_a_dir = home / "file"
    not_a_dir.write_text("x", encoding="utf-8")
    assert main(["contacts", "list", "--data-dir", str(not_a_dir)]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"gsmbridge: cannot open the database {not_a_dir / DB_NAME}: ")
    assert err.count("\n") == 1


def test_headless_with_a_data_dir_it_cannot_use_is_one_line(home: Path, capsys) -> None:
    """A file where the folder should be, or a folder that cannot be made: one line that
    says what to do, before anything starts (no traceback from the instance lock)."""
    not_a_dir = home / "file"
    not_a_dir.write_text("x", encoding="utf-8")
    for data_dir, reason in (
        (not_a_dir, "a file of that name is in the way"),
        (not_a_dir / "below", "a file of that name is in the way"),
    ):
        assert main(["--headless", "--modem", "sim", "--data-dir", str(data_dir)]) == 1
        err = capsys.readouterr().err
        assert err == (
            f"gsmbridge: cannot use {data_dir} as the data directory ({reason}); "
            "choose another with --data-dir\n"
        )


def test_modem_commands_run_with_a_broken_config(home: Path, capsys) -> None:
    """They use no settings, so a config with a typo must not stop them."""
    config_dir = home / "config-home" / "gsmbridge"
    config_dir.mkdir(parents=True)
    (config_dir / "config.toml").write_text("[modem\n", encoding="utf-8")
    assert main(["modem", "list", "--no-probe"]) == 0
    assert main(["contacts", "list"]) == 2  # this one needs them, and says why
    assert "not valid TOML" in capsys.readouterr().err


# -- a real process --------------------------------------------------------------------


def test_the_installed_command_prints_one_line_not_a_traceback(home: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GSMBRIDGE_")}
    env.update(XDG_CONFIG_HOME=str(home / "config-home"), GSMBRIDGE_DATA_DIR=str(home / "d"))
    target = home / "no-such-folder" / "x.csv"  # (a fixed path such as /nonexistent may exist)
    proc = subprocess.run(
        [sys.executable, "-m", "gsmbridge", "contacts", "export", str(target)],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert proc.stderr == (
        f"gsmbridge: cannot write {target}: the folder {target.parent} does not exist\n"
    )


@pytest.mark.parametrize(
    ("listen", "says"),
    [("127.0.0.1:99999", "not 0..65535"), (":-1", "not 0..65535"), ("garbage", "not HOST:PORT")],
)
def test_simulate_modem_bad_listen_address_is_one_line(listen: str, says: str, capsys) -> None:
    with pytest.raises(SystemExit) as done:
        main(["simulate-modem", "--listen", listen])
    assert done.value.code == 2
    err = capsys.readouterr().err
    assert says in err and "Traceback" not in err


def test_simulate_modem_that_cannot_listen_does_not_say_it_stopped(capsys) -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert main(["simulate-modem", "--listen", f"127.0.0.1:{port}"]) == 2
    out, err = capsys.readouterr()
    assert f"cannot listen on 127.0.0.1:{port}" in err
    assert "stopped" not in out


def test_contacts_import_of_a_folder_says_it_is_a_folder(home: Path, capsys) -> None:
    assert main(["contacts", "import", str(home)]) == 2
    assert f"{home} is a folder" in capsys.readouterr().err


def test_simulate_modem_refuses_a_gsm7_answer_gsm7_cannot_carry(capsys) -> None:
    """Found by a reviewer: the simulator crashed (UnicodeEncodeError) on the first USSD."""
    argv = ["simulate-modem", "--ussd-coding", "packed", "--ussd-answer", "Solde — 5"]
    assert main(argv) == 2
    assert "use --ussd-coding ucs2" in capsys.readouterr().err


def test_a_timeout_of_zero_or_less_says_more_than_zero(capsys) -> None:
    for value in ("-1", "0", "nan"):
        with pytest.raises(SystemExit):
            main(["modem", "ussd", "*100#", "--timeout", value])
        assert f"must be more than 0, not {value}" in capsys.readouterr().err


def test_contacts_import_says_when_a_running_gsmbridge_sends_what_it_released(
    home: Path, capsys
) -> None:
    """ "released 1 waiting job(s)", and the SMS went out 52 s later: the running app
    does not hear of another process's commit until its next look."""
    from gsmbridge.core.models import NewJob, State

    store = Store(home / "data" / DB_NAME)
    store.enqueue(
        NewJob(uid="alice", name="Alice", text="hi", payload={}, dedup_key="k1",
               state=State.NEEDS_NUMBER)
    )  # fmt: skip
    store.close()
    holder = subprocess.Popen(  # a running gsmbridge: it holds the data directory's lock
        [
            sys.executable,
            "-c",
            "import sys; from pathlib import Path; from gsmbridge.core.instance import "
            f"InstanceLock; lock = InstanceLock(Path({str(home / 'data')!r})); "
            "lock.acquire(); print('held', flush=True); sys.stdin.read()",
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        csv_file = home / "in.csv"
        csv_file.write_text("uid,phone\nalice,+14155550100\n", encoding="utf-8")
        assert main(["contacts", "import", str(csv_file)]) == 0
        out = capsys.readouterr().out
        assert "released 1 waiting job(s) (the running gsmbridge sends them within a minute)" in out
    finally:
        holder.communicate("", timeout=10)


def test_the_settings_know_which_keys_the_command_line_set(home: Path) -> None:
    from gsmbridge.__main__ import settings_from_args

    args = build_parser().parse_args(["--modem", "sim", "--port", "0", "--log-level", "DEBUG"])
    settings = settings_from_args(args)
    assert settings.from_command_line == {"modem.port", "server.port", "logging.level"}
