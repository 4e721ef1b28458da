"""The control socket against hostile and broken peers: a real ControlServer on a temporary
socket (no root needed) for the server side, small fake servers for the client side."""

from __future__ import annotations

import asyncio
import errno
import json
import logging
import shutil
import socket
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List, Optional

import pytest

from qcm.errors import QcmError
from qcm.connect import control_client
from qcm.io import control
from qcm.io.control import ControlServer, ask


HUGE = 8 << 20  # an answer far larger than a socket buffer


async def handler(request: Dict[str, Any]) -> Any:
    command = request["command"]
    if command == "status":
        return {"ok": True, "status": {"state": "connected"}}
    if command == "boom":
        raise RuntimeError("handler bug")
    if command == "slow":
        await asyncio.sleep(float(request.get("seconds", 30)))
        return {"ok": True, "slept": True}
    if command == "weird":
        return ["not", "an", "object"]
    if command == "unencodable":
        return {"ok": True, "value": object()}
    if command == "huge":
        return {"ok": True, "value": "x" * HUGE}
    return {"ok": False, "error": "unknown command %r" % command}


class ServerThread:
    """A ControlServer in its own event loop on a background thread, as in a manager."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.unhandled: List[Dict[str, Any]] = []  # what asyncio would print as "Unhandled exception"
        self.loop = asyncio.new_event_loop()
        self.loop.set_exception_handler(lambda loop, context: self.unhandled.append(context))
        self.server = ControlServer(path, handler)
        self.loop.run_until_complete(self.server.start())
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def call(self, coroutine: Any, timeout: float = 30) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout)

    def open_connections(self) -> int:
        async def count() -> int:
            return len(self.server.connections)
        return self.call(count())

    def stop(self) -> None:
        try:
            self.call(self.server.close())
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(10)
            self.loop.close()


@pytest.fixture
def short_dir() -> Iterator[Path]:
    """A short directory: AF_UNIX paths are limited to 107 bytes, pytest's tmp_path can be longer."""
    path = Path(tempfile.mkdtemp(prefix="qcmc-"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def server(short_dir: Path) -> Iterator[ServerThread]:
    running = ServerThread(short_dir / "run" / "wwan0.sock")
    yield running
    running.stop()
    assert running.unhandled == [], "asyncio saw unhandled exceptions: %s" % running.unhandled


def eventually(predicate: Callable[[], bool], timeout: float = 10) -> bool:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


def raw(path: Path, payload: bytes, timeout: float = 10) -> Dict[str, Any]:
    """Send ``payload`` as is and return the answer, which must be one JSON object line."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(timeout)
        sock.connect(str(path))
        try:
            sock.sendall(payload)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server may answer and close before taking all of an over-long line
        data = b""
        while not data.endswith(b"\n"):
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
    assert data.endswith(b"\n"), "no answer line: %r" % data[:200]
    reply = json.loads(data)
    assert isinstance(reply, dict)
    return reply


MALFORMED = {
    "array": (b"[]\n", "array"),
    "number": (b"1\n", "number"),
    "string": (b'"x"\n', "string"),
    "null": (b"null\n", "null"),
    "nested arrays": (b"[" * 1000 + b"]" * 1000 + b"\n", "nested"),
    "nested objects": (b'{"":' * 700 + b"1" + b"}" * 700 + b"\n", "nested"),
    "64 KiB line": (b'{"command": "' + b"x" * 65536 + b'"}\n', "longer than"),
    "64 KiB without newline": (b"x" * 65536, "longer than"),
    "not UTF-8": (b'{"command": "\xff"}\n', "UTF-8"),
    "not JSON": (b"status\n", "not JSON"),
    "empty line": (b"\n", "empty"),
    "no command": (b'{"verb": "status"}\n', "command"),
    "command not a string": (b'{"command": ["status"]}\n', "command"),
}


@pytest.mark.parametrize("payload, words", MALFORMED.values(), ids=list(MALFORMED))
def test_a_malformed_request_gets_an_error_answer(server: ServerThread, payload: bytes, words: str,
                                                  caplog: pytest.LogCaptureFixture) -> None:
    reply = raw(server.path, payload)
    assert reply["ok"] is False and words in reply["error"]
    assert not [r for r in caplog.records if r.exc_info], "a traceback was logged"
    assert raw(server.path, b'{"command": "status"}\n')["ok"] is True  # and it keeps serving


def test_a_request_without_newline_before_eof_is_taken(server: ServerThread) -> None:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(10)
        sock.connect(str(server.path))
        sock.sendall(b'{"command": "status"}')
        sock.shutdown(socket.SHUT_WR)
        assert json.loads(sock.makefile("rb").readline())["ok"] is True


@pytest.mark.parametrize("command, words", [("boom", "RuntimeError: handler bug"), ("weird", "no answer"),
                                            ("unencodable", "not encodable")])
def test_a_handler_failure_is_an_error_answer_and_one_log_line(server: ServerThread, command: str, words: str,
                                                               caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG, logger=control.log.name):
        reply = ask(server.path, {"command": command}, timeout=10)
    assert reply["ok"] is False and words in reply["error"]
    lines = [r for r in caplog.records if r.name == control.log.name and r.levelno >= logging.ERROR]
    assert len(lines) == 1 and not lines[0].exc_info and "\n" not in lines[0].getMessage()


def test_an_idle_client_is_answered_and_closed_after_the_read_deadline(server: ServerThread) -> None:
    reply = raw(server.path, b"", timeout=control.READ_DEADLINE + 20)
    assert "no request" in reply["error"]
    assert eventually(lambda: server.open_connections() == 0)


def test_a_client_trickling_bytes_is_cut_at_the_read_deadline(server: ServerThread) -> None:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.2)
        sock.connect(str(server.path))
        deadline = time.monotonic() + control.READ_DEADLINE + 20
        answer = b""
        while not answer.endswith(b"\n") and time.monotonic() < deadline:
            try:
                sock.send(b" ")
                answer += sock.recv(4096)
            except socket.timeout:
                continue
            except (BrokenPipeError, ConnectionResetError):
                break
    assert b"no request" in answer


def test_a_client_that_does_not_take_its_answer_is_cut_off(server: ServerThread) -> None:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.connect(str(server.path))
        sock.sendall(b'{"command": "huge"}\n')
        time.sleep(control.WRITE_DEADLINE + 3)  # reads nothing meanwhile
        sock.settimeout(10)
        received = 0
        while True:
            try:
                chunk = sock.recv(1 << 20)
            except ConnectionResetError:
                break
            if not chunk:
                break
            received += len(chunk)
    assert 0 < received < HUGE  # what the socket buffers held, then the server let go


def test_200_idle_connections_then_status_succeeds(server: ServerThread) -> None:
    """A burst of silent clients (faster than the server accepts) must not lock out qcm status."""
    idle: List[socket.socket] = []
    try:
        for _ in range(200):
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.setblocking(False)
            idle.append(sock)
            try:
                sock.connect(str(server.path))
            except BlockingIOError:
                pass  # the queue is full: this one stays unconnected, the next ones keep trying
        reply = ask(server.path, {"command": "status"}, timeout=15)
        assert reply == {"ok": True, "status": {"state": "connected"}}
        assert server.open_connections() <= control.MAX_CLIENTS
        idle[0].settimeout(10)  # the oldest was pushed out for newer clients, and told why
        assert b"dropped" in idle[0].recv(4096)
    finally:
        for sock in idle:
            sock.close()


def test_a_new_client_is_refused_with_busy_when_every_slot_is_answering(server: ServerThread) -> None:
    results: List[Any] = []

    def slow() -> None:
        try:
            results.append(ask(server.path, {"command": "slow", "seconds": 5}, timeout=30))
        except QcmError as exc:
            results.append(exc)

    threads = [threading.Thread(target=slow) for _ in range(control.MAX_CLIENTS)]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 10
    while server.open_connections() < control.MAX_CLIENTS and time.monotonic() < deadline:
        time.sleep(0.01)
    with pytest.raises(QcmError) as refused:
        ask(server.path, {"command": "status"}, timeout=10)
    assert refused.value.exit_status == 11 and "busy" in str(refused.value)
    for thread in threads:
        thread.join(30)
    assert results == [{"ok": True, "slept": True}] * control.MAX_CLIENTS
    assert ask(server.path, {"command": "status"}, timeout=10)["ok"] is True


def test_close_answers_requests_in_flight_and_drops_idle_clients(server: ServerThread) -> None:
    idle = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    idle.connect(str(server.path))
    busy = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    busy.connect(str(server.path))
    busy.sendall(b'{"command": "slow", "seconds": 0.3}\n')
    while server.open_connections() < 2:
        time.sleep(0.01)
    server.call(server.server.close())
    busy.settimeout(10)
    idle.settimeout(10)
    assert json.loads(busy.makefile("rb").readline()) == {"ok": True, "slept": True}
    assert idle.recv(4096) == b""  # closed without waiting for its deadline
    assert not server.path.exists() and eventually(lambda: server.open_connections() == 0)
    busy.close()
    idle.close()


# ---------------------------------------------------------------------- the client against broken servers

class FakeServer:
    """A listening socket that does what ``behaviour(connection)`` does with each client, or nothing."""

    def __init__(self, path: Path, behaviour: Optional[Callable[[socket.socket], None]], backlog: int = 64) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(str(path))
        self.sock.listen(backlog)
        self.behaviour = behaviour
        self.thread = threading.Thread(target=self._serve, daemon=True)
        if behaviour is not None:
            self.thread.start()

    def _serve(self) -> None:
        try:
            connection, _ = self.sock.accept()
        except OSError:
            return
        with connection:
            connection.settimeout(5)
            try:
                connection.recv(4096)
                assert self.behaviour is not None
                self.behaviour(connection)
            except OSError:
                pass

    def close(self) -> None:
        self.sock.close()
        if self.thread.is_alive():
            self.thread.join(10)


def answering(data: bytes) -> Callable[[socket.socket], None]:
    return lambda connection: connection.sendall(data)


@pytest.mark.parametrize("behaviour", [
    answering(b"this is not json\n"),
    answering(b"[1, 2, 3]\n"),
    answering(b'{"status": "no ok key"}\n'),
    answering(b"[" * 100000 + b"\n"),
    answering(b"\xff\xfe\n"),
    answering(b" " * (2 << 20)),  # over the answer cap, never a newline
    answering(b""),               # closes without a word
], ids=["not json", "array", "no ok", "deep", "not utf-8", "endless", "silent close"])
def test_the_client_turns_a_garbled_answer_into_one_error(short_dir: Path, behaviour: Any) -> None:
    path = short_dir / "m.sock"
    fake = FakeServer(path, behaviour)
    try:
        with pytest.raises(QcmError) as failed:
            ask(path, {"command": "status"}, timeout=10)
        assert failed.value.exit_status == 9
    finally:
        fake.close()


def test_the_client_gives_up_on_a_stalled_server_within_its_timeout(short_dir: Path) -> None:
    path = short_dir / "m.sock"
    fake = FakeServer(path, None)  # listens, never accepts: the connection sits in the queue
    try:
        started = time.monotonic()
        with pytest.raises(QcmError) as failed:
            ask(path, {"command": "status"}, timeout=1)
        assert failed.value.exit_status == 9 and "did not answer" in str(failed.value)
        assert time.monotonic() - started < 30
    finally:
        fake.close()


def fill_queue(path: Path) -> List[socket.socket]:
    queued: List[socket.socket] = []
    while len(queued) < 1000:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.setblocking(False)
        try:
            sock.connect(str(path))
        except BlockingIOError:
            sock.close()
            return queued
        queued.append(sock)
    raise AssertionError("the connection queue never filled")


def test_the_client_reports_a_full_connection_queue_as_busy(short_dir: Path) -> None:
    path = short_dir / "m.sock"
    fake = FakeServer(path, None, backlog=1)
    queued = fill_queue(path)
    try:
        with pytest.raises(QcmError) as busy:
            ask(path, {"command": "status"}, timeout=1)
        assert busy.value.exit_status == 11 and "busy" in str(busy.value)
    finally:
        for sock in queued:
            sock.close()
        fake.close()


def test_a_manager_with_a_full_queue_is_alive_and_its_socket_is_kept(short_dir: Path) -> None:
    """A second manager must not take a busy manager's socket for a stale one and unlink it."""
    path = short_dir / "run" / "wwan0.sock"
    fake = FakeServer(path, None, backlog=1)
    queued = fill_queue(path)
    try:
        with pytest.raises(QcmError) as refused:
            asyncio.run(ControlServer(path, handler).start())
        assert refused.value.exit_status == 11 and path.exists()
    finally:
        for sock in queued:
            sock.close()
        fake.close()


def test_the_client_reads_an_answer_sent_before_it_could_send_its_request(short_dir: Path, monkeypatch: Any) -> None:
    """A server at its limit answers busy and hangs up at once; the client's send then fails
    (EPIPE), but the answer is waiting and says why."""
    path = short_dir / "m.sock"
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(str(path))
    listener.listen(1)
    hung_up = threading.Event()

    def busy_server() -> None:
        connection, _ = listener.accept()
        connection.sendall(b'{"ok": false, "busy": true, "error": "busy: 16 requests are being answered"}\n')
        connection.close()
        hung_up.set()

    def late_encode(message: Dict[str, Any], real: Callable[..., bytes] = control.encode) -> bytes:
        hung_up.wait(10)  # the request is sent only after the server hung up
        return real(message)

    thread = threading.Thread(target=busy_server, daemon=True)
    thread.start()
    monkeypatch.setattr(control, "encode", late_encode)
    try:
        with pytest.raises(QcmError) as busy:
            ask(path, {"command": "status"}, timeout=10)
        assert busy.value.exit_status == 11 and "busy" in str(busy.value)
    finally:
        listener.close()
        thread.join(10)


def test_the_client_says_not_running_for_a_missing_or_stale_socket(short_dir: Path) -> None:
    with pytest.raises(QcmError) as missing:
        ask(short_dir / "none.sock", {"command": "status"}, timeout=5)
    stale = short_dir / "stale.sock"
    FakeServer(stale, None).close()  # bound, then its owner died: the file stays
    with pytest.raises(QcmError) as dead:
        ask(stale, {"command": "status"}, timeout=5)
    assert missing.value.exit_status == dead.value.exit_status == 3


# ---------------------------------------------------------------------- without I/O

@pytest.mark.parametrize("text", ["", "x" * 16, ".", "..", "a/b", "../etc", "wl an", "a:b", "w\x1b[2J", "w\x9b",
                                  "w\x00", "w\n"])
def test_interface_names_the_kernel_would_refuse_are_refused(text: str) -> None:
    with pytest.raises(QcmError) as refused:
        control.interface_name(text)
    assert refused.value.exit_status == 2


@pytest.mark.parametrize("text", ["wwan0", "x" * 15, "enx0c5b8f279a64", "wwp0s20f0u6i4", "rmnet_data0"])
def test_real_interface_names_pass(text: str) -> None:
    assert control.interface_name(text) == text


def test_the_depth_scan_ignores_brackets_inside_strings() -> None:
    assert control.parse_request(b'{"command": "[[[[[[[[[[[[[[[[[[[[[[[[[[[["}')["command"].startswith("[")
    assert control.parse_request(b'{"command": "a\\"[[[[[[[[[[[[[[[[[[[[[[[["}')["command"].startswith("a")
    with pytest.raises(control.BadRequest):
        control.parse_request(b'{"command": "x", "a": [[[[[[[[[[[]]]]]]]]]]}')


def test_listing_connections_without_permission_says_it_needs_root(short_dir: Path, monkeypatch: Any) -> None:
    run_dir = short_dir / "run"
    run_dir.mkdir()

    def denied(path: Any) -> List[str]:
        raise PermissionError(errno.EACCES, "Permission denied", str(path))

    monkeypatch.setattr(control_client.os, "listdir", denied)
    with pytest.raises(QcmError) as refused:
        control_client.local_connections(run_dir)
    assert refused.value.exit_status == 10 and "root" in str(refused.value)
