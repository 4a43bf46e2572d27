"""``defectlab label``: arguments, token rules, and a real server started from the command line."""

from __future__ import annotations

import argparse
import re
import socket

import httpx
import pytest
from app_testutil import label_server

from defectlab.cli import label as cli


def parse(*argv):
    parser = argparse.ArgumentParser()
    cli.register(parser.add_subparsers(dest="command"))
    return parser.parse_args(["label", *argv])


def test_label_is_listed_in_the_main_cli():
    from defectlab import cli as main_cli

    assert "defectlab.cli.label" in main_cli.COMMANDS


def test_defaults_are_loopback_copy_and_no_token(tmp_path):
    args = parse(str(tmp_path), "--normal", str(tmp_path))
    assert args.host == "127.0.0.1" and args.placement == "copy" and args.token is None
    assert args.func is cli.run_label
    assert parse(str(tmp_path), "--normal", str(tmp_path), "--link").placement == "link"
    assert args.fill and not parse(str(tmp_path), "--normal", str(tmp_path), "--no-fill").fill
    assert args.grabcut and not parse(str(tmp_path), "--normal", str(tmp_path), "--no-grabcut").grabcut
    with pytest.raises(SystemExit):
        parse(str(tmp_path), "--normal", str(tmp_path), "--link", "--copy")


def test_token_rules():
    assert cli.resolve_token("127.0.0.1", None) == (None, False)
    assert cli.resolve_token("localhost", None) == (None, False)
    token, generated = cli.resolve_token("0.0.0.0", None)
    assert generated and len(token) >= 24
    assert cli.resolve_token("0.0.0.0", "given-token") == ("given-token", False)
    assert cli.resolve_token("127.0.0.1", "given-token") == ("given-token", False)
    with pytest.raises(ValueError, match="at least 8"):
        cli.resolve_token("0.0.0.0", "short")


def test_page_urls_name_the_host_given():
    from defectlab.app.security import page_urls

    assert page_urls("127.0.0.1", 8765) == ["http://127.0.0.1:8765/"]
    assert page_urls("::1", 9) == ["http://[::1]:9/"]
    assert page_urls("10.1.2.3", 80, "abc") == ["http://10.1.2.3:80/?token=abc"]


def test_page_urls_for_every_interface_are_reachable_from_other_machines(monkeypatch):
    # --host 0.0.0.0 is for other computers, to which 127.0.0.1 is themselves.
    from defectlab.app import security

    infos = [(socket.AF_INET, 0, 0, "", ("127.0.1.1", 0)), (socket.AF_INET, 0, 0, "", ("192.168.4.20", 0)),
             (socket.AF_INET6, 0, 0, "", ("fe80::1%eth0", 0, 0, 2)), (socket.AF_INET6, 0, 0, "", ("2001:db8::7", 0, 0, 0))]
    monkeypatch.setattr(security.socket, "gethostname", lambda: "inspect-01")
    monkeypatch.setattr(security.socket, "getaddrinfo", lambda *a, **k: infos)
    assert security.page_urls("0.0.0.0", 8765, "abc") == [
        "http://192.168.4.20:8765/?token=abc", "http://inspect-01:8765/?token=abc"]
    assert security.page_urls("::", 1) == ["http://192.168.4.20:1/", "http://[2001:db8::7]:1/", "http://inspect-01:1/"]

    def unresolvable(*args, **kwargs):
        raise socket.gaierror("no such host")

    monkeypatch.setattr(security.socket, "getaddrinfo", unresolvable)
    assert security.page_urls("0.0.0.0", 2) == ["http://inspect-01:2/"]


def test_busy_port_gives_a_clear_message():
    holder = socket.socket()
    holder.bind(("127.0.0.1", 0))
    holder.listen(1)
    try:
        with pytest.raises(OSError, match="already in use; pass --port 0"):
            cli.bind_socket("127.0.0.1", holder.getsockname()[1])
    finally:
        holder.close()


def test_non_loopback_bind_prints_a_generated_token_and_enforces_it(folders, tmp_path, monkeypatch, capsys):
    import uvicorn

    images, normal = folders
    served = {}

    def fake_run(self, sockets=None):
        served["app"] = self.config.app
        for s in sockets:
            s.close()

    monkeypatch.setattr(uvicorn.Server, "run", fake_run)
    args = parse(str(images), "--normal", str(normal), "--out", str(tmp_path / "o"), "--host", "0.0.0.0",
                 "--port", "0", "--engine", "fake")
    assert cli.run_label(args) == 0
    printed = capsys.readouterr().out
    token = re.search(r"access token (\S+)", printed).group(1)
    assert f"?token={token}" in printed
    from fastapi.testclient import TestClient

    client = TestClient(served["app"])
    assert client.get("/api/state").status_code == 401
    assert client.get("/api/state", headers={"x-defectlab-token": token}).status_code == 200


def test_command_line_serves_the_app(folders, tmp_path):
    images, normal = folders
    with label_server(images, normal, tmp_path / "out") as (_, url):
        assert url.startswith("http://127.0.0.1:")
        response = httpx.get(url + "/api/state", timeout=5)
        assert response.status_code == 200
        assert response.json()["progress"]["total"] == 4
        # The Host check refuses a name other than the loopback ones.
        assert httpx.get(url + "/api/state", headers={"host": "attacker.example"}).status_code == 400


def test_missing_folder_is_a_one_line_error(tmp_path, capsys):
    from defectlab.cli import main

    assert main(["label", str(tmp_path / "nope"), "--normal", str(tmp_path), "--engine", "fake"]) == 2
    err = capsys.readouterr().err
    assert "argument IMAGES_DIR: folder not found" in err and "Traceback" not in err


def test_listening_socket_is_tcp_so_responses_are_not_delayed():
    # asyncio sets TCP_NODELAY only when proto is IPPROTO_TCP; with proto 0
    # every response waited ~40 ms for a delayed ACK (measured: 44 ms -> 3 ms).
    sock = cli.bind_socket("127.0.0.1", 0)
    try:
        assert sock.proto == socket.IPPROTO_TCP
    finally:
        sock.close()
