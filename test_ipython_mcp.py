"""Tests for ipython_mcp: real ipykernel processes, driven through a real MCP client.

Most tests use the SDK's in-process client-server pairing; the end-to-end
tests start the installed console script and speak MCP over its stdio.
"""

import base64
import dataclasses
import datetime
import html
import ipaddress
import json
import logging
import math
import os
import re
import shutil
import signal
import socket
import ssl
import struct
import subprocess
import sys
import tempfile
import time
from contextlib import asynccontextmanager, contextmanager, suppress
from pathlib import Path
from typing import Literal

import pytest
import trio
import trio.testing
from mcp import Client
from mcp.client.extension import ClientExtension, ResultClaim
from mcp.client.stdio import StdioServerParameters
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError
from mcp_types import CallToolResult, Request, Result
from pydantic import ConfigDict, TypeAdapter

import ipython_mcp
from ipython_mcp import META_KEY, Config, State, build_server, open_sessions


# Real kernels and real clients take seconds each; `-m "not slow"` runs the rest in seconds.
slow = pytest.mark.slow
network = pytest.mark.network  # a socket server runs: HTTP, a Jupyter server


# A test of the console script over stdio and over streamable HTTP; only the HTTP one runs a socket server.
TRANSPORTS = pytest.mark.parametrize("transport", [pytest.param("stdio"), pytest.param("http", marks=network)])


def on_the_jupyter_server(test):
    """A test against the shared Jupyter server fixture: slow, network, and on the worker that runs it."""
    return pytest.mark.xdist_group("jupyter-server")(slow(network(test)))


# ---------------------------------------------------------------------------
# fixtures and helpers
# ---------------------------------------------------------------------------


# A 1x1 red PNG, small enough to inline.
PNG_1PX = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg=="
)


@pytest.fixture
def config(tmp_path):
    # No warm spare by default: most tests start few kernels and should not pay for one more.
    return Config(envs_dir=tmp_path / "envs", interrupt_grace_s=2.0, spares=0)


@pytest.fixture
async def sessions(config):
    async with open_sessions(config) as sessions:
        yield sessions


@pytest.fixture
async def client(sessions):
    async with Client(build_server(sessions)) as client:
        yield client


def text(result) -> str:
    return "".join(block.text for block in result.content if block.type == "text")


def record(result) -> dict:
    return result.meta[META_KEY]


async def run(client, session, code, **kwargs):
    return await client.call_tool("execute", {"session": session, "code": code, **kwargs})


@contextmanager
def spares_logged():
    """The pids of spare kernels, as the server's log says each is ready."""
    logged, ready = trio.open_memory_channel(math.inf)

    class Ready(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            if record.msg == "spare kernel %s is ready":
                logged.send_nowait(record.args[0])

    logger, handler = logging.getLogger("ipython_mcp"), Ready()
    level = logger.level
    logger.setLevel(logging.INFO)
    logger.addHandler(handler)
    try:
        yield ready
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


NO_OUTPUT = ("(no output)", "(no output yet)")  # what a reply says in place of output it does not have


def said_lines(*bodies: str) -> list[str]:
    """The lines of output in replies: not their status lines ("[...]"), nor the words of a reply that had none."""
    return [line for body in bodies for line in body.splitlines() if line and not line.startswith("[") and line not in NO_OUTPUT]


async def until_it_ends(client, session: str, first, **wait) -> list:
    """A cell's replies: the first one, then wait's, until one no longer says the cell is running."""
    replies = [first]
    while record(replies[-1])["status"] == "running":
        replies.append(await client.call_tool("wait", {"session": session, **wait}))
    return replies


def proc_stat(pid: int) -> list[str]:
    """The fields of /proc/<pid>/stat after the command's name: its state, then its parent's pid, ..."""
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()


def alive(pid: int) -> bool:
    """True while the process exists and is not a zombie waiting to be reaped."""
    try:
        return proc_stat(pid)[0] != "Z"
    except FileNotFoundError:
        return False


async def wait_gone(pids, within: float = 10.0) -> list[int]:
    """Wait, at most `within` seconds, for processes to exit; return those still alive.

    A pidfd becomes readable when its process exits, even when it is not our child.
    """
    with trio.move_on_after(within):
        for pid in pids:
            try:
                fd = os.pidfd_open(pid)
            except ProcessLookupError:
                continue
            try:
                await trio.lowlevel.wait_readable(fd)
            finally:
                os.close(fd)
    return [p for p in pids if alive(p)]


def listening_tcp_inodes() -> set[str]:
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(table) as f:
            for line in list(f)[1:]:
                fields = line.split()
                if fields[3] == "0A":  # LISTEN
                    inodes.add(fields[9])
    return inodes


def socket_inodes(pid: int) -> set[str]:
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except FileNotFoundError:  # closed while we looked
            continue
        if target.startswith("socket:["):
            inodes.add(target[len("socket:[") : -1])
    return inodes


def children_of(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(p) for p in path.read_text().split()] if path.exists() else []


async def kernel_pid(client, session) -> int:
    listing = (await client.call_tool("list_sessions", {})).structured_content["result"]
    return next(s["pid"] for s in listing if s["name"] == session)


CONSOLE_SCRIPT = shutil.which("ipython-mcp", path=os.path.dirname(sys.executable)) or "ipython-mcp"


TOOLS = {"execute", "wait", "output", "export", "variables", "list_sessions", "interrupt", "reset", "shutdown", "attach"}


def runtime_dirs(server_pid: int) -> list[Path]:
    """The private runtime directories of the server with that pid (each names its server)."""
    return list(Path(tempfile.gettempdir()).glob(f"ipython-mcp-{server_pid}-*"))


def parent_of(pid: int) -> int:
    return int(proc_stat(pid)[1])


class RawServer:
    """The console script on pipes, spoken to in newline-delimited JSON-RPC."""

    def __init__(self, process: trio.Process):
        self.process = process
        self._buffer = b""
        self._next_id = 0

    async def send(self, message: dict) -> None:
        await self.process.stdin.send_all(json.dumps(message).encode() + b"\n")

    async def receive(self) -> dict:
        while b"\n" not in self._buffer:
            chunk = await self.process.stdout.receive_some()
            assert chunk, "server closed stdout"
            self._buffer += chunk
        line, self._buffer = self._buffer.split(b"\n", 1)
        return json.loads(line)

    async def request(self, method: str, params: dict) -> dict:
        self._next_id += 1
        await self.send({"jsonrpc": "2.0", "id": self._next_id, "method": method, "params": params})
        while True:
            message = await self.receive()
            if message.get("id") == self._next_id:
                return message

    async def initialize(self, version: str = "2025-11-25") -> dict:
        reply = await self.request("initialize", {"protocolVersion": version, "capabilities": {}, "clientInfo": {"name": "raw", "version": "0"}})
        assert reply["result"]["serverInfo"]["name"] == "ipython-mcp"
        await self.send({"jsonrpc": "2.0", "method": "notifications/initialized"})
        return reply["result"]

    async def execute(self, session: str, code: str) -> str:
        reply = await self.request("tools/call", {"name": "execute", "arguments": {"session": session, "code": code}})
        return "".join(block["text"] for block in reply["result"]["content"] if block["type"] == "text")


async def end_process(process: trio.Process, within: float = 20) -> bool:
    """Close a console script's stdin (its client's end of the wire) and wait for it to exit; kill it if it does not
    within `within` seconds. Shielded: a test that failed or was cancelled leaves no server. True if it exited itself."""
    with trio.CancelScope(shield=True):
        await process.stdin.aclose()
        with trio.move_on_after(within):
            await process.wait()
        if stuck := process.returncode is None:
            process.kill()
            await process.wait()
        return not stuck


async def start_raw_server(nursery, *flags: str) -> RawServer:
    """The console script on pipes; when the test ends, however it ends, its stdin is closed and it is waited for."""
    process = await trio.lowlevel.open_process(
        [CONSOLE_SCRIPT, *flags], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL
    )

    async def reap() -> None:
        try:
            await process.wait()
        finally:
            await end_process(process)

    nursery.start_soon(reap)
    server = RawServer(process)
    await server.initialize("2025-06-18")  # the older revision: the newer ones are spoken elsewhere
    return server


def descendants(pid: int) -> set[int]:
    """Every process below pid, found through /proc's parent links."""
    parents = {}
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            parents[int(entry.name)] = parent_of(int(entry.name))
        except (OSError, ValueError):
            continue
    found, frontier = set(), {pid}
    while frontier:
        frontier = {child for child, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found


def described(pids: set[int]) -> list[str]:
    """Processes as an assertion names them: pid, state and command line."""
    said = []
    for pid in sorted(pids):
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
            command = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")[:200]
            said.append(f"{pid} {state} {command!r}")
        except OSError:
            said.append(f"{pid} gone")
    return said


def open_fds() -> set[str]:
    return {fd.name for fd in Path("/proc/self/fd").iterdir()}


def vm_kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise KeyError(field)


def fake_python(path: Path, script: str) -> Path:
    """An "interpreter" that is a shell script: for start-up failures a real kernel cannot produce."""
    path.write_text("#!/bin/sh\n" + script)
    path.chmod(0o755)
    return path


def session_kernels(sessions) -> set[int]:
    """Kernel processes of this registry that are still running: they keep their files in its runtime directory."""
    found = set()
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if str(sessions.runtime_dir).encode() in cmdline and alive(int(entry.name)):
            found.add(int(entry.name))
    return found


async def assert_kernels_settle(sessions) -> None:
    """Every live session has one kernel and no other kernel of this registry is left running."""
    expected = {s.kernel.pid for s in sessions if s.kernel is not None and s.kernel.pid}
    assert await wait_gone(sorted(session_kernels(sessions) - expected)) == []
    assert session_kernels(sessions) == expected


SERVER_ERRORS = ("ipython_mcp", "RuntimeError", "NotImplementedError", "ExceptionGroup")


def assert_clean(result) -> None:
    """A reply that is not the server failing: the SDK answers an unexpected exception with the bare
    "Error executing tool <name>"; an expected refusal says why after a colon."""
    body = text(result).strip()
    assert not re.fullmatch(r"Error executing tool \w+", body), body
    assert not any(mark in body for mark in SERVER_ERRORS), body


# ---------------------------------------------------------------------------
# settings
# ---------------------------------------------------------------------------


def test_every_setting_is_a_flag_and_a_variable(capsys):
    config = Config.from_environ({"IPYTHON_MCP_MAX_SESSIONS": "7", "IPYTHON_MCP_AUTO_INSTALL_IPYKERNEL": "yes", "IPYTHON_MCP_ALLOWED_HOST": "a.example, b.example"})
    assert (config.max_sessions, config.auto_install_ipykernel, config.allowed_hosts) == (7, True, ("a.example", "b.example"))
    flags, _ = ipython_mcp.parse_args(["--max-sessions", "3", "--allowed-host", "x", "--allowed-host", "y", "--notebook-dir", "~/nb"])
    assert (flags.max_sessions, flags.allowed_hosts, flags.notebook_dir) == (3, ("x", "y"), Path("~/nb").expanduser())
    with pytest.raises(SystemExit, match="IPYTHON_MCP_PORT='http'"):
        Config.from_environ({"IPYTHON_MCP_PORT": "http"})
    for bad, complaint in (
        (["--no-auth", "--host", "0.0.0.0"], r"--no-auth is refused with --host 0\.0\.0\.0: .*bind a loopback address"),
        (["--certfile", "c.pem"], r"--certfile and --keyfile go together"),
        (["--max-sessions", "0"], r"--max-sessions must be a positive number, got 0"),
        (["--interrupt-grace", "-1"], r"--interrupt-grace must be a positive number of seconds, got -1"),
    ):
        with pytest.raises(SystemExit) as refused:
            ipython_mcp.parse_args(bad)
        stderr = capsys.readouterr().err
        assert refused.value.code == 2 and re.search(rf"^ipython-mcp: error: {complaint}", stderr, re.M), stderr


def test_the_reply_budget_follows_the_clients_tool_timeout():
    assert Config.from_environ({}).reply_after_s == 50
    assert Config.from_environ({}).default_timeout_s is None, "cells have no time limit unless one is set"
    assert Config.from_environ({"MCP_TOOL_TIMEOUT": "30000"}).reply_after_s == 28
    assert Config.from_environ({"IPYTHON_MCP_TIMEOUT": "600"}).default_timeout_s == 600
    config = Config.from_environ({"IPYTHON_MCP_OUTPUT_CHARS": "5000", "IPYTHON_MCP_SPARES": "0"}, max_sessions=3)
    assert (config.output_chars, config.spares, config.max_sessions) == (5000, 0, 3)


def test_a_number_below_its_floor_is_refused_naming_the_flag():
    for argv, complaint in [
        (["--port", "-1"], "--port must be 0 or more, got -1"),
        (["--linger", "-5"], "--linger must be 0 or more seconds"),
        (["--interrupt-grace", "0"], "--interrupt-grace must be a positive number of seconds"),
        (["--reply-after", "nan"], "--reply-after must be 0 or more seconds"),
        (["--output-chars", "199"], "--output-chars must be at least 200"),
        (["--max-sessions", "0"], "--max-sessions must be a positive number"),
    ]:
        with pytest.raises(ValueError, match=re.escape(complaint)):
            ipython_mcp.read_command(argv, {})
    config, _ = ipython_mcp.read_command(["--port", "0", "--linger", "0", "--reply-after", "0"], {})
    assert (config.port, config.linger_s, config.reply_after_s) == (0, 0, 0), "0 is accepted where it means something"


def test_the_token_is_a_setting_never_shown():
    config = Config.from_environ({"IPYTHON_MCP_TOKEN": "s3cret-token", "IPYTHON_MCP_GATEWAY_TOKEN": "gw-s3cret"})
    assert (config.token, config.gateway_token) == ("s3cret-token", "gw-s3cret")
    assert "s3cret" not in repr(config)
    assert "--token" not in ipython_mcp._parser().format_help().replace("--token-file", ""), "a variable only: flags show in process listings"


def test_the_readme_names_every_tool_flag_and_variable():
    readme = (Path(ipython_mcp.__file__).parent / "README.md").read_text()
    for item, _ in Config.settings():
        flag, variable = item.metadata["flag"], item.metadata["variable"]
        assert (flag is None or f"`{flag}" in readme) and f"`{variable}`" in readme, f"the README's flags table lacks {flag or variable}"
    for tool in TOOLS:
        assert f"| `{tool}` |" in readme, f"the README's tool table lacks {tool}"


@slow
def test_console_script_answers_help_and_version():
    version = subprocess.run([CONSOLE_SCRIPT, "--version"], capture_output=True, text=True, check=True)
    assert version.stdout.strip() == f"ipython-mcp {ipython_mcp.__version__}"
    usage = subprocess.run([CONSOLE_SCRIPT, "--help"], capture_output=True, text=True, check=True)
    for flag in ("--transport", "--gateway-url", "--spares", "--auto-install-ipykernel", "--output-chars", "--persist", "--linger", "--status", "--stop"):
        assert flag in usage.stdout
    script = subprocess.run([sys.executable, ipython_mcp.__file__, "--version"], capture_output=True, text=True, check=True)
    assert script.stdout.strip() == version.stdout.strip()


# ---------------------------------------------------------------------------
# the session owner, against a fake kernel, in no real time
# ---------------------------------------------------------------------------
#
# An in-process kernel that speaks just enough of the protocol, under trio's
# MockClock(autojump_threshold=0): every sleep, deadline and grace jumps to
# its end as soon as everything waits, so the lifecycle runs in milliseconds.
# A fake cell is a script of commands separated by ";":
#   print TEXT | warn TEXT (to stderr) | result TEXT (the cell's value) |
#   display ID TEXT | update ID TEXT (a display, and an update to it) |
#   clear (clear_output) | image (a PNG) | sleep SECONDS |
#   deaf (ignore interrupts from now on) | die CODE (the process exits) |
#   raise NAME | input PROMPT (print the answer)

class FakeSession:
    """Builds messages as jupyter_client's Session does, as far as the server looks."""

    def msg(self, msg_type: str, content: dict, parent: dict | None = None) -> dict:
        header = {"msg_id": os.urandom(8).hex(), "msg_type": msg_type}
        return {"header": header, "msg_type": msg_type, "parent_header": (parent or {}).get("header", {}), "content": content}


class FakeKernel(ipython_mcp.Kernel):
    def __init__(self, source, ran: list[str], start_delay: float = 0.0, fails: str | None = None) -> None:
        super().__init__(source)
        self.ran = ran  # the code of every cell that started, across kernels: what was really run
        self.start_delay = start_delay
        self.fails = fails
        self.count = 0
        self.interrupts = 0
        self.deaf = False
        self._cell: trio.CancelScope | None = None
        self._requests, self._queue = trio.open_memory_channel(math.inf)
        self._answers, self._stdin = trio.open_memory_channel(math.inf)

    async def _launch(self) -> dict:
        await trio.sleep(self.start_delay)
        if self.fails:
            raise ipython_mcp.KernelStartError(self.fails)
        self._session = FakeSession()
        return {}

    async def restart(self, start_timeout: float) -> None:  # where a test sets restarts_in_place, as a Jupyter server's kernel has it
        await trio.sleep(self.start_delay)
        self.count = 0

    async def _open(self, connection: dict, nursery: trio.Nursery) -> None:
        nursery.start_soon(self._serve_cells)

    async def _handshake(self) -> None:
        self.info = {"language_info": {"name": "python"}}

    async def _send(self, channel: str, msg: dict) -> None:
        (self._requests if channel == "shell" else self._answers).send_nowait(msg)

    async def interrupt(self) -> None:
        self.interrupts += 1
        if self._cell is not None and not self.deaf:
            self._cell.cancel()

    async def _emit(self, parent: dict, msg_type: str, **content) -> None:
        await self._deliver({"header": {"msg_id": os.urandom(8).hex(), "msg_type": msg_type}, "msg_type": msg_type, "parent_header": parent, "content": content})

    async def _serve_cells(self) -> None:
        async for request in self._queue:
            parent = request["header"]
            await self._emit(parent, "status", execution_state="busy")
            self.count += 1
            self.ran.append(request["content"]["code"])
            await self._emit(parent, "execute_input", execution_count=self.count, code=request["content"]["code"])
            failure = None
            with trio.CancelScope() as scope:
                self._cell = scope
                failure = await self._run(parent, request["content"])
            self._cell, self.deaf = None, False
            if scope.cancelled_caught:
                failure = "KeyboardInterrupt"
            if failure == "died":
                return
            if failure is not None:
                await self._emit(parent, "error", ename=failure, evalue="", traceback=[f"{failure}: raised in the fake kernel"])
            await self._emit(parent, "execute_reply", status="error" if failure else "ok", execution_count=self.count)
            await self._emit(parent, "status", execution_state="idle")

    async def _run(self, parent: dict, content: dict) -> str | None:
        for command in filter(None, (c.strip() for c in content["code"].split(";"))):
            verb, _, argument = command.partition(" ")
            if verb in ("print", "warn"):
                await self._emit(parent, "stream", name="stdout" if verb == "print" else "stderr", text=argument + "\n")
            elif verb == "result":
                await self._emit(parent, "execute_result", execution_count=self.count, data={"text/plain": argument}, metadata={})
            elif verb in ("display", "update"):
                display_id, _, shown = argument.partition(" ")
                kind = "display_data" if verb == "display" else "update_display_data"
                await self._emit(parent, kind, data={"text/plain": shown}, metadata={}, transient={"display_id": display_id})
            elif verb == "clear":
                await self._emit(parent, "clear_output", wait=False)
            elif verb == "image":
                await self._emit(parent, "display_data", data={"image/png": base64.b64encode(PNG_1PX).decode(), "text/plain": "<Figure>"}, metadata={})
            elif verb == "sleep":
                await trio.sleep(float(argument))
            elif verb == "deaf":
                self.deaf = True
            elif verb == "raise":
                return argument
            elif verb == "die":
                self.returncode = int(argument)  # as the process watcher would see it
                self._close_replies()
                self._scope.cancel()
                return "died"
            elif verb == "input":
                if not content.get("allow_stdin"):
                    return "StdinNotImplementedError"
                ask = FakeSession().msg("input_request", {"prompt": argument + " ", "password": False})
                ask["parent_header"] = parent
                await self._deliver(ask)
                answer = await self._stdin.receive()
                if answer["content"]["value"] == ipython_mcp.INPUT_EOF:
                    return "EOFError"
                await self._emit(parent, "stream", name="stdout", text=f"got {answer['content']['value']}\n")
        return None


@dataclasses.dataclass
class Fakes:
    sessions: object
    ran: list  # the code of every cell a fake kernel started
    kernels: list
    next_kernel: dict = dataclasses.field(default_factory=dict)  # options for the next kernels made


@pytest.fixture
async def fakes(tmp_path):
    async with open_sessions(Config(envs_dir=tmp_path, spares=0, interrupt_grace_s=3.0)) as sessions:
        fakes = Fakes(sessions, [], [])

        def new_kernel(source, cwd):
            kernel = FakeKernel(source, fakes.ran, **fakes.next_kernel)
            fakes.kernels.append(kernel)
            return kernel

        sessions.new_kernel = new_kernel
        yield fakes


@pytest.fixture
async def fake_client(fakes):
    """A real MCP client, paired in memory with a server whose kernels are fakes."""
    async with Client(build_server(fakes.sessions)) as client:
        yield client


async def fake_execute(fakes, code, name="s", *, wait_s=100.0, timeout=None, user=None):
    return await fakes.sessions.execute(name, code, env=None, cwd=None, timeout=timeout, wait_s=wait_s, budget=20_000, user=user or ipython_mcp.UserInput(None))


def said(outcome) -> str:
    return text(outcome.to_result())


def live_kernels(fakes) -> int:
    return sum(not kernel.gone.is_set() for kernel in fakes.kernels)


class AnsweringUser(ipython_mcp.UserInput):
    """A client that can ask its user during the call, and what the user answers (None: declines)."""

    def __init__(self, answer: str | None) -> None:
        super().__init__(None)
        self.in_call = self.form = True
        self.answer = answer
        self.asked: list[str] = []

    async def elicit(self, ask, session, deadline):
        self.asked.append(ask.prompt)
        return self.answer, "the user declined"


class RecordedMoves:
    """Stands in for Session.state (a data descriptor): it sees every change of every session's state, whoever makes it."""

    def __init__(self) -> None:
        self.initial: set[State] = set()
        self.moves: set[tuple[State, State]] = set()

    def __get__(self, session, owner=None):
        return self if session is None else session.__dict__["state"]

    def __set__(self, session, state: State) -> None:
        if "state" in session.__dict__:
            self.moves.add((session.__dict__["state"], state))
        else:
            self.initial.add(state)
        session.__dict__["state"] = state


async def test_a_session_moves_only_as_the_state_table_says(monkeypatch, fakes, autojump_clock):
    recorded = RecordedMoves()
    monkeypatch.setattr(ipython_mcp.Session, "state", recorded, raising=False)
    # every lifecycle event a session meets: a start, a cell, a kernel killed, one that dies,
    # reset and shutdown in each state, a start that fails, a restart in place
    await fake_execute(fakes, "print hello")
    await fake_execute(fakes, "deaf; sleep 1000", timeout=5)
    await fake_execute(fakes, "print last words; die 3")
    await fakes.sessions.reset("s")
    await fakes.sessions.reset("s")
    await fake_execute(fakes, "sleep 100", wait_s=0)
    await fakes.sessions.reset("s")
    await fake_execute(fakes, "sleep 100", wait_s=0)
    await fakes.sessions.shutdown("s")
    await fake_execute(fakes, "print x", "idle")
    await fakes.sessions.shutdown("idle")
    fakes.next_kernel = {"start_delay": 30}
    await fake_execute(fakes, "print never", "starting", wait_s=0)
    await fakes.sessions.shutdown("starting")
    fakes.next_kernel = {"fails": "no such interpreter"}
    await fake_execute(fakes, "print never", "failed")
    fakes.next_kernel = {}
    await fake_execute(fakes, "print x", "remote")
    fakes.kernels[-1].restarts_in_place = True  # as a Jupyter server's kernel: reset restarts it where it runs
    await fakes.sessions.reset("remote")
    await fake_execute(fakes, "die 1", "remote")
    await fakes.sessions.shutdown("remote")
    table = {(start, end) for start, moves in ipython_mcp.TRANSITIONS.items() for end in moves.values()}
    assert recorded.initial == {State.DEAD}, "a session begins with no kernel"
    assert recorded.moves <= table, f"moves the table does not allow: {recorded.moves - table}"
    assert {state for move in recorded.moves for state in move} == set(State), "the test took the sessions through every state"
    assert ipython_mcp.TRANSITIONS[State.CLOSED] == {}, "closed is the end"


def test_what_cannot_happen_in_a_state_is_refused_naming_the_state():
    session = object.__new__(ipython_mcp.Session)
    session.name, session.state = "t", State.BUSY
    with pytest.raises(RuntimeError, match="session 't' is busy: 'a cell was sent to the kernel' cannot happen now"):
        session._move(ipython_mcp.Happened.CELL_SENT)
    session.state = State.CLOSED
    for happened in ipython_mcp.Happened:
        with pytest.raises(RuntimeError, match=f"session 't' is closed: '{happened.value}' cannot happen now"):
            session._move(happened)


async def test_a_cell_that_outlives_its_call_replies_running_then_wait_brings_the_rest(fakes, autojump_clock):
    first = await fake_execute(fakes, "print early; sleep 100; print late", wait_s=10)
    assert first.status == "running" and first.cell == 1 and said(first).endswith("early\n")
    rest = await fakes.sessions.wait("s", 500, ipython_mcp.UserInput(None))
    assert rest.status == "ok" and said(rest) == "[ok: cell 1 finished after 100.0 s]\nlate\n"
    idle = await fakes.sessions.wait("s", 500, ipython_mcp.UserInput(None))
    assert idle.status == "idle" and "cell 1, ended ok" in said(idle)


async def test_busy_replies_without_running_the_code(fakes, autojump_clock):
    assert (await fake_execute(fakes, "sleep 100", wait_s=0)).status == "running"
    busy = await fake_execute(fakes, "print never", wait_s=5)
    assert busy.status == "busy" and "NOT run" in said(busy)
    assert (await fakes.sessions.wait("s", 500, ipython_mcp.UserInput(None))).status == "ok"
    assert fakes.ran == ["sleep 100"], "the busy cell never reached the kernel"


async def test_a_deadline_interrupts_and_keeps_the_session(fakes, autojump_clock):
    outcome = await fake_execute(fakes, "print partial; sleep 100", timeout=5)
    assert outcome.status == "timeout" and said(outcome).startswith("[timeout after 5 s — kernel interrupted, session kept]")
    assert "partial" in said(outcome) and fakes.kernels[0].interrupts == 1
    assert said(await fake_execute(fakes, "print again")) == "again\n"
    assert len(fakes.kernels) == 1


async def test_a_deaf_cell_gets_a_second_sigint_then_its_kernel_killed(fakes, autojump_clock):
    started = trio.current_time()
    outcome = await fake_execute(fakes, "deaf; sleep 1000", timeout=5)
    assert outcome.status == "timeout" and "kernel killed: it ignored" in said(outcome)
    assert trio.current_time() - started == pytest.approx(5 + 3), "the grace, and not a moment more"
    assert fakes.kernels[0].interrupts == 2, "sent again halfway through the grace"
    await fakes.kernels[0].gone.wait()
    again = await fake_execute(fakes, "print fresh")
    assert "started a fresh kernel" in said(again) and said(again).endswith("fresh\n")
    assert live_kernels(fakes) == 1


async def while_an_execute_waits(fakes, act):
    """Call execute in the background, and once everything waits, act; both answers."""
    results = {}
    async with trio.open_nursery() as nursery:

        async def pending():
            results["execute"] = await fake_execute(fakes, "print never")

        nursery.start_soon(pending)
        await trio.testing.wait_all_tasks_blocked()
        acted = await act()
    return results["execute"], acted


async def test_interrupt_stops_the_cell_and_cancels_those_queued(fakes, autojump_clock):
    assert (await fake_execute(fakes, "sleep 100", wait_s=0)).status == "running"
    queued, interrupted = await while_an_execute_waits(fakes, lambda: fakes.sessions.interrupt("s"))
    assert interrupted == "interrupted cell 1 in session 's'; the session is kept"
    assert queued.status == "cancelled" and "its code was not run" in said(queued)
    owed = await fakes.sessions.wait("s", 10, ipython_mcp.UserInput(None))
    assert owed.error["ename"] == "KeyboardInterrupt"
    assert fakes.ran == ["sleep 100"]


async def test_reset_while_the_kernel_starts_joins_the_start(fakes, autojump_clock):
    fakes.next_kernel = {"start_delay": 30}

    async def reset():
        assert fakes.sessions.get("s").state is State.STARTING
        return await fakes.sessions.reset("s")

    execute, reset_reply = await while_an_execute_waits(fakes, reset)
    assert execute.status == "cancelled" and fakes.ran == []
    assert "reset: fresh kernel" in reset_reply
    assert len(fakes.kernels) == 1 and live_kernels(fakes) == 1


async def test_reset_and_shutdown_in_every_state_answer_and_leave_no_kernel(fakes, autojump_clock):
    for setup in ("", "sleep 100", "start", "dead"):
        name = f"s-{setup or 'idle'}"
        fakes.next_kernel = {"start_delay": 30} if setup == "start" else {}
        async with trio.open_nursery() as nursery:
            nursery.start_soon(lambda n=name, s=setup: fake_execute(fakes, {"start": "print x", "dead": "die 1"}.get(s, s or "print x"), n, wait_s=0))
            await trio.testing.wait_all_tasks_blocked()
            reset = await fakes.sessions.reset(name)
            assert "reset: fresh kernel" in reset, (setup, reset)
            shut = await fakes.sessions.shutdown(name)
            assert "shut down; its kernel is gone" in shut
        with pytest.raises(ipython_mcp.ToolError, match="no session named"):
            fakes.sessions.get(name)
    for kernel in fakes.kernels:
        await kernel.gone.wait()


async def test_a_kernel_that_dies_mid_cell_is_replaced_by_the_next_execute(fakes, autojump_clock):
    died = await fake_execute(fakes, "print last words; die 3")
    assert died.status == "died" and "kernel exited with code 3" in said(died) and "last words" in said(died)
    assert fakes.sessions.get("s").state is State.DEAD
    again = await fake_execute(fakes, "print hello")
    assert "started a fresh kernel: the previous one was lost (kernel exited with code 3)" in said(again)
    assert live_kernels(fakes) == 1


async def test_a_kernel_that_will_not_start_leaves_no_session(fakes, autojump_clock):
    fakes.next_kernel = {"fails": "no such interpreter"}
    outcome = await fake_execute(fakes, "print x")
    assert outcome.status == "env_error" and "no such interpreter" in said(outcome)
    assert fakes.sessions.find("s") is None and fakes.ran == []


async def test_a_failed_start_is_worded_the_same_for_execute_and_reset(fakes, autojump_clock):
    assert said(await fake_execute(fakes, "print up")) == "up\n"
    fakes.next_kernel = {"fails": "no such interpreter"}
    with pytest.raises(ipython_mcp.ToolError) as refused:
        await fakes.sessions.reset("s")
    failed = await fake_execute(fakes, "print never")
    assert failed.status == "env_error" and failed.error["evalue"] == str(refused.value)
    assert "failed to start: no such interpreter" in str(refused.value) and fakes.ran == ["print up"]


async def test_an_interrupt_answers_while_the_servers_own_look_runs(fakes, autojump_clock):
    assert said(await fake_execute(fakes, "print up")) == "up\n"
    look = await fakes.sessions.get("s").ask(ipython_mcp.Run("sleep 100", None, 20_000, silent=True))
    await trio.testing.wait_all_tasks_blocked()
    with trio.fail_after(10):
        assert "; the session is kept" in await fakes.sessions.interrupt("s")
    assert look.outcome.error["ename"] == "KeyboardInterrupt" and said(await fake_execute(fakes, "print again")) == "again\n"


async def test_input_goes_to_the_user_and_a_refusal_raises_eoferror(fakes, autojump_clock):
    user = AnsweringUser("Ada")
    answered = await fake_execute(fakes, "input name?", user=user)
    assert said(answered) == "name? Ada\ngot Ada\n" and user.asked == ["name? "]
    declined = await fake_execute(fakes, "input again?", user=AnsweringUser(None))
    assert declined.error["ename"] == "EOFError" and "[the user declined: input() raises EOFError]" in said(declined)
    stdinless = await fake_execute(fakes, "input nobody?")
    assert stdinless.error["ename"] == "StdinNotImplementedError", "no way to the user: stdin is not offered"


async def test_an_unanswered_input_raises_eoferror_after_its_wait(fakes, autojump_clock):
    session = fakes.sessions._create("s", ipython_mcp.resolve_env(None, Path("/")), "/")
    cell = await session.ask(ipython_mcp.Run("input anyone?", None, 20_000, allow_stdin=True))
    started = trio.current_time()
    await cell.done.wait()
    assert trio.current_time() - started == pytest.approx(ipython_mcp.INPUT_WAIT_S)
    assert cell.outcome.error["ename"] == "EOFError"


async def test_a_seeded_storm_on_fake_kernels_leaves_every_name_working(fakes, autojump_clock):
    import random

    seed = int(os.environ.get("IPYTHON_MCP_STORM_SEED") or random.randrange(1 << 32))
    print(f"storm seed: {seed}")
    rng = random.Random(seed)
    names = ["a", "b", "c"]
    answers = []

    async def one(i: int) -> None:
        await trio.sleep(rng.uniform(0, 300))
        name, tool = rng.choice(names), rng.choices(["execute", "wait", "interrupt", "reset", "shutdown"], [60, 10, 12, 9, 9])[0]
        if tool == "execute":
            script = rng.choice(["print M-{i}", "print M-{i}; sleep 5", "print M-{i}; sleep 50", "deaf; print M-{i}; sleep 60", "print M-{i}; die 1"])
            answer = await fake_execute(fakes, script.format(i=i), name, wait_s=rng.choice([0, 2, 20, 100]), timeout=rng.choice([None, None, 10]))
            body = said(answer)
            assert {m for m in body.split() if m.startswith("M-")} <= {f"M-{i}"}, f"execute #{i} shows another cell's output"
        elif tool == "wait":
            with suppress(ipython_mcp.ToolError):
                answer = await fakes.sessions.wait(name, rng.choice([0, 10, 100]), ipython_mcp.UserInput(None))
        else:
            with suppress(ipython_mcp.ToolError):  # an unknown name is a clean refusal
                answer = await getattr(fakes.sessions, tool)(name)
        answers.append(i)

    with trio.fail_after(10_000):
        async with trio.open_nursery() as nursery:
            for i in range(300):
                nursery.start_soon(one, i)
    assert len(answers) == 300, "every call answers"
    for name in names:
        assert said(await fake_execute(fakes, f"print {name} works", name)).endswith(f"{name} works\n")
    for kernel in fakes.kernels:
        if kernel is not None and all(s.kernel is not kernel for s in fakes.sessions):
            await kernel.gone.wait()
    assert live_kernels(fakes) == len(names), "one kernel per session, no other left"


# ---------------------------------------------------------------------------
# what clients send: echoes kept short, paths checked, files read and written safely
# ---------------------------------------------------------------------------


def test_an_echoed_argument_is_cut_and_a_path_no_system_call_takes_is_refused_by_name():
    assert ipython_mcp.shown("short") == "'short'"
    assert ipython_mcp.shown("x" * 100) == repr("x" * ipython_mcp.SHOWN_CHARS) + "… (100 characters)"
    for value, complaint in (
        ("a\x00b", "cwd 'a\\x00b' contains a NUL character, which no path may hold"),
        ("/" + "d" * 300, f"has a name of 300 bytes ('{'d' * ipython_mcp.SHOWN_CHARS}'… (300 characters)); a file name may have 255 at most"),
        ("/d" * 3000, "is 6000 bytes long; a path may have 4095 at most"),
        ("\ud800", "is not valid Unicode (a lone surrogate)"),
    ):
        with pytest.raises(ipython_mcp.ToolError) as refused:
            ipython_mcp.check_path("cwd", value)
        assert complaint in str(refused.value) and len(str(refused.value)) < 300, str(refused.value)
    ipython_mcp.check_path("cwd", "/tmp/" + "é" * 100)


def test_a_named_file_is_read_only_when_it_is_a_regular_file_within_its_limit(tmp_path):
    regular = tmp_path / "kernel.json"
    regular.write_bytes(b"{}" * 10)
    assert ipython_mcp.read_regular_file(regular, 20) == b"{}" * 10
    fifo = tmp_path / "fifo.json"
    os.mkfifo(fifo)  # opened without blocking: nobody writes to it, and the read never waits
    for path, limit, complaint in ((regular, 19, "is 20 bytes, more than the 19 expected"), (fifo, 20, "is not a regular file (a FIFO)"),
                                   (Path("/dev/zero"), 20, "is not a regular file (a character device)"), (tmp_path, 20, "is not a regular file (a directory)")):
        with pytest.raises(OSError, match=re.escape(complaint)):
            ipython_mcp.read_regular_file(path, limit)


def test_a_notebook_is_replaced_only_if_this_server_wrote_it_for_that_session_and_nobody_edited_it(tmp_path):
    path = tmp_path / "work.ipynb"
    written = ipython_mcp.WrittenFiles()
    cell = {"cell_type": "code", "execution_count": 1, "metadata": {}, "outputs": [], "source": "1"}
    notebook = {"cells": [cell], "metadata": {"ipython-mcp": {"session": "work"}}, "nbformat": 4, "nbformat_minor": 5}
    notebook["metadata"]["ipython-mcp"]["sha256"] = ipython_mcp.notebook_digest(notebook)
    written.remember(path, "work", ipython_mcp.replace_file(path, json.dumps(notebook, indent=1).encode()))
    written.check(path, "work")  # its own, unchanged: replaced
    with pytest.raises(ipython_mcp.Refused, match="was not written by ipython-mcp for session 'other'"):
        written.check(path, "other")
    ipython_mcp.WrittenFiles().check(path, "work")  # after a restart, nothing remembered: its digest says it is unedited
    cell["source"] = "edited by hand"  # as JupyterLab saves it: the metadata kept, the digest now wrong
    path.write_text(json.dumps(notebook, indent=1))
    for files in (written, ipython_mcp.WrittenFiles()):
        with pytest.raises(ipython_mcp.Refused) as refused:
            files.check(path, "work")
        assert not refused.value.final, "overwrite=true replaces it"
    files.check(path, "work", overwrite=True)
    (tmp_path / "link.ipynb").symlink_to(path)
    with pytest.raises(ipython_mcp.Refused, match=r"is not a regular file \(a symbolic link\)") as refused:
        written.check(tmp_path / "link.ipynb", "work", overwrite=True)
    assert refused.value.final, "not even with overwrite=true"


async def test_notebook_temporary_files_are_removed_when_a_write_fails(tmp_path, monkeypatch):
    def refuse(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(ipython_mcp.os, "replace", refuse)
    with pytest.raises(OSError):
        ipython_mcp.replace_file(tmp_path / "x.ipynb", b"{}")
    assert list(tmp_path.iterdir()) == []


# ---------------------------------------------------------------------------
# where a session's kernel comes from
# ---------------------------------------------------------------------------


@pytest.fixture(scope="session")
def venv_with_ipykernel(tmp_path_factory):
    root = tmp_path_factory.mktemp("envs") / "withkernel"
    subprocess.run([sys.executable, "-m", "venv", str(root)], check=True)
    python = root / "bin" / "python"
    uv = shutil.which("uv")
    if uv:
        subprocess.run([uv, "pip", "install", "--quiet", "--python", str(python), "ipykernel"], check=True)
    else:
        subprocess.run([str(python), "-m", "pip", "install", "--quiet", "ipykernel"], check=True)
    return root


@pytest.fixture(scope="session")
def venv_without_ipykernel(tmp_path_factory):
    root = tmp_path_factory.mktemp("envs") / "bare"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(root)], check=True)
    return root


@pytest.mark.xdist_group("venvs")  # one worker shares its fixture
@slow
async def test_env_by_path_runs_in_that_interpreter(client, venv_with_ipykernel):
    result = await run(client, "venv", "import sys\nsys.prefix", env=str(venv_with_ipykernel))
    assert not result.is_error, text(result)
    assert text(result).strip().strip("'") == str(venv_with_ipykernel)
    listing = (await client.call_tool("list_sessions", {})).structured_content["result"]
    assert listing[0]["python"] == str(venv_with_ipykernel / "bin" / "python")
    assert listing[0]["env"] == str(venv_with_ipykernel)


@pytest.mark.xdist_group("venvs")  # one worker shares its fixture
@slow
async def test_env_by_bare_name_looks_in_the_envs_dir(sessions, venv_with_ipykernel):
    envs_dir = venv_with_ipykernel.parent
    sessions.config = Config(envs_dir=envs_dir, spares=0)
    async with Client(build_server(sessions)) as client:
        result = await run(client, "named", "import sys\nsys.prefix", env=venv_with_ipykernel.name)
        assert not result.is_error, text(result)
        assert str(venv_with_ipykernel) in text(result)


@pytest.mark.xdist_group("venvs")  # one worker shares its fixture
@slow
async def test_env_as_an_interpreter_path(client, venv_with_ipykernel):
    python = venv_with_ipykernel / "bin" / "python"
    result = await run(client, "byexe", "import sys\nsys.prefix", env=str(python))
    assert not result.is_error, text(result)
    assert str(venv_with_ipykernel) in text(result)


@pytest.mark.xdist_group("venvs")  # one worker shares its fixture
@slow
async def test_env_mismatch_warns_and_runs_in_the_original_env(client, venv_with_ipykernel):
    await run(client, "main", "import sys")
    result = await run(client, "main", "sys.prefix", env=str(venv_with_ipykernel))
    assert not result.is_error
    body = text(result)
    assert body.startswith("[warning: session 'main' already runs in env (server default)")
    assert str(venv_with_ipykernel) not in body.split("\n", 1)[1]
    assert "ignored" in record(result)["warning"]


@slow
async def test_an_unresolvable_env_on_an_existing_session_only_warns(client):
    await run(client, "main", "x = 1")
    result = await run(client, "main", "x", env="no-such-env")
    assert not result.is_error
    assert "env 'no-such-env' is ignored" in text(result)
    assert text(result).endswith("1\n")


async def test_missing_interpreter_is_an_env_error(client, tmp_path):
    result = await run(client, "ghost", "1", env=str(tmp_path / "no-such-env"))
    assert result.is_error
    assert record(result)["status"] == "env_error"
    assert "does not exist" in text(result)
    result = await run(client, "ghost", "1", env="no-such-name")
    assert "bare names are looked up in" in text(result)
    assert "known sessions: none" in text(await client.call_tool("wait", {"session": "ghost"})), "nothing is kept of it"


@pytest.mark.xdist_group("venvs")  # one worker shares its fixture
@slow
async def test_env_without_ipykernel_gets_an_install_hint(client, venv_without_ipykernel):
    started = time.monotonic()
    result = await run(client, "bare", "1", env=str(venv_without_ipykernel))
    assert time.monotonic() - started < 30
    assert result.is_error
    assert record(result)["status"] == "env_error"
    python = venv_without_ipykernel / "bin" / "python"
    assert f"ipykernel is not installed in env {venv_without_ipykernel}" in text(result)
    assert f"{python} -m pip install ipykernel" in text(result)
    # nothing is kept of a session that never started
    listing = (await client.call_tool("list_sessions", {})).structured_content["result"]
    assert listing == []


@slow
async def test_an_interpreter_that_never_answers_times_out_and_leaves_nothing(sessions, tmp_path):
    pidfile = tmp_path / "pid"
    python = fake_python(tmp_path / "silent", f"echo $$ > {pidfile}\necho 'starting, slowly' >&2\nexec sleep 300\n")
    sessions.config = Config(start_timeout_s=2, spares=0)
    async with Client(build_server(sessions)) as client:
        started = time.monotonic()
        result = await run(client, "silent", "1", env=str(python))
        assert time.monotonic() - started < 10
        assert record(result)["status"] == "env_error"
        assert "did not answer within 2 s" in text(result)
        assert "starting, slowly" in text(result)
        assert await wait_gone([int(pidfile.read_text())], within=5) == []
        assert (await client.call_tool("list_sessions", {})).structured_content["result"] == []


async def test_an_interpreter_that_exits_at_once_is_an_env_error(client, tmp_path):
    python = fake_python(tmp_path / "broken", "echo 'boom: this is not python' >&2\nexit 7\n")
    result = await run(client, "broken", "1", env=str(python))
    assert record(result)["status"] == "env_error"
    assert "exited with code 7" in text(result)
    assert "boom: this is not python" in text(result)


@slow
async def test_env_that_is_a_plain_file_an_empty_directory_or_no_program(client, tmp_path):
    plain = tmp_path / "notes.txt"
    plain.write_text("hello")
    result = await run(client, "file", "1", env=str(plain))
    assert record(result)["status"] == "env_error"
    assert "not an executable interpreter" in text(result)
    empty = tmp_path / "empty"
    empty.mkdir()
    result = await run(client, "empty", "1", env=str(empty))
    assert record(result)["status"] == "env_error"
    assert "no Python interpreter" in text(result)
    result = await run(client, "foreign", "1", env=str(foreign_python(tmp_path)))
    assert record(result)["status"] == "env_error" and "failed to start: Exec format error" in text(result)
    assert text(await run(client, "main", "'still serving'")) == "'still serving'\n"


def foreign_python(tmp_path: Path) -> Path:
    """An executable env interpreter that is no program this machine runs (another platform's, or a damaged one)."""
    python = tmp_path / "foreign" / "bin" / "python"
    python.parent.mkdir(parents=True)
    python.write_bytes(b"\x7fELF, but not really")
    python.chmod(0o755)
    return python


@slow
async def test_cwd_sets_a_new_sessions_directory_and_warns_later(client, tmp_path):
    (tmp_path / "helpers.py").write_text("ANSWER = 42\n")
    result = await run(client, "here", "import os\nos.getcwd()", cwd=str(tmp_path))
    assert text(result) == f"{str(tmp_path)!r}\n"
    assert text(await run(client, "here", "import helpers\nhelpers.ANSWER")) == "42\n", "the directory's modules import"
    listing = (await client.call_tool("list_sessions", {})).structured_content["result"]
    assert listing[0]["cwd"] == str(tmp_path)
    result = await run(client, "here", "os.getcwd()", cwd="/")
    assert "cwd '/' applies only to new sessions" in text(result)
    assert text(result).endswith(f"{str(tmp_path)!r}\n")
    refused = await run(client, "there", "1", cwd=str(tmp_path / "missing"))
    assert refused.is_error and "is not a directory" in text(refused)


def test_install_hint_fits_the_env(tmp_path):
    conda = tmp_path / "conda"
    (conda / "conda-meta").mkdir(parents=True)
    env = ipython_mcp.Env("conda", str(conda / "bin" / "python"), str(conda))
    assert ipython_mcp.install_hint(env) == f"conda install -p {conda} ipykernel"
    uv = tmp_path / "uvenv"
    uv.mkdir()
    (uv / "pyvenv.cfg").write_text("home = /usr/bin\nuv = 0.13.9\n")
    env = ipython_mcp.Env("uvenv", str(uv / "bin" / "python"), str(uv))
    assert ipython_mcp.install_hint(env) == f"uv pip install --python {uv}/bin/python ipykernel"


def test_default_env_is_sys_executable_unresolved():
    env = ipython_mcp.resolve_env(None, Path("/nonexistent"))
    assert env.python == sys.executable
    assert ipython_mcp.resolve_env("", Path("/nonexistent")).python == sys.executable


def test_bare_names_are_found_in_the_active_condas_envs(tmp_path, monkeypatch):
    conda = tmp_path / "miniforge"
    env = conda / "envs" / "analysis"
    (env / "bin").mkdir(parents=True)
    (env / "bin" / "python").symlink_to(sys.executable)
    (env / "conda-meta").mkdir()
    monkeypatch.setenv("CONDA_EXE", str(conda / "bin" / "conda"))
    resolved = ipython_mcp.resolve_env("analysis", tmp_path / "envs")
    assert resolved.python == str(env / "bin" / "python")
    assert ipython_mcp.install_hint(resolved) == f"conda install -p {env} ipykernel"
    # the envs dir comes first
    own = tmp_path / "envs" / "analysis" / "bin"
    own.mkdir(parents=True)
    (own / "python").symlink_to(sys.executable)
    assert ipython_mcp.resolve_env("analysis", tmp_path / "envs").python == str(own / "python")


def test_a_project_directory_with_a_dot_venv_is_an_env(tmp_path):
    project = tmp_path / "project"
    (project / ".venv" / "bin").mkdir(parents=True)
    (project / ".venv" / "bin" / "python").symlink_to(sys.executable)
    env = ipython_mcp.resolve_env(str(project), tmp_path / "envs")
    assert env.python == str(project / ".venv" / "bin" / "python")
    assert env.prefix == str(project / ".venv")


# ---------------------------------------------------------------------------
# auto-install
# ---------------------------------------------------------------------------


@slow
async def test_auto_install_puts_ipykernel_into_a_bare_env(sessions, tmp_path):
    root = tmp_path / "fresh"
    subprocess.run([sys.executable, "-m", "venv", str(root)], check=True)
    sessions.config = Config(auto_install_ipykernel=True, spares=0)
    updates = []

    async def on_progress(progress, total, message):
        updates.append(message)

    async with Client(build_server(sessions)) as client:
        arguments = {"session": "fresh", "code": "import sys\nsys.prefix", "env": str(root), "timeout_s": 50}
        result = await client.call_tool("execute", arguments, progress_callback=on_progress)
        assert not result.is_error, text(result)
        assert f"[warning: installed ipykernel into env {root}" in text(result)
        assert text(result).endswith(f"{str(root)!r}\n")
        assert any(m.startswith(f"installing ipykernel into env {root}") for m in updates)


# ---------------------------------------------------------------------------
# the kernel: the core contract
# ---------------------------------------------------------------------------


@slow
async def test_state_persists_and_output_comes_in_order(client):
    started = time.monotonic()
    result = await run(client, "main", "import os\nx = 41\nprint('hello')\nx + 1")
    took = time.monotonic() - started
    assert not result.is_error
    assert text(result) == "hello\n42\n"
    assert result.structured_content is None
    rec = record(result)
    assert rec["status"] == "ok"
    assert rec["stdout"] == "hello\n"
    assert rec["result"] == "42"
    assert rec["cell"] == 1 and "execution_count" not in rec, "one name for the cell's number"
    assert rec["error"] is None and rec["warning"] is None
    assert 0 <= rec["elapsed_s"] <= took, "the cell's own time, in seconds, within the call's"

    result = await run(client, "main", "import sys\nprint('to err', file=sys.stderr)\nos.chdir('/')\nx")
    assert text(result) == "to err\n41\n"
    assert record(result)["stderr"] == "to err\n"
    assert record(result)["cell"] == 2
    assert text(await run(client, "main", "os.getcwd()")) == "'/'\n"


@slow
async def test_empty_output_says_so(client):
    result = await run(client, "main", "y = 1")
    assert not result.is_error
    assert text(result) == "(no output)"


@slow
async def test_error_status_carries_a_clean_traceback(client):
    result = await run(client, "main", "def f():\n    return 1/0\nf()")
    assert result.is_error
    body = text(result)
    assert body.startswith("[error: ZeroDivisionError: division by zero]\n")
    assert "\x1b" not in body
    assert "----> 3 f()" in body and "return 1/0" in body
    rec = record(result)
    assert rec["status"] == "error"
    assert rec["error"] == {"ename": "ZeroDivisionError", "evalue": "division by zero"}
    # the session survives its errors
    assert text(await run(client, "main", "f.__name__")) == "'f'\n"


@slow
async def test_timeout_interrupts_keeps_partial_output_and_the_session(client):
    await run(client, "main", "kept = 'yes'")
    started = time.monotonic()
    result = await run(
        client, "main", "import time\nprint('partial', flush=True)\ntime.sleep(30)\nkept = 'no'", timeout_s=2
    )
    elapsed = time.monotonic() - started
    assert elapsed < 15, "the reply must come long before the cell would have finished"
    assert result.is_error
    body = text(result)
    assert body.startswith("[timeout after 2 s — kernel interrupted, session kept]")
    assert "partial" in body and "KeyboardInterrupt" in body
    assert record(result)["status"] == "timeout"
    assert text(await run(client, "main", "kept")) == "'yes'\n"


def on_running(event: trio.Event):
    """A progress callback that sets event once the call's own cell runs, as its progress messages say."""

    async def callback(progress, total, message):
        if (message or "").startswith("running for"):
            event.set()

    return callback


async def interrupt_in_flight(client, session: str, code: str):
    """Run code, interrupt it once it runs; return (interrupt's reply, execute's result, seconds between)."""
    results = []
    running = trio.Event()
    async with trio.open_nursery() as nursery:

        async def cell():
            results.append(await client.call_tool("execute", {"session": session, "code": code}, progress_callback=on_running(running)))

        nursery.start_soon(cell)
        await running.wait()
        started = time.monotonic()
        reply = await client.call_tool("interrupt", {"session": session})
    return reply, results[0], time.monotonic() - started


@slow
async def test_interrupt_stops_an_in_flight_execute(client):
    await run(client, "main", "import time")
    reply, result, seconds = await interrupt_in_flight(client, "main", "print('started', flush=True)\ntime.sleep(60)")
    assert "interrupted" in text(reply)
    assert seconds < 10
    assert result.is_error
    assert "KeyboardInterrupt" in text(result)
    assert record(result)["error"]["ename"] == "KeyboardInterrupt"
    assert text(await run(client, "main", "1 + 1")) == "2\n"


@slow
async def test_an_interrupt_does_not_race_the_kernels_sigint_handler(client):
    # ipykernel says "busy" before it installs its SIGINT handler; widen that
    # window, as a loaded machine does, past the first progress message, and
    # interrupt at once.
    await run(client, "main", "import time\nk = get_ipython().kernel\n_hook = k.pre_handler_hook\nk.pre_handler_hook = lambda: (time.sleep(2), _hook())")
    reply, result, seconds = await interrupt_in_flight(client, "main", "time.sleep(30)")
    assert "interrupted" in text(reply)
    assert record(result)["error"]["ename"] == "KeyboardInterrupt"
    assert text(await run(client, "main", "'kept' if k else ''")) == "'kept'\n"


@slow
async def test_interrupt_with_nothing_running_says_so(client):
    await run(client, "main", "1")
    reply = await client.call_tool("interrupt", {"session": "main"})
    assert not reply.is_error
    assert "no cell is running" in text(reply)


@slow
@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_client_cancellation_interrupts_the_kernel(sessions, mode):
    async with Client(build_server(sessions), mode=mode) as client:
        await run(client, "main", "import time\nfinished = False")
        with trio.CancelScope() as scope:

            async def on_progress(progress, total, message):
                if (message or "").startswith("running for"):
                    scope.cancel()  # the user presses stop while the cell runs

            arguments = {"session": "main", "code": "time.sleep(20)\nfinished = True"}
            await client.call_tool("execute", arguments, progress_callback=on_progress)
        assert scope.cancelled_caught
        started = time.monotonic()
        result = await run(client, "main", "finished")
        # The kernel was interrupted: the next cell does not wait for the 20 s sleep.
        assert time.monotonic() - started < 10
        assert text(result) == "False\n"


@slow
async def test_two_sessions_run_at_the_same_time(client):
    await run(client, "a", "import time")
    await run(client, "b", "import time")
    stamps = {}

    async def nap(name):
        result = await run(client, name, "t0 = time.time(); time.sleep(1); (t0, time.time())")
        stamps[name] = eval(text(result))

    async with trio.open_nursery() as nursery:
        nursery.start_soon(nap, "a")
        nursery.start_soon(nap, "b")
    (a0, a1), (b0, b1) = stamps["a"], stamps["b"]
    assert max(a0, b0) < min(a1, b1), "the two sleeps must overlap in time"


@slow
async def test_calls_to_one_session_run_one_at_a_time(client):
    await run(client, "main", "import time\nlog = []")
    async with trio.open_nursery() as nursery:
        for i in range(3):
            nursery.start_soon(run, client, "main", f"log.append(('start', {i})); time.sleep(0.2); log.append(('end', {i}))")
    entries = eval(text(await run(client, "main", "log")))
    assert len(entries) == 6
    for start, end in zip(entries[::2], entries[1::2]):
        assert start[0] == "start" and end == ("end", start[1])


@slow
async def test_reset_wipes_state_and_keeps_name_and_env(client):
    await run(client, "main", "z = 5")
    pid = await kernel_pid(client, "main")
    reply = await client.call_tool("reset", {"session": "main"})
    assert not reply.is_error and "reset" in text(reply)
    assert await wait_gone([pid]) == []
    result = await run(client, "main", "z")
    assert result.is_error and record(result)["error"]["ename"] == "NameError"
    listing = (await client.call_tool("list_sessions", {})).structured_content["result"]
    assert [s["name"] for s in listing] == ["main"]
    assert listing[0]["pid"] != pid


@slow
async def test_shutdown_kills_the_kernel_and_its_children(client):
    result = await run(client, "main", "import subprocess\np = subprocess.Popen(['sleep', '300'])\np.pid")
    child = int(text(result))
    pid = await kernel_pid(client, "main")
    assert alive(child) and alive(pid)
    reply = await client.call_tool("shutdown", {"session": "main"})
    assert not reply.is_error
    assert await wait_gone([pid, child]) == []
    listing = (await client.call_tool("list_sessions", {})).structured_content["result"]
    assert listing == []


@slow
async def test_no_tcp_listener_and_a_private_runtime_dir(client, sessions):
    await run(client, "main", "1")
    pid = await kernel_pid(client, "main")
    listening = listening_tcp_inodes()
    assert not (socket_inodes(pid) & listening), "the kernel listens on TCP"
    assert not (socket_inodes(os.getpid()) & listening), "the server listens on TCP"
    assert sessions.runtime_dir.stat().st_mode & 0o777 == 0o700
    connection = next(sessions.runtime_dir.rglob("connection.json"))
    assert connection.stat().st_mode & 0o777 == 0o600
    assert json.loads(connection.read_text())["transport"] == "ipc"


@slow
async def test_output_of_forked_children_still_arrives(client):
    code = "import multiprocessing as mp\nctx = mp.get_context('fork')\np = ctx.Process(target=print, args=('from the child',))\np.start(); p.join()"
    assert "from the child" in text(await run(client, "main", code))


@slow
async def test_closing_the_registry_leaves_no_process_or_file(config):
    async with open_sessions(config) as sessions:
        async with Client(build_server(sessions)) as client:
            pids = []
            for name in ("a", "b"):
                result = await run(client, name, "import subprocess\nsubprocess.Popen(['sleep', '300']).pid")
                pids.append(int(text(result)))
                pids.append(await kernel_pid(client, name))
        runtime_dir = sessions.runtime_dir
    assert await wait_gone(pids, within=5) == []
    assert not runtime_dir.exists()


@slow
async def test_forged_and_unsigned_kernel_messages_are_dropped(client):
    # From inside the kernel, publish on its iopub socket as the current cell's output:
    # one message with a wrong signature, one unsigned, one signed with the real key.
    code = (
        "k = get_ipython().kernel\n"
        "parent = k.get_parent()\n"
        "def wire(text, signature=None):\n"
        "    parts = k.session.serialize(k.session.msg('stream', {'name': 'stdout', 'text': text}, parent=parent))\n"
        "    if signature is not None:\n"
        "        parts[parts.index(b'<IDS|MSG>') + 1] = signature\n"
        "    k.iopub_socket.send_multipart(parts)\n"
        "wire('FORGED\\n', b'0' * 64)\n"
        "wire('UNSIGNED\\n', b'')\n"
        "wire('GENUINE\\n')\n"
    )
    body = text(await run(client, "main", code))
    assert "GENUINE" in body
    assert "FORGED" not in body and "UNSIGNED" not in body


@slow
async def test_a_ten_megabyte_cell_runs(client):
    code = "data = '" + "x" * (10 * 1024 * 1024) + "'\nlen(data)"
    result = await run(client, "main", code, timeout_s=50)
    assert text(result) == f"{10 * 1024 * 1024}\n"


@slow
async def test_a_crash_in_native_code_says_where_in_the_cell_it_happened(client, monkeypatch):
    # A segfault leaves the kernel no chance to send a traceback; the Python stack goes to its log, and the reply
    # quotes it from the top (the frames in the cell), not the tail of the kernel's own machinery.
    monkeypatch.delenv("PYTEST_CURRENT_TEST")  # else ipykernel leaves fd 2 alone, as it does not in real use
    crash = "import ctypes\ndef read_from_null():\n    return ctypes.string_at(0)\nprint('before', file=__import__('sys').__stderr__, flush=True)\nread_from_null()"
    result = await run(client, "main", crash)
    assert record(result)["status"] == "died" and "killed by SIGSEGV" in text(result), text(result)
    report = text(result).split("[last lines of the kernel's output:\n", 1)[1]
    assert report.startswith("Fatal Python error: Segmentation fault"), text(result)
    assert "in string_at" in report and "in read_from_null" in report, text(result)
    assert "before" not in report, "the crash report, not what came before it"
    assert text(await run(client, "main", "'fresh'")).endswith("'fresh'\n")


@slow
async def test_a_kernel_dying_mid_cell_is_reported_at_once(client):
    await run(client, "main", "import os, time\nkept = 1")
    started = time.monotonic()
    result = await run(client, "main", "print('last words', flush=True)\ntime.sleep(0.3)\nos._exit(3)", timeout_s=50)
    assert time.monotonic() - started < 10, "death must not wait for the timeout"
    assert result.is_error
    rec = record(result)
    assert rec["status"] == "died"
    assert "exited with code 3" in text(result)
    assert "last words" in text(result)
    assert "state is lost" in text(result)
    listing = (await client.call_tool("list_sessions", {})).structured_content["result"]
    assert listing[0]["status"] == "dead"

    result = await run(client, "main", "'kept' in dir()")
    assert not result.is_error
    assert text(result).startswith("[warning: started a fresh kernel: the previous one was lost (kernel exited with code 3)")
    assert text(result).endswith("False\n")


@slow
async def test_a_kernel_killed_while_idle_is_restarted_by_the_next_execute(client, sessions):
    pid = int(text(await run(client, "main", "import os\nos.getpid()")))
    kernel = sessions.get("main").kernel
    os.kill(pid, signal.SIGKILL)
    with trio.fail_after(10):
        await kernel.gone.wait()
    result = await run(client, "main", "1 + 1")
    assert "killed by SIGKILL" in text(result)
    assert text(result).endswith("2\n")


STUBBORN_CELLS = {
    # a handler that ignores SIGINT
    "ignored": "import signal, time\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\nprint('stubborn', flush=True)\ntime.sleep(60)",
    # SIGINT masked at the C level, as a native extension blocking in C may do
    "masked": "import signal, time\nsignal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})\nprint('stubborn', flush=True)\ntime.sleep(60)",
}


@slow
@pytest.mark.parametrize("how", ["timeout", "interrupt"])
@pytest.mark.parametrize("stubborn", sorted(STUBBORN_CELLS))
async def test_a_cell_that_ignores_sigint_gets_its_kernel_killed(client, sessions, config, how, stubborn):
    code = STUBBORN_CELLS[stubborn]
    await run(client, "main", "x = 1")
    pid = await kernel_pid(client, "main")
    results = []
    started = time.monotonic()
    armed = trio.Event()  # the cell has made itself deaf to SIGINT

    async def on_progress(progress, total, message):
        if "stubborn" in (message or ""):
            armed.set()

    async with trio.open_nursery() as nursery:

        async def cell():
            arguments = {"session": "main", "code": code, "timeout_s": 1 if how == "timeout" else 50}
            results.append(await client.call_tool("execute", arguments, progress_callback=on_progress))

        nursery.start_soon(cell)
        if how == "interrupt":
            await armed.wait()
            reply = await client.call_tool("interrupt", {"session": "main"})
            assert "ignored SIGINT" in text(reply) and "killed" in text(reply)
    assert time.monotonic() - started < 1 + config.interrupt_grace_s + 8
    (result,) = results
    assert result.is_error
    assert "stubborn" in text(result)
    assert "state is lost" in text(result)
    assert await wait_gone([pid]) == []
    result = await run(client, "main", "'x' in dir()")
    assert text(result).endswith("False\n")


# ---------------------------------------------------------------------------
# sandboxed sessions: --sandbox, --memory-limit
# ---------------------------------------------------------------------------


def _landlock_abi() -> int:
    try:
        return ipython_mcp.landlock_abi()
    except OSError:
        return 0


needs_sandbox = pytest.mark.skipif(
    sys.platform != "linux" or _landlock_abi() < ipython_mcp.LANDLOCK_ABI_NEEDED,
    reason=f"--sandbox needs Linux with Landlock ABI {ipython_mcp.LANDLOCK_ABI_NEEDED}",
)


@pytest.fixture
def outside():
    """A directory outside /tmp (which a sandboxed kernel sees empty) and outside every write root; removed after."""
    path = Path(tempfile.mkdtemp(prefix="ipython-mcp-test-", dir="/var/tmp"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


@asynccontextmanager
async def sandboxed(tmp_path: Path, **settings):
    """A registry confining its kernels, its MCP client, and a working directory for the sessions: inside the
    server's own directory (tmp_path), as a sandboxed session's must be."""
    work = tmp_path / "work"
    work.mkdir(exist_ok=True)
    config = Config(envs_dir=tmp_path / "envs", interrupt_grace_s=2.0, **{"spares": 0, "sandbox": True, **settings})
    before = os.getcwd()
    if not Path(before).is_relative_to(tmp_path):  # a test may have chosen the server's directory itself
        os.chdir(tmp_path)
    try:
        async with open_sessions(config) as sessions:
            async with Client(build_server(sessions)) as client:
                yield sessions, client, work
    finally:
        os.chdir(before)


@needs_sandbox
@slow
async def test_a_confined_env_interpreter_that_cannot_run_is_an_env_error(tmp_path):
    # The launcher execs the kernel itself, so its failure to exec comes back by another way than a plain spawn's.
    async with sandboxed(tmp_path) as (sessions, client, work):
        result = await run(client, "foreign", "1", env=str(foreign_python(tmp_path)), cwd=str(work))
        assert record(result)["status"] == "env_error" and "failed to start: Exec format error" in text(result)
        assert text(await run(client, "main", "'still serving'", cwd=str(work))) == "'still serving'\n"


@needs_sandbox
@slow
async def test_the_python_that_confines_kernels_stays_read_only_under_a_writable_directory(tmp_path):
    # A session may work in the directory that holds the server's Python, and write there, but not into that Python:
    # the next kernel's launcher runs it before it confines itself.
    home = ipython_mcp.LAUNCHER_HOME[0]
    above = os.path.dirname(home)
    probe = os.path.join(home, f".ipython-mcp-probe-{os.getpid()}")
    if ipython_mcp.Confinement._holds_home(above):
        pytest.skip(f"the server's Python lies in {home}, beside the home directory: no session may write above it")
    async with sandboxed(tmp_path, sandbox_write=(above,)) as (sessions, client, work):
        try:
            result = await run(client, "s", f"open({probe!r}, 'w')", cwd=above)
        finally:
            with suppress(FileNotFoundError):
                os.unlink(probe)
        assert record(result)["status"] == "error" and "Read-only file system" in text(result), text(result)
        assert f"[sandbox: {home} holds the Python that confines kernels: it is read-only to sandboxed kernels" in text(result), text(result)
        assert text(await run(client, "next", "'started'", cwd=above)) == "'started'\n", "and the next kernel's launcher runs as it was"


def cgroup_dirs(sessions) -> list[Path]:
    """The server's own cgroup directories (one per controller hierarchy), which hold its kernels' cgroups."""
    return [tree.path for tree in sessions.confinement.trees]


@pytest.mark.skipif(sys.platform != "linux", reason="cgroups are Linux's")
def test_a_dead_servers_cgroups_are_removed_and_a_live_ones_kept(tmp_path):
    dead = int(Path("/proc/sys/kernel/pid_max").read_text()) + 1  # a pid no process has
    stale, live = tmp_path / f"ipython-mcp-{dead}-a", tmp_path / f"ipython-mcp-{os.getpid()}-b"
    for directory in (stale / "k1", stale / "k2", live / "k1"):
        directory.mkdir(parents=True)
    ipython_mcp._remove_stale_cgroups(tmp_path)
    assert not stale.exists() and (live / "k1").is_dir(), "the dead server's directories go, the live one's stay"


def test_sandbox_settings_that_cannot_work_are_refused(capsys):
    assert ipython_mcp.Size("300M") == 300 * 2**20 and str(ipython_mcp.Size("300M")) == "300 MiB"
    assert ipython_mcp.Size("1.5GiB") == 3 * 2**29 and ipython_mcp.Size("2g") == 2 * 2**30 and ipython_mcp.Size("4096") == 4096
    for bad in ("lots", "-1G", "0", "2X"):
        with pytest.raises(ValueError):
            ipython_mcp.Size(bad)
    config, _ = ipython_mcp.parse_args(["--sandbox", "--sandbox-write", "/a", "--sandbox-write", "/b", "--memory-limit", "2G", "--process-limit", "100"])
    assert config.sandbox and config.sandbox_write == ("/a", "/b") and config.memory_limit == 2 * 2**30 and config.process_limit == 100
    assert Config.from_environ({"IPYTHON_MCP_SANDBOX_WRITE": "/a,/b", "IPYTHON_MCP_MEMORY_LIMIT": "512M"}).memory_limit == 512 * 2**20
    for argv, complaint in (
        (["--sandbox-write", "/a"], "add --sandbox"),
        (["--sandbox-network"], "add --sandbox"),
        (["--sandbox", "--process-limit", "5"], "at least 32"),
        (["--memory-limit", "lots"], "invalid Size value"),
    ):
        with pytest.raises(SystemExit) as refused:  # as the console script's main() parses them: usage, the complaint, exit 2
            ipython_mcp.parse_args(argv)
        stderr = capsys.readouterr().err
        assert refused.value.code == 2 and complaint in stderr, stderr


@needs_sandbox
async def test_sandbox_refuses_to_start_where_confinement_cannot_be_had(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path))
    monkeypatch.setattr(ipython_mcp, "landlock_abi", lambda: 3)
    with pytest.raises(ipython_mcp.SandboxUnavailable, match="Landlock ABI 6 or later .* this kernel has ABI 3"):
        async with open_sessions(Config(sandbox=True, spares=0)):
            pass
    with pytest.raises(SystemExit) as refused:
        await trio.to_thread.run_sync(ipython_mcp.main, ["--transport", "streamable-http", "--port", "0", "--sandbox"])
    assert "this kernel has ABI 3" in str(refused.value) and "start without --sandbox" in str(refused.value)
    monkeypatch.undo()
    if os.geteuid() == 0:  # root is exempt from RLIMIT_NPROC: without a pids cgroup, no process bound
        monkeypatch.setattr(ipython_mcp, "find_cgroup_trees", lambda controllers, server: [])
        with pytest.raises(ipython_mcp.SandboxUnavailable, match="root is exempt from RLIMIT_NPROC"):
            async with open_sessions(Config(sandbox=True, spares=0)):
                pass
        monkeypatch.undo()
    # as under AppArmor's restriction of unprivileged user namespaces: the launcher's unshare is refused
    refused = ipython_mcp.CONFINE_AND_EXEC.replace("def enter_namespaces():\n", "def enter_namespaces():\n    raise PermissionError(1, 'unshare: Operation not permitted')\n")
    assert refused != ipython_mcp.CONFINE_AND_EXEC, "the launcher has no enter_namespaces() to refuse"
    monkeypatch.setattr(ipython_mcp, "CONFINE_AND_EXEC", refused)
    with pytest.raises(ipython_mcp.SandboxUnavailable, match=r"kernels cannot be confined here \(unprivileged user namespaces .*\): ipython-mcp: the kernel could not be confined \(namespaces\): .*unshare: Operation not permitted"):
        async with open_sessions(Config(sandbox=True, spares=0)):
            pass
    monkeypatch.undo()
    with pytest.raises(ipython_mcp.SandboxUnavailable, match="--sandbox-write .*: no such directory"):
        async with open_sessions(Config(sandbox=True, spares=0, sandbox_write=(str(tmp_path / "missing"),))):
            pass
    assert not list(Path(tempfile.gettempdir()).glob(f"ipython-mcp-{os.getpid()}-*")), "a refused start leaves its runtime directory"


@slow
@needs_sandbox
async def test_a_kernel_is_confined_by_its_launcher_and_becomes_the_process_the_server_started(tmp_path, monkeypatch):
    started = []

    class Recorded(subprocess.Popen):
        def __init__(self, args, **options):
            super().__init__(args, **options)
            started.append((self, list(args), options.get("preexec_fn")))

    monkeypatch.setattr(subprocess, "Popen", Recorded)
    before = descendants(os.getpid())  # a session-wide fixture's server, on this worker
    async with sandboxed(tmp_path, memory_limit=ipython_mcp.Size("1G")) as (sessions, client, work):
        assert text(await run(client, "s", "import threading\nthreading.active_count() > 1", cwd=str(work))) == "True\n"
        kernel = sessions.get("s").kernel
        # no code of the server's ran between fork and exec: its own interpreter, isolated, confined itself
        launcher = [os.path.realpath(sys.executable), "-I", "-S", "-c", ipython_mcp.CONFINE_AND_EXEC]  # not the venv's link to it, which a kernel may be able to replace
        assert [(args[:5], preexec) for _, args, preexec in started] == [(launcher, None)] * 3  # the trial's, the kernel's, the next kernel's
        trial, first, ahead = (popen for popen, _, _ in started)
        # and then became the kernel: the server's child, leading its own process group, the env's Python on its command line
        assert kernel.pid == first.pid and trial.returncode == 0
        assert Path(f"/proc/{kernel.pid}/cmdline").read_bytes().split(b"\0")[:2] == [sys.executable.encode(), b"-c"]
        assert os.getpgid(kernel.pid) == kernel.pid and int(Path(f"/proc/{kernel.pid}/stat").read_text().rsplit(")", 1)[1].split()[1]) == os.getpid()
        # every thread of it in its cgroups, though the launcher joined them as its one thread
        threads = {int(t.name) for t in Path(f"/proc/{kernel.pid}/task").iterdir()}
        assert len(threads) > 1 and kernel.cgroups is not None
        for directory in kernel.cgroups.dirs:
            assert threads <= {int(t) for t in (directory / "tasks" if (directory / "tasks").exists() else directory / "cgroup.threads").read_text().split()}
        # the next kernel's launcher waits, started ahead, and becomes the kernel a reset asks for
        assert alive(ahead.pid) and Path(f"/proc/{ahead.pid}/cmdline").read_bytes().split(b"\0")[:5] == [arg.encode() for arg in launcher]
        await client.call_tool("reset", {"session": "s"})
        assert text(await run(client, "s", "import os\nos.getpid()")) == f"{ahead.pid}\n"
        assert len(started) == 4 and alive(started[-1][0].pid)
        trees = tuple(str(path) for path in cgroup_dirs(sessions))
    assert not (left := descendants(os.getpid()) - before), f"the launcher started ahead is gone with the server: {described(left)}"
    links = []
    for fd in os.listdir("/proc/self/fd"):
        with suppress(OSError):
            links.append(os.readlink(f"/proc/self/fd/{fd}"))
    assert not [link for link in links if link.startswith(trees)], "no cgroup file is left open (the count of OOM kills is read through one)"


@slow
@needs_sandbox
async def test_a_kernel_its_launcher_cannot_confine_is_not_started_and_the_reply_says_why(tmp_path, monkeypatch):
    before = descendants(os.getpid())  # a session-wide fixture's server, on this worker
    async with sandboxed(tmp_path) as (sessions, client, work):
        # past the start-up trial, a mount is refused to the launcher of the next kernel
        refused = ipython_mcp.CONFINE_AND_EXEC.replace("def arrange_view():\n", "def arrange_view():\n    raise PermissionError(1, 'mount /tmp: Operation not permitted')\n")
        assert refused != ipython_mcp.CONFINE_AND_EXEC, "the launcher has no arrange_view() to refuse"
        monkeypatch.setattr(ipython_mcp, "CONFINE_AND_EXEC", refused)
        result = await run(client, "s", "print('ran')", cwd=str(work))
        assert result.is_error and "ran" not in text(result)
        assert "the kernel was not started: it could not be confined" in text(result), text(result)
        assert "ipython-mcp: the kernel could not be confined (mounts): [Errno 1] mount /tmp: Operation not permitted" in text(result), text(result)
        assert not (left := descendants(os.getpid()) - before), f"the launcher is gone: {described(left)}"
        assert not list(sessions.runtime_dir.glob("k*")), "and the kernel's directory with it"
        monkeypatch.undo()
        assert text(await run(client, "s", "print('ran')")) == "ran\n"
    assert not any(path.exists() for path in cgroup_dirs(sessions))


@slow
@needs_sandbox
async def test_a_sandboxed_session_reads_anywhere_but_the_secrets_and_writes_only_where_allowed(tmp_path, outside, monkeypatch):
    home = outside / "home"
    (home / ".ssh").mkdir(parents=True)
    (home / ".ssh" / "id_ed25519").write_text("PRIVATE KEY")
    (home / ".netrc").write_text("machine example.com password hunter2\n")
    monkeypatch.setenv("HOME", str(home))  # a home where ~/.ipython does not exist yet
    readable = outside / "data.txt"
    readable.write_text("anyone may read this")
    extra = tmp_path / "extra"
    extra.mkdir()
    async with sandboxed(tmp_path, sandbox_write=(str(extra),)) as (sessions, client, work):
        result = await run(client, "s", f"print(open({str(readable)!r}).read())", cwd=str(work))
        assert text(result) == "anyone may read this\n", text(result)
        result = await run(client, "s", f"import os, tempfile\nfor d in (os.getcwd(), tempfile.gettempdir(), {str(extra)!r}):\n    open(os.path.join(d, 'w.txt'), 'w').write('ok')\nprint(tempfile.gettempdir())")
        tmpdir = text(result).strip()
        assert record(result)["status"] == "ok" and (work / "w.txt").read_text() == "ok" and (extra / "w.txt").read_text() == "ok"
        assert tmpdir.startswith(str(sessions.runtime_dir)), "the session's TMPDIR is its own, not the shared /tmp"
        rule = f"[sandbox: writes are allowed under {work} (the working directory), {tmpdir} ($TMPDIR), {extra} (--sandbox-write); "

        # elsewhere: Python's own exception, and a line naming the rule
        result = await run(client, "s", f"open({str(outside / 'w.txt')!r}, 'w')")
        assert record(result)["error"]["ename"] == "PermissionError" and rule + f"{outside / 'w.txt'} is outside them]" in text(result), text(result)
        assert record(result)["sandbox"].startswith("writes are allowed under")
        # a symlink and a hardlink from the working directory lead nowhere writable
        result = await run(client, "s", f"os.symlink({str(outside / 'w.txt')!r}, 'out')\nopen('out', 'w')")
        assert record(result)["error"]["ename"] == "PermissionError" and f"(a link to {outside / 'w.txt'}) is outside them" in text(result), text(result)
        result = await run(client, "s", f"os.link({str(readable)!r}, 'hard')")
        assert "Invalid cross-device link" in text(result) and rule in text(result), text(result)
        # a move out of it: the line names where it would have gone
        result = await run(client, "s", f"open('mine.txt', 'w').close()\nos.rename('mine.txt', {str(outside / 'moved')!r})")
        assert record(result)["status"] == "error" and rule + f"{outside / 'moved'} is outside them]" in text(result), text(result)
        # nor does a subprocess
        # (the shell's own stderr reaches the cell through ipykernel's fd capture, which may be late: print what run() caught)
        result = await run(client, "s", f"import subprocess\nprint(os.system('touch {outside}/by-system'))\nprint(subprocess.run(['touch', '{outside}/by-run'], capture_output=True, text=True).stderr)")
        assert record(result)["status"] == "ok" and "\n256\ntouch: cannot touch" in text(result), text(result)
        assert rule + f"{outside}/by-run is outside them]" in text(result), text(result)
        assert sorted(p.name for p in outside.iterdir()) == ["data.txt", "home"], "nothing was written outside"

        # the secret stores are hidden
        result = await run(client, "s", "open(os.path.expanduser('~/.ssh/id_ed25519')).read()")
        assert record(result)["error"]["ename"] == "FileNotFoundError"
        assert f"[sandbox: {home / '.ssh'} is hidden from sandboxed sessions: it holds credentials]" in text(result), text(result)
        assert text(await run(client, "s", "print(repr(open(os.path.expanduser('~/.netrc')).read()))")) == "''\n"
        # /tmp is an empty private directory; IPython, matplotlib and the caches write under TMPDIR
        result = await run(client, "s", f"print(os.listdir({str(sessions.runtime_dir)!r}), os.environ['IPYTHONDIR'].startswith(tempfile.gettempdir()), get_ipython().ipython_dir == os.environ['IPYTHONDIR'])\nopen('/tmp/shared.txt', 'w')")
        assert record(result)["stdout"] == "['k1'] True True\n", text(result)
        assert "[sandbox: /tmp is an empty private directory here" in text(result)
        assert not (home / ".ipython").exists() and not Path("/tmp/shared.txt").exists()

        listing = (await client.call_tool("list_sessions", {})).structured_content["result"]
        assert listing[0]["sandbox"].startswith("sandboxed:") and f"writes only under its working directory ({work})" in listing[0]["sandbox"]
        assert "Kernels are confined: sandboxed:" in client.instructions and "[sandbox: ...]" in client.instructions
    assert not any(path.exists() for path in cgroup_dirs(sessions))


@slow
@needs_sandbox
async def test_sandboxed_kernels_reach_neither_the_server_nor_each_other(tmp_path, outside, monkeypatch):
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(outside))
    token_file = ipython_mcp.write_token_file(ipython_mcp.make_private_dir(), 8000, "a-token-no-kernel-may-read")
    abstract = f"\0ipython-mcp-test-{os.getpid()}"
    with socket.socket(socket.AF_UNIX) as listener:
        listener.bind(abstract)
        listener.listen()
        async with sandboxed(tmp_path) as (sessions, client, work):
            await run(client, "a", "import os, signal, socket, subprocess", cwd=str(work))
            await run(client, "b", "x = 'still here'", cwd=str(work))
            server, other = os.getpid(), sessions.get("b").kernel
            sockets = sorted(str(p) for p in other.workdir.glob("ipc-*"))
            assert sockets, "the other kernel's IPC sockets"
            attempts = {
                "open(CONNECTION).read()": ("FileNotFoundError", "is an empty private directory here"),
                # relative to a working directory under a hidden one: the view holds there too
                "open(os.path.relpath(CONNECTION)).read()": ("FileNotFoundError", "is an empty private directory here"),
                "socket.socket(socket.AF_UNIX).connect(SOCKET)": ("FileNotFoundError", ""),
                f"os.listdir('/proc/{server}/root' + CONNECTION)": ("PermissionError", "processes outside this session are out of reach"),
                f"os.listdir('/proc/{other.pid}/root/tmp')": ("PermissionError", "processes outside this session are out of reach"),
                f"open('/proc/{server}/environ', 'rb').read()": ("PermissionError", "processes outside this session are out of reach"),
                f"open('/proc/{other.pid}/environ', 'rb').read()": ("PermissionError", "processes outside this session are out of reach"),
                f"open({str(token_file)!r}).read()": ("FileNotFoundError", "is an empty private directory here"),
                f"os.kill({server}, signal.SIGTERM)": ("PermissionError", "signals, tracing and abstract UNIX sockets reach only this session's own processes"),
                f"os.kill({other.pid}, signal.SIGKILL)": ("PermissionError", "signals, tracing and abstract UNIX sockets reach only this session's own processes"),
                # abstract sockets belong to a network namespace: without the network, the kernel's has none of the server's
                f"socket.socket(socket.AF_UNIX).connect({abstract!r})": ("ConnectionRefusedError", ""),
            }
            for code, (ename, rule) in attempts.items():
                code = code.replace("CONNECTION", repr(str(other.workdir / "connection.json"))).replace("SOCKET", repr(sockets[0]))
                result = await run(client, "a", code)
                assert record(result)["error"] and record(result)["error"]["ename"] == ename, (code, text(result))
                assert rule in (record(result)["sandbox"] or ""), (code, text(result))
            # its own processes it may signal
            result = await run(client, "a", "child = subprocess.Popen(['sleep', '30'])\nchild.kill()\nprint(child.wait())")
            assert text(result) == "-9\n"
            assert text(await run(client, "b", "x")) == "'still here'\n" and other.alive
            assert {s["name"]: s["status"] for s in (await client.call_tool("list_sessions", {})).structured_content["result"]} == {"a": "idle", "b": "idle"}


@slow
@needs_sandbox
@pytest.mark.parametrize("swap", ["os.symlink(TARGET, log)", "os.mkfifo(log)"], ids=["link", "fifo"])
async def test_a_kernel_that_swaps_its_log_before_dying_gets_nothing_read_for_it(tmp_path, swap):
    # The log of a kernel lies in its own directory, which it may write; the server quotes it when the kernel dies,
    # from the descriptor it opened before the kernel ran: never by a path the kernel may have made a link or FIFO.
    async with sandboxed(tmp_path) as (sessions, client, work):
        await run(client, "other", "1", cwd=str(work))
        target = sessions.get("other").kernel.workdir / "connection.json"  # hidden from every other kernel
        key = json.loads(target.read_text())["key"]
        code = (
            "import os, signal\nlog = os.path.join(os.path.dirname(os.environ['TMPDIR']), 'kernel.log')\nos.unlink(log)\n"
            f"{swap.replace('TARGET', repr(str(target)))}\nos.kill(os.getpid(), signal.SIGKILL)"
        )
        with trio.fail_after(60):
            result = await run(client, "swap", code, cwd=str(work))
            assert record(result)["status"] == "died", text(result)
            assert key not in text(result) and "connection.json" not in text(result)
            assert text(await run(client, "other", "'still serving'")) == "'still serving'\n"


def mptcp_available() -> bool:
    try:
        socket.socket(socket.AF_INET, socket.SOCK_STREAM, 262).close()  # IPPROTO_MPTCP
    except OSError:
        return False
    return True


@slow
@needs_sandbox
@pytest.mark.parametrize("allowed", [False, True], ids=["refused", "sandbox-network"])
async def test_no_connection_leaves_a_sandbox_unless_sandbox_network(tmp_path, allowed):
    """TCP, and what Landlock's TCP rule does not cover: MPTCP, UDP, a socket that listens without bind."""
    with socket.socket() as listener, socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        listener.settimeout(10 if allowed else 0.5)
        udp.bind(("127.0.0.1", 0))
        udp.settimeout(10 if allowed else 0.5)
        port, udp_port = listener.getsockname()[1], udp.getsockname()[1]
        async with sandboxed(tmp_path, sandbox_network=allowed) as (sessions, client, work):
            await run(client, "net", "import socket", cwd=str(work))
            attempts = {
                f"c = socket.create_connection(('127.0.0.1', {port}), timeout=10)\nc.sendall(b'tcp')\nprint('sent')": "tcp",
                f"u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\nu.sendto(b'udp', ('127.0.0.1', {udp_port}))\nprint('sent')": "udp",
                "l = socket.socket()\nl.bind(('127.0.0.1', 0))\nl.listen()\nprint('sent')": None,
            }
            if mptcp_available():
                attempts[f"m = socket.socket(socket.AF_INET, socket.SOCK_STREAM, 262)\nm.settimeout(10)\nm.connect(('127.0.0.1', {port}))\nm.sendall(b'mptcp')\nprint('sent')"] = "mptcp"
            for code, said in attempts.items():
                result = await run(client, "net", code)
                if allowed:
                    assert text(result) == "sent\n", text(result)
                else:
                    assert record(result)["error"]["ename"] in ("PermissionError", "OSError"), text(result)
                    assert "[sandbox: no network: no connection leaves a sandboxed session" in text(result), text(result)
                if said == "udp":
                    got = udp.recv(16) if allowed else None
                    if not allowed:
                        with pytest.raises(TimeoutError):
                            udp.recv(16)
                    assert got == (b"udp" if allowed else None)
                elif said is not None:
                    if allowed:
                        connection, _ = listener.accept()
                        with connection:
                            connection.settimeout(10)
                            assert connection.recv(16) == said.encode()
                    else:
                        with pytest.raises(TimeoutError):
                            listener.accept()
            # an abstract UNIX socket outside: another network namespace's, or beyond Landlock's scope with the network
            with socket.socket(socket.AF_UNIX) as abstract:
                abstract.bind(f"\0ipython-mcp-test-{os.getpid()}-{allowed}")
                abstract.listen()
                result = await run(client, "net", f"socket.socket(socket.AF_UNIX).connect({abstract.getsockname()!r})")
                assert record(result)["error"]["ename"] == ("PermissionError" if allowed else "ConnectionRefusedError"), text(result)
            # listen() binds a port by itself: reachable from outside only with the network
            result = await run(client, "net", "auto = socket.socket()\nauto.listen()\nauto.settimeout(10)\nprint(auto.getsockname()[1])")
            auto_port = int(text(result))
            if allowed:
                with socket.create_connection(("127.0.0.1", auto_port), timeout=10):
                    assert text(await run(client, "net", "auto.accept()[0].close()\nprint('accepted')")) == "accepted\n"
            else:
                with pytest.raises(ConnectionRefusedError):
                    socket.create_connection(("127.0.0.1", auto_port), timeout=10).close()


@slow
@needs_sandbox
@pytest.mark.parametrize("sandbox", [True, False], ids=["sandbox", "memory-limit-alone"])
async def test_a_kernel_that_passes_the_memory_limit_dies_and_the_rest_goes_on(tmp_path, sandbox):
    hog = "chunks = []\nfor i in range(16):  # 800 MiB at most\n    chunks.append(bytearray(50 * 2**20))\n    print(i, flush=True)"
    async with sandboxed(tmp_path, sandbox=sandbox, memory_limit=ipython_mcp.Size("200M")) as (sessions, client, work):
        assert sessions.confinement.rlimit_as is None, "this machine gives the server a memory cgroup"
        await run(client, "other", "x = 2")
        result = await run(client, "hog", hog)
        assert record(result)["status"] == "died", text(result)
        assert text(result).startswith("[died: memory limit 200 MiB reached (--memory-limit)]"), text(result)
        assert "the next execute starts a fresh kernel" in text(result)
        assert text(await run(client, "other", "x")) == "2\n"
        again = await run(client, "hog", "print('back')")
        assert "started a fresh kernel: the previous one was lost (memory limit 200 MiB reached" in text(again) and "back" in text(again)
    assert not any(path.exists() for path in cgroup_dirs(sessions)), "the kernels' cgroups are removed"


@slow
@needs_sandbox
async def test_without_a_memory_cgroup_the_limit_is_an_rlimit_and_the_cell_gets_memoryerror(tmp_path, monkeypatch):
    monkeypatch.setattr(ipython_mcp, "find_cgroup_trees", lambda controllers, server: [])
    async with sandboxed(tmp_path, sandbox=False, memory_limit=ipython_mcp.Size("600M")) as (sessions, client, work):
        assert sessions.confinement.rlimit_as is not None, "an address-space rlimit stands in"
        pid = (await run(client, "m", "import os\nos.getpid()")).content[0].text
        result = await run(client, "m", "big = bytearray(2**30)")
        assert record(result)["error"]["ename"] == "MemoryError", text(result)
        assert "[sandbox: memory limit 600 MiB per kernel (--memory-limit)]" in text(result)
        assert text(await run(client, "m", "os.getpid()")) == pid, "the kernel lives on"


FORK_BOMB = """
import os, time
children = []
try:
    for _ in range(60):  # bounds of its own, should the limit fail: 60 children, 3 grandchildren each, 30 s
        pid = os.fork()
        if pid == 0:
            try:
                for _ in range(3):
                    if os.fork() == 0:
                        time.sleep(30)
                        os._exit(0)
            except OSError:
                pass
            time.sleep(30)
            os._exit(0)
        children.append(pid)
finally:
    print(len(children), flush=True)
"""


@slow
@needs_sandbox
async def test_a_fork_bomb_stops_at_the_process_limit_inside_its_session(tmp_path):
    async with sandboxed(tmp_path, process_limit=40) as (sessions, client, work):
        await run(client, "bomb", "1", cwd=str(work))
        kernel = sessions.get("bomb").kernel.pid
        try:
            result = await run(client, "bomb", FORK_BOMB)
            assert record(result)["error"]["ename"] == "BlockingIOError", text(result)
            assert int(record(result)["stdout"]) < 40
            assert "[sandbox: a session may run at most 40 processes and threads (--process-limit)]" in text(result)
            bombs = descendants(kernel)
            assert 0 < len(bombs) < 40
            # another session still starts, and starts processes of its own
            assert text(await run(client, "other", "import subprocess\nsubprocess.run(['true']).returncode", cwd=str(work))) == "0\n"
        finally:
            bombs = descendants(kernel)
            await client.call_tool("shutdown", {"session": "bomb"})
        assert await wait_gone(bombs) == []


@slow
@needs_sandbox
async def test_a_sandboxed_session_keeps_every_other_behaviour(tmp_path, outside, monkeypatch):
    (tmp_path / "work").mkdir()
    monkeypatch.chdir(tmp_path / "work")  # a spare serves sessions in the server's directory
    with spares_logged() as ready:
        async with sandboxed(tmp_path, spares=1) as (sessions, client, work):
            with trio.fail_after(60):
                spare = await ready.receive()
            result = await run(client, "s", f"import os\nprint(os.getpid())\nopen({str(outside / 'x')!r}, 'w')")
            assert f"\n{spare}\n" in text(result), "the warm spare served the first execute"
            assert record(result)["error"]["ename"] == "PermissionError", "and it is confined"
            # interrupt keeps the session
            reply, result, _ = await interrupt_in_flight(client, "s", "import time\ntime.sleep(30)")
            assert "interrupted" in text(reply) and record(result)["error"]["ename"] == "KeyboardInterrupt"
            # output: text, images, the output tool, variables
            result = await run(client, "s", f"from IPython.display import Image, display\nimport base64\nfor i in range(3):\n    print('line', i)\ndisplay(Image(data=base64.b64decode({base64.b64encode(PNG_1PX).decode()!r})))\nanswer = 42")
            assert "line 2" in text(result) and "image" in [block.type for block in result.content], result.content
            assert "line 2" in text(await client.call_tool("output", {"session": "s", "grep": "line 2"}))
            assert "answer" in text(await client.call_tool("variables", {"session": "s"}))
            # reset: a fresh kernel, confined as well
            assert "fresh kernel" in text(await client.call_tool("reset", {"session": "s"}))
            result = await run(client, "s", f"open({str(outside / 'x')!r}, 'w')")
            assert record(result)["error"]["ename"] == "PermissionError" and "[sandbox: writes are allowed under" in text(result)
            # the notebook
            exported = await client.call_tool("export", {"session": "s"})
            assert not exported.is_error and (work / "s.ipynb").exists(), text(exported)
        assert not list(outside.iterdir())


@slow
@needs_sandbox
async def test_a_joined_kernel_is_said_not_to_be_sandboxed(tmp_path, notebook_kernel):
    manager, _ = notebook_kernel
    async with sandboxed(tmp_path) as (sessions, client, work):
        reply = await client.call_tool("attach", {"session": "nb", "connection_file": manager.connection_file})
        assert "this session's kernel is NOT sandboxed: it was started elsewhere and joined" in text(reply), text(reply)
        assert "NOT sandboxed" in text(await run(client, "nb", "1"))
        listing = (await client.call_tool("list_sessions", {})).structured_content["result"]
        assert listing[0]["sandbox"].startswith("this session's kernel is NOT sandboxed")
        assert sessions.unconfined(ipython_mcp.Kernelspec("")).startswith("this session's kernel is NOT sandboxed: it runs on the Jupyter server")


def tiny_wheel(directory: Path) -> Path:
    """A pure-Python wheel built by hand: pip installs it with no network and no build backend."""
    import zipfile

    name, version = "ipython_mcp_probe_pkg", "1.0"
    info = f"{name}-{version}.dist-info"
    files = {
        f"{name}.py": "ANSWER = 42\n",
        f"{info}/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n",
        f"{info}/WHEEL": "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }
    files[f"{info}/RECORD"] = "".join(f"{path},,\n" for path in files) + f"{info}/RECORD,,\n"
    wheel = directory / f"{name}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        for path, content in files.items():
            archive.writestr(path, content)
    return wheel


@slow
@needs_sandbox
async def test_pip_install_works_only_where_the_environment_is_writable(tmp_path, venv_with_ipykernel):
    env = str(venv_with_ipykernel)
    (tmp_path / "work").mkdir()
    install = f"%pip install --no-index --no-deps --no-cache-dir {tiny_wheel(tmp_path / 'work')}\nimport ipython_mcp_probe_pkg\nprint(ipython_mcp_probe_pkg.ANSWER)"
    async with sandboxed(tmp_path) as (sessions, client, work):
        result = await run(client, "pip", install, env=env, cwd=str(work))
        assert "Permission denied" in text(result) and record(result)["error"]["ename"] == "ModuleNotFoundError", text(result)
        assert f"to install into the session's environment, start the server with --sandbox-write {env}]" in text(result), text(result)
    async with sandboxed(tmp_path, sandbox_write=(env,)) as (sessions, client, work):
        result = await run(client, "pip", install, env=env, cwd=str(work))
        assert record(result)["status"] == "ok" and text(result).endswith("42\n"), text(result)
        await run(client, "pip", "%pip uninstall --yes ipython_mcp_probe_pkg")


@slow
@needs_sandbox
async def test_a_sandboxed_session_works_only_where_the_server_lets_it_write(tmp_path, outside, monkeypatch):
    # Its working directory is where it may write: the model does not get to choose / or the home directory.
    async with sandboxed(tmp_path) as (sessions, client, work):
        for cwd, said in (("/", "holds your home directory"), (str(Path.home()), "is your home directory"),
                          (str(outside), f"works, and may write, only under the server's directory ({tmp_path})")):
            result = await client.call_tool("execute", {"session": "s", "code": "1", "cwd": cwd})
            assert result.is_error and said in text(result), text(result)
        assert list(sessions) == [] and not any(sessions.runtime_dir.glob("k*")), "no kernel was started for them"
        assert text(await run(client, "s", "1", cwd=str(work))) == "1\n"
        assert f"A new session's cwd lies under the server's directory ({tmp_path})." in client.instructions
    async with sandboxed(tmp_path, sandbox_write=(str(outside),)) as (sessions, client, work):
        assert text(await run(client, "t", "open('made-here', 'w').close()\nprint('ok')", cwd=str(outside))) == "ok\n"
    # a server started in the home directory lends it to no session: only --sandbox-write directories serve
    monkeypatch.setenv("HOME", str(tmp_path))
    async with sandboxed(tmp_path, spares=1) as (sessions, client, work):
        for arguments, said in (({}, "is your home directory"), ({"cwd": str(work)}, "start it in a project directory, or name one with --sandbox-write")):
            result = await client.call_tool("execute", {"session": "s", "code": "1", **arguments})
            assert result.is_error and said in text(result), text(result)
        assert not sessions.spares._kernels, "and no spare is started where no session may work"
    async with sandboxed(tmp_path, sandbox_write=(str(work),)) as (sessions, client, work):
        assert text(await run(client, "s", "1", cwd=str(work))) == "1\n"
    with pytest.raises(ipython_mcp.SandboxUnavailable, match="is your home directory, whose start-up files"):
        async with sandboxed(tmp_path, sandbox_write=(str(tmp_path),)):
            pass


@slow
@needs_sandbox
async def test_what_runs_outside_the_sandbox_stays_read_only_in_a_writable_directory(tmp_path):
    work = tmp_path / "work"
    (work / ".git" / "hooks").mkdir(parents=True)
    (work / ".git" / "config").write_text("[core]\n")
    (work / ".vscode").mkdir()
    (work / ".vscode" / "settings.json").write_text("{}")
    attempts = {
        "open('.git/config', 'a').write('[core]\\n\\tfsmonitor = touch /tmp/pwned\\n')": ".git",
        "open('.git/hooks/pre-commit', 'w')": ".git",
        "open('.git/commondir', 'w')": ".git",
        "os.rename('.git', 'moved')": ".git",
        "os.unlink('.vscode/settings.json')": ".vscode",
    }
    async with sandboxed(tmp_path) as (sessions, client, work):
        await run(client, "s", "import os", cwd=str(work))
        for code, entry in attempts.items():
            result = await run(client, "s", code)
            assert record(result)["status"] == "error", (code, text(result))
            assert f"[sandbox: {work / entry} runs code outside the sandbox" in text(result), (code, text(result))
        assert text(await run(client, "s", "open('notes.txt', 'w').write('mine')\nprint(sorted(os.listdir()))")) == "['.git', '.vscode', 'notes.txt']\n"
    assert (work / ".git" / "config").read_text() == "[core]\n" and (work / ".vscode" / "settings.json").exists()
    assert sorted(p.name for p in (work / ".git").iterdir()) == ["config", "hooks"]


@slow
@needs_sandbox
async def test_a_sandboxed_sessions_notebooks_go_only_where_its_kernel_may_write(tmp_path, outside):
    # The server writes notebooks for a session: never through a link its kernel made, never where it may not write.
    work = tmp_path / "work"
    (work / "nb").mkdir(parents=True)
    async with sandboxed(tmp_path, notebook_dir=work / "nb") as (sessions, client, work):
        await run(client, "s", "import os\nx = 1", cwd=str(work))
        notebook = sessions.get("s").notebook
        await notebook.save_live()  # as after every cell, awaited here: the write is done when it returns
        assert (work / "nb" / "s.ipynb").exists()
        result = await run(client, "s", f"os.rename('nb', 'nb.old')\nos.symlink({str(outside)!r}, 'nb')\nos.symlink({str(outside)!r}, 'out')")
        assert record(result)["status"] == "ok", text(result)
        await notebook.save_live()  # refused, whichever of this and the one after the cell came first
        said = text(await run(client, "s", "x = 2"))  # the refusal is told in the next reply
        assert "--notebook-dir" in said and "are written only where its kernel may write" in said, said
        assert "this session's live notebook is no longer written" in said, said
        for path in (outside / "x.ipynb", work / "out" / "x.ipynb"):
            exported = await client.call_tool("export", {"session": "s", "path": str(path)})
            assert exported.is_error and f"is {outside}, outside {work}" in text(exported), text(exported)
        exported = await client.call_tool("export", {"session": "s", "path": str(work / "mine.ipynb")})
        assert not exported.is_error and (work / "mine.ipynb").exists(), text(exported)
    assert list(outside.iterdir()) == [], "nothing was written through the links"
    assert (work / "nb.old" / "s.ipynb").exists(), "the live notebook went on in the directory it was"


@pytest.mark.xdist_group("venvs")  # one worker shares its fixture
@slow
@needs_sandbox
async def test_an_env_inside_the_working_directory_is_writable_only_by_sandbox_write(venv_with_ipykernel):
    # The env's code runs outside the sandbox too (the user's own commands in it): installing is --sandbox-write's.
    env, directory = str(venv_with_ipykernel), venv_with_ipykernel.parent
    probe = f"open({str(venv_with_ipykernel / 'planted.pth')!r}, 'w')"
    async with sandboxed(directory) as (sessions, client, work):
        result = await run(client, "s", probe, env=env, cwd=str(directory))
        assert f"[sandbox: {env} is the session's environment: it is read-only to sandboxed kernels" in text(result), text(result)
        assert f"start the server with --sandbox-write {env}]" in text(result)
    assert not (venv_with_ipykernel / "planted.pth").exists()


@slow
@network
@needs_sandbox
async def test_over_http_a_sandboxed_kernel_cannot_read_the_servers_token(tmp_path):
    pytest.importorskip("hypercorn", reason="hypercorn is in the test extra; install it to run this")
    token = "sandboxed-token-0123456789"
    async with http_server(tmp_path, "--sandbox", env={"IPYTHON_MCP_TOKEN": token}) as server:
        async with mcp_over_http(server.url, server.token) as client:
            result = await run(client, "web", "import os\nprint(os.environ.get('IPYTHON_MCP_TOKEN'))")
            assert text(result) == "None\n"
            for code in (f"open('/proc/{server.process.pid}/environ', 'rb').read()", f"open({str(server.token_path)!r}).read()"):
                result = await run(client, "web", code)
                assert record(result)["status"] == "error" and token not in text(result), text(result)
                assert record(result)["sandbox"], text(result)
            assert "sandboxed" in client.instructions
            kernel = await kernel_pid(client, "web")
        # a confined kernel still follows its server through the lifeline pipe, however the server ends
        server.process.kill()
        assert await wait_gone([kernel]) == []


# ---------------------------------------------------------------------------
# attach: a running kernel someone else started
# ---------------------------------------------------------------------------


@pytest.fixture
def notebook_kernel(tmp_path):
    """A kernel started the way a notebook server would, on TCP, with its own client."""
    from jupyter_client.manager import KernelManager

    manager = KernelManager(connection_file=str(tmp_path / "kernel-notebook.json"))
    manager.start_kernel()
    client = manager.client()
    try:
        client.start_channels()
        client.wait_for_ready(timeout=60)
        yield manager, client
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=True)


def notebook_eval(client, expression: str) -> str:
    """Evaluate in the kernel through the notebook's own client (blocking: run it in a thread)."""
    outputs = []
    reply = client.execute_interactive(f"print(repr({expression}))", output_hook=outputs.append, timeout=30)
    assert reply["content"]["status"] == "ok"
    return "".join(m["content"].get("text", "") for m in outputs if m["msg_type"] == "stream").strip()


@slow
async def test_attach_shares_variables_with_a_running_kernel(client, sessions, notebook_kernel):
    manager, nb = notebook_kernel
    await trio.to_thread.run_sync(nb.execute_interactive, "from_notebook = 'hello'")
    reply = await client.call_tool("attach", {"session": "nb", "connection_file": manager.connection_file})
    assert not reply.is_error, text(reply)
    assert "joined the running kernel" in text(reply) and "kernel-notebook.json" in text(reply)
    assert text(await run(client, "nb", "from_notebook")) == "'hello'\n"
    await run(client, "nb", "from_model = 41 + 1")
    assert await trio.to_thread.run_sync(notebook_eval, nb, "from_model") == "42"
    listing = (await client.call_tool("list_sessions", {})).structured_content["result"]
    assert listing[0]["attached"] == manager.connection_file

    # interrupt reaches it through the kernel protocol's interrupt_request
    reply, result, seconds = await interrupt_in_flight(client, "nb", "import time\ntime.sleep(30)")
    assert "interrupted" in text(reply)
    assert seconds < 10
    assert record(result)["error"]["ename"] == "KeyboardInterrupt"
    assert manager.is_alive()


@slow
async def test_attached_sessions_are_never_killed(client, notebook_kernel):
    manager, nb = notebook_kernel
    await client.call_tool("attach", {"session": "nb", "connection_file": manager.connection_file})
    refused = await client.call_tool("reset", {"session": "nb"})
    assert refused.is_error and "did not start" in text(refused)
    reply = await client.call_tool("shutdown", {"session": "nb"})
    assert "detached" in text(reply) and "keeps running" in text(reply)
    assert manager.is_alive()
    assert await trio.to_thread.run_sync(notebook_eval, nb, "1 + 1") == "2"


@slow
async def test_attach_by_name_in_the_runtime_dir_and_unknown_files(client, notebook_kernel, monkeypatch, tmp_path):
    manager, _ = notebook_kernel
    monkeypatch.setenv("JUPYTER_RUNTIME_DIR", str(tmp_path))
    reply = await client.call_tool("attach", {"session": "byname", "connection_file": "kernel-notebook.json"})
    assert not reply.is_error, text(reply)
    assert text(await run(client, "byname", "6 * 7")) == "42\n"
    missing = await client.call_tool("attach", {"session": "nope", "connection_file": "kernel-missing.json"})
    assert missing.is_error and "no connection file" in text(missing) and "kernel-notebook.json" in text(missing)


# ---------------------------------------------------------------------------
# kernels on a Jupyter Server or Enterprise Gateway
# ---------------------------------------------------------------------------


class JupyterServer:
    """A real Jupyter Server on loopback with a token, as the tests' remote engine."""

    def __init__(self, root: Path, port: int | None = None):
        import secrets
        import socket

        self.root = root
        self.token = secrets.token_hex(16)
        if port is None:
            with socket.socket() as sock:
                sock.bind(("127.0.0.1", 0))
                port = sock.getsockname()[1]
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.process = None

    def start(self, token: str | None = None) -> None:
        self.token = token or self.token
        self.process = subprocess.Popen(
            [
                sys.executable, "-m", "jupyter_server",
                "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={self.port}", "--ServerApp.port_retries=0",
                f"--IdentityProvider.token={self.token}", "--ServerApp.open_browser=False",
                f"--ServerApp.root_dir={self.root}", "--ServerApp.allow_root=True",
            ],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        )
        # It says where it serves once it does: read its log until then (bounded by the process's end).
        try:
            for line in self.process.stderr:
                if f"127.0.0.1:{self.port}/" in line and "running at" not in line:
                    break
            else:
                raise RuntimeError("jupyter server did not start")
            # jupyter_server 2 logs its URL before it binds the port (the bind is a callback of the event loop it
            # starts next), and no line follows the bind: connect until it accepts, as a client would retry.
            deadline = time.monotonic() + 30
            while True:
                try:
                    socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                    break
                except OSError:
                    if self.process.poll() is not None or time.monotonic() > deadline:
                        raise RuntimeError("jupyter server logged its URL but does not listen there") from None
                    time.sleep(0.05)
        except BaseException:
            self.stop()
            raise
        # keep draining its log so it never blocks on a full pipe
        import threading

        threading.Thread(target=self.process.stderr.read, daemon=True).start()

    def stop(self) -> None:
        if self.process is None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def kernels(self) -> list[str]:
        import httpx2

        response = httpx2.get(f"{self.url}/api/kernels", headers={"Authorization": f"token {self.token}"})
        return [k["id"] for k in response.json()]


@pytest.fixture(scope="module")
def jupyter_server(tmp_path_factory):
    pytest.importorskip("jupyter_server", reason="jupyter-server is in the test extra; install it to run this")
    pytest.importorskip("trio_websocket", reason="trio-websocket is in the test extra; install it to run this")
    server = JupyterServer(tmp_path_factory.mktemp("jupyter"))
    server.start()
    yield server
    server.stop()


@pytest.fixture
async def remote(jupyter_server):
    config = Config(gateway_url=jupyter_server.url, gateway_token=jupyter_server.token, interrupt_grace_s=3.0)
    async with open_sessions(config) as sessions:
        async with Client(build_server(sessions)) as client:
            yield client, sessions


@pytest.fixture(scope="session")
def enterprise_gateway(tmp_path_factory):
    """Jupyter Enterprise Gateway in a venv of its own: it pins a jupyter_client older than ours."""
    uv = shutil.which("uv")
    if uv is None:
        pytest.skip("the Enterprise Gateway smoke test builds its venv with uv")
    root = tmp_path_factory.mktemp("enterprise-gateway")
    subprocess.run([uv, "venv", "--quiet", str(root / "venv")], check=True)
    python = root / "venv" / "bin" / "python"
    install = subprocess.run(
        # --no-config: not this project's pinned versions, which are ours, not the gateway's
        [uv, "pip", "install", "--quiet", "--no-config", "--python", str(python), "jupyter-enterprise-gateway", "ipykernel"],
        capture_output=True, text=True,
    )
    if install.returncode != 0:
        pytest.skip(f"Jupyter Enterprise Gateway does not install here: {install.stderr[-500:]}")
    server = JupyterServer(root)
    process = subprocess.Popen(
        [str(root / "venv" / "bin" / "jupyter-enterprisegateway"), "--ip=127.0.0.1", f"--port={server.port}",
         f"--EnterpriseGatewayApp.auth_token={server.token}", "--EnterpriseGatewayApp.port_retries=0",
         "--EnterpriseGatewayApp.list_kernels=True"],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )
    for line in process.stderr:
        if "is available at" in line:
            break
    else:
        process.kill()
        process.wait()
        pytest.fail("Enterprise Gateway did not start")
    import threading

    threading.Thread(target=process.stderr.read, daemon=True).start()
    server.process = process
    yield server
    server.stop()


def test_a_gateway_urls_password_and_query_values_are_kept_out_of_replies_and_log_lines():
    url = "http://alice:p%40ss@127.0.0.1:9/base/?token=tok3n&user=bobby&x=1"
    shown, secrets_ = ipython_mcp.redact_url(url)
    assert shown == "http://alice:***@127.0.0.1:9/base/?token=***&user=***&x=***", "the user name and the server stay: they say which account where"
    assert {"p%40ss", "p@ss", "tok3n", "bobby"} <= set(secrets_) and "1" not in secrets_, "a value too short to be a secret is not hunted down"
    said = f"cannot reach {url} (password p@ss): all attempts to connect to 127.0.0.1:9 failed"
    assert ipython_mcp.redact(said, secrets_) == (
        "cannot reach http://alice:***@127.0.0.1:9/base/?token=***&user=***&x=1 (password ***): all attempts to connect to 127.0.0.1:9 failed"
    )
    record = logging.LogRecord("ipython_mcp", logging.INFO, __file__, 1, "GET %s with token %s", (url, "tok3n"), None)
    assert ipython_mcp.Redact(secrets_ + [""]).filter(record) and "tok3n" not in record.getMessage() and "p%40ss" not in record.getMessage()
    assert ipython_mcp.redact_url("http://127.0.0.1:8888") == ("http://127.0.0.1:8888", []), "nothing to hide"


@on_the_jupyter_server
async def test_remote_sessions_keep_the_contract(remote, jupyter_server):
    client, sessions = remote
    result = await run(client, "r", "x = 41\nprint('on the server')\nx + 1")
    assert text(result) == "on the server\n42\n", text(result)
    (entry,) = (await client.call_tool("list_sessions", {})).structured_content["result"]
    assert entry["location"].startswith(f"{jupyter_server.url} kernel ")
    kernel_id = entry["location"].rsplit(" ", 1)[1]
    assert kernel_id in jupyter_server.kernels()

    result = await run(client, "r", "1/0")
    assert record(result)["status"] == "error" and "ZeroDivisionError" in text(result)

    result = await run(client, "r", "import time\nprint('partial', flush=True)\ntime.sleep(30)", timeout_s=2)
    assert record(result)["status"] == "timeout"
    assert "partial" in text(result) and "KeyboardInterrupt" in text(result)
    assert text(await run(client, "r", "x")) == "41\n"

    reply, result, seconds = await interrupt_in_flight(client, "r", "time.sleep(30)")
    assert "interrupted" in text(reply) and seconds < 10
    assert record(result)["error"]["ename"] == "KeyboardInterrupt"

    result = await run(client, "r", f"from IPython.display import Image\nImage(data={PNG_1PX!r}, format='png')")
    assert [b.type for b in result.content] == ["text", "image"]

    await client.call_tool("reset", {"session": "r"})
    assert record(await run(client, "r", "x"))["error"]["ename"] == "NameError"
    assert sessions.get("r").kernel.kernel_id == kernel_id, "reset restarts the remote kernel in place"
    await client.call_tool("shutdown", {"session": "r"})
    assert kernel_id not in jupyter_server.kernels()


@on_the_jupyter_server
async def test_a_remote_kernel_that_dies_is_reported_and_replaced(remote):
    client, _ = remote
    await run(client, "r", "import os\nkept = 1")
    started = time.monotonic()
    result = await run(client, "r", "print('bye', flush=True)\nos._exit(1)", timeout_s=50)
    assert time.monotonic() - started < 20, "death is noticed, not waited out"
    assert record(result)["status"] == "died"
    assert "died on" in text(result)
    result = await run(client, "r", "'kept' in dir()")
    assert "started a fresh kernel" in text(result) and text(result).endswith("False\n")


@on_the_jupyter_server
async def test_unknown_kernelspec_lists_the_offered_ones(remote):
    client, _ = remote
    result = await run(client, "r", "1", env="no-such-spec")
    assert record(result)["status"] == "env_error"
    assert "no kernelspec 'no-such-spec'" in text(result) and "python3" in text(result)


@on_the_jupyter_server
async def test_wrong_token_and_unreachable_server_give_clear_errors(jupyter_server, tmp_path):
    for url, token, complaint in [
        (jupyter_server.url, "wrong", "refused the request (HTTP 403)"),
        ("http://127.0.0.1:9", "x", "cannot reach the Jupyter server at http://127.0.0.1:9"),
    ]:
        async with open_sessions(Config(gateway_url=url, gateway_token=token)) as sessions:
            async with Client(build_server(sessions)) as client:
                started = time.monotonic()
                result = await run(client, "r", "1")
                assert time.monotonic() - started < 40
                assert result.is_error and complaint in text(result), text(result)
                assert (await client.call_tool("list_sessions", {})).structured_content["result"] == []


@on_the_jupyter_server
async def test_the_url_jupyter_prints_at_start_up_works_as_it_is(jupyter_server):
    # What a user copies from Jupyter's terminal: a UI page and the token in its query.
    for page in ("/lab", "/tree/", "/"):
        pasted = f"{jupyter_server.url}{page}?token={jupyter_server.token}"
        async with open_sessions(Config(gateway_url=pasted)) as sessions:
            assert sessions.gateway.url == jupyter_server.url.rstrip("/")
            async with Client(build_server(sessions)) as client:
                result = await run(client, "r", "40 + 2")
                assert text(result) == "42\n", text(result)
                listing = (await client.call_tool("list_sessions", {})).structured_content["result"]
                assert jupyter_server.token not in json.dumps(listing), "the token is no more shown for coming in the URL"


@on_the_jupyter_server
async def test_a_dropped_websocket_is_restored_with_the_kernels_state(remote):
    client, sessions = remote
    await run(client, "r", "kept = 'still here'")
    await sessions.get("r").kernel._ws.aclose()  # the network drops the connection
    result = await run(client, "r", "kept")
    assert text(result).endswith("'still here'\n")
    assert "dropped and was restored" in text(result)


@slow
@network
async def test_server_restart_under_a_live_session(tmp_path):
    pytest.importorskip("jupyter_server", reason="jupyter-server is in the test extra")
    server = JupyterServer(tmp_path)
    server.start()
    try:
        config = Config(gateway_url=server.url, gateway_token=server.token)
        async with open_sessions(config) as sessions:
            async with Client(build_server(sessions)) as client:
                await run(client, "r", "kept = 1")
                kernel = sessions.get("r").kernel
                await trio.to_thread.run_sync(server.stop)
                await trio.to_thread.run_sync(server.start, server.token)
                with trio.fail_after(30):
                    await kernel.gone.wait()
                result = await run(client, "r", "'kept' in dir()")
                assert not result.is_error, text(result)
                assert "started a fresh kernel" in text(result) and text(result).endswith("False\n")
    finally:
        server.stop()


@on_the_jupyter_server
async def test_only_kernels_this_server_created_are_deleted(jupyter_server):
    import httpx2

    headers = {"Authorization": f"token {jupyter_server.token}"}
    async with httpx2.AsyncClient(base_url=jupyter_server.url, headers=headers) as http:
        theirs = (await http.post("/api/kernels", json={})).json()["id"]
        try:
            config = Config(gateway_url=jupyter_server.url, gateway_token=jupyter_server.token)
            async with open_sessions(config) as sessions:
                async with Client(build_server(sessions)) as client:
                    await run(client, "mine", "1")
                    ours = sessions.get("mine").kernel.kernel_id
                    assert {ours, theirs} <= set(jupyter_server.kernels())
            remaining = jupyter_server.kernels()
            assert ours not in remaining and theirs in remaining
        finally:
            await http.delete(f"/api/kernels/{theirs}")


@slow
@network
async def test_enterprise_gateway_smoke(enterprise_gateway, monkeypatch):
    monkeypatch.setenv("KERNEL_USERNAME", "ipython-mcp-tests")  # Enterprise Gateway refuses to start kernels as root
    config = Config(gateway_url=enterprise_gateway.url, gateway_token=enterprise_gateway.token)
    async with open_sessions(config) as sessions:
        async with Client(build_server(sessions)) as client:
            assert text(await run(client, "eg", "import time\nx = 6 * 7\nx")) == "42\n"
            result = await run(client, "eg", "print('partial', flush=True)\ntime.sleep(30)", timeout_s=2)
            assert record(result)["status"] == "timeout" and "partial" in text(result)
            assert text(await run(client, "eg", "x")) == "42\n"
            kernel_id = sessions.get("eg").kernel.kernel_id
            assert kernel_id in enterprise_gateway.kernels()
    assert kernel_id not in enterprise_gateway.kernels()


# ---------------------------------------------------------------------------
# warm spares
# ---------------------------------------------------------------------------


@slow
async def test_a_warm_spare_serves_the_first_execute_and_is_replaced(tmp_path):
    with spares_logged() as ready:
        async with open_sessions(Config(spares=1)) as sessions:
            async with Client(build_server(sessions)) as client:
                with trio.fail_after(60):
                    spare = await ready.receive()
                started = time.monotonic()
                result = await run(client, "fast", "import os\nos.getpid()")
                first = time.monotonic() - started
                assert int(text(result)) == spare, "the new session adopted the waiting kernel"
                assert first < 1.0, "no kernel start-up in the first execute"
                with trio.fail_after(60):
                    replacement = await ready.receive()
                assert replacement != spare
                listing = (await client.call_tool("list_sessions", {})).structured_content["result"]
                assert [s["name"] for s in listing] == ["fast"], "spares are not sessions"
                # a session in another directory or env does not take the spare
                other = await run(client, "elsewhere", "import os\nos.getpid()", cwd=str(tmp_path))
                assert int(text(other)) != replacement
                assert alive(replacement), "the spare still waits"
                with pytest.raises(trio.WouldBlock):
                    ready.receive_nowait()  # and none was started behind it: it was not taken
    assert await wait_gone([spare, replacement]) == []


# ---------------------------------------------------------------------------
# output shaping: what the model sees
# ---------------------------------------------------------------------------


@slow
async def test_png_and_jpeg_arrive_as_image_blocks_in_order(client):
    code = (
        "from IPython.display import Image, display\n"
        f"png = {PNG_1PX!r}\n"
        "print('before')\n"
        "display(Image(data=png, format='png'))\n"
        "print('between', flush=True)\n"
        "display({'image/jpeg': 'AAAA', 'text/plain': '<jpeg>'}, raw=True)\n"
        "print('after')"
    )
    result = await run(client, "main", code)
    kinds = [block.type for block in result.content]
    assert kinds == ["text", "image", "text", "image", "text"]
    assert base64.b64decode(result.content[1].data) == PNG_1PX
    assert result.content[1].mime_type == "image/png"
    assert result.content[3].mime_type == "image/jpeg"
    assert result.content[4].text == "after\n"
    # each image is also a file the reply names, for clients that drop image blocks
    before, png_line = result.content[0].text.splitlines()
    between, jpeg_line = result.content[2].text.splitlines()
    assert (before, between) == ("before", "between")
    png, jpeg = Path(png_line.removeprefix("[image: ").removesuffix("]")), Path(jpeg_line.removeprefix("[image: ").removesuffix("]"))
    assert png.name == "cell-1-1.png" and png.read_bytes() == PNG_1PX
    assert jpeg.name == "cell-1-2.jpg" and jpeg.read_bytes() == base64.b64decode("AAAA")


@slow
async def test_rich_outputs_become_text_the_model_can_read(client):
    code = (
        "from IPython.display import HTML, JSON, Markdown, display\n"
        "display(HTML('<table><tr><td>cell</td></tr></table>'))\n"
        "display({'image/svg+xml': '<svg></svg>'}, raw=True)\n"
        "display(Markdown('# Title\\n*emphasis*'))\n"
        "display(JSON({'a': [1, 2]}))"
    )
    body = text(await run(client, "main", code))
    assert "<table>" not in body and "<svg" not in body, "HTML and SVG are never pasted in"
    assert "IPython.core.display.HTML object" in body and "no text form" in body
    assert "# Title\n*emphasis*" in body, "small markdown as it is"
    assert '"a": [\n    1,\n    2\n  ]' in body, "small JSON, pretty"


@slow
async def test_terminal_codes_and_carriage_returns_are_cleaned(client):
    code = (
        "import sys\n"
        "print('\\x1b[31mred\\x1b[0m \\x1b]0;title\\x07plain')\n"
        "for i in range(101):\n"
        "    sys.stdout.write(f'\\rprogress {i:3d}%')\n"
        "print()\n"
        "print('abc\\bd\\r\\n')"
    )
    assert text(await run(client, "main", code)) == "red plain\nprogress 100%\nabd\n\n"


@slow
async def test_a_long_redrawn_progress_line_leaves_its_final_state(client):
    # flushed in batches, so the redraws arrive over many messages with no newline between them
    code = (
        "import sys, time\n"
        "for i in range(20000):\n"
        "    sys.stderr.write(f'\\r\\x1b[32m{i:5d}/19999\\x1b[0m |' + '#' * (i // 1000))\n"
        "    if i % 500 == 0:\n"
        "        sys.stderr.flush(); time.sleep(0.01)\n"
        "_ = sys.stderr.write('\\n')"
    )
    assert text(await run(client, "main", code)) == "19999/19999 |" + "#" * 19 + "\n"


@slow
async def test_long_output_keeps_head_and_tail_and_output_reads_the_rest(client, sessions):
    result = await run(client, "main", "for i in range(20000):\n    print(f'line {i}')", max_output_chars=2000)
    body = text(result)
    assert body.startswith("line 0\nline 1\n")
    assert body.endswith("line 19999\n")
    assert len(body) < 2400
    truncated = record(result)["truncated"]
    first = truncated["from_line"]
    marker = (
        f"[... {truncated['omitted_lines']} lines ({truncated['omitted_chars']} characters) left out here;"
        f" output(session='main', cell=1, offset={first - 1}) reads them ...]"
    )
    assert marker in body
    assert f"line {first - 2}\n" in body and f"line {first - 1}\n" not in body, "the marker points at the first line left out"
    # the output tool reads from there, numbered
    page = text(await client.call_tool("output", {"session": "main", "cell": 1, "offset": first - 1, "limit": 3}))
    assert page.splitlines() == [
        f"cell 1, ok: lines {first}–{first + 2} of 20000 (next: offset={first + 2})",
        *(f"{n:>6}  line {n - 1}" for n in range(first, first + 3)),
    ]
    # the spool holds every line and goes with the session
    spool = sessions.get("main").history[-1].spool.path
    assert spool.read_text() == "".join(f"line {i}\n" for i in range(20000))
    await client.call_tool("shutdown", {"session": "main"})
    assert not spool.exists()


@slow
async def test_matplotlib_figures_become_one_image_each(client):
    pytest.importorskip("matplotlib", reason="matplotlib is in the test extra; install it to run this")
    shown = await run(client, "main", "import matplotlib.pyplot as plt\nplt.plot([1, 3, 2])\nplt.show()")
    assert [b.type for b in shown.content] == ["text", "image"], text(shown)
    assert shown.content[1].mime_type == "image/png"
    assert text(shown).startswith("[image: ") and text(shown).endswith("cell-1-1.png]\n")
    # a figure left as the cell's value is shown once, not once as the value and once by the backend
    value = await run(client, "main", "fig, ax = plt.subplots()\nax.plot([0, 1])\nfig")
    assert [b.type for b in value.content] == ["text", "image"]


@slow
async def test_image_cap_replaces_the_excess_with_a_note(sessions):
    sessions.config = Config(max_images=2, spares=0)
    async with Client(build_server(sessions)) as client:
        code = (
            "from IPython.display import Image, display\n"
            f"for i in range(4):\n    display(Image(data={PNG_1PX!r} + bytes([i]), format='png'))"
        )
        result = await run(client, "main", code)
        assert [b.type for b in result.content] == ["text", "image", "text", "image", "text"]
        assert "[2 more image(s) not attached to this reply; their files are named above]" in result.content[4].text
        assert text(result).count("[image: ") == 4, "every image is saved and named, attached or not"


@slow
async def test_long_cells_report_progress(client):
    updates = []

    async def on_progress(progress, total, message):
        updates.append((progress, message))

    await run(client, "main", "1")  # the kernel is up: the progress is the cell's, not its start's
    code = "import time\nfor i in range(5):\n    print(f'step {i}', flush=True)\n    time.sleep(0.6)"
    result = await client.call_tool("execute", {"session": "main", "code": code}, progress_callback=on_progress)
    assert not result.is_error
    assert len(updates) >= 2
    assert len(updates) <= 5, "progress is rate-limited"
    progress = [p for p, _ in updates]
    assert progress == sorted(progress)
    assert any("step" in message for _, message in updates)
    assert all(message.startswith("running for") for _, message in updates)


async def test_a_reply_is_the_output_in_order_and_its_record_says_the_same(fake_client):
    result = await run(fake_client, "s", "print hello; warn careful; image; print after; result 42")
    assert not result.is_error and [block.type for block in result.content] == ["text", "image", "text"]
    before, image, after = result.content
    saved = re.fullmatch(r"hello\ncareful\n\[image: (/.+/cell-1-1\.png)\]\n", before.text)
    assert saved and Path(saved[1]).read_bytes() == PNG_1PX, "the image is also a file the reply names"
    assert base64.b64decode(image.data) == PNG_1PX and image.mime_type == "image/png"
    assert after.text == "after\n42\n"
    expected = {"status": "ok", "cell": 1, "stdout": "hello\nafter\n", "stderr": "careful\n", "result": "42", "error": None, "warning": None, "sandbox": None}
    assert {key: record(result).get(key) for key in expected} == expected
    # a display shows its last state where it first appeared; clear_output leaves what came after it
    assert text(await run(fake_client, "s", "display bar 0%; print between; update bar 50%")) == "50%\nbetween\n"
    assert text(await run(fake_client, "s", "print gone; clear; print kept")) == "kept\n"
    assert text(await run(fake_client, "s", "")) == "(no output)"


async def test_a_replys_first_lines_say_what_went_wrong_and_its_record_agrees(fake_client):
    failed = await run(fake_client, "s", "print partial; raise ValueError")
    assert failed.is_error and text(failed) == "[error: ValueError]\npartial\nValueError: raised in the fake kernel\n"
    assert (record(failed)["status"], record(failed)["error"], record(failed)["stdout"]) == ("error", {"ename": "ValueError", "evalue": ""}, "partial\n")
    clamped = await run(fake_client, "s", "print x", timeout_s=1e12)
    assert not clamped.is_error and text(clamped) == "[warning: timeout_s=1e+12 clamped to the maximum of 86400 s]\nx\n"
    assert record(clamped)["warning"] == "timeout_s=1e+12 clamped to the maximum of 86400 s"
    # a long output: its head, a marker saying where output() finds the middle, its tail; the record says the same
    long = await run(fake_client, "s", "; ".join(f"print row {n}" for n in range(1, 3001)), max_output_chars=300)
    cut = record(long)["truncated"]
    marker = (
        f"[... {cut['omitted_lines']} lines ({cut['omitted_chars']} characters) left out here;"
        f" output(session='s', cell=3, offset={cut['from_line'] - 1}) reads them ...]\n"
    )
    head, tail = text(long).split(marker)
    assert head.splitlines() == [f"row {n}" for n in range(1, cut["from_line"])]
    assert tail.splitlines() == [f"row {n}" for n in range(cut["from_line"] + cut["omitted_lines"], 3001)]
    assert len(head + tail) <= 300 and cut["omitted_chars"] == sum(len(f"row {n}\n") for n in range(cut["from_line"], cut["from_line"] + cut["omitted_lines"]))
    running = await run(fake_client, "s", "sleep 100", wait_s=0)
    assert not running.is_error and record(running)["status"] == "running"
    assert re.fullmatch(
        r"\[running: cell 4 has run for \d+ s and goes on\. wait\(session='s'\) for more, output\(session='s', cell=4\) to read all"
        r" of it, interrupt\(session='s'\) to stop it\]\n\(no output yet\)", text(running)), text(running)


async def test_output_numbers_a_cells_lines_under_a_header_that_says_where_they_are(fakes, fake_client):
    async def output(session="s", **arguments) -> list[str]:
        return text(await fake_client.call_tool("output", {"session": session, **arguments})).splitlines()

    wide = ipython_mcp.OUTPUT_LINE_CHARS
    await run(fake_client, "s", "; ".join(f"print row {n}" for n in range(1, 301)) + "; print " + "y" * (wide + 500))
    assert await output(offset=10, limit=3) == ["cell 1, ok: lines 11–13 of 301 (next: offset=13)", "    11  row 11", "    12  row 12", "    13  row 13"]
    assert await output(offset=-2) == ["cell 1, ok: lines 300–301 of 301", "   300  row 300", f"   301  {'y' * wide} …[500 more bytes]"]
    pattern = r"row 1\d\b"
    assert await output(grep=pattern, limit=3) == [
        f"cell 1, ok: 3 line(s) matching {pattern!r} of 301 (more follow: grep again with offset=12)", "    10  row 10", "    11  row 11", "    12  row 12",
    ]
    assert await output(grep=pattern, offset=17) == [f"cell 1, ok: 2 line(s) matching {pattern!r} of 301", "    18  row 18", "    19  row 19"]
    assert await output(offset=400) == ["cell 1, ok: no lines from offset 400; it has 301"]
    await run(fake_client, "s", "")
    assert await output() == ["cell 2, ok: no output"]
    # a cell still running, and one still waiting for its kernel
    await run(fake_client, "s", "print before; sleep 100", wait_s=0)
    await trio.testing.wait_all_tasks_blocked()  # its first line is in
    header, *lines = await output()
    assert re.fullmatch(r"cell 3, running for \d+ s: lines 1–1 of 1", header) and lines == ["     1  before"]
    fakes.next_kernel = {"start_delay": 1000}
    await run(fake_client, "t", "print never", wait_s=0)
    assert await output("t") == ["the current cell is waiting for the kernel to start: no output yet. wait(session='t') follows it"]


def test_lines_apply_carriage_returns_and_keep_a_redrawn_line_small():
    lines = ipython_mcp.Lines()
    parts = lines.feed("stdout", "a\x1b[31mred\x1b[0m\nbar 1\rbar 2")
    assert [p.text for p in parts] == ["ared\n"]
    assert lines.peek() == "bar 2\n", "the unfinished line as it looks now"
    for i in range(10_000):
        lines.feed("stderr", f"\r{i:5d}")
    assert len(lines._pending["stderr"]) < 2 * ipython_mcp.REDRAW_COLLAPSE, "a redrawn line is collapsed as it streams"
    assert [p.text for p in lines.flush()] == ["bar 2\n", " 9999\n"]


def test_a_transcript_keeps_head_and_tail_and_says_where_the_middle_starts():
    view = ipython_mcp.Transcript(200, max_images=8, max_image_bytes=1 << 20)
    for n in range(100):
        view.add(ipython_mcp.Part("stdout", f"line {n:03d}\n", line=n))
    shown = "".join(p.text for p in (*view.head, *view.tail))
    assert shown.startswith("line 000\n") and shown.endswith("line 099\n") and len(shown) <= 200
    last_in_head = int("".join(p.text for p in view.head).split()[-1])
    assert view.omitted_from == last_in_head + 1, "the marker can point output() at the first line left out"
    assert int(view.tail[0].text.split()[1]) == last_in_head + 1 + view.omitted_lines
    assert view.omitted_lines + shown.count("\n") == 100


def test_a_display_update_replaces_its_parts_and_clear_empties_the_view():
    view = ipython_mcp.Transcript(1000, max_images=8, max_image_bytes=1 << 20)
    view.add(ipython_mcp.Part("stdout", "before\n"))
    view.add(ipython_mcp.Part("display", "50%\n", display_id="bar"))
    view.add(ipython_mcp.Part("stdout", "after\n"))
    assert view.update("bar", [ipython_mcp.Part("display", "100%\n", display_id="bar")])
    assert [p.text for p in view.head] == ["before\n", "100%\n", "after\n"]
    assert not view.update("other", []), "an update for a display it does not hold is the caller's to add"
    view.clear()
    assert view.head == [] and view.head_chars == 0


def test_a_cell_record_merges_streams_and_follows_updates_and_clears():
    record = ipython_mcp.CellRecord("code", cap=10_000)
    record.take("stream", {"name": "stdout", "text": "a"})
    record.take("stream", {"name": "stdout", "text": "b\n"})
    record.take("display_data", {"data": {"text/plain": "0%"}, "metadata": {}, "transient": {"display_id": "p"}})
    record.take("update_display_data", {"data": {"text/plain": "100%"}, "metadata": {}, "transient": {"display_id": "p"}})
    assert record.outputs == [
        {"output_type": "stream", "name": "stdout", "text": "ab\n"},
        {"output_type": "display_data", "data": {"text/plain": "100%"}, "metadata": {}},
    ]
    record.take("clear_output", {"wait": True})
    assert len(record.outputs) == 2, "wait=True clears at the next output, not before"
    record.take("stream", {"name": "stdout", "text": "fresh\n"})
    assert record.outputs == [{"output_type": "stream", "name": "stdout", "text": "fresh\n"}]


async def test_a_display_update_reaches_every_cell_that_shows_it(tmp_path):
    notebook = ipython_mcp.Notebook(tmp_path, "s", None, ipython_mcp.WrittenFiles())
    shows = {"data": {"text/plain": "0%"}, "metadata": {}, "transient": {"display_id": "p"}}
    for number, code in enumerate(("first", "second"), 1):
        record = ipython_mcp.CellRecord(code, cap=10_000, notebook=notebook)
        record.take("display_data", shows)
        notebook.add_cell(record, number, "ok", None, 0.0, 0.1)
    third = ipython_mcp.CellRecord("third", cap=10_000, notebook=notebook)
    third.take("display_data", shows)
    for percent in range(1, 101):
        third.take("update_display_data", {"data": {"text/plain": f"{percent}%"}, "metadata": {}, "transient": {"display_id": "p"}})
    third.take("display_data", {"data": {"text/plain": "mine"}, "metadata": {}, "transient": {"display_id": "q"}})
    third.take("update_display_data", {"data": {"text/plain": "mine, updated"}, "metadata": {}, "transient": {"display_id": "q"}})
    notebook.add_cell(third, 3, "ok", None, 0.0, 0.1)
    built = notebook.build()
    assert [[output.data["text/plain"] for output in cell.outputs] for cell in built.cells] == [["100%"], ["100%"], ["100%", "mine, updated"]]
    assert len(notebook.path.read_text().splitlines()) == 3 + 100, "an update only the running cell shows is applied there, not logged"


def numbered(lines) -> list[tuple[int, str]]:
    return [(line.number, line.text) for line in lines]


async def test_read_spool_pages_and_greps_across_chunks(tmp_path, monkeypatch):
    monkeypatch.setattr(ipython_mcp, "SPOOL_READ_CHUNK", 64)  # many chunk edges in a small file
    spool = ipython_mcp.Spool(tmp_path / "cell.txt", cap=1 << 20)
    monkeypatch.setattr(ipython_mcp, "SPOOL_MEMORY", 100)  # past it the spool is a file
    for n in range(1, 501):
        spool.write(f"row {n}{' needle' if n % 97 == 0 else ''}\n")
    spool.close()
    assert spool.on_disk and spool.total_lines == 500
    grep = ipython_mcp.compile_grep
    page, _ = await ipython_mcp.read_spool(spool, 10, 3)
    assert numbered(page) == [(11, "row 11"), (12, "row 12"), (13, "row 13")]
    tail, _ = await ipython_mcp.read_spool(spool, 498, 10)
    assert numbered(tail) == [(499, "row 499"), (500, "row 500")]
    found, more = await ipython_mcp.read_spool(spool, 0, 3, grep("needle$"))
    assert numbered(found) == [(97, "row 97 needle"), (194, "row 194 needle"), (291, "row 291 needle")] and more
    rest, more = await ipython_mcp.read_spool(spool, 291, 10, grep("needle$"))
    assert numbered(rest) == [(388, "row 388 needle"), (485, "row 485 needle")] and not more
    anchored, _ = await ipython_mcp.read_spool(spool, 0, 10, grep("^row 4\\d\\d\\b"))
    assert [line.number for line in anchored] == list(range(400, 410))
    assert (await ipython_mcp.read_spool(spool, 0, 10, grep("^ow 4")))[0] == [], "^ holds: only at a line's start"


async def test_read_spool_greps_line_by_line_across_chunks_and_marks(tmp_path, monkeypatch):
    monkeypatch.setattr(ipython_mcp, "SPOOL_READ_CHUNK", 256)  # many chunk edges in a small file
    monkeypatch.setattr(ipython_mcp, "SPOOL_MARK_BYTES", 512)  # and many line marks
    monkeypatch.setattr(ipython_mcp, "SPOOL_MEMORY", 100)
    spool = ipython_mcp.Spool(tmp_path / "cell.txt", cap=1 << 20)
    for n in range(1, 2001):
        spool.write(" b\n" if n == 1203 else ("a b\n" if n % 2 else f"row {n} é\n"))
    spool.close()
    assert spool.on_disk
    for pattern in (r"^\s*b", "^ b", r"\s*b$", "^ b$"):
        found, more = await ipython_mcp.read_spool(spool, 0, 10, ipython_mcp.compile_grep(pattern), 10_000)
        expected = [(1203, " b")] if pattern != r"\s*b$" else [(1, "a b"), (3, "a b")]
        assert numbered(found)[: len(expected)] == expected, (pattern, found)
    found, more = await ipython_mcp.read_spool(spool, 1500, 3, ipython_mcp.compile_grep("^row 1[5-9]"), 10_000)
    assert [line.number for line in found] == [1502, 1504, 1506] and more
    page, _ = await ipython_mcp.read_spool(spool, 1800, 2, None, 10_000)
    assert numbered(page) == [(1801, "a b"), (1802, "row 1802 é")]
    # the Python fallback (a lookbehind RE2 does not take) gives the same lines
    found, _ = await ipython_mcp.read_spool(spool, 0, 3, ipython_mcp.compile_grep(r"(?<=row )18\d\d"), 10_000)
    assert numbered(found) == [(1800, "row 1800 é"), (1802, "row 1802 é"), (1804, "row 1804 é")]
    # a match never spans lines: \s does not reach from one line into the next
    found, _ = await ipython_mcp.read_spool(spool, 0, 3, ipython_mcp.compile_grep(r"b\s+row"), 10_000)
    assert found == []


# ---------------------------------------------------------------------------
# the notebook: export, live notebooks, displays, variables
# ---------------------------------------------------------------------------


async def test_export_names_what_is_wrong_with_a_path_that_names_no_notebook(fake_client, tmp_path):
    await run(fake_client, "s", "print hello", cwd=str(tmp_path))
    for path, said in ((tmp_path / ".ipynb", "has no file name before .ipynb"), (tmp_path / "s.txt", "must end in .ipynb")):
        reply = await fake_client.call_tool("export", {"session": "s", "path": str(path)})
        assert reply.is_error and said in text(reply), text(reply)
    assert list(tmp_path.iterdir()) == []


def test_a_notebook_dir_that_cannot_be_a_directory_stops_the_server_saying_why(tmp_path):
    (tmp_path / "file").write_text("")
    for directory, said in ((tmp_path / "file", "not a directory"), (tmp_path / "file" / "below", "Not a directory")):
        with pytest.raises(SystemExit, match=f"^ipython-mcp: --notebook-dir {re.escape(str(directory))}: {said}$"):
            ipython_mcp.main(["--notebook-dir", str(directory)])


async def test_export_builds_a_valid_notebook_of_what_each_cell_sent(fake_client, tmp_path):
    import nbformat

    cells = [
        "print hello; warn careful; image; result 42",
        "display bar 0%; print between; update bar 50%",
        "update bar 100%",
        "print gone; clear; print kept",
        "print partial; raise ValueError",
    ]
    for code in cells:
        await run(fake_client, "s", code, cwd=str(tmp_path))
    timed_out = await run(fake_client, "s", "print slow; sleep 100", timeout_s=0.1)
    assert record(timed_out)["status"] == "timeout"
    await fake_client.call_tool("reset", {"session": "s"})
    await run(fake_client, "s", "print fresh")
    reply = await fake_client.call_tool("export", {"session": "s"})
    path = tmp_path / "s.ipynb"
    assert text(reply).startswith(f"wrote 7 code cells of session 's' to {path}")
    notebook = nbformat.read(path, as_version=4)
    nbformat.validate(notebook)
    assert notebook.metadata["ipython-mcp"]["session"] == "s" and notebook.metadata.language_info.name == "python"
    assert [cell.cell_type for cell in notebook.cells] == ["code"] * 6 + ["markdown", "code"]
    assert notebook.cells[6].source == "*The kernel was restarted (reset): the cells below start from an empty namespace.*"
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert [cell.source for cell in code] == [*cells, "print slow; sleep 100", "print fresh"]
    assert [cell.execution_count for cell in code] == [1, 2, 3, 4, 5, 6, 1], "the fresh kernel counts from 1 again"
    shown = code[0].outputs
    assert [(output.output_type, output.get("name")) for output in shown] == [("stream", "stdout"), ("stream", "stderr"), ("display_data", None), ("execute_result", None)]
    assert (shown[0].text, shown[1].text, shown[3].data["text/plain"], shown[3].execution_count) == ("hello\n", "careful\n", "42", 1)
    assert base64.b64decode(shown[2].data["image/png"]) == PNG_1PX, "the image as the kernel sent it"
    display, between = code[1].outputs
    assert display.data["text/plain"] == "100%" and between.text == "between\n", "a display holds the last state a later cell gave it"
    assert code[2].outputs == [], "an update to an earlier cell's display changes that cell, not this one"
    assert [output.text for output in code[3].outputs] == ["kept\n"], "clear_output empties the cell's outputs"
    assert [output.output_type for output in code[4].outputs] == ["stream", "error"] and code[4].outputs[1].ename == "ValueError"
    assert code[4].outputs[1].traceback == ["ValueError: raised in the fake kernel"]
    assert code[4].metadata["ipython-mcp"]["status"] == "error" and "stopped_by" not in code[4].metadata["ipython-mcp"]
    assert [output.output_type for output in code[5].outputs] == ["stream", "error"] and code[5].outputs[1].ename == "KeyboardInterrupt"
    assert (code[5].metadata["ipython-mcp"]["status"], code[5].metadata["ipython-mcp"]["stopped_by"]) == ("timeout", "timeout")
    assert [output.text for output in code[6].outputs] == ["fresh\n"]


@slow
async def test_export_writes_a_valid_notebook_with_every_output(client, tmp_path):
    pytest.importorskip("matplotlib", reason="matplotlib is in the test extra; install it to run this")
    pytest.importorskip("pandas", reason="pandas is in the test extra; install it to run this")
    import nbformat

    cells = [
        "print('hello')",
        "import matplotlib.pyplot as plt\nplt.plot([1, 3, 2])\nplt.show()",
        "import pandas as pd\ndf = pd.DataFrame({'a': [1, 2], 'b': [3.5, 4.5]})\ndf",
        "from IPython.display import display\nhandle = display('first state', display_id=True)\nhandle.update('second state')",
        "handle.update('last state')",
        "def f():\n    return 1 / 0\nf()",
    ]
    replies = [await run(client, "nb", code, cwd=str(tmp_path)) for code in cells]
    assert text(replies[3]) == "'second state'\n", "an update replaces its display in the reply"
    assert text(replies[4]) == "'last state'\n"
    reply = await client.call_tool("export", {"session": "nb"})
    path = tmp_path / "nb.ipynb"
    assert not reply.is_error and text(reply).startswith(f"wrote 6 code cells of session 'nb' to {path}")
    notebook = nbformat.read(path, as_version=4)
    nbformat.validate(notebook)
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert [cell.source for cell in code] == cells
    assert [cell.execution_count for cell in code] == [1, 2, 3, 4, 5, 6]
    assert code[0].outputs[0].text == "hello\n"
    assert any("image/png" in output.get("data", {}) for output in code[1].outputs), "the plot's PNG is in the notebook"
    assert "<table" in code[2].outputs[0].data["text/html"], "the frame's HTML is in the notebook"
    (display,) = code[3].outputs
    assert display.data["text/plain"] == "'last state'", "a display updated by a later cell holds its last state"
    assert code[4].outputs == []
    (error,) = code[5].outputs
    assert error.output_type == "error" and error.ename == "ZeroDivisionError"
    assert "return 1 / 0" in re.sub(r"\x1b\[[0-9;]*m", "", "\n".join(error.traceback)), "the traceback, as the kernel sent it (colours and all)"
    assert code[5].metadata["ipython-mcp"]["status"] == "error"
    await run(client, "nb", "import time\ntime.sleep(30)", timeout_s=1)
    await client.call_tool("export", {"session": "nb"})
    marked = nbformat.read(path, as_version=4).cells[-1].metadata["ipython-mcp"]
    assert marked["status"] == "timeout" and marked["stopped_by"] == "timeout"
    assert notebook.metadata.language_info.name == "python" and notebook.metadata.kernelspec.name == "python3"
    # it is ours now: a second export replaces it, a stranger's file is refused
    assert not (await client.call_tool("export", {"session": "nb"})).is_error
    foreign = tmp_path / "mine.ipynb"
    foreign.write_text("{}")
    refused = await client.call_tool("export", {"session": "nb", "path": str(foreign)})
    assert refused.is_error and "overwrite=true" in text(refused) and foreign.read_text() == "{}"
    assert not (await client.call_tool("export", {"session": "nb", "path": str(foreign), "overwrite": True})).is_error


@slow
async def test_an_exported_notebook_re_runs_to_the_same_text(client, tmp_path):
    nbclient = pytest.importorskip("nbclient", reason="nbclient is in the test extra; install it to run this")
    import nbformat

    for code in ("x = sum(range(10))\nprint('sum', x)", "import math\nmath.sqrt(x + 36)", "print([x * i for i in range(3)])"):
        assert not (await run(client, "det", code, cwd=str(tmp_path))).is_error
    await client.call_tool("export", {"session": "det"})
    exported = nbformat.read(tmp_path / "det.ipynb", as_version=4)
    rerun = nbformat.read(tmp_path / "det.ipynb", as_version=4)
    await trio.to_thread.run_sync(lambda: nbclient.NotebookClient(rerun, kernel_name="python3", timeout=60).execute())

    def texts(notebook):
        return [[output.get("text") or output.get("data", {}).get("text/plain") for output in cell.outputs] for cell in notebook.cells]

    assert texts(rerun) == texts(exported) == [["sum 45\n"], ["9.0"], ["[0, 45, 90]\n"]]


@slow
async def test_notebook_dir_keeps_a_live_notebook_no_reader_sees_half_written(tmp_path, monkeypatch):
    import nbformat

    live_dir = tmp_path / "live"
    live_dir.mkdir()
    path = live_dir / "work.ipynb"
    told, written = trio.open_memory_channel(math.inf)  # the number of cells in each write of the live notebook
    trio_token, replace_file = trio.lowlevel.current_trio_token(), ipython_mcp.replace_file

    def replace_and_tell(target: Path, data: bytes, **options):  # in the worker thread that writes it
        replaced = replace_file(target, data, **options)
        if target == path:
            trio_token.run_sync_soon(told.send_nowait, len(json.loads(data)["cells"]))
        return replaced

    monkeypatch.setattr(ipython_mcp, "replace_file", replace_and_tell)
    async with open_sessions(Config(spares=0, notebook_dir=live_dir, interrupt_grace_s=2.0)) as sessions:
        async with Client(build_server(sessions)) as client:
            reads = []

            async def reader(stop: trio.Event) -> None:
                while not stop.is_set():
                    if path.exists():
                        reads.append(len(nbformat.reads(path.read_text(), as_version=4).cells))  # a torn file would not parse
                    await trio.sleep(0.002)

            stop = trio.Event()
            async with trio.open_nursery() as nursery:
                nursery.start_soon(reader, stop)
                for i in range(6):
                    await run(client, "work", f"print('cell {i}')\nbig = 'x' * 200_000")
                    with trio.fail_after(10):  # the file catches up with each cell
                        while await written.receive() < i + 1:
                            pass
                stop.set()
            assert len(reads) > 10 and reads == sorted(reads), "read while it was rewritten: always whole, never going back"
            assert len(nbformat.read(path, as_version=4).cells) == 6
            await client.call_tool("shutdown", {"session": "work"})
    assert path.exists(), "the live notebook is the user's: it stays after the session"


@slow
async def test_clear_output_in_a_loop_leaves_only_the_last_output(client):
    code = (
        "from IPython.display import clear_output\n"
        "for i in range(50):\n"
        "    clear_output(wait=True)\n"
        "    print(f'progress {i}/49')"
    )
    assert text(await run(client, "main", code)) == "progress 49/49\n"


def test_the_variables_table_has_a_row_per_name_sizes_people_read_and_no_secret():
    masker = ipython_mcp.Masker()
    masker.add("hunter2-secret")
    rows = [
        {"name": "frame", "type": "pandas.DataFrame", "shape": "100000 x 2", "size": 1_600_128, "value": "columns: a, b"},
        {"name": "numbers", "type": "list", "shape": "len 3", "size": 80, "value": "[1, 2, 3]"},
        {"name": "token", "type": "str", "shape": "len 40", "size": 89, "value": "'xxhunter2-se...'"},
        {"name": "text", "type": "str", "shape": "len 500", "size": 549, "value": "'" + "word " * 40 + "'"},
    ]
    lines = ipython_mcp.variables_table("main", rows, masker).splitlines()
    assert lines[0] == "variables of session 'main' (modules, imported functions and _names are not listed):"
    assert lines[1].split() == ["name", "type", "shape/len", "size", "value"]
    table = {line.split()[0]: line for line in lines[2:]}
    assert re.fullmatch(r"frame +pandas\.DataFrame +100000 x 2 +1\.5 MiB +columns: a, b", table["frame"])
    assert re.fullmatch(r"numbers +list +len 3 +80 B +\[1, 2, 3\]", table["numbers"])
    assert "hunter2" not in table["token"] and "********" in table["token"], "a secret's fragment where reprlib cut it is masked"
    assert len(table["text"].split("  ")[-1]) <= ipython_mcp.VARIABLE_VALUE_CHARS and "  " not in table["text"].split("'", 1)[1], "a value is one short line"
    many = ipython_mcp.variables_table("main", [{**rows[1], "name": f"v{n}"} for n in range(ipython_mcp.VARIABLES_SHOWN + 5)])
    assert many.endswith("\n(5 more not shown)") and many.count("\nv") == ipython_mcp.VARIABLES_SHOWN
    assert ipython_mcp.variables_table("main", []) == "session 'main' has no variables of its own yet (modules, imported functions and _names are not listed)"


@slow
async def test_variables_describes_a_frame_without_printing_it_and_is_busy_at_once(client):
    pytest.importorskip("pandas", reason="pandas is in the test extra; install it to run this")
    await run(client, "main", "import pandas as pd, time\nframe = pd.DataFrame({'a': range(100_000), 'b': 0.5})\nnumbers = [1, 2, 3]\n_private = 1")
    table = text(await client.call_tool("variables", {"session": "main"}))
    rows = {line.split()[0]: line for line in table.splitlines()[2:]}
    assert set(rows) == {"frame", "numbers"}, table
    assert "pandas.DataFrame" in rows["frame"] and "100000 x 2" in rows["frame"] and "columns: a, b" in rows["frame"]
    assert "99999" not in table, "the frame is described, not printed"
    assert "len 3" in rows["numbers"] and "[1, 2, 3]" in rows["numbers"]
    assert text(await run(client, "main", "sorted(k for k in dir() if 'variables' in k or k == 'rows')")) == "[]\n", "it leaves nothing in the namespace"
    await run(client, "main", "time.sleep(30)", wait_s=0)
    started = time.monotonic()
    busy = await client.call_tool("variables", {"session": "main"})
    assert time.monotonic() - started < 2
    assert busy.is_error and record(busy)["status"] == "busy"
    await client.call_tool("interrupt", {"session": "main"})


# ---------------------------------------------------------------------------
# cells that outlive their call: running, wait, output, busy
# ---------------------------------------------------------------------------


@slow
async def test_a_long_cell_replies_running_then_wait_brings_the_rest(client):
    await run(client, "main", "1")  # the kernel is up, so the wait is the cell's own
    code = "import time\nfor i in range(6):\n    print(f'step {i}', flush=True)\n    time.sleep(0.5)\n'done'"
    first = await run(client, "main", code, wait_s=1.2)
    assert not first.is_error
    rec = record(first)
    assert rec["status"] == "running" and rec["cell"] == 2
    assert re.match(r"\[running: cell 2 has run for \d+ s and goes on\. wait\(session='main'\) for more,", text(first))
    shown = said_lines(text(first))
    assert shown and all(line.startswith("step ") for line in shown)
    replies = await until_it_ends(client, "main", first, timeout_s=1)
    final = replies[-1]
    assert len(replies) >= 3 and record(final)["status"] == "ok" and record(final)["cell"] == 2
    assert text(final).startswith("[ok: cell 2 finished after ")
    # every line exactly once across the replies, in order, and the cell's value at the end
    assert said_lines(*map(text, replies)) == [f"step {i}" for i in range(6)] + ["'done'"]
    idle = await client.call_tool("wait", {"session": "main"})
    assert not idle.is_error and record(idle)["status"] == "idle"
    assert "the last, cell 2, ended ok" in text(idle)


@slow
async def test_wait_s_zero_replies_at_once_with_the_cells_number(client):
    await run(client, "main", "import time")
    started = time.monotonic()
    result = await run(client, "main", "time.sleep(3)\nprint('late')", wait_s=0)
    assert time.monotonic() - started < 2.5, "the reply comes long before the cell ends"
    assert record(result)["status"] == "running" and record(result)["cell"] == 2
    assert "(no output yet)" in text(result)
    final = await client.call_tool("wait", {"session": "main", "timeout_s": 20})
    assert record(final)["status"] == "ok" and text(final).endswith("late\n")


@slow
async def test_busy_never_runs_the_code_and_output_answers_while_busy(client, tmp_path):
    marker = tmp_path / "ran"
    await run(client, "main", "import time\nfor i in range(300): print(f'row {i}')", wait_s=10)
    first = await run(client, "main", "print('long', flush=True)\ntime.sleep(30)", wait_s=0.5)
    assert record(first)["status"] == "running"
    started = time.monotonic()
    busy = await run(client, "main", f"open({str(marker)!r}, 'w').write('ran')", wait_s=0.5)
    assert busy.is_error and record(busy)["status"] == "busy"
    assert text(busy).startswith("[busy: cell 2 has been running for ")
    assert "this code was NOT run" in text(busy)
    assert time.monotonic() - started < 5
    # output reads saved output at once, from the running cell and from an earlier one
    started = time.monotonic()
    assert text(await client.call_tool("output", {"session": "main"})).startswith("cell 2, running for ")
    page = text(await client.call_tool("output", {"session": "main", "cell": 1, "offset": -2}))
    assert page.splitlines() == ["cell 1, ok: lines 299–300 of 300", "   299  row 298", "   300  row 299"]
    found = text(await client.call_tool("output", {"session": "main", "cell": 1, "grep": r"row 1\d\b"}))
    assert found.splitlines()[0].startswith("cell 1, ok: 10 line(s) matching ") and found.splitlines()[0].endswith(" of 300")
    assert found.splitlines()[1:3] == ["    11  row 10", "    12  row 11"]
    assert time.monotonic() - started < 5
    listing = (await client.call_tool("list_sessions", {})).structured_content["result"]
    assert listing[0]["status"] == "busy" and listing[0]["running"]["cell"] == 2
    assert listing[0]["running"]["last_line"] == "long"
    await client.call_tool("interrupt", {"session": "main"})
    stopped = await client.call_tool("wait", {"session": "main"})
    assert record(stopped)["error"]["ename"] == "KeyboardInterrupt"
    assert "long" not in text(stopped).splitlines(), "wait shows only output no reply has shown"
    assert not marker.exists(), "the code of a busy reply never runs"


@slow
async def test_a_queued_execute_runs_in_order_when_its_turn_comes(client):
    await run(client, "main", "import time\nlog = []")
    first = await run(client, "main", "time.sleep(1)\nlog.append(1)", wait_s=0)
    assert record(first)["status"] == "running"
    second = await run(client, "main", "log.append(2)\nlog")
    assert text(second) == "[1, 2]\n"


@slow
async def test_output_refuses_what_it_does_not_have(client):
    await run(client, "main", "print('x')")
    for arguments, complaint in [
        ({"cell": 9}, "has no cell 9; the cells whose output is kept: 1"),
        ({"grep": "("}, "not a valid Python regular expression"),
        ({"limit": 0}, "limit must be at least 1"),
    ]:
        result = await client.call_tool("output", {"session": "main", **arguments})
        assert result.is_error and complaint in text(result)


@slow
async def test_only_the_last_cells_keep_their_output(sessions):
    sessions.config = Config(keep_cells=2, spares=0)
    async with Client(build_server(sessions)) as client:
        for i in range(3):
            await run(client, "main", f"print({i})")
        session = sessions.get("main")
        assert [c.number for c in session.history] == [2, 3]
        assert "has no cell 1" in text(await client.call_tool("output", {"session": "main", "cell": 1}))
        # a cell's output past SPOOL_MEMORY is a file, and goes when its cell is no longer kept
        for i in range(3):
            await run(client, "main", f"for i in range(5000): print('{i}' * 20)", max_output_chars=200)
        assert sorted(p.name for p in session.dir.glob("cell-*")) == ["cell-5.txt", "cell-6.txt"]
        page = text(await client.call_tool("output", {"session": "main", "cell": 5, "offset": -1}))
        assert page.splitlines() == ["cell 5, ok: lines 5000–5000 of 5000", "  5000  " + "1" * 20]


async def one_running_one_queued_then(client, sessions, tool: str, handed_off: bool = False) -> tuple[dict, int]:
    """A long cell runs (its execute still waiting, or already answered 'running'), another execute
    waits its turn behind it, then `tool` is called on the session: the replies, by role, none of
    them the server failing; and the pid of the kernel they ran in."""
    await run(client, "main", "import time")
    pid = sessions.get("main").kernel.pid
    results = {}
    async with trio.open_nursery() as nursery:

        async def call(key, code, progress=None, **arguments):
            results[key] = await client.call_tool("execute", {"session": "main", "code": code, **arguments}, progress_callback=progress)

        if handed_off:
            await call("running", "time.sleep(30)", wait_s=0)
        else:
            running = trio.Event()
            nursery.start_soon(call, "running", "time.sleep(30)", on_running(running))
            await running.wait()
        nursery.start_soon(call, "queued", "print('never')")
        with trio.fail_after(5):
            while not sessions.get("main").queued:
                await trio.testing.wait_all_tasks_blocked()
        results[tool] = await client.call_tool(tool, {"session": "main"})
    for result in results.values():
        assert_clean(result)
    return results, pid


@slow
async def test_interrupt_cancels_the_executes_waiting_their_turn(client, sessions):
    results, _ = await one_running_one_queued_then(client, sessions, "interrupt")
    assert "interrupted cell 2" in text(results["interrupt"])
    assert record(results["running"])["error"]["ename"] == "KeyboardInterrupt"
    queued = results["queued"]
    assert record(queued)["status"] == "cancelled" and "its code was not run" in text(queued)
    assert text(await run(client, "main", "1 + 1")) == "2\n"


# ---------------------------------------------------------------------------
# lifecycle calls that race each other
# ---------------------------------------------------------------------------


@slow
async def test_reset_while_the_kernel_starts(client, sessions):
    results = {}
    async with trio.open_nursery() as nursery:

        async def first():
            results["execute"] = await run(client, "main", "x = 1")

        nursery.start_soon(first)
        with trio.fail_after(10):
            while sessions.find("main") is None or sessions.get("main").state is not State.STARTING:
                await trio.testing.wait_all_tasks_blocked()
        results["reset"] = await client.call_tool("reset", {"session": "main"})
    for result in results.values():
        assert_clean(result)
    assert "reset: fresh kernel" in text(results["reset"])
    assert record(results["execute"])["status"] == "cancelled"
    assert "the session was reset before this cell ran; its code was not run" in text(results["execute"])
    assert text(await run(client, "main", "'x' in dir()")) == "False\n"
    await assert_kernels_settle(sessions)


@slow
async def test_reset_while_an_execute_waits_behind_a_running_cell(client, sessions):
    results, old = await one_running_one_queued_then(client, sessions, "reset", handed_off=True)
    assert record(results["running"])["status"] == "running"
    assert "reset: fresh kernel" in text(results["reset"])
    assert record(results["queued"])["status"] == "cancelled" and "never" not in text(results["queued"])
    ended = await client.call_tool("wait", {"session": "main"})
    assert record(ended)["status"] == "cancelled" and "reset" in text(ended), "the wait owed for the running cell says what stopped it"
    assert await wait_gone([old]) == []
    assert text(await run(client, "main", "'time' in dir()")) == "False\n"
    await assert_kernels_settle(sessions)


@slow
async def test_shutdown_with_an_execute_queued(client, sessions):
    results, pid = await one_running_one_queued_then(client, sessions, "shutdown")
    assert not results["shutdown"].is_error
    assert record(results["running"])["status"] == "cancelled" and "shut down" in text(results["running"])
    assert record(results["queued"])["status"] == "cancelled" and "its code was not run" in text(results["queued"])
    assert await wait_gone([pid]) == []
    assert (await client.call_tool("list_sessions", {})).structured_content["result"] == []
    assert text(await run(client, "main", "'time' in dir()")) == "False\n", "the name is free for a new session"
    await assert_kernels_settle(sessions)


@slow
@pytest.mark.parametrize("second", ["reset", "shutdown", "interrupt"])
async def test_lifecycle_calls_at_once_all_answer(client, sessions, second):
    await run(client, "main", "import time")
    await run(client, "main", "time.sleep(30)", wait_s=0)
    results = {}
    async with trio.open_nursery() as nursery:

        async def call(key, tool):
            results[key] = await client.call_tool(tool, {"session": "main"})

        for key, tool in enumerate(["reset", second, "interrupt", "wait"]):
            nursery.start_soon(call, key, tool)
    assert len(results) == 4, "every call answers"
    for result in results.values():
        assert_clean(result)
    await assert_kernels_settle(sessions)
    assert text(await run(client, "main", "6 * 7")) == "42\n"


# ---------------------------------------------------------------------------
# the tasks extension and user-answered input(), at the wire level
# ---------------------------------------------------------------------------


TASKS = "io.modelcontextprotocol/tasks"


class CreatedTask(Result):
    """A tools/call answered with a task (the extension's CreateTaskResult), as an SDK client reads it."""

    model_config = ConfigDict(extra="allow")
    result_type: Literal["task"]
    task_id: str
    status: str


async def task_request(session, method: str, task_id: str, **params) -> dict:
    """tasks/get, tasks/update or tasks/cancel over an SDK client's session: the result as the wire has it."""
    request = Request[dict, str](method=method, params={"taskId": task_id, **params})
    return await session.send_request(request, TypeAdapter(dict))


async def poll_task(session, task_id: str, until: set[str]) -> list[dict]:
    """tasks/get until the status is one of `until`, at the task's own poll interval."""
    seen = [await task_request(session, "tasks/get", task_id)]
    while seen[-1]["status"] not in until:
        await trio.sleep(seen[-1]["pollIntervalMs"] / 1000)
        seen.append(await task_request(session, "tasks/get", task_id))
    return seen


class TasksClient(ClientExtension):
    """The client's side of the tasks extension: it declares the extension, and follows a task until it ends."""

    identifier = TASKS

    def claims(self):
        async def follow(task: CreatedTask, context) -> CallToolResult:
            final = (await poll_task(context.session, task.task_id, {"completed", "cancelled", "failed"}))[-1]
            return CallToolResult.model_validate(final["result"])

        return [ResultClaim(result_type="task", model=CreatedTask, resolve=follow)]


async def test_a_long_execute_becomes_a_task_that_tasks_get_follows_to_its_result(fakes, autojump_clock):
    long = "print tick 0; sleep 5; print tick 1; sleep 5; result done"
    async with Client(build_server(fakes.sessions), extensions=[TasksClient()]) as client:
        short = await client.session.call_tool("execute", {"session": "a", "code": "print quick"}, allow_claimed=True)
        assert isinstance(short, CallToolResult) and text(short) == "quick\n", "a cell that ends within the first second: a plain result"
        task = await client.session.call_tool("execute", {"session": "a", "code": long}, allow_claimed=True)
        assert isinstance(task, CreatedTask) and task.status == "working"
        created = task.model_dump(by_alias=True)
        assert created["ttlMs"] is None and created["pollIntervalMs"] == ipython_mcp.TASK_POLL_MS and created["statusMessage"] == "cell 2 has run for 1 s — tick 0"
        seen = await poll_task(client.session, task.task_id, {"completed", "cancelled", "failed"})
        assert [got["status"] for got in seen[:-1]] == ["working"] * (len(seen) - 1) and seen[-1]["status"] == "completed"
        assert seen[-1]["ttlMs"] >= 3_600_000, "kept an hour past its end"
        result = CallToolResult.model_validate(seen[-1]["result"])
        assert text(result) == "tick 0\ntick 1\ndone\n" and not result.is_error and record(result)["status"] == "ok" and record(result)["cell"] == 2
        followed = await client.call_tool("execute", {"session": "a", "code": long})
        assert text(followed) == text(result), "a client that follows the task gets what a plain call would"
        with pytest.raises(MCPError) as unknown:
            await task_request(client.session, "tasks/get", "no-such-task")
        assert unknown.value.code == -32602 and "no task 'no-such-task'" in str(unknown.value)
    async with Client(build_server(fakes.sessions)) as plain:
        answer = await plain.call_tool("execute", {"session": "a", "code": long})
        assert text(answer) == "tick 0\ntick 1\ndone\n", "a request that did not declare the extension never gets a task"
        with pytest.raises(MCPError) as undeclared:
            await task_request(plain.session, "tasks/get", task.task_id)
        assert undeclared.value.code == -32021


async def test_tasks_cancel_stops_a_running_cell_and_withdraws_a_queued_one(fakes, autojump_clock):
    async with Client(build_server(fakes.sessions), extensions=[TasksClient()]) as client:
        running = await client.session.call_tool("execute", {"session": "a", "code": "print started; sleep 100"}, allow_claimed=True)
        queued = await client.session.call_tool("execute", {"session": "a", "code": "print never"}, allow_claimed=True)
        waiting = await task_request(client.session, "tasks/get", queued.task_id)
        assert waiting["status"] == "working" and waiting["statusMessage"].startswith("waiting for its turn: cell 1 has run for ")
        assert (await task_request(client.session, "tasks/cancel", queued.task_id))["resultType"] == "complete"
        withdrawn = (await poll_task(client.session, queued.task_id, {"cancelled", "completed"}))[-1]
        assert withdrawn["status"] == "cancelled" and withdrawn["statusMessage"] == "cancelled: the task was cancelled (tasks/cancel) before this cell ran; its code was not run"
        await task_request(client.session, "tasks/cancel", running.task_id)
        stopped = (await poll_task(client.session, running.task_id, {"cancelled", "completed"}))[-1]
        assert stopped["status"] == "cancelled" and "result" not in stopped
        assert fakes.kernels[0].interrupts == 1, "the running cell was interrupted"
        assert text(await run(client, "a", "print kept")) == "kept\n" and len(fakes.kernels) == 1, "and its session kept"
    assert fakes.ran == ["print started; sleep 100", "print kept"], "the queued cell never ran"


async def test_a_tasks_input_is_asked_by_tasks_get_and_answered_by_tasks_update(fakes, autojump_clock):
    asked_directly = []

    async def elicitation(context, params):  # the client can ask its user; a task carries the question instead
        asked_directly.append(params)

    async with Client(build_server(fakes.sessions), extensions=[TasksClient()], elicitation_callback=elicitation) as client:
        task = await client.session.call_tool("execute", {"session": "a", "code": "print hello; input name?"}, allow_claimed=True)
        assert task.status == "input_required", "input() makes the task at once"
        asked = await task_request(client.session, "tasks/get", task.task_id)
        assert asked["status"] == "input_required" and asked["statusMessage"] == "waiting for the user's answer to input(): 'name?'"
        ((key, request),) = asked["inputRequests"].items()
        assert request["method"] == "elicitation/create" and request["params"]["mode"] == "form"
        assert request["params"]["message"] == "A cell in session 'a' asks (input): name?" and list(request["params"]["requestedSchema"]["properties"]) == ["answer"]
        await task_request(client.session, "tasks/update", task.task_id, inputResponses={key: {"action": "accept", "content": {"answer": "Ada"}}})
        final = (await poll_task(client.session, task.task_id, {"completed"}))[-1]
        assert content_text(final["result"]) == "hello\nname? Ada\ngot Ada\n"
        declined = await client.session.call_tool("execute", {"session": "a", "code": "input again?"}, allow_claimed=True)
        (key,) = (await task_request(client.session, "tasks/get", declined.task_id))["inputRequests"]
        await task_request(client.session, "tasks/update", declined.task_id, inputResponses={key: {"action": "decline"}})
        result = CallToolResult.model_validate((await poll_task(client.session, declined.task_id, {"completed"}))[-1]["result"])
        assert result.is_error and record(result)["error"]["ename"] == "EOFError" and "[the user declined: input() raises EOFError]" in text(result)
    assert asked_directly == []


def envelope(*, tasks: bool = True, elicitation: bool = False, url: bool = False, form: bool = True) -> dict:
    """The per-request _meta of protocol 2026-07-28, with the capabilities this request declares."""
    capabilities: dict = {}
    if tasks:
        capabilities["extensions"] = {TASKS: {}}
    if elicitation:
        capabilities["elicitation"] = ({"form": {}} if form else {}) | ({"url": {}} if url else {})
    return {
        "io.modelcontextprotocol/protocolVersion": "2026-07-28",
        "io.modelcontextprotocol/clientInfo": {"name": "wire", "version": "0"},
        "io.modelcontextprotocol/clientCapabilities": capabilities,
    }


class ModernServer(RawServer):
    """The console script spoken to at protocol 2026-07-28 (server/discover, per-request capabilities), every frame kept."""

    def __init__(self, process: trio.Process):
        super().__init__(process)
        self.frames: list[str] = []

    async def receive(self) -> dict:
        message = await super().receive()
        self.frames.append(json.dumps(message))
        return message

    async def call(self, name: str, arguments: dict, **capabilities) -> dict:
        return await self.request("tools/call", {"name": name, "arguments": arguments, "_meta": envelope(**capabilities)})

    async def task(self, method: str, task_id: str, **extra) -> dict:
        return await self.request(method, {"taskId": task_id, **extra, "_meta": envelope(elicitation=True, url=True)})

    async def poll(self, task_id: str, until: set[str], within: float = 30) -> list[dict]:
        """tasks/get until the status is one of `until`, at the task's own poll interval."""
        seen = []
        with trio.fail_after(within):
            while True:
                result = (await self.task("tasks/get", task_id))["result"]
                seen.append(result)
                if result["status"] in until:
                    return seen
                await trio.sleep(result["pollIntervalMs"] / 1000)


@asynccontextmanager
async def modern_server(tmp_path: Path, *flags: str):
    """The console script over stdio at 2026-07-28, its stderr (at DEBUG) in a file."""
    log_path = tmp_path / "server.log"
    with open(log_path, "wb") as log_file:
        process = await trio.lowlevel.open_process(
            [CONSOLE_SCRIPT, "--spares", "0", "--log-level", "DEBUG", *flags], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log_file
        )
    server = ModernServer(process)
    server.log = log_path
    try:
        reply = await server.request("server/discover", {"_meta": envelope()})
        assert reply["result"]["capabilities"]["extensions"] == {TASKS: {}}, "discover advertises the tasks extension"
        yield server
    finally:
        exited = await end_process(process)
    assert exited, "the server exits when its client closes stdin"


def content_text(result: dict) -> str:
    return "".join(block.get("text", "") for block in result["content"])


@slow
async def test_a_long_execute_becomes_a_task_and_a_short_one_answers_plainly(tmp_path):
    code = "import time\nfor i in range(3):\n    print(f'tick {i}', flush=True)\n    time.sleep(0.6)\n'done'"
    async with modern_server(tmp_path) as server:
        await server.call("execute", {"session": "a", "code": "1"}, tasks=False)  # the kernel is up: the first wait is the cell's
        short = await server.call("execute", {"session": "a", "code": "import time\ntime.sleep(0.2)\n6 * 7"})
        assert short["result"]["resultType"] == "complete" and content_text(short["result"]) == "42\n"
        plain = await server.call("execute", {"session": "b", "code": code}, tasks=False)
        assert plain["result"]["resultType"] == "complete", "a request without the capability never gets a task"
        created = (await server.call("execute", {"session": "a", "code": code}))["result"]
        assert created["resultType"] == "task" and created["status"] == "working"
        assert created["ttlMs"] is None and created["pollIntervalMs"] > 0
        assert {"taskId", "createdAt", "lastUpdatedAt"} <= created.keys()
        seen = await server.poll(created["taskId"], {"completed", "cancelled", "failed"})
        assert seen[0]["status"] == "working" and seen[0]["statusMessage"].startswith("cell 3 has run for")
        final = seen[-1]
        assert final["status"] == "completed" and final["resultType"] == "complete"
        assert final["ttlMs"] >= 3_600_000, "kept an hour past its end"
        result = final["result"]
        assert content_text(result) == content_text(plain["result"]) == "tick 0\ntick 1\ntick 2\n'done'\n"
        assert result["isError"] is False and result["_meta"]["ipython-mcp/execute"]["status"] == "ok"
        # output reads a task's cell like any other
        page = await server.call("output", {"session": "a", "cell": 3})
        assert "tick 2" in content_text(page["result"])


@slow
async def test_tasks_cancel_stops_the_cell_and_keeps_the_session(tmp_path):
    async with modern_server(tmp_path) as server:
        await server.call("execute", {"session": "a", "code": "kept = 1"}, tasks=False)
        task = (await server.call("execute", {"session": "a", "code": "import time\ntime.sleep(60)"}))["result"]
        assert task["resultType"] == "task"
        ack = await server.task("tasks/cancel", task["taskId"])
        assert ack["result"]["resultType"] == "complete"
        final = (await server.poll(task["taskId"], {"cancelled", "completed"}, within=15))[-1]
        assert final["status"] == "cancelled" and "result" not in final
        assert content_text((await server.call("execute", {"session": "a", "code": "kept"}))["result"]) == "1\n"
        # reset ends a session's tasks as cancelled too
        task = (await server.call("execute", {"session": "a", "code": "time.sleep(60)"}))["result"]
        await server.call("reset", {"session": "a"})
        assert (await server.poll(task["taskId"], {"cancelled", "completed"}, within=15))[-1]["status"] == "cancelled"


@slow
async def test_unknown_tasks_and_undeclared_callers_get_json_rpc_errors(tmp_path):
    async with modern_server(tmp_path) as server:
        unknown = await server.task("tasks/get", "no-such-task")
        assert unknown["error"]["code"] == -32602
        task = (await server.call("execute", {"session": "a", "code": "import time\ntime.sleep(2)"}))["result"]
        undeclared = await server.request("tasks/get", {"taskId": task["taskId"], "_meta": envelope(tasks=False)})
        assert undeclared["error"]["code"] == -32021
        assert (await server.task("tasks/update", "no-such-task", inputResponses={}))["error"]["code"] == -32602


@slow
async def test_input_and_getpass_in_a_task_are_answered_by_the_user(tmp_path):
    secret = "s3cret-" + os.urandom(6).hex()
    code = "name = input('name? ')\nimport getpass\npw = getpass.getpass('token: ')\nprint('hello', name, len(pw))"
    async with modern_server(tmp_path) as server:
        await server.call("execute", {"session": "a", "code": "1"}, tasks=False)  # the kernel is up: input() comes within the first wait
        task = (await server.call("execute", {"session": "a", "code": code}, elicitation=True, url=True))["result"]
        assert task["resultType"] == "task" and task["status"] == "input_required", "input() makes the task at once"
        asked = (await server.poll(task["taskId"], {"input_required"}))[-1]
        ((key, request),) = asked["inputRequests"].items()
        assert request["method"] == "elicitation/create" and "name?" in request["params"]["message"]
        assert request["params"]["mode"] == "form" and list(request["params"]["requestedSchema"]["properties"]) == ["answer"]
        await server.task("tasks/update", task["taskId"], inputResponses={key: {"action": "accept", "content": {"answer": "Luca"}}})
        asked = (await server.poll(task["taskId"], {"input_required"}))[-1]
        ((key, request),) = asked["inputRequests"].items()
        assert request["params"]["mode"] == "url" and "token:" in request["params"]["message"], "a secret is asked on a page, never in a form"
        assert "requestedSchema" not in request["params"]
        ack = await server.task("tasks/update", task["taskId"], inputResponses={key: {"action": "accept"}})
        assert "error" not in ack
        waiting = (await server.task("tasks/get", task["taskId"]))["result"]
        assert waiting["status"] == "working" and "on its page" in waiting["statusMessage"], "accepted: the task waits for the page"
        assert (await submit_page(request["params"]["url"], secret)).status_code == 200
        final = (await server.poll(task["taskId"], {"completed"}))[-1]
        body = content_text(final["result"])
        assert body == f"name? Luca\ntoken: [hidden]\nhello Luca {len(secret)}\n"
        page = content_text((await server.call("output", {"session": "a"}))["result"])
        assert "Luca" in page
    # the secret went to the kernel only: in no frame the server sent, no log line, no file it kept
    assert not any(secret in frame for frame in server.frames)
    assert secret not in server.log.read_text()


@slow
async def test_a_declined_input_raises_eoferror_in_the_cell(tmp_path):
    code = "try:\n    input('continue? ')\nexcept EOFError:\n    print('no answer, going on')"
    async with modern_server(tmp_path) as server:
        task = (await server.call("execute", {"session": "a", "code": code}, elicitation=True))["result"]
        asked = (await server.poll(task["taskId"], {"input_required"}))[-1]
        (key,) = asked["inputRequests"]
        await server.task("tasks/update", task["taskId"], inputResponses={key: {"action": "decline"}})
        final = (await server.poll(task["taskId"], {"completed"}))[-1]
        assert content_text(final["result"]) == "continue? [the user declined: input() raises EOFError]\nno answer, going on\n"
        unhandled = (await server.call("execute", {"session": "a", "code": "input('again? ')"}, elicitation=True))["result"]
        asked = (await server.poll(unhandled["taskId"], {"input_required"}))[-1]
        await server.task("tasks/update", unhandled["taskId"], inputResponses={next(iter(asked["inputRequests"])): {"action": "cancel"}})
        final = (await server.poll(unhandled["taskId"], {"completed"}))[-1]
        assert final["result"]["isError"] and final["result"]["_meta"]["ipython-mcp/execute"]["error"]["ename"] == "EOFError"
        assert content_text((await server.call("execute", {"session": "a", "code": "1 + 1"}))["result"]) == "2\n"


@slow
async def test_without_elicitation_input_still_fails_at_once(tmp_path):
    async with modern_server(tmp_path) as server:
        await server.call("execute", {"session": "a", "code": "1"}, tasks=False)  # the kernel is up: the first wait is the cell's
        started = time.monotonic()
        reply = (await server.call("execute", {"session": "a", "code": "input('name? ')"}))["result"]
        assert time.monotonic() - started < 5
        assert reply["resultType"] == "complete" and reply["_meta"]["ipython-mcp/execute"]["error"]["ename"] == "StdinNotImplementedError"


@slow
async def test_input_fails_at_once(client):
    started = time.monotonic()
    result = await run(client, "main", "input('name? ')", timeout_s=20)
    assert time.monotonic() - started < 10
    assert result.is_error
    assert record(result)["error"]["ename"] == "StdinNotImplementedError"
    result = await run(client, "main", "import getpass\ngetpass.getpass()", timeout_s=20)
    assert time.monotonic() - started < 20
    assert record(result)["error"]["ename"] == "StdinNotImplementedError"


@slow
async def test_a_plain_execute_elicits_input_during_the_call_at_2025_11_25(sessions):
    asked = []
    secret = "s3cret-" + os.urandom(6).hex()

    async def answer(context, params):
        asked.append(params)
        from mcp_types import ElicitResult

        if params.mode == "url":  # the user opens the page and types the secret there; the client only says "accepted"
            assert (await submit_page(params.url, secret)).status_code == 200
            return ElicitResult(action="accept")
        field_name = next(iter(params.requested_schema["properties"]))
        if "declin" in params.message:
            return ElicitResult(action="decline")
        return ElicitResult(action="accept", content={field_name: "Ada"})

    async with Client(build_server(sessions), mode="legacy", elicitation_callback=answer) as client:
        # a fresh kernel's first cells: input() must not be lost while its stdin connection is made
        for session in ("a", "b", "c"):
            await run(client, session, "1")
            result = await run(client, session, "name = input('who? ')\nf'hi {name}'")
            assert text(result) == "who? Ada\n'hi Ada'\n"
        assert "who?" in asked[0].message
        result = await run(client, "a", "input('please declin? ')")
        assert record(result)["error"]["ename"] == "EOFError"
        result = await run(client, "a", "import getpass\npw = getpass.getpass('token: ')\nprint(len(pw), pw)")
        assert asked[-1].mode == "url" and asked[-1].elicitation_id, "at 2025-11-25 a URL request names its elicitation"
        assert text(result) == f"token: [hidden]\n{len(secret)} ********\n"
        assert secret not in json.dumps(result.model_dump(mode="json"))


async def post_at_2026_07_28(http, server: "HttpServer", method: str, params: dict, name: str | None = None) -> tuple:
    """One JSON-RPC request to the console script over streamable HTTP at 2026-07-28, with its routing headers:
    the response, and the message it carried (its JSON body, or the last event of its stream)."""
    headers = MCP_POST | bearer(server.token) | {"Mcp-Protocol-Version": "2026-07-28", "Mcp-Method": method} | ({"Mcp-Name": name} if name else {})
    response = await http.post(server.url, headers=headers, json={"jsonrpc": "2.0", "id": 1, "method": method, "params": params})
    if response.headers["content-type"].startswith("text/event-stream"):
        return response, json.loads([line[5:] for line in response.text.splitlines() if line.startswith("data:")][-1])
    return response, response.json()


@slow
@network
async def test_tasks_over_streamable_http_with_the_routing_headers(tmp_path):
    pytest.importorskip("hypercorn", reason="hypercorn is in the test extra; install it to run this")
    import httpx2 as httpx

    async with http_server(tmp_path) as server:
        async with httpx.AsyncClient(timeout=30) as http:

            async def post(method: str, params: dict, name: str | None = None) -> dict:
                return (await post_at_2026_07_28(http, server, method, {**params, "_meta": envelope()}, name))[1]

            discovered = await post("server/discover", {})
            assert discovered["result"]["capabilities"]["extensions"] == {TASKS: {}}
            code = "import time\nprint('over http', flush=True)\ntime.sleep(2)\n'end'"
            created = (await post("tools/call", {"name": "execute", "arguments": {"session": "h", "code": code}}, name="execute"))["result"]
            assert created["resultType"] == "task"
            with trio.fail_after(30):
                while (got := (await post("tasks/get", {"taskId": created["taskId"]}, name=created["taskId"]))["result"])["status"] == "working":
                    await trio.sleep(got["pollIntervalMs"] / 1000)
            assert got["status"] == "completed" and content_text(got["result"]) == "over http\n'end'\n"


# ---------------------------------------------------------------------------
# input() by multi-round-trip requests, getpass() on a one-time page, secrets masked
# ---------------------------------------------------------------------------


async def fetch_page(url: str) -> tuple[int, str]:
    """GET a one-time page as a browser would: no token, no cookies."""
    import httpx2 as httpx

    async with httpx.AsyncClient(timeout=30) as http:
        response = await http.get(url)
    assert response.headers["cache-control"] == "no-store" and response.headers["referrer-policy"] == "no-referrer"
    return response.status_code, response.text


async def submit_page(url: str, secret: str):
    """POST the page's form, as its button does."""
    import httpx2 as httpx

    async with httpx.AsyncClient(timeout=30) as http:
        return await http.post(url, data={"secret": secret})


def files_holding(needle: str, *roots: Path) -> list[Path]:
    """Every file under these directories whose bytes contain the needle."""
    return [path for root in roots for path in Path(root).rglob("*") if path.is_file() and needle.encode() in path.read_bytes()]


def a_secret() -> str:
    # quote, backslash and a non-ASCII letter: the kernel echoes each escaped differently (repr, JSON)
    return "S3cr'et\\\\é-" + os.urandom(6).hex()


def elicitation_of(result: dict) -> tuple[str, dict]:
    """The one elicitation/create request of an input_required result: its key and params."""
    assert result["resultType"] == "input_required" and isinstance(result["requestState"], str), result
    ((key, request),) = result["inputRequests"].items()
    assert request["method"] == "elicitation/create"
    return key, request["params"]


class Wire:
    """A client at 2026-07-28 without the tasks extension, every frame the server sent kept. Its calls declare
    form elicitation, and URL mode too when it was made with url=True."""

    def __init__(self, request, frames: list[str], process: trio.Process, log, url: bool):
        self.request, self.frames, self.process, self.log, self.url = request, frames, process, log, url
        self.base = ""  # the HTTP server's own address, under streamable HTTP

    def _params(self, name: str, arguments: dict, elicitation: bool, url: bool | None) -> dict:
        caps = envelope(tasks=False, elicitation=elicitation, url=self.url if url is None else url)
        return {"name": name, "arguments": arguments, "_meta": caps}

    async def call(self, name: str, arguments: dict, *, elicitation: bool = True, url: bool | None = None) -> dict:
        return await self.request("tools/call", self._params(name, arguments, elicitation, url))

    async def retry(self, name: str, arguments: dict, asked: dict, responses: dict, *, url: bool | None = None) -> dict:
        """The same call again after an input_required result: the responses, and its requestState echoed."""
        params = self._params(name, arguments, True, url) | {"inputResponses": responses, "requestState": asked["requestState"]}
        return await self.request("tools/call", params)


@asynccontextmanager
async def modern_client(tmp_path: Path, transport: str, *flags: str, url: bool = False):
    """The console script over stdio or streamable HTTP (its log at DEBUG), and a Wire to it."""
    if transport == "stdio":
        async with modern_server(tmp_path, *flags) as server:
            yield Wire(server.request, server.frames, server.process, server.log.read_text, url)
        return
    pytest.importorskip("hypercorn", reason="hypercorn is in the test extra; install it to run this")
    import httpx2 as httpx

    async with http_server(tmp_path, "--log-level", "DEBUG", *flags) as server, httpx.AsyncClient(timeout=60) as http:
        frames: list[str] = []

        async def request(method: str, params: dict) -> dict:
            response, message = await post_at_2026_07_28(http, server, method, params, params["name"])
            frames.append(response.text)
            return message

        wire = Wire(request, frames, server.process, lambda: server.stderr, url)
        wire.base = server.url.removesuffix("/mcp")
        yield wire


def answer(key: str, value: str) -> dict:
    return {key: {"action": "accept", "content": {"answer": value}}}


@slow
@TRANSPORTS
async def test_input_at_2026_07_28_is_asked_by_the_result_and_answered_by_the_retry(tmp_path, transport):
    code = "first = input('first? ')\nsecond = input('second? ')\nprint(first, second)"
    args = {"session": "a", "code": code}
    async with modern_client(tmp_path, transport) as client:
        await client.call("execute", {"session": "a", "code": "1"})  # the kernel is up
        asked = (await client.call("execute", args))["result"]
        key, params = elicitation_of(asked)
        assert params["mode"] == "form" and "first?" in params["message"] and "session 'a'" in params["message"]
        assert "cell" not in asked["requestState"] and "'a'" not in asked["requestState"], "the state is sealed"
        again = (await client.retry("execute", args, asked, {}))["result"]
        assert elicitation_of(again)[0] == key, "a retry without the answer is asked again"
        second = (await client.retry("execute", args, again, answer(key, "Ada")))["result"]
        key, params = elicitation_of(second)
        assert "second?" in params["message"], "each input() is one round"
        final = (await client.retry("execute", args, second, answer(key, "Lovelace")))["result"]
        assert final["resultType"] == "complete" and content_text(final) == "first? Ada\nsecond? Lovelace\nAda Lovelace\n"
        assert final["_meta"]["ipython-mcp/execute"]["status"] == "ok"
        # declined: EOFError in the cell, which goes on
        args = {"session": "a", "code": "try:\n    input('continue? ')\nexcept EOFError:\n    print('no answer, going on')"}
        asked = (await client.call("execute", args))["result"]
        final = (await client.retry("execute", args, asked, {elicitation_of(asked)[0]: {"action": "decline"}}))["result"]
        assert content_text(final) == "continue? [the user declined: input() raises EOFError]\nno answer, going on\n"
        # no elicitation declared: stdin is not offered, as before
        plain = (await client.call("execute", {"session": "a", "code": "input('x? ')"}, elicitation=False))["result"]
        assert plain["_meta"]["ipython-mcp/execute"]["error"]["ename"] == "StdinNotImplementedError"


@slow
@TRANSPORTS
async def test_an_input_after_running_is_asked_through_the_next_wait(tmp_path, transport):
    code = "import time\nprint('started', flush=True)\ntime.sleep(1)\nprint('got', input('later? '))"
    async with modern_client(tmp_path, transport) as client:
        running = (await client.call("execute", {"session": "a", "code": code, "wait_s": 0.2}))["result"]
        assert running["_meta"]["ipython-mcp/execute"]["status"] == "running", content_text(running)
        wait = {"session": "a", "timeout_s": 30}
        asked = (await client.call("wait", wait))["result"]
        key, params = elicitation_of(asked)
        assert "later?" in params["message"]
        final = (await client.retry("wait", wait, asked, answer(key, "soon")))["result"]
        assert final["_meta"]["ipython-mcp/execute"]["status"] == "ok"
        assert content_text(final).endswith("later? soon\ngot soon\n") and "finished after" in content_text(final)


@slow
@TRANSPORTS
async def test_a_request_state_answers_its_own_cell_and_no_other(tmp_path, transport):
    args = {"session": "a", "code": "print('got', input('which? '))"}
    async with modern_client(tmp_path, transport) as client:
        await client.call("execute", {"session": "a", "code": "1"})
        first = (await client.call("execute", args))["result"]
        key, _ = elicitation_of(first)
        done = (await client.retry("execute", args, first, answer(key, "one")))["result"]
        assert content_text(done) == "which? one\ngot one\n"
        second = (await client.call("execute", args))["result"]  # the same call: another cell asks
        key2, _ = elicitation_of(second)
        # the first cell's state, replayed while the second cell waits: it says its cell ended, and answers nothing
        replayed = (await client.retry("execute", args, first, answer(key, "intruder")))["result"]
        assert replayed["resultType"] == "complete" and "intruder" not in json.dumps(replayed)
        assert "the answer this retry brought was not used: cell 2 had already ended" in content_text(replayed)
        # on another session's call, or another tool, or tampered with: the SDK's seal refuses it
        refused = [
            await client.retry("execute", {**args, "session": "b"}, second, answer(key2, "x")),
            await client.retry("wait", {"session": "a"}, second, answer(key2, "x")),
            await client.retry("execute", args, {"requestState": second["requestState"][:-4] + "AAAA"}, answer(key2, "x")),
        ]
        assert all(r["error"] == {"code": -32602, "message": "Invalid or expired requestState", "data": {"reason": "invalid_request_state"}} for r in refused), refused
        final = (await client.retry("execute", args, second, answer(key2, "two")))["result"]
        assert content_text(final) == "which? two\ngot two\n"
        # a retry whose cell is no longer kept (its session was shut down, and made again) says so
        await client.call("shutdown", {"session": "a"})
        await client.call("execute", {"session": "a", "code": "1"})
        gone = (await client.retry("execute", args, second, answer(key2, "late")))["result"]
        assert gone["isError"] and "has ended and is no longer kept; the answer was not used" in content_text(gone)


@slow
async def test_an_answer_that_comes_too_late_is_said_not_to_be_used(tmp_path):
    async with modern_client(tmp_path, "stdio", url=True) as client:
        await client.call("execute", {"session": "a", "code": "1"})
        # the cell ended (interrupted) while it asked: the retry's reply says so, and no longer that the cell waits
        for code in ("input('name? ')", "import getpass\ngetpass.getpass('token: ')"):
            args = {"session": "a", "code": code}
            asked = (await client.call("execute", args))["result"]
            key, _ = elicitation_of(asked)
            await client.call("interrupt", {"session": "a"})
            late = (await client.retry("execute", args, asked, {key: {"action": "decline"}}))["result"]
            assert late["_meta"]["ipython-mcp/execute"]["error"]["ename"] == "KeyboardInterrupt", content_text(late)
            assert "waits for the user" not in content_text(late), content_text(late)
            assert re.search(r"the decline this retry brought was not used: cell \d+ had already ended", content_text(late)), content_text(late)
        # two calls asked the user the same input(); the second answer comes after the first was taken
        code = "import time\ntime.sleep(0.5)\nname = input('name? ')\ntime.sleep(4)\nprint('hello', name)"
        running = (await client.call("execute", {"session": "a", "code": code, "wait_s": 0.1}))["result"]
        assert running["_meta"]["ipython-mcp/execute"]["status"] == "running"
        wait = {"session": "a", "timeout_s": 1.5}
        first, second = [(await client.call("wait", wait))["result"] for _ in range(2)]
        key = elicitation_of(first)[0]
        assert elicitation_of(second)[0] == key, "both put the same ask"
        taken = (await client.retry("wait", wait, first, answer(key, "Ada")))["result"]
        assert taken["_meta"]["ipython-mcp/execute"]["status"] == "running" and "not used" not in content_text(taken)
        unused = (await client.retry("wait", wait, second, answer(key, "Grace")))["result"]
        assert "warning: the answer this retry brought was not used: what it answers was no longer waiting" in content_text(unused), content_text(unused)
        final = (await client.call("wait", {"session": "a", "timeout_s": 30}))["result"]
        assert content_text(final).endswith("hello Ada\n"), content_text(final)


GETPASS_CELL = (
    "import getpass, sys, time\n"
    "pw = getpass.getpass('token: ')\n"
    "print(len(pw), pw)\n"
    "sys.stdout.write(pw[:5]); sys.stdout.flush(); time.sleep(0.3); print(pw[5:])  # one secret, two stream messages\n"
    "print({'key': pw})\n"
    "pw"
)


def assert_getpass_reply(text_: str, secret: str) -> None:
    """GETPASS_CELL's reply: the secret's length, and the secret masked as printed, split, in a dict and as the cell's value."""
    masked = "[\"']\\*{8}[\"']"  # repr quotes it with " (the secret has a ')
    assert re.search(rf"token: \[hidden\]\n{len(secret)} \*{{8}}\n\*{{8}}\n\{{'key': {masked}\}}\n{masked}\n$", text_), text_


@slow
@TRANSPORTS
async def test_getpass_is_answered_on_a_one_time_page_and_masked_everywhere(tmp_path, transport):
    import httpx2 as httpx

    secret = a_secret()
    args = {"session": "a", "code": GETPASS_CELL, "wait_s": 2}
    async with modern_client(tmp_path, transport, "--notebook-dir", str(tmp_path / "notebooks"), url=True) as client:
        await client.call("execute", {"session": "a", "code": "1"})
        asked = (await client.call("execute", args))["result"]
        key, params = elicitation_of(asked)
        assert params["mode"] == "url" and "requestedSchema" not in params and "token:" in params["message"]
        url = params["url"]
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+/ipython-mcp/secret/[\w-]{43}", url), url
        assert url.startswith(client.base), "under streamable HTTP, the server's own app serves it"
        status, page = await fetch_page(url)  # no bearer token: the URL is the page's credential
        assert status == 200 and "Session <b>&#x27;a&#x27;</b>, cell 2, called <code>getpass()</code>" in page
        assert 'type="password"' in page and "token:" in page and "expires when cell 2 ends" in page
        # the user said yes; the call waits for the page until its budget, then the reply says running
        waiting = (await client.retry("execute", args, asked, {key: {"action": "accept"}}))["result"]
        assert waiting["_meta"]["ipython-mcp/execute"]["status"] == "running"
        assert "waits for the user's answer to getpass()" in content_text(waiting)
        assert (await submit_page(url, secret)).status_code == 200
        final = (await client.call("wait", {"session": "a", "timeout_s": 30}))["result"]
        assert final["_meta"]["ipython-mcp/execute"]["status"] == "ok"
        assert_getpass_reply(content_text(final), secret)
        if transport == "stdio":
            with pytest.raises(httpx.ConnectError):  # it worked once; with no secret pending, nothing listens
                await submit_page(url, "again")
            assert not listening_tcp_inodes() & socket_inodes(client.process.pid), "no port stays open"
        else:
            again = await submit_page(url, "again")
            assert again.status_code == 410 and "a page works once" in again.text
        await assert_masked_in_the_session(client, secret, tmp_path / "export.ipynb")
        await client.call("reset", {"session": "a"})  # masked for the life of the session, not of its kernel
        rebuilt = (await client.call("execute", {"session": "a", "code": f"print({secret[:6]!r} + {secret[6:]!r})"}))["result"]
        assert content_text(rebuilt) == "********\n"
        kept = files_holding(secret, *runtime_dirs(client.process.pid), tmp_path)
        assert runtime_dirs(client.process.pid) and not kept, kept
    assert not any(secret in frame for frame in client.frames)
    assert secret not in client.log() and "DEBUG" in client.log()
    assert "********" in (tmp_path / "notebooks" / "a.ipynb").read_text()
    assert not files_holding(secret, tmp_path)


async def assert_masked_in_the_session(client: Wire, secret: str, export: Path) -> None:
    """variables, output, a traceback and export show the secret as ********."""
    variables = content_text((await client.call("variables", {"session": "a"}))["result"])
    assert re.search(r"^pw +str +len \d+ .*[\"']\*{8}[\"']$", variables, re.M), variables
    output = content_text((await client.call("output", {"session": "a"}))["result"])
    assert "********" in output and secret not in output
    echoed = (await client.call("execute", {"session": "a", "code": "int(pw)"}))["result"]
    assert secret not in json.dumps(echoed) and re.search(r"^ValueError: invalid literal .*[\"']\*{8}[\"']$", content_text(echoed), re.M)
    assert re.search(r"[\"']\*{8}[\"']$", echoed["_meta"]["ipython-mcp/execute"]["error"]["evalue"]), "the headline's error too"
    cut = (await client.call("execute", {"session": "a", "code": "print(pw[:8] + '...')"}))["result"]  # as a DataFrame shows a long value
    assert content_text(cut) == "********...\n", content_text(cut)
    exported = await client.call("export", {"session": "a", "path": str(export)})
    assert "wrote" in content_text(exported["result"]) and "********" in export.read_text() and secret not in export.read_text()


@slow
@pytest.mark.parametrize("flags", [pytest.param([], id="plain"), pytest.param(["--sandbox"], id="sandbox", marks=needs_sandbox)])
async def test_a_secret_written_below_python_is_masked_in_the_kernels_log_and_last_words(tmp_path, monkeypatch, flags):
    # ipykernel echoes what a cell writes to fds 1 and 2 (os.write, a child process, C code) to the kernel's own
    # stdout and stderr: its log, which a died reply quotes.
    monkeypatch.delenv("PYTEST_CURRENT_TEST")  # else ipykernel leaves fds 1 and 2 alone, as it does not in real use
    secret = a_secret()
    async with modern_client(tmp_path, "stdio", *flags, url=True) as client:
        await client.call("execute", {"session": "a", "code": "import ctypes, getpass, os, subprocess, sys, time"})
        args = {"session": "a", "code": "pw = getpass.getpass('token: ')", "wait_s": 2}
        asked = (await client.call("execute", args))["result"]
        key, params = elicitation_of(asked)
        assert (await submit_page(params["url"], secret)).status_code == 200
        await client.retry("execute", args, asked, {key: {"action": "accept"}})
        writes = (
            "os.write(1, pw[:5].encode()); os.write(2, b'meanwhile\\n'); time.sleep(0.3); os.write(1, f'{pw[5:]} split\\n'.encode())\n"
            "os.write(1, f'fd1 {pw}\\n'.encode())\n"
            "os.write(2, f'fd2 {pw}\\n'.encode())\n"
            "subprocess.run(['echo', 'child', pw])\n"
            "sys.__stderr__.write(f'dunder {pw}\\n'); sys.__stderr__.flush()\n"
            "ctypes.CDLL(None).puts(f'puts {pw}'.encode()); ctypes.CDLL(None).fflush(None)"
        )
        written = (await client.call("execute", {"session": "a", "code": writes}))["result"]
        assert written["_meta"]["ipython-mcp/execute"]["status"] == "ok" and secret not in json.dumps(written)
        (kernel_log,) = [path for root in runtime_dirs(client.process.pid) for path in root.rglob("kernel.log")]
        expected = ["meanwhile", "******** split", "fd1 ********", "fd2 ********", "child ********", "dunder ********", "puts ********"]
        with trio.move_on_after(10):  # the server logs what the kernel writes as it reads it
            while not all(f"{line}\n" in kernel_log.read_text() for line in expected):
                await trio.sleep(0.05)
        assert set(expected) <= set(kernel_log.read_text().splitlines()), "each line whole, whatever the other stream wrote meanwhile"
        assert not files_holding(secret, *runtime_dirs(client.process.pid))
        # a kernel that dies right after it wrote the secret (no newline): its last words are quoted masked
        dying = "subprocess.run(['sh', '-c', 'printf \"using token %s\" \"$0\" >&2', pw])\ntime.sleep(0.5)\nos._exit(3)"
        died = (await client.call("execute", {"session": "a", "code": dying}))["result"]
        assert died["_meta"]["ipython-mcp/execute"]["status"] == "died", content_text(died)
        assert "[last lines of the kernel's output:\n" in content_text(died) and "using token ********]" in content_text(died), content_text(died)
        output = (await client.call("output", {"session": "a"}))["result"]
        assert secret not in json.dumps(died) and secret not in json.dumps(output)
        assert not files_holding(secret, *runtime_dirs(client.process.pid))
    assert secret not in client.log()


@slow
@TRANSPORTS
async def test_a_client_without_url_mode_gets_a_clear_getpass_error_at_once(tmp_path, transport):
    async with modern_client(tmp_path, transport) as client:
        await client.call("execute", {"session": "a", "code": "1"})
        started = time.monotonic()
        reply = (await client.call("execute", {"session": "a", "code": "import getpass\ngetpass.getpass('token: ')"}))["result"]
        assert time.monotonic() - started < 10
        assert reply["resultType"] == "complete" and reply["_meta"]["ipython-mcp/execute"]["error"]["ename"] == "EOFError"
        said = content_text(reply)
        assert "token: [this client cannot open a page for a secret (it did not declare URL-mode elicitation)" in said
        assert "getpass() raises EOFError]" in said and "os.environ" in said and "supports URL-mode elicitation" in said
        assert "inputRequests" not in json.dumps(reply), "no form for a secret"


@slow
async def test_a_client_that_opens_urls_only_answers_input_on_a_page_too(tmp_path):
    args = {"session": "a", "code": "print('hi', input('name? '))"}
    async with modern_server(tmp_path) as server:
        asked = (await server.request("tools/call", {"name": "execute", "arguments": args, "_meta": envelope(tasks=False, elicitation=True, url=True, form=False)}))["result"]
        key, params = elicitation_of(asked)
        assert params["mode"] == "url", "no form for a client that declared none"
        status, page = await fetch_page(params["url"])
        assert status == 200 and 'type="text"' in page and "called <code>input()</code>" in page
        assert (await submit_page(params["url"], "Ada")).status_code == 200
        retry = {"name": "execute", "arguments": args, "inputResponses": {key: {"action": "accept"}}, "requestState": asked["requestState"]}
        final = (await server.request("tools/call", retry | {"_meta": envelope(tasks=False, elicitation=True, url=True, form=False)}))["result"]
        assert content_text(final) == "name? Ada\nhi Ada\n", "an input() answer is no secret: shown as typed"


@slow
@network
async def test_over_http_a_page_is_a_route_ahead_of_the_token_and_says_why_it_is_gone(tmp_path):
    async with modern_client(tmp_path, "http", url=True) as client:
        await client.call("execute", {"session": "h", "code": "1"})
        args = {"session": "h", "code": "import getpass\ngetpass.getpass('never: ')", "timeout_s": 2}
        asked = (await client.call("execute", args))["result"]
        key, params = elicitation_of(asked)
        assert (await fetch_page(params["url"]))[0] == 200
        import httpx2 as httpx

        async with httpx.AsyncClient() as http:
            assert (await http.get(client.base + "/mcp")).status_code == 401, "the token still guards the rest"
            assert (await http.get(client.base + "/ipython-mcp/secret")).status_code == 401, "only the pages' own path is open"
        assert (await fetch_page(client.base + "/ipython-mcp/secret/" + "x" * 43))[0] == 404
        ended = (await client.retry("execute", args, asked, {key: {"action": "accept"}}))["result"]
        assert ended["_meta"]["ipython-mcp/execute"]["status"] == "timeout"
        status, page = await fetch_page(params["url"])
        assert status == 410 and "This page has expired" in page and "Cell 2 in session &#x27;h&#x27; ended." in page
        # declined: EOFError in the cell, and the page is gone
        args = {"session": "h", "code": "import getpass\ntry:\n    getpass.getpass('token: ')\nexcept EOFError:\n    print('none given')"}
        asked = (await client.call("execute", args))["result"]
        key, params = elicitation_of(asked)
        declined = (await client.retry("execute", args, asked, {key: {"action": "decline"}}))["result"]
        assert content_text(declined) == "token: [the user declined: getpass() raises EOFError]\nnone given\n"
        status, page = await fetch_page(params["url"])
        assert status == 410 and "stopped waiting for it (the user declined)" in page


@slow
@network
async def test_over_https_the_page_is_https_and_the_sdk_client_drives_the_rounds(tmp_path):
    pytest.importorskip("hypercorn", reason="hypercorn is in the test extra; install it to run this")
    import httpx2 as httpx
    from mcp_types import ElicitResult

    certfile, keyfile = self_signed_certificate(tmp_path)
    trust = ssl.create_default_context(cafile=str(certfile))
    secret, urls = a_secret(), []

    async def user(context, params):  # the SDK client's callback: the person opens the page and types
        urls.append(params.url)
        async with httpx.AsyncClient(verify=trust) as http:
            assert (await http.post(params.url, data={"secret": secret})).status_code == 200
        return ElicitResult(action="accept")

    async with http_server(tmp_path, "--certfile", str(certfile), "--keyfile", str(keyfile)) as server:
        async with httpx.AsyncClient(headers=bearer(server.token), verify=trust, timeout=httpx.Timeout(30, read=300)) as http:
            async with Client(streamable_http_client(server.url, http_client=http), elicitation_callback=user) as client:
                result = await run(client, "tls", "import getpass\npw = getpass.getpass('token: ')\nprint(len(pw), pw)")
    assert urls[0].startswith(f"https://127.0.0.1:{server.port}/ipython-mcp/secret/")
    assert text(result) == f"token: [hidden]\n{len(secret)} ********\n"


async def open_chromium(nursery, profile: Path):
    """Debian's Chromium, headless, with a fresh profile; its DevTools websocket, driven with trio-websocket."""
    from trio_websocket import connect_websocket_url

    executable = shutil.which("chromium") or shutil.which("chromium-browser")
    if executable is None:
        pytest.skip("Chromium is not installed (Debian: apt-get install chromium); .ci/run installs it")
    process = await trio.lowlevel.open_process(
        [
            executable, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            f"--user-data-dir={profile}", "--remote-debugging-port=0", "about:blank",
        ],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    seen = b""
    try:
        with trio.fail_after(60):
            while not (found := re.search(rb"DevTools listening on (ws://\S+)", seen)):
                chunk = await process.stderr.receive_some()
                assert chunk, f"chromium exited before it listened: {seen.decode(errors='replace')}"
                seen += chunk

        async def drain() -> None:
            while await process.stderr.receive_some():
                pass

        nursery.start_soon(drain)
        return process, await connect_websocket_url(nursery, found.group(1).decode(), max_message_size=16 * 1024 * 1024)
    except BaseException:  # the test never gets the browser to end: end it here
        process.kill()
        with trio.CancelScope(shield=True):
            await process.wait()
        raise


class DevTools:
    """Calls and events of the Chrome DevTools protocol, over one browser websocket, for one page."""

    def __init__(self, ws):
        self.ws = ws
        self.page: str | None = None  # the page's session id
        self.events: list[dict] = []
        self._id = 0

    async def call(self, method: str, **params) -> dict:
        self._id += 1
        message = {"id": self._id, "method": method, "params": params} | ({"sessionId": self.page} if self.page else {})
        await self.ws.send_message(json.dumps(message))
        while True:
            reply = json.loads(await self.ws.get_message())
            if reply.get("id") == self._id:
                assert "error" not in reply, reply
                return reply["result"]
            self.events.append(reply)

    async def event(self, method: str) -> dict:
        while True:
            for event in self.events:
                if event.get("method") == method:
                    self.events.remove(event)
                    return event
            self.events.append(json.loads(await self.ws.get_message()))

    async def evaluate(self, expression: str):
        return (await self.call("Runtime.evaluate", expression=expression, returnByValue=True))["result"].get("value")


@slow
async def test_a_person_types_the_secret_in_a_real_browser(tmp_path):
    secret = a_secret()
    args = {"session": "a", "code": "import getpass\npw = getpass.getpass('API key: ')\nprint(len(pw), pw)"}
    async with modern_client(tmp_path, "stdio", url=True) as client, trio.open_nursery() as nursery:
        await client.call("execute", {"session": "a", "code": "1"})
        asked = (await client.call("execute", args))["result"]
        key, params = elicitation_of(asked)
        browser, ws = await open_chromium(nursery, tmp_path / "chromium")
        try:
            with trio.fail_after(60):
                devtools = DevTools(ws)
                target = await devtools.call("Target.createTarget", url="about:blank")
                devtools.page = (await devtools.call("Target.attachToTarget", targetId=target["targetId"], flatten=True))["sessionId"]
                await devtools.call("Page.enable")
                await devtools.call("Page.navigate", url=params["url"])
                await devtools.event("Page.loadEventFired")
                shown = await devtools.evaluate("document.body.innerText")
                assert "Session 'a', cell 2, called getpass():" in shown and "API key:" in shown and "works once" in shown
                assert await devtools.evaluate("document.activeElement.type") == "password", "the field has the focus"
                await devtools.call("Input.insertText", text=secret)  # typed, as a keyboard would
                await devtools.evaluate("document.querySelector('button').click()")
                await devtools.event("Page.loadEventFired")
                assert (await devtools.evaluate("document.body.innerText")).startswith("Sent")
        finally:
            await ws.aclose()
            browser.terminate()
            with trio.CancelScope(shield=True):
                await browser.wait()
            nursery.cancel_scope.cancel()
        final = (await client.retry("execute", args, asked, {key: {"action": "accept"}}))["result"]
        assert content_text(final) == f"API key: [hidden]\n{len(secret)} ********\n", content_text(final)
        # the browser's own profile is the browser's business; the server's directories hold nothing of it
        kept = files_holding(secret, *runtime_dirs(client.process.pid), *(path for path in tmp_path.iterdir() if path.name != "chromium"))
        assert runtime_dirs(client.process.pid) and not kept, kept
    assert not any(secret in frame for frame in client.frames)
    assert secret not in client.log()


@on_the_jupyter_server
async def test_input_and_getpass_on_a_jupyter_server_kernel(remote):
    from mcp_types import ElicitResult

    _, sessions = remote
    secret = a_secret()

    async def user(context, params):
        if params.mode == "url":
            assert (await submit_page(params.url, secret)).status_code == 200
            return ElicitResult(action="accept")
        return ElicitResult(action="accept", content={"answer": "remote"})

    async with Client(build_server(sessions), elicitation_callback=user) as client:
        code = "who = input('who? ')\nimport getpass\npw = getpass.getpass('token: ')\nprint(who, len(pw), pw)"
        result = await run(client, "r", code)
        assert text(result) == f"who? remote\ntoken: [hidden]\nremote {len(secret)} ********\n", text(result)
        variables = text(await client.call_tool("variables", {"session": "r"}))
        assert re.search(r"^pw +str .*\"\*{8}\"$", variables, re.M) and secret not in variables, variables


async def raw_http(port: int, request: bytes) -> bytes:
    """Send bytes to a loopback port and read the reply until the server closes."""
    stream = await trio.open_tcp_stream("127.0.0.1", port)
    async with stream:
        await stream.send_all(request)
        reply = b""
        while chunk := await stream.receive_some():
            reply += chunk
    return reply


@network
async def test_the_loopback_page_server_refuses_bad_requests_and_closes_with_its_last_page(nursery):
    import types

    pages = ipython_mcp.SecretPages(nursery)
    answers = []

    async def owner(request):  # the session's owner, as far as a page's answer goes
        answers.append((request.key, request.value, request.from_page))
        return True

    session = types.SimpleNamespace(name="s", ask=owner)
    asks = [ipython_mcp.Ask(f"input-{n}", "token: ", True, {}) for n in (1, 2)]
    cell = types.SimpleNamespace(label="cell 3", input_deadline=trio.current_time() + 300, done=trio.Event())
    page, other = [await pages.open(session, cell, ask, None) for ask in asks]
    port = int(re.fullmatch(r"http://127\.0\.0\.1:(\d+)/ipython-mcp/secret/[\w-]{43}", page.url).group(1))
    assert other.url.startswith(f"http://127.0.0.1:{port}/") and other.url != page.url, "one listener, a page per ask"
    target = ipython_mcp.PAGE_PATH.encode() + page.token.encode()
    assert (await raw_http(port, b"garbage\r\n\r\n")).startswith(b"HTTP/1.1 400 Bad Request\r\n")
    for half in (b"GET " + target, b"POST " + target + b" HTTP/1.1\r\nContent-Length: 50\r\n\r\nsecret=ab"):
        stream = await trio.open_tcp_stream("127.0.0.1", port)  # a browser that goes away mid-request
        await stream.send_all(half)
        stream.socket.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))  # and resets
        await stream.aclose()
    huge = b"POST " + target + b" HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999\r\n\r\n"
    assert (await raw_http(port, huge)).startswith(b"HTTP/1.1 413 "), "refused on its declared length, unread"
    assert (await raw_http(port, b"GET /ipython-mcp/secret/guess HTTP/1.1\r\nHost: x\r\n\r\n")).startswith(b"HTTP/1.1 404 ")
    assert (await raw_http(port, b"PUT " + target + b" HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n")).startswith(b"HTTP/1.1 405 ")
    shown = await raw_http(port, b"GET " + target + b" HTTP/1.1\r\nHost: x\r\n\r\n")
    assert shown.startswith(b"HTTP/1.1 200 ") and b"cell 3" in shown and b"frame-ancestors 'none'" in shown
    assert answers == [], "showing the page answers nothing"
    body = b"secret=abc%20d%C3%A9f"
    sent = await raw_http(port, b"POST " + target + b" HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
    assert sent.startswith(b"HTTP/1.1 200 ") and answers == [("input-1", "abc déf", True)]
    again = await raw_http(port, b"POST " + target + b" HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
    assert again.startswith(b"HTTP/1.1 410 ") and b"a page works once" in again and len(answers) == 1
    asks[1].done.set()  # the other ask ended (its cell, say): no page is pending, and nothing listens
    await trio.testing.wait_all_tasks_blocked()
    with pytest.raises(OSError):
        await raw_http(port, b"GET / HTTP/1.1\r\n\r\n")


def test_an_input_is_asked_in_a_form_a_secret_only_on_a_page_and_the_answer_read_from_either():
    ask = ipython_mcp.Ask("input-1", "name? ", False, {})
    form = ask.form("main")
    assert form["mode"] == "form" and form["message"] == "A cell in session 'main' asks (input): name?"
    assert form["requestedSchema"]["required"] == ["answer"] and form["requestedSchema"]["properties"]["answer"]["type"] == "string"
    secret = ipython_mcp.Ask("input-2", "", True, {})
    page = secret.page("main", "http://127.0.0.1:1/ipython-mcp/secret/t")
    assert page == {
        "mode": "url", "url": "http://127.0.0.1:1/ipython-mcp/secret/t",
        "message": "A cell in session 'main' asks for a secret (getpass): (no prompt) Type it on this server's one-time page: it goes straight to the kernel, not through this client.",
    }
    assert "requestedSchema" not in page, "a secret never goes through the client"
    value_of = ipython_mcp.Ask.value_of
    assert value_of({"action": "accept", "content": {"answer": "Ada"}}) == value_of({"action": "accept", "content": {"name": "Ada"}}) == "Ada"
    assert value_of({"action": "accept", "content": {"answer": "", "other": "x"}}) == "", "an empty answer is an answer"
    assert [value_of(r) for r in ({"action": "decline"}, {"action": "cancel"}, {"action": "accept"}, {"action": "accept", "content": {"answer": 3}})] == [None] * 4


def test_a_masker_catches_a_secret_as_the_kernel_echoes_it():
    secret = "S3cr'et\\é-xyz"
    masker = ipython_mcp.Masker()
    assert masker.text(secret) == secret, "nothing to mask yet"
    masker.add(secret)
    echoes = [secret, repr(secret), ascii(secret), json.dumps(secret), json.dumps(repr(secret)), json.dumps({"v": repr(secret)}, ensure_ascii=False), html.escape(secret)]
    for echo in echoes:
        masked = masker.text(f"before {echo} after")
        assert "********" in masked and "S3cr" not in masked and "xyz" not in masked, (echo, masked)
    content = masker.content({"data": {"text/plain": repr(secret), "image/png": "S3cr"}, "traceback": [f"ValueError: {secret!r}"]})
    assert content == {"data": {"text/plain": '"********"', "image/png": "S3cr"}, "traceback": ['ValueError: "********"']}, "images are left as they are"
    # one secret in two stream messages: the line is masked whole, an unfinished line holds back what could begin it
    lines = ipython_mcp.Lines(masker)
    assert lines.feed("stdout", "key=" + secret[:4]) == []
    assert lines.peek() == "key=\n" and lines.latest == "key="
    assert [part.text for part in lines.feed("stdout", secret[4:] + " ok\n")] == ["key=******** ok\n"]
    assert lines.latest == "key=******** ok"
    # a value shown cut next to a secret (reprlib, a DataFrame's cell, rich's …): the fragment goes too
    assert masker.text("'xx" + secret[:5] + "...yy'") == "'xx********...yy'"
    assert masker.text("'..." + secret[-6:] + " tail'") == "'...******** tail'"
    assert masker.text("0  " + secret[:7] + "\u2026\n") == "0  ********\u2026\n"
    assert masker.text("'plain...text' and ... and \u2026 and a......b") == "'plain...text' and ... and \u2026 and a......b"
    short = ipython_mcp.Masker()
    short.add("abc")
    assert short.text("abcdef") == "abcdef", "a secret shorter than 4 characters would mask ordinary words"
    record = ipython_mcp.CellRecord("code", cap=10_000, masker=masker)
    record.take("stream", {"name": "stdout", "text": secret[:3]})
    record.take("stream", {"name": "stdout", "text": secret[3:] + "\n"})
    assert record.to_json(1, "ok", None, 0.0, 0.0)["outputs"][0]["text"] == "********\n"


def test_a_kernel_log_is_masked_whole_however_the_kernel_wrote_it(tmp_path):
    # The server reads a kernel's stdout and stderr from a pipe each, in whatever pieces the kernel wrote them.
    secret = "hunter2-secret"
    masker = ipython_mcp.Masker()
    masker.add(secret)
    fds_before = open_fds()
    kernel_log = ipython_mcp.KernelLog(tmp_path / "kernel.log")
    kernel_log.create()
    kernel_log.masker = masker
    out, err = kernel_log.pipes()
    long_line = b"x" * (ipython_mcp.LONG_LINE - 3)
    quarter = len(long_line) // 4 + 1  # a pipe holds 64 KiB: the test writes no more at once
    pieces = [
        (out, b"start " + secret[:4].encode()), (err, b"meanwhile on stderr\n"), (out, secret[4:9].encode()), (out, secret[9:].encode() + b" end\n"),
        (err, b"\xff not UTF-8, and a euro split: \xe2\x82"), (err, b"\xac\n"),
        *((out, long_line[i : i + quarter]) for i in range(0, len(long_line), quarter)), (out, secret[:7].encode()), (err, b"more\n"),
        (out, secret[7:].encode() + b" tail"),
    ]
    seen = []
    for fd, piece in pieces:
        os.write(fd, piece)
        seen.append(kernel_log.tail())  # what a died reply would quote now
    os.close(out)
    os.close(err)
    assert seen[:2] == [b"start ", b"meanwhile on stderr\nstart "], "an unfinished line without what could begin a secret"
    assert seen[3] == b"meanwhile on stderr\nstart ******** end\n", "a line is masked whole, whatever the other stream wrote meanwhile"
    assert all(secret[:4].encode() not in tail for tail in seen)
    kernel_log.close()
    assert open_fds() == fds_before, "the pipes and the log closed"
    written = (tmp_path / "kernel.log").read_bytes()
    assert written == (
        b"meanwhile on stderr\nstart ******** end\n\xff not UTF-8, and a euro split: \xe2\x82\xac\n" + long_line + b"more\n******** tail\n"
    ), "a line that never ends is cut, but not inside a secret"
    assert kernel_log.tail() == written[-ipython_mcp.KERNEL_LOG_KEPT :], "its end is kept once the kernel is gone"


# ---------------------------------------------------------------------------
# what the module leans on in its dependencies
# ---------------------------------------------------------------------------


async def test_the_internals_we_lean_on_are_still_there():
    """Private parts of the MCP SDK and ipykernel this server uses: a new release that moves them fails here, by name."""
    from ipykernel.iostream import IOPubThread
    from mcp.server.mcpserver import MCPServer
    from mcp_types import CallToolResult, TextContent

    missing = [name for name in ("_setup_pipe_in", "_setup_pipe_out", "_handle_pipe_msg") if not hasattr(IOPubThread, name)]
    assert not missing, f"ipykernel's IOPubThread lost {missing}: KERNEL_BOOTSTRAP can no longer move its fork pipe off TCP"
    assert ipython_mcp.lowlevel_server(MCPServer("x")).create_initialization_options(), "MCPServer._lowlevel_server moved"
    shaped = ipython_mcp.tool_result_on_the_wire(CallToolResult(content=[TextContent(type="text", text="hi")]), "2026-07-28")
    assert shaped["content"] == [{"type": "text", "text": "hi"}], "mcp_types.methods.serialize_server_result changed"
    from hypercorn.protocol.h2 import H2Protocol

    missing = [name for name in ("_handle_events", "_flush") if not hasattr(H2Protocol, name)]
    assert not missing, f"hypercorn's H2Protocol lost {missing}: guard_hypercorn_h2 can no longer drop data for closed streams"
    ipython_mcp.guard_hypercorn_h2()
    assert H2Protocol._handle_events.guards_closed_streams

    from mcp.server.request_state import RequestStateBoundary

    middleware = ipython_mcp.lowlevel_server(MCPServer("x")).middleware
    assert any(isinstance(m, RequestStateBoundary) for m in middleware), "MCPServer no longer seals requestState: UserInput's state would go out in the clear"

    # stdio_over: the SDK's stdio transport carries MCP over our trio line reader and writer
    into_server, server_reads = trio.testing.memory_stream_one_way_pair()
    server_writes, out_of_server = trio.testing.memory_stream_one_way_pair()
    with trio.fail_after(10):
        async with ipython_mcp.stdio_over(ipython_mcp._LineReader(server_reads), ipython_mcp._LineWriter(server_writes)) as (read, write):
            await into_server.send_all(b'{"jsonrpc": "2.0", "id": 7, "method": "ping"}\n')
            message = await read.receive()
            await write.send(message)
            assert json.loads(await out_of_server.receive_some()) == {"jsonrpc": "2.0", "id": 7, "method": "ping"}, "stdio_server no longer takes our streams"
            # a line that is no JSON-RPC message gets JSON-RPC's error, with its id where it has one; the next is read
            await into_server.send_all(b'{"jsonrpc": "2.0", "id": 8, "method": "tools/call", "params": {"name": "x", "arguments": {"x": "\\ud800"}}}\n')
            await into_server.send_all(b'{"jsonrpc": "2.0", "id": 9, "method"\n{"jsonrpc": "2.0", "id": 10, "method": "ping"}\n')
            assert (await read.receive()).message.id == 10
            answers = b""
            while answers.count(b"\n") < 2:
                answers += await out_of_server.receive_some()
            first, second = (json.loads(line) for line in answers.splitlines())
            assert (first["id"], first["error"]["code"]) == (8, -32600) and first["error"]["message"].startswith("Invalid request"), first
            assert (second["id"], second["error"]["code"]) == (None, -32700), second
            await into_server.aclose()
            await write.aclose()


# ---------------------------------------------------------------------------
# the MCP tools: arguments and limits
# ---------------------------------------------------------------------------


@slow
async def test_unknown_session_names_the_known_ones(client):
    await run(client, "alpha", "1")
    for tool in ("reset", "shutdown", "interrupt"):
        reply = await client.call_tool(tool, {"session": "nope"})
        assert reply.is_error
        assert "'nope'" in text(reply) and "'alpha'" in text(reply)


@slow
async def test_list_sessions_fields(client):
    started = time.monotonic()
    await run(client, "main", "1")
    await run(client, "main", "2")
    listing = (await client.call_tool("list_sessions", {})).structured_content["result"]
    (entry,) = listing
    assert entry["name"] == "main"
    assert entry["env"] is None
    assert entry["python"] == sys.executable
    assert entry["status"] == "idle"
    assert 0 <= entry["uptime_s"] <= time.monotonic() - started + 0.1
    assert entry["exec_count"] == 2
    assert entry["cells"] == 2 and 0 <= entry["last_used_s_ago"] < 60
    assert alive(entry["pid"])


@pytest.mark.parametrize(
    ("name", "complaint"),
    [("", "non-empty"), ("   ", "non-empty"), ("x" * 65, "limit is 64"), ("a\x1bb", "control characters")],
)
async def test_bad_session_names_are_refused(client, name, complaint):
    result = await run(client, name, "1")
    assert result.is_error
    assert complaint in text(result)


@pytest.mark.parametrize("timeout", [0, -1, -1e-9])
async def test_bad_timeouts_are_refused(client, timeout):
    result = await run(client, "main", "1", timeout_s=timeout)
    assert result.is_error
    assert "timeout_s must be a positive number" in text(result)


@slow
async def test_huge_timeouts_are_clamped_with_a_warning(client):
    result = await run(client, "main", "1", timeout_s=1e12)
    assert not result.is_error
    assert "clamped" in text(result)


def refused_argument(result, argument: str, sent: str) -> None:
    """The refusal of an argument of the wrong type: one line naming the argument, the type it wants, and what was sent."""
    assert result.is_error and text(result) == f"execute: argument {argument}: Input should be a valid string (got {sent})", text(result)


async def test_wrong_argument_types_are_refused_in_a_line(client):
    refused_argument(await client.call_tool("execute", {"session": "main", "code": 12}), "code", "int")
    assert "no session named 'main'" in text(await client.call_tool("wait", {"session": "main"})), "no session was made"
    result = await client.call_tool("execute", {"session": 1, "wait_s": "soon"})
    assert text(result) == (
        "execute: argument session: Input should be a valid string (got int); argument code is required; "
        "argument wait_s: Input should be a valid number, unable to parse string as a number (got str)"
    ), text(result)


async def test_session_of_the_wrong_type_is_refused(client):
    refused_argument(await client.call_tool("execute", {"session": ["main"], "code": "1"}), "session", "list")
    assert "known sessions: none" in text(await client.call_tool("wait", {"session": "main"})), "no session was made"


@slow
async def test_session_cap_refuses_the_next_session(sessions):
    sessions.config = Config(max_sessions=2, spares=0)
    async with Client(build_server(sessions)) as client:
        assert not (await run(client, "a", "1")).is_error
        assert not (await run(client, "b", "1")).is_error
        refused = await run(client, "c", "1")
        assert refused.is_error
        assert "cap of 2 live sessions" in text(refused)
        assert text(await run(client, "a", "2")) == "2\n"
        await client.call_tool("shutdown", {"session": "b"})
        assert not (await run(client, "c", "1")).is_error


def test_timeouts_that_json_cannot_carry_are_still_checked():
    # The SDK's client turns NaN and infinity into null on the wire; a raw client might not.
    with pytest.raises(ipython_mcp.ToolError, match="positive number"):
        ipython_mcp.check_seconds("timeout_s", math.nan, None)
    timeout, warnings = ipython_mcp.check_seconds("timeout_s", math.inf, None)
    assert timeout == ipython_mcp.MAX_TIMEOUT_S and "clamped" in warnings[0]


# ---------------------------------------------------------------------------
# streamable HTTP: a token by default
# ---------------------------------------------------------------------------


MCP_POST = {"Content-Type": "application/json", "Accept": "application/json, text/event-stream"}


INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "raw", "version": "0"}},
}


CLAUDE_LINE = re.compile(r'claude mcp add --transport http ipython (\S+) --header "Authorization: Bearer (\S+)"')


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


class HttpServer:
    """The console script serving streamable HTTP on a free port, with what it printed on stderr."""

    def __init__(self, process: trio.Process):
        self.process = process
        self.stderr = ""
        self.url = ""  # from the line to paste into Claude Code
        self.token = ""
        self.token_path: Path | None = None
        self._stderr_closed = trio.Event()

    async def collect_stderr(self, *, task_status=trio.TASK_STATUS_IGNORED) -> None:
        """Read stderr to its end; started once the server printed the line to paste into Claude Code."""
        try:
            ready = False
            while chunk := await self.process.stderr.receive_some():
                self.stderr += chunk.decode()
                if not ready and "claude mcp add" in self.stderr.rsplit("\n", 1)[0]:
                    self._parse_start_up()
                    ready = True
                    task_status.started()
            assert ready, f"the server exited before serving:\n{self.stderr}"
        finally:
            self._stderr_closed.set()

    def _parse_start_up(self) -> None:
        if match := CLAUDE_LINE.search(self.stderr):
            self.url, self.token = match.groups()
        else:  # --no-auth: no header to paste
            self.url = re.search(r"claude mcp add --transport http ipython (\S+)", self.stderr).group(1)
        if match := re.search(r"the token is in (\S+) \(", self.stderr):
            self.token_path = Path(match.group(1))
        if self.token == "..." and self.token_path is not None:  # a supplied token is not printed: read it where it is kept
            self.token = self.token_path.read_text().strip()

    @property
    def port(self) -> int:
        return int(self.url.rsplit(":", 1)[1].split("/")[0])

    async def stop(self) -> None:
        """SIGTERM, as a service manager would, then wait for the exit and the last of stderr."""
        if self.process.returncode is None:
            self.process.send_signal(signal.SIGTERM)
        with trio.fail_after(20):
            await self.process.wait()
            await self._stderr_closed.wait()


@asynccontextmanager
async def http_server(tmp_path: Path, *flags: str, env: dict[str, str] | None = None):
    """Start the console script on port 0 with no token in its environment unless `env` gives one.

    XDG_RUNTIME_DIR points into tmp_path, so the token file lands where the test can see it.
    """
    runtime = tmp_path / "run"
    runtime.mkdir(mode=0o700, exist_ok=True)
    environ = {k: v for k, v in os.environ.items() if k != "IPYTHON_MCP_TOKEN"} | {"XDG_RUNTIME_DIR": str(runtime)}
    command = [CONSOLE_SCRIPT, "--transport", "streamable-http", "--port", "0", "--spares", "0", *flags]
    process = await trio.lowlevel.open_process(
        command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=environ | (env or {})
    )
    server = HttpServer(process)
    async with trio.open_nursery() as nursery:
        try:
            await nursery.start(server.collect_stderr)
            yield server
            await server.stop()
        finally:
            if process.returncode is None:  # a failed test: leave no server behind
                process.kill()
                with trio.CancelScope(shield=True):
                    await process.wait()


@asynccontextmanager
async def mcp_over_http(url: str, token: str | None, verify: ssl.SSLContext | bool = True):
    """The SDK's streamable-HTTP client, sending the token on every request."""
    import httpx2 as httpx  # the HTTP client the SDK itself uses

    async with httpx.AsyncClient(headers=bearer(token) if token else {}, verify=verify, timeout=httpx.Timeout(30, read=300)) as http:
        async with Client(streamable_http_client(url, http_client=http)) as client:
            yield client


async def status_for_declared_body(url: str, headers: dict[str, str], length: int) -> int:
    """POST headers that announce a body of `length` bytes, send none of it, and return the status."""
    host_port = url.split("/")[2]
    host, port = host_port.rsplit(":", 1)
    lines = ["POST /mcp HTTP/1.1", f"Host: {host_port}", f"Content-Length: {length}"]
    lines += [f"{name}: {value}" for name, value in (MCP_POST | headers).items()]
    stream = await trio.open_tcp_stream(host, int(port))
    async with stream:
        await stream.send_all(("\r\n".join(lines) + "\r\n\r\n").encode())
        reply = b""
        with trio.fail_after(10):
            while b"\r\n" not in reply:
                chunk = await stream.receive_some()
                assert chunk, "the server closed the connection without answering"
                reply += chunk
    return int(reply.split()[1])


def self_signed_certificate(directory: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 and localhost, signed by its own key; returns (certfile, keyfile)."""
    x509 = pytest.importorskip("cryptography.x509", reason="cryptography makes the test certificate")
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.timezone.utc)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    certfile, keyfile = directory / "cert.pem", directory / "key.pem"
    certfile.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    keyfile.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    keyfile.chmod(0o600)
    return certfile, keyfile


@slow
@network
async def test_streamable_http_transport_serves_the_sdk_http_client(nursery, config, tmp_path, monkeypatch):
    pytest.importorskip("hypercorn", reason="hypercorn is in the test extra; install it to run this")
    import httpx2 as httpx  # the HTTP client the SDK itself uses
    from mcp.client.streamable_http import streamable_http_client

    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path))  # the token file goes there
    token = "a-token-for-this-test-0123456789"
    binds = await nursery.start(ipython_mcp.serve_http, dataclasses.replace(config, port=0), token)
    url = binds[0] + "/mcp"
    async with httpx.AsyncClient(headers={"Authorization": f"Bearer {token}"}) as http, Client(streamable_http_client(url, http_client=http)) as client:
        await run(client, "web", "import os\nanswer = 42")
        result = await run(client, "web", "answer")
        assert text(result) == "42\n" and record(result)["status"] == "ok"
        assert record(await run(client, "web", "1/0"))["status"] == "error"
        # a cell that outlives its call, followed over HTTP as over stdio
        running = await run(client, "web", "import time\nprint('first', flush=True)\ntime.sleep(1.5)\nprint('second')", wait_s=0.5)
        assert record(running)["status"] == "running" and "first" in text(running)
        rest = await client.call_tool("wait", {"session": "web", "timeout_s": 20})
        assert record(rest)["status"] == "ok" and text(rest).endswith("second\n") and "first" not in text(rest)
    # DNS-rebinding protection: a request naming another host is refused
    async with httpx.AsyncClient() as http:
        response = await http.post(
            url,
            headers={
                "Host": "attacker.example:80",
                "Authorization": f"Bearer {token}",
                "Content-Type": "application/json",
                "Accept": "application/json, text/event-stream",
            },
            content=b'{"jsonrpc": "2.0", "id": 1, "method": "ping"}',
        )
    assert response.status_code in (400, 403, 421)
    nursery.cancel_scope.cancel()


@slow
@network
async def test_http_without_the_right_token_gets_401_and_costs_nothing(tmp_path):
    pytest.importorskip("hypercorn", reason="hypercorn is in the test extra; install it to run this")
    import httpx2 as httpx

    token = "token-from-the-environment-0123456789"
    async with http_server(tmp_path, env={"IPYTHON_MCP_TOKEN": token}) as server:
        assert server.token == token
        async with httpx.AsyncClient() as http:
            missing = await http.post(server.url, headers=MCP_POST, json=INITIALIZE)
            wrong = await http.post(server.url, headers=MCP_POST | bearer("x" + token), json=INITIALIZE)
            discovery = await http.get(server.url.replace("/mcp", "/.well-known/oauth-protected-resource"))
        for response in (missing, wrong, discovery):
            assert response.status_code == 401
            challenge = response.headers["www-authenticate"]
            # a Bearer challenge naming no OAuth metadata: no client is sent looking for an authorization server
            assert challenge.startswith("Bearer ") and "resource_metadata" not in challenge
            assert "mcp-session-id" not in response.headers
            assert response.text.count("\n") == 1 and "stderr" in response.text and token not in response.text
        assert 'error="invalid_token"' in wrong.headers["www-authenticate"]
        assert "error=" not in missing.headers["www-authenticate"]
        # the SDK's client with a wrong token gets nowhere
        with pytest.RaisesGroup(pytest.RaisesExc(MCPError, match="error response"), flatten_subgroups=True):
            async with mcp_over_http(server.url, "x" + token) as intruder:
                await run(intruder, "intruder", "1")
        # an unauthenticated body is never read: the answer comes before any of it is sent
        assert await status_for_declared_body(server.url, {}, 10 << 30) == 401
        assert children_of(server.process.pid) == []  # no kernel was started
        async with mcp_over_http(server.url, token) as client:
            assert (await client.call_tool("list_sessions", {})).structured_content["result"] == []
            # the kernels do not inherit the token, so no cell can print it into a transcript
            assert text(await run(client, "main", "import os\nprint(os.environ.get('IPYTHON_MCP_TOKEN'))")) == "None\n"
            # a body over the SDK's own 4 MiB default is within this server's 32 MiB
            result = await run(client, "main", f"x = '{'a' * (5 << 20)}'\nlen(x)")
            assert text(result) == f"{5 << 20}\n"
        # and one announced beyond 32 MiB is refused before it is sent
        assert await status_for_declared_body(server.url, bearer(token), (32 << 20) + 1) == 413


@slow
@network
async def test_http_with_the_token_runs_cells_and_the_token_file_lives_as_long_as_the_server(tmp_path):
    pytest.importorskip("hypercorn", reason="hypercorn is in the test extra; install it to run this")
    token_source = tmp_path / "token"
    token_source.write_text("token-from-a-file-0123456789\nthe second line is not read\n")
    token_source.chmod(0o600)
    async with http_server(tmp_path, "--token-file", str(token_source)) as server:
        assert server.token == "token-from-a-file-0123456789"
        assert server.url == f"http://127.0.0.1:{server.port}/mcp"
        assert server.token_path == tmp_path / "run" / "ipython-mcp" / f"{server.port}.token"
        assert server.token_path.stat().st_mode & 0o777 == 0o600
        assert server.token_path.read_text() == server.token + "\n"
        async with mcp_over_http(server.url, server.token) as client:
            await run(client, "web", "answer = 6 * 7")
            result = await run(client, "web", "answer")
            assert text(result) == "42\n" and record(result)["status"] == "ok"
            assert record(await run(client, "web", "1/0"))["status"] == "error"
        await server.stop()
        assert server.process.returncode == 0
        assert not server.token_path.exists()
        assert not (tmp_path / "run" / "ipython-mcp").exists()
        # a token the user supplied is never printed: the line to paste shows it as ...
        assert server.stderr.count(server.token) == 0 and 'Bearer ..."' in server.stderr


def test_the_token_comes_from_the_environment_then_the_file_then_chance(tmp_path):
    token_file = tmp_path / "token"
    token_file.write_text("from-the-file\nnot this\n")
    token_file.chmod(0o600)
    assert ipython_mcp.resolve_token("from-the-environment", str(token_file)) == ("from-the-environment", True)
    assert ipython_mcp.resolve_token("", str(token_file)) == ("from-the-file", True)
    generated = {ipython_mcp.resolve_token("", None) for _ in range(2)}
    assert len(generated) == 2 and all(len(token) >= 43 and not supplied for token, supplied in generated)
    token_file.write_text("\n")
    with pytest.raises(SystemExit, match="printable ASCII"):
        ipython_mcp.resolve_token("", str(token_file))
    with pytest.raises(SystemExit, match="cannot read --token-file"):
        ipython_mcp.resolve_token("", str(tmp_path / "missing"))


def test_token_files_others_can_open_are_refused(tmp_path):
    token_file = tmp_path / "token"
    token_file.write_text("a-token-0123456789\n")
    token_file.chmod(0o640)
    with pytest.raises(SystemExit, match=f"chmod 600 {re.escape(str(token_file))}"):
        ipython_mcp.resolve_token("", token_file)
    os.mkfifo(tmp_path / "fifo")
    with pytest.raises(SystemExit, match="not a regular file"):
        ipython_mcp.resolve_token("", tmp_path / "fifo")
    token_file.chmod(0o600)
    assert ipython_mcp.resolve_token("", token_file) == ("a-token-0123456789", True)


def test_the_host_names_a_request_may_give_follow_the_address_the_server_listens_on():
    loopback = list(ipython_mcp.LOOPBACK_NAMES)
    assert ipython_mcp.host_names("127.0.0.1") == loopback
    assert ipython_mcp.host_names("localhost", ("ipython.example",)) == [*loopback, "ipython.example"]
    assert ipython_mcp.host_names("0.0.0.0") == [*loopback, os.uname().nodename], "every interface: loopback and the machine's name"
    assert ipython_mcp.host_names("192.0.2.7") == ["192.0.2.7"] and ipython_mcp.host_names("2001:db8::7") == ["[2001:db8::7]"]
    security = ipython_mcp.transport_security(["127.0.0.1", "[::1]"])
    assert security.allowed_hosts == ["127.0.0.1", "127.0.0.1:*", "[::1]", "[::1]:*"]
    assert "http://127.0.0.1:*" in security.allowed_origins and "https://[::1]" in security.allowed_origins


def test_the_start_up_lines_say_where_to_connect_and_show_only_a_token_the_server_made(capsys, tmp_path):
    config = Config(transport="streamable-http", host="127.0.0.1")
    ipython_mcp.announce(["http://127.0.0.1:8123"], config, "made-here", ["127.0.0.1"], tmp_path / "8123.token")
    made = capsys.readouterr().err.splitlines()
    assert made == [
        "ipython-mcp: serving MCP over streamable HTTP at http://127.0.0.1:8123/mcp",
        f"ipython-mcp: every request needs 'Authorization: Bearer <token>'; the token is in {tmp_path / '8123.token'} (only you can read it; removed at exit)",
        'ipython-mcp: for Claude Code: claude mcp add --transport http ipython http://127.0.0.1:8123/mcp --header "Authorization: Bearer made-here"',
    ]
    ipython_mcp.announce(["http://0.0.0.0:8123"], dataclasses.replace(config, host="0.0.0.0"), "yours", ["127.0.0.1", "box"], None, supplied=True)
    supplied = capsys.readouterr().err
    assert "yours" not in supplied and 'Bearer ..."' in supplied and "http://127.0.0.1:8123/mcp --header" in supplied, "a client names a wildcard bind by loopback"
    assert "requests must name this server as one of 127.0.0.1, box (add names with --allowed-host)" in supplied
    ipython_mcp.announce(["http://127.0.0.1:8123"], config, None, ["127.0.0.1"], None)
    assert "WARNING: --no-auth: any user or process on this machine can run code as" in capsys.readouterr().err


def test_the_token_file_is_private_replaced_whole_and_removed_only_while_it_holds_this_servers_token(tmp_path):
    directory = tmp_path / "ipython-mcp"
    directory.mkdir(mode=0o700)
    path = ipython_mcp.write_token_file(directory, 8123, "first")
    assert path == directory / "8123.token" and path.read_text() == "first\n" and path.stat().st_mode & 0o777 == 0o600
    assert ipython_mcp.write_token_file(directory, 8123, "second") == path and path.read_text() == "second\n"
    assert [p.name for p in directory.iterdir()] == ["8123.token"], "no temporary file left"
    ipython_mcp.remove_token_file(directory, path, "first")  # another server on this port replaced it: it stays
    assert path.read_text() == "second\n"
    ipython_mcp.remove_token_file(directory, path, "second")
    assert not directory.exists(), "the file, then the directory it leaves empty"


async def test_without_the_token_a_request_gets_401_and_never_reaches_the_server():
    import httpx2 as httpx

    reached = []

    async def app(scope, receive, send):  # the MCP app RequireToken guards
        reached.append(scope["type"])
        if scope["type"] == "http":
            await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
            await send({"type": "http.response.body", "body": b"served"})

    token = "the-token-0123456789"
    guarded = ipython_mcp.RequireToken(app, token)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=guarded), base_url="http://127.0.0.1:8000") as http:
        missing = await http.post("/mcp", json=INITIALIZE)
        wrong = await http.post("/mcp", json=INITIALIZE, headers=bearer(token[:-1] + "x"))
        basic = await http.post("/mcp", json=INITIALIZE, headers={"Authorization": f"Basic {token}"})
        assert reached == [], "a request without the token never reaches the app"
        right = await http.post("/mcp", json=INITIALIZE, headers=bearer(token))
        any_case = await http.get("/mcp", headers={"Authorization": f"bearer {token}"})
    for refused in (missing, wrong, basic):
        assert refused.status_code == 401 and refused.headers["content-type"] == "text/plain; charset=utf-8"
        assert "send the header 'Authorization: Bearer <token>'" in refused.text and "stderr" in refused.text and "token file" in refused.text
        assert token not in refused.text
    assert missing.headers["www-authenticate"] == 'Bearer realm="ipython-mcp"', "no credentials sent: a plain challenge"
    assert wrong.headers["www-authenticate"] == basic.headers["www-authenticate"] == 'Bearer realm="ipython-mcp", error="invalid_token"'
    assert (right.status_code, right.text, any_case.status_code) == (200, "served", 200), "the scheme's case does not matter"
    await guarded({"type": "lifespan"}, None, None)  # the server's start and stop pass through
    assert reached == ["http", "http", "lifespan"]


@slow
@network
def test_no_auth_is_refused_beyond_loopback():
    result = subprocess.run(
        [CONSOLE_SCRIPT, "--transport", "streamable-http", "--no-auth", "--host", "0.0.0.0", "--port", "0"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "--no-auth is refused with --host 0.0.0.0" in result.stderr
    assert "loopback" in result.stderr
    assert "serving" not in result.stderr


@slow
@network
async def test_no_auth_on_loopback_serves_without_a_token_and_warns(tmp_path):
    pytest.importorskip("hypercorn", reason="hypercorn is in the test extra; install it to run this")
    import httpx2 as httpx

    async with http_server(tmp_path, "--no-auth") as server:
        assert re.search(r"^ipython-mcp: WARNING: --no-auth: .*" + re.escape(server.url) + "$", server.stderr, re.M)
        assert server.token_path is None and not (tmp_path / "run" / "ipython-mcp").exists()
        async with httpx.AsyncClient() as http:
            response = await http.post(server.url, headers=MCP_POST, json=INITIALIZE)
        assert response.status_code == 200 and "mcp-session-id" in response.headers


@slow
@network
async def test_all_interfaces_get_a_generated_token_and_a_host_allow_list(tmp_path):
    pytest.importorskip("hypercorn", reason="hypercorn is in the test extra; install it to run this")
    import httpx2 as httpx

    async with http_server(tmp_path, "--host", "0.0.0.0", "--allowed-host", "ipython.example") as server:
        assert f"at http://0.0.0.0:{server.port}/mcp" in server.stderr
        assert server.url == f"http://127.0.0.1:{server.port}/mcp"  # the address a local client can use
        assert len(server.token) >= 43  # 32 random bytes in URL-safe base64
        assert server.token_path.read_text() == server.token + "\n"
        assert "ipython.example" in server.stderr and "--allowed-host" in server.stderr

        async def initialize(host: str, headers: dict[str, str]) -> int:
            async with httpx.AsyncClient() as http:
                response = await http.post(server.url, headers=MCP_POST | headers | {"Host": host}, json=INITIALIZE)
            return response.status_code

        assert await initialize(f"127.0.0.1:{server.port}", {}) == 401
        assert await initialize(f"127.0.0.1:{server.port}", bearer(server.token)) == 200
        assert await initialize(f"ipython.example:{server.port}", bearer(server.token)) == 200
        # Host checks stay on: a name nobody allowed is refused even with the token
        assert await initialize(f"attacker.example:{server.port}", bearer(server.token)) == 421


@slow
@network
async def test_a_body_over_the_cap_is_refused(tmp_path):
    pytest.importorskip("hypercorn", reason="hypercorn is in the test extra; install it to run this")
    import httpx2 as httpx

    async with http_server(tmp_path, "--max-body-bytes", str(1 << 20)) as server:
        ping = {"jsonrpc": "2.0", "id": 1, "method": "ping", "params": {"_meta": {"pad": "a" * (2 << 20)}}}
        async with httpx.AsyncClient(headers=bearer(server.token)) as http:
            response = await http.post(server.url, headers=MCP_POST, json=ping)
        assert response.status_code == 413
        async with mcp_over_http(server.url, server.token) as client:
            result = await run(client, "main", f"len('{'a' * (512 << 10)}')")
            assert text(result) == f"{512 << 10}\n"


@slow
@network
async def test_https_with_a_self_signed_certificate(tmp_path):
    pytest.importorskip("hypercorn", reason="hypercorn is in the test extra; install it to run this")
    certfile, keyfile = self_signed_certificate(tmp_path)
    async with http_server(tmp_path, "--certfile", str(certfile), "--keyfile", str(keyfile)) as server:
        assert server.url == f"https://127.0.0.1:{server.port}/mcp"
        trust = ssl.create_default_context(cafile=str(certfile))
        async with mcp_over_http(server.url, server.token, verify=trust) as client:
            result = await run(client, "tls", "6 * 7")
            assert text(result) == "42\n" and record(result)["status"] == "ok"


# ---------------------------------------------------------------------------
# hardening: the files it writes, names, patterns, echoed arguments, secrets
# ---------------------------------------------------------------------------
#
# Each test is a finding of a review that tried the server as a hostile local
# user and a careless client would. Those about tool calls run against the
# console script over stdio and over streamable HTTP alike.


@asynccontextmanager
async def served(transport: str, tmp_path: Path, *flags: str, env: dict[str, str] | None = None):
    """A client of the console script over `transport`, and a function returning what the server wrote on stderr."""
    if transport == "http":
        async with http_server(tmp_path, *flags, env=env) as server, mcp_over_http(server.url, server.token) as client:
            yield client, lambda: server.stderr
        return
    from mcp.client.stdio import stdio_client

    log = tmp_path / "stderr.log"
    with open(log, "w") as errlog:
        params = StdioServerParameters(command=CONSOLE_SCRIPT, args=["--spares", "0", *flags], env={**os.environ, **(env or {})})
        async with Client(stdio_client(params, errlog=errlog)) as client:
            yield client, log.read_text


async def server_pid_of(client, session: str) -> int:
    """The server's pid: the parent of the session's kernel."""
    return int(text(await run(client, session, "import os\nos.getppid()")))


def one_clear_line(result, *words: str) -> str:
    """An error reply that says what was wrong in one short line, naming `words`; never the SDK's bare crash."""
    assert result.is_error, text(result)
    assert_clean(result)
    body = text(result).strip()
    assert "\n" not in body and len(body) < 600, body[:2000]
    for word in words:
        assert word in body, body
    return body


@slow
@TRANSPORTS
async def test_notebook_writes_never_follow_a_planted_symlink(transport, tmp_path):
    live = tmp_path / "nb"
    live.mkdir()
    victim = tmp_path / "victim.txt"
    victim.write_text("precious\n")
    async with served(transport, tmp_path, "--notebook-dir", str(live)) as (client, _):
        pid = await server_pid_of(client, "first")
        # every temporary name the server used to pick: .<name>.<pid>.tmp beside the target
        for name in ("evil.ipynb", "first.ipynb", "out.ipynb"):
            (live / f".{name}.{pid}.tmp").symlink_to(victim)
        (live / "evil.ipynb").symlink_to(victim)  # and the target itself
        await run(client, "evil", "print('one')")
        await run(client, "first", "print('two')")
        reply = await client.call_tool("export", {"session": "first", "path": str(live / "out.ipynb")})
        assert not reply.is_error, text(reply)
        with trio.fail_after(20):  # the live writer catches up with the cells
            while not (live / "first.ipynb").exists() or "two" not in (live / "first.ipynb").read_text():
                await trio.sleep(0.05)
        refused = await client.call_tool("export", {"session": "evil", "path": str(live / "evil.ipynb"), "overwrite": True})
        one_clear_line(refused, "not a regular file")
    assert victim.read_text() == "precious\n", "a write followed a planted symlink"
    assert (live / "evil.ipynb").is_symlink(), "the planted link is left as it was, not replaced by the live notebook"
    assert not [p.name for p in live.iterdir() if p.name.startswith(".") and not p.is_symlink()], "no temporary file is left"


@slow
@TRANSPORTS
async def test_notebook_dir_never_replaces_a_notebook_it_did_not_write(transport, tmp_path):
    live = tmp_path / "nb"
    live.mkdir()
    mine = live / "analysis.ipynb"
    mine.write_text('{"the user": "wrote this"}')
    async with served(transport, tmp_path, "--notebook-dir", str(live)) as (client, _):
        first = await run(client, "analysis", "print('cell one')")
        assert not first.is_error
        assert str(mine) in text(first) and "not written" in text(first), "the reply says the live notebook is not kept"
        await run(client, "analysis", "print('cell two')")
        await run(client, "other", "print('elsewhere')")
        with trio.fail_after(20):
            while not (live / "other.ipynb").exists():
                await trio.sleep(0.05)
    assert mine.read_text() == '{"the user": "wrote this"}'


@slow
@TRANSPORTS
async def test_an_exported_notebook_edited_since_is_never_replaced(transport, tmp_path):
    import nbformat

    target = tmp_path / "work.ipynb"

    def edit_as_jupyterlab_would() -> None:
        notebook = nbformat.read(target, as_version=4)  # its ipython-mcp metadata stays
        notebook.cells[0].source = "print('edited by hand')"
        nbformat.write(notebook, target)

    async with served(transport, tmp_path) as (client, _):
        await run(client, "work", "print('from the model')", cwd=str(tmp_path))
        assert not (await client.call_tool("export", {"session": "work"})).is_error
        await run(client, "work", "print('more')")
        assert not (await client.call_tool("export", {"session": "work"})).is_error, "unchanged since it was written: replaced"
        edit_as_jupyterlab_would()
        refused = await client.call_tool("export", {"session": "work"})
        one_clear_line(refused, str(target), "overwrite=true")
        assert "edited by hand" in target.read_text()
        # a notebook another session exported is not this session's to replace either
        await run(client, "stranger", "1")
        one_clear_line(await client.call_tool("export", {"session": "stranger", "path": str(target)}), "overwrite=true")
    # across a restart: an unchanged notebook of this session's name is replaced, an edited one is not
    async with served(transport, tmp_path) as (client, _):
        await run(client, "work", "print('after the restart')", cwd=str(tmp_path))
        one_clear_line(await client.call_tool("export", {"session": "work"}), "overwrite=true")
        target.unlink()
        await client.call_tool("export", {"session": "work"})
    async with served(transport, tmp_path) as (client, _):
        await run(client, "work", "print('third run')", cwd=str(tmp_path))
        reply = await client.call_tool("export", {"session": "work"})
        assert not reply.is_error, text(reply)
        assert "third run" in target.read_text()


@slow
@TRANSPORTS
async def test_a_slow_pattern_never_stalls_the_server_and_stops_with_a_clear_message(transport, tmp_path):
    async with served(transport, tmp_path, env={"IPYTHON_MCP_GREP_TIMEOUT": "2"}) as (client, _):
        await run(client, "s", "print('a' * 40 + 'b')\nprint('x')")
        await run(client, "other", "1")
        # RE2 takes the classic catastrophic pattern in linear time: at once, and correctly
        with trio.fail_after(10):
            reply = await client.call_tool("output", {"session": "s", "grep": "(a+)+$"})
        assert "0 line(s) matching" in text(reply), text(reply)
        # a lookahead only Python's re can run: it backtracks, and is stopped
        stalls = []

        async def meanwhile() -> None:
            for _ in range(10):
                started = time.monotonic()
                await client.call_tool("list_sessions", {})
                await run(client, "other", "1")
                stalls.append(time.monotonic() - started)

        async with trio.open_nursery() as nursery:
            nursery.start_soon(meanwhile)
            started = time.monotonic()
            slow_reply = await client.call_tool("output", {"session": "s", "grep": "(a+)+(?=c)"})
            took = time.monotonic() - started
        one_clear_line(slow_reply, "grep", "stopped after 2 s")
        assert took < 10, took
        assert max(stalls) < 1.5, f"other calls waited {max(stalls):.1f} s while the search ran"


@slow
@TRANSPORTS
async def test_an_anchored_grep_finds_what_it_should(transport, tmp_path):
    async with served(transport, tmp_path) as (client, _):
        code = "for i in range(3000):\n    print(' b' if i == 1202 else ('a b' if i % 2 else 'x'))"
        await run(client, "s", code, max_output_chars=200)
        for pattern in (r"^\s*b", "^ b", r"^\s+b$", r"(?m)^\s*b"):
            found = text(await client.call_tool("output", {"session": "s", "grep": pattern}))
            assert found.splitlines()[1:] == ["  1203   b"], (pattern, found[:300])
        found = text(await client.call_tool("output", {"session": "s", "grep": r"^a\sb$", "limit": 3}))
        assert [line.split()[0] for line in found.splitlines()[1:]] == ["2", "4", "6"]


@slow
@TRANSPORTS
async def test_fifos_and_devices_never_block_the_server(transport, tmp_path):
    fifo = tmp_path / "pipe.ipynb"
    os.mkfifo(fifo)
    connection_fifo = tmp_path / "kernel-fifo.json"
    os.mkfifo(connection_fifo)
    async with served(transport, tmp_path) as (client, _):
        await run(client, "s", "1")
        with trio.fail_after(15):
            one_clear_line(await client.call_tool("export", {"session": "s", "path": str(fifo)}), "not a regular file")
            one_clear_line(await client.call_tool("export", {"session": "s", "path": str(fifo), "overwrite": True}), "not a regular file")
            for spec in (str(connection_fifo), "/dev/zero"):
                one_clear_line(await client.call_tool("attach", {"session": "a", "connection_file": spec}), "not a regular file")
            assert text(await run(client, "s", "2")) == "2\n"


@slow
@TRANSPORTS
async def test_session_names_map_to_distinct_valid_files_or_are_refused(transport, tmp_path):
    import unicodedata

    live = tmp_path / "nb"
    live.mkdir()
    names = ["a/b", "a_b", "a:b", "..", ".hidden", "100%", "Å"]
    async with served(transport, tmp_path, "--notebook-dir", str(live)) as (client, _):
        for name in names:
            reply = await run(client, name, f"print({name!r})", cwd=str(tmp_path))
            assert not reply.is_error, (name, text(reply))
            assert not (await client.call_tool("export", {"session": name})).is_error
        with trio.fail_after(20):
            while len(list(live.glob("*.ipynb"))) < len(names):
                await trio.sleep(0.05)
        decomposed = unicodedata.normalize("NFD", "Å")
        one_clear_line(await run(client, decomposed, "1"), "NFC")
        one_clear_line(await run(client, "\N{GRINNING FACE}" * 62, "1"), "bytes")
    exported = sorted(tmp_path.glob("*.ipynb"))
    assert len(exported) == len(names) == len(list(live.glob("*.ipynb"))), [p.name for p in exported]
    sessions_written = {json.loads(p.read_text())["metadata"]["ipython-mcp"]["session"] for p in exported}
    assert sessions_written == set(names), "each session has a file of its own"
    assert all(p.parent == tmp_path for p in exported) and not any(p.name.startswith(".") for p in exported)


@slow
@TRANSPORTS
async def test_a_failed_export_leaves_no_temporary_file(transport, tmp_path):
    (tmp_path / "dir.ipynb").mkdir()
    async with served(transport, tmp_path) as (client, _):
        await run(client, "s", "1")
        one_clear_line(await client.call_tool("export", {"session": "s", "path": str(tmp_path / "dir.ipynb"), "overwrite": True}), "dir.ipynb")
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == [], "a temporary file was left behind"


@slow
@TRANSPORTS
async def test_bad_path_arguments_get_one_clear_line_naming_the_argument(transport, tmp_path):
    async with served(transport, tmp_path) as (client, stderr):
        await run(client, "s", "1")
        one_clear_line(await run(client, "new", "1", env="x" * 100_000), "env")
        one_clear_line(await run(client, "new", "1", env="/tmp/a\x00b"), "env")
        one_clear_line(await run(client, "new", "1", cwd="/tmp/a\x00b"), "cwd")
        one_clear_line(await run(client, "new", "1", cwd="x" * 100_000), "cwd")
        one_clear_line(await client.call_tool("export", {"session": "s", "path": str(tmp_path / "a\x00b.ipynb")}), "path")
        one_clear_line(await client.call_tool("export", {"session": "s", "path": str(tmp_path / ("n" * 300 + ".ipynb"))}), "path")
        one_clear_line(await client.call_tool("export", {"session": "s", "path": "/" + "d/" * 3000 + "x.ipynb"}), "path")
        one_clear_line(await client.call_tool("attach", {"session": "t", "connection_file": "k\x00.json"}), "connection_file")
        one_clear_line(await client.call_tool("attach", {"session": "t", "connection_file": "k" * 300 + ".json"}), "connection_file")
        assert text(await run(client, "s", "2")) == "2\n"
    assert "Traceback" not in stderr(), stderr()[-3000:]


@slow
@TRANSPORTS
async def test_echoed_arguments_stay_within_the_reply_budget(transport, tmp_path):
    async with served(transport, tmp_path) as (client, _):
        await run(client, "s", "print('q' * 10)")
        found = await client.call_tool("output", {"session": "s", "grep": "q" * 1_000_000})
        assert len(text(found)) < 1000, len(text(found))
        assert len(text(await run(client, "new", "1", cwd="x" * 100_000))) < 1000
        assert len(text(await run(client, "new2", "1", env="/" + "y" * 4000))) < 1000
        assert len(text(await client.call_tool("output", {"session": "s", "grep": "(" * 100_000}))) < 1000


@slow
@TRANSPORTS
async def test_output_answers_while_the_first_cell_waits_for_its_kernel(transport, tmp_path):
    async with served(transport, tmp_path) as (client, _):
        running = await run(client, "fresh", "print('hello')", wait_s=0)
        assert record(running)["status"] == "running" and "waiting for the kernel to start" in text(running)
        early = await client.call_tool("output", {"session": "fresh"})
        assert not early.is_error, text(early)
        assert "waiting for the kernel to start" in text(early) or "hello" in text(early), text(early)
        await client.call_tool("wait", {"session": "fresh", "timeout_s": 30})
        assert "hello" in text(await client.call_tool("output", {"session": "fresh"}))


@slow
@TRANSPORTS
async def test_gateway_credentials_never_appear_in_replies_descriptions_or_logs(transport, tmp_path):
    secrets_in_url = ("pw-s3cret", "tok-s3cret")
    url = "http://alice:pw-s3cret@127.0.0.1:9/?token=tok-s3cret"
    async with served(transport, tmp_path, "--gateway-url", url, "--log-level", "DEBUG") as (client, stderr):
        result = await run(client, "r", "1")
        assert result.is_error and "127.0.0.1:9" in text(result), text(result)
        tools = (await client.list_tools()).tools
        listing = (await client.call_tool("list_sessions", {})).structured_content["result"]
        shown = text(result) + json.dumps([t.model_dump(mode="json") for t in tools]) + json.dumps(listing)
        for secret in secrets_in_url:
            assert secret not in shown and secret not in stderr()
        assert "alice" in text(result), "the user name stays: it says which account"


@slow
@network
async def test_a_supplied_token_is_never_printed_and_a_token_file_others_can_read_is_refused(tmp_path):
    pytest.importorskip("hypercorn", reason="hypercorn is in the test extra; install it to run this")
    token = "supplied-token-0123456789abcdef"
    async with http_server(tmp_path, env={"IPYTHON_MCP_TOKEN": token}) as server:
        assert token not in server.stderr and 'Bearer ..."' in server.stderr
        assert server.token == token, "read from the token file the server names"
    token_file = tmp_path / "token"
    token_file.write_text(token + "\n")
    for mode in (0o644, 0o620, 0o604):
        token_file.chmod(mode)
        refused = subprocess.run(
            [CONSOLE_SCRIPT, "--transport", "streamable-http", "--port", "0", "--token-file", str(token_file)],
            capture_output=True, text=True, timeout=60, env={k: v for k, v in os.environ.items() if k != "IPYTHON_MCP_TOKEN"},
        )
        assert refused.returncode != 0 and f"chmod 600 {token_file}" in refused.stderr, refused.stderr
        assert token not in refused.stderr and "serving" not in refused.stderr
    token_file.chmod(0o600)
    async with http_server(tmp_path, "--token-file", str(token_file)) as server:
        assert token not in server.stderr and server.token == token
        async with mcp_over_http(server.url, server.token) as client:
            assert text(await run(client, "s", "6 * 7")) == "42\n"


async def post_unauthenticated(url: str, body_bytes: int, *, http2: bool = False, verify: ssl.SSLContext | bool = True) -> int:
    """POST a large body without the token, the whole body sent as fast as the server takes it; the status."""
    import httpx2 as httpx

    async with httpx.AsyncClient(http1=not http2, http2=http2, verify=verify, timeout=30) as http:
        with suppress(httpx.RemoteProtocolError, httpx.WriteError, httpx.ReadError):
            response = await http.post(url, headers=MCP_POST, content=b"x" * body_bytes)
            return response.status_code
    return 0


async def h2_prior_knowledge_post(url: str, body_bytes: int) -> None:
    """HTTP/2 without TLS (prior knowledge), sending body frames after the server has answered."""
    import h2.config
    import h2.connection

    host, port = url.split("/")[2].rsplit(":", 1)
    connection = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True))
    connection.initiate_connection()
    stream = await trio.open_tcp_stream(host, int(port))
    async with stream:
        await stream.send_all(connection.data_to_send())
        headers = [(":method", "POST"), (":path", "/mcp"), (":scheme", "http"), (":authority", f"{host}:{port}"), ("content-length", str(body_bytes))]
        connection.send_headers(1, headers)
        await stream.send_all(connection.data_to_send())
        with trio.fail_after(10):
            answered = False
            while not answered:
                data = await stream.receive_some()
                if not data:
                    return
                answered = any(type(event).__name__ == "ResponseReceived" for event in connection.receive_data(data))
        with suppress(Exception):  # the stream may be reset or the window spent: what the server does then is the point
            connection.send_data(1, b"x" * min(connection.local_flow_control_window(1), 60_000))
            await stream.send_all(connection.data_to_send())
            with trio.move_on_after(1):
                await stream.receive_some()


@slow
@network
async def test_unauthenticated_large_bodies_never_crash_the_server_nor_fill_its_log(tmp_path):
    pytest.importorskip("hypercorn", reason="hypercorn is in the test extra; install it to run this")
    pytest.importorskip("h2", reason="hypercorn brings h2")
    certfile, keyfile = self_signed_certificate(tmp_path)
    trust = ssl.create_default_context(cafile=str(certfile))
    for flags, verify in (((), True), (("--certfile", str(certfile), "--keyfile", str(keyfile)), trust)):
        async with http_server(tmp_path, *flags) as server:
            lines_at_start = server.stderr.count("\n")
            for _ in range(3):
                assert await post_unauthenticated(server.url, 8 << 20, verify=verify) in (401, 0)
                if verify is trust:
                    assert await post_unauthenticated(server.url, 8 << 20, http2=True, verify=verify) in (401, 0)
                else:
                    await h2_prior_knowledge_post(server.url, 8 << 20)
            assert server.process.returncode is None, server.stderr
            async with mcp_over_http(server.url, server.token, verify=verify) as client:
                assert text(await run(client, "s", "6 * 7")) == "42\n"
            assert server.stderr.count("\n") - lines_at_start <= 6, server.stderr[-3000:]
            assert "Traceback" not in server.stderr and "Error in ASGI" not in server.stderr, server.stderr[-3000:]


# ---------------------------------------------------------------------------
# the console script, end to end
# ---------------------------------------------------------------------------


@slow
async def test_console_script_serves_a_real_stdio_client():
    params = StdioServerParameters(command=CONSOLE_SCRIPT, args=[])
    async with Client(params) as client:
        tools = {tool.name for tool in (await client.list_tools()).tools}
        assert tools == TOOLS
        await run(client, "e2e", "import subprocess\nchild = subprocess.Popen(['sleep', '300'])\nv = 6 * 7")
        result = await run(client, "e2e", "v")
        assert text(result) == "42\n" and record(result)["status"] == "ok"
        result = await run(client, "e2e", "1/0")
        assert result.is_error and record(result)["status"] == "error"
        pids = [int(text(await run(client, "e2e", "import os\nos.getpid()"))), int(text(await run(client, "e2e", "child.pid")))]
        server_pid = parent_of(pids[0])
        assert len(runtime_dirs(server_pid)) == 1
    # stdin closed: the server shuts every kernel down and removes its runtime directory
    assert await wait_gone(pids, within=5) == []
    assert runtime_dirs(server_pid) == []


async def spawn_kernels_with_children(server: RawServer) -> list[int]:
    """Two sessions whose kernels each started a child; returns every process below the server (spares too)."""
    pids = set()
    for name in ("one", "two"):
        pids.add(int(await server.execute(name, "import os\nos.getpid()")))
        pids.add(int(await server.execute(name, "import subprocess\nsubprocess.Popen(['sleep', '300']).pid")))
    everything = descendants(server.process.pid)
    assert pids <= everything
    return sorted(everything)


@slow
@pytest.mark.parametrize("how", ["eof", "SIGTERM", "SIGINT"])
async def test_server_exit_takes_every_kernel_and_child_with_it(nursery, how):
    server = await start_raw_server(nursery)
    pids = await spawn_kernels_with_children(server)
    assert all(alive(pid) for pid in pids)
    if how == "eof":
        await server.process.stdin.aclose()
    else:
        server.process.send_signal(getattr(signal, how))
    with trio.fail_after(10):
        await server.process.wait()
    assert await wait_gone(pids, within=5) == []
    assert runtime_dirs(server.process.pid) == []


@slow
async def test_kernels_die_with_a_server_killed_by_sigkill(nursery):
    server = await start_raw_server(nursery)
    pids = await spawn_kernels_with_children(server)
    (left_behind,) = runtime_dirs(server.process.pid)
    server.process.kill()
    await server.process.wait()
    assert await wait_gone(pids, within=10) == []
    # nobody could remove its runtime directory; the next server does
    assert left_behind.exists()
    successor = await start_raw_server(nursery)
    assert not left_behind.exists()
    await successor.process.stdin.aclose()


def process_group(pgid: int) -> set[int]:
    """Every live process in that process group (a kernel's watcher is in its group, though no child of it)."""
    found = set()
    for entry in Path("/proc").glob("[0-9]*"):
        with suppress(OSError, ValueError):
            if int(proc_stat(int(entry.name))[2]) == pgid and alive(int(entry.name)):
                found.add(int(entry.name))
    return found


@slow
@pytest.mark.parametrize("flags", [pytest.param([], id="plain"), pytest.param(["--sandbox"], id="sandbox", marks=needs_sandbox)])
async def test_a_kernel_busy_in_c_holding_the_gil_dies_with_a_server_killed_by_sigkill(nursery, flags):
    server = await start_raw_server(nursery, *flags)
    kernel = int(await server.execute("re", "import os, re, time\nos.getpid()"))
    # its watcher of the server is no child of the kernel: a cell that waits for its children finds none
    assert await server.execute("re", "try:\n    os.wait()\nexcept ChildProcessError:\n    print('no child')") == "no child\n"
    # an interrupt's SIGINT reaches the whole group, and the watcher goes on
    running = await server.request("tools/call", {"name": "execute", "arguments": {"session": "re", "code": "time.sleep(30)", "wait_s": 0.2}})
    assert "running" in running["result"]["content"][0]["text"]
    await server.request("tools/call", {"name": "interrupt", "arguments": {"session": "re"}})
    group = process_group(kernel)
    assert len(group) == 2, "the kernel and its watcher"
    # catastrophic backtracking: C code that holds the GIL for longer than anyone waits
    busy = await server.request("tools/call", {"name": "execute", "arguments": {"session": "re", "code": "re.match(r'(a+)+$', 'a' * 40 + 'b')", "wait_s": 0.5}})
    assert "running" in busy["result"]["content"][0]["text"]
    server.process.kill()
    await server.process.wait()
    assert await wait_gone(sorted(group), within=10) == []


@slow
async def test_garbage_on_stdin_is_answered_and_does_not_stop_the_server(nursery):
    server = await start_raw_server(nursery)
    assert await server.execute("main", "x = 5\nx") == "5\n"
    await server.process.stdin.send_all(b"this is not json\n{\"jsonrpc\": \"2.0\", \"id\": \n")
    assert [(await server.receive())["error"]["code"] for _ in range(2)] == [-32700, -32700]
    # valid JSON, yet no message: a lone surrogate; the caller is answered, by its id
    await server.process.stdin.send_all(b'{"jsonrpc": "2.0", "id": 99, "method": "tools/call", "params": {"name": "list_sessions", "arguments": {"x": "\\ud800"}}}\n')
    with trio.fail_after(10):
        answer = await server.receive()
    assert answer["id"] == 99 and answer["error"]["code"] == -32600, answer
    assert await server.execute("main", "x * 2") == "10\n"
    await server.process.stdin.aclose()
    with trio.fail_after(10):
        await server.process.wait()


@slow
async def test_a_flood_of_output_keeps_server_memory_bounded(nursery):
    server = await start_raw_server(nursery)
    pid = server.process.pid
    assert await server.execute("flood", "1") == "1\n"
    idle = vm_kib(pid, "VmRSS")
    Path(f"/proc/{pid}/clear_refs").write_text("5")  # reset the peak to now
    body = await server.execute("flood", "for i in range(1_000_000):\n    print(i)")
    peak = vm_kib(pid, "VmHWM")
    assert body.startswith("0\n1\n2\n") and body.endswith("999999\n")
    assert "left out here; output(session='flood', cell=2, offset=" in body
    assert (peak - idle) / 1024 < 50, f"server grew from {idle} KiB to a peak of {peak} KiB"
    await server.process.stdin.aclose()


@slow
async def test_a_long_cell_survives_a_client_that_gives_up_quickly():
    # Scaled down from a 5-minute cell and a client that gives up at 60 s: the
    # client gives up after 3 s, the server replies 2 s before MCP_TOOL_TIMEOUT.
    params = StdioServerParameters(command=CONSOLE_SCRIPT, args=["--spares", "0"], env={**os.environ, "MCP_TOOL_TIMEOUT": "3000"})
    code = "import time\nfor i in range(8):\n    print(f'epoch {i}', flush=True)\n    time.sleep(0.5)\n'trained'"
    # The first reply may come before the fresh kernel has printed anything: it then says "(no output yet)".
    async with Client(params, read_timeout_seconds=3) as client:
        replies = await until_it_ends(client, "train", await run(client, "train", code))
    assert record(replies[0])["status"] == "running" and len(replies) >= 3
    assert record(replies[-1])["status"] == "ok"
    assert said_lines(*map(text, replies)) == [f"epoch {i}" for i in range(8)] + ["'trained'"], "nothing lost, nothing twice"


@slow
async def test_a_seeded_storm_of_calls_leaves_every_name_working(nursery):
    import random

    seed = int(os.environ.get("IPYTHON_MCP_STORM_SEED") or random.randrange(1 << 32))
    print(f"storm seed: {seed} (IPYTHON_MCP_STORM_SEED={seed} repeats this run)")
    rng = random.Random(seed)
    names = ["s0", "s1", "s2", "s3"]
    params = StdioServerParameters(command=CONSOLE_SCRIPT, args=["--spares", "1", "--interrupt-grace", "2"])
    replies: list[tuple[str, str, int, object]] = []
    async with Client(params) as client:

        async def one_call(i: int) -> None:
            await trio.sleep(rng.uniform(0, 8))
            name = rng.choice(names)
            tool = rng.choices(["execute", "wait", "output", "interrupt", "reset", "shutdown"], [55, 10, 10, 10, 6, 6])[0]
            arguments = {"session": name}
            if tool == "execute":
                nap = rng.choice([0, 0, 0.05, 0.3, 1.5])
                arguments["code"] = f"print('M-{name}-{i}', flush=True)\nimport time\ntime.sleep({nap})"
                if (wait := rng.choice([None, None, 0, 0.2, 1])) is not None:
                    arguments["wait_s"] = wait
                if rng.random() < 0.2:
                    arguments["timeout_s"] = 0.5
            replies.append((tool, name, i, await client.call_tool(tool, arguments)))

        async def killer() -> None:
            await trio.sleep(4)
            listing = (await client.call_tool("list_sessions", {})).structured_content["result"]
            if pids := [s["pid"] for s in listing if s["pid"]]:
                os.kill(rng.choice(pids), signal.SIGKILL)

        calls = 160
        with trio.fail_after(150):
            async with trio.open_nursery() as storm:
                storm.start_soon(killer)
                for i in range(calls):
                    storm.start_soon(one_call, i)
        assert len(replies) == calls, "every call answers"
        shown: list[str] = []  # markers as execute and wait replies showed them
        for tool, name, i, result in replies:
            assert_clean(result)
            markers = [m for m in text(result).split() if m.startswith("M-")]
            if tool == "execute":
                assert set(markers) <= {f"M-{name}-{i}"}, f"execute #{i} on {name} carries other cells' output: {markers}"
            elif tool == "wait":
                assert all(m.startswith(f"M-{name}-") for m in markers), f"wait on {name} carries another session's output"
            if tool in ("execute", "wait"):
                shown += markers
        assert len(shown) == len(set(shown)), "no output is shown by two replies"
        for tool, name, i, result in replies:
            if tool == "execute" and record(result)["status"] == "ok":
                # shown by its own reply, or by a wait that followed the cell while the execute still waited
                assert f"M-{name}-{i}" in shown
        statuses = {record(r)["status"] for tool, _, _, r in replies if tool == "execute"}
        assert {"ok", "running"} <= statuses, statuses
        for name in names:
            assert text(await run(client, name, "1 + 1")) == "2\n", f"{name} works after the storm"
        # one kernel per live session, plus the spare
        server = next(p for p in descendants(os.getpid()) if CONSOLE_SCRIPT.encode() in Path(f"/proc/{p}/cmdline").read_bytes())
        deadline = trio.current_time() + 20
        while True:  # dying kernels exit and a spare starts: no event says when, so look again until the deadline
            listing = (await client.call_tool("list_sessions", {})).structured_content["result"]
            expected = {s["pid"] for s in listing}
            kernels = {p for p in descendants(server) if b"connection.json" in Path(f"/proc/{p}/cmdline").read_bytes() and alive(p)}
            if len(expected) == len(names) and kernels >= expected and len(kernels - expected) == 1:
                break
            assert trio.current_time() < deadline, f"kernels {sorted(kernels)}, sessions {[(s['name'], s['status'], s['pid']) for s in listing]}"
            await wait_gone(sorted(kernels - expected), within=0.5)
            await trio.sleep(0.1)
        everything = descendants(server)
    # stdin closed: nothing the server started is left
    assert await wait_gone(sorted(everything), within=10) == []


# ---------------------------------------------------------------------------
# --persist: sessions that outlive their client
# ---------------------------------------------------------------------------
#
# The first tests need no persistent server: a call cut off with its
# connection (fake kernels), the instructions a reconnecting client reads, the
# peer check. Each of the others gets a world of its own (the persist fixture):
# an XDG_RUNTIME_DIR (short, for the socket's path) and a project directory, so
# no two tests (or developers) share a persistent server; the fixture stops the
# server and fails the test if anything it started is left running.


async def test_a_call_cut_off_with_its_connection_leaves_its_cell_to_the_next_wait(fakes, autojump_clock):
    lost = ipython_mcp.ClientLink()

    async def call_on_a_connection_that_ends(code, **kwargs):
        ipython_mcp._CLIENT_LINK.set(lost)  # as the persistent server sets it for each connection's calls
        await fake_execute(fakes, code, **kwargs)

    async with trio.open_nursery() as nursery:
        nursery.start_soon(call_on_a_connection_that_ends, "print one; sleep 10; print two; sleep 10; print three")
        await trio.testing.wait_all_tasks_blocked()
        nursery.start_soon(call_on_a_connection_that_ends, "print queued")  # waits its turn behind it
        await trio.sleep(5)
        lost.lost = True  # the connection ended; then its calls are cancelled
        nursery.cancel_scope.cancel()
    first, second = [await fakes.sessions.wait("s", 500, ipython_mcp.UserInput(None)) for _ in range(2)]
    assert (first.status, first.cell, said_lines(said(first))) == ("ok", 1, ["one", "two", "three"]), said(first)
    assert (second.status, second.cell, said_lines(said(second))) == ("ok", 2, ["queued"]), said(second)
    assert fakes.ran == ["print one; sleep 10; print two; sleep 10; print three", "print queued"], "nothing interrupted, nothing withdrawn"
    assert all(kernel.interrupts == 0 for kernel in fakes.kernels)


async def test_the_instructions_name_the_sessions_that_exist(fakes):
    async with Client(build_server(fakes.sessions), mode="legacy") as first:
        assert "Sessions that exist now" not in first.instructions
        await run(first, "main", "print hi")
    for mode in ("legacy", "auto"):  # initialize at 2025-11-25, server/discover at 2026-07-28
        async with Client(build_server(fakes.sessions), mode=mode) as later:
            assert "Sessions that exist now: 'main' (idle; 1 cell finished; last used" in later.instructions, mode
    fakes.sessions.lost["gone"] = "lost with the previous persistent server"
    async with Client(build_server(fakes.sessions), mode="legacy") as later:
        assert "Session 'gone' was lost with the previous persistent server." in later.instructions
        listing = (await later.call_tool("list_sessions", {})).structured_content["result"]
        assert [(s["name"], s["status"]) for s in listing] == [("main", "idle"), ("gone", "lost")]
        refusal = await later.call_tool("wait", {"session": "gone"})
        assert refusal.is_error and "session 'gone' was lost with the previous persistent server" in text(refusal)


def test_a_directorys_persistent_server_has_one_place_whatever_path_names_the_directory(tmp_path, monkeypatch):
    runtime = Path(tempfile.mkdtemp(prefix="xdg-"))  # short, as a socket's path must be
    try:
        monkeypatch.setenv("XDG_RUNTIME_DIR", str(runtime))
        (tmp_path / "project").mkdir()
        (tmp_path / "link").symlink_to(tmp_path / "project")
        place = ipython_mcp.persist_place(str(tmp_path / "project"))
        assert ipython_mcp.persist_place(str(tmp_path / "link")) == place and place.directory == os.path.realpath(tmp_path / "project")
        assert place != ipython_mcp.persist_place(str(tmp_path)), "another directory, another server"
        files = (place.socket, place.lock, place.start, place.state, place.log)
        assert {path.parent for path in files} == {runtime / "ipython-mcp"} and len({path.stem for path in files}) == 1
        assert [path.suffix for path in files] == [".sock", ".lock", ".start", ".json", ".log"]
        assert (runtime / "ipython-mcp").stat().st_mode & 0o777 == 0o700
        monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path / ("d" * 120)))
        (tmp_path / ("d" * 120)).mkdir()
        with pytest.raises(SystemExit, match="over the 107 a Unix socket's can be. Set XDG_RUNTIME_DIR to a shorter directory"):
            ipython_mcp.persist_place(str(tmp_path))
    finally:
        shutil.rmtree(runtime, ignore_errors=True)


def test_only_the_servers_user_may_connect(tmp_path):
    """The server refuses another user's connection by its peer credentials; here, a process of uid 65534's."""
    if os.getuid() != 0:
        pytest.skip("starting a process as another user needs root")
    address = f"\0ipython-mcp-test-{os.getpid()}-{tmp_path.name}"  # abstract: no directory's mode in the way
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as listener:
        listener.bind(address)
        listener.listen(1)
        other = os.fork()  # no exec: another user may not be able to read this interpreter
        if other == 0:
            try:
                os.setuid(65534)
                socket.socket(socket.AF_UNIX, socket.SOCK_STREAM).connect(address)
            finally:
                os._exit(0)
        connection, _ = listener.accept()
        with connection:
            assert ipython_mcp.peer_uid(connection) == 65534
        assert os.waitpid(other, 0)[1] == 0
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as mine:
            mine.connect(address)
            connection, _ = listener.accept()
            with connection:
                assert ipython_mcp.peer_uid(connection) == os.getuid()


def environ_with(marker: bytes) -> set[int]:
    """Live processes whose environment holds marker: a test's relays, its persistent server, their kernels."""
    found = set()
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            environ = (entry / "environ").read_bytes().split(b"\0")
        except OSError:
            continue
        if marker in environ and alive(int(entry.name)):
            found.add(int(entry.name))
    return found


async def read_line(stream, within: float = 60) -> str:
    """One line from a process's pipe."""
    data = b""
    with trio.fail_after(within):
        while not data.endswith(b"\n"):
            chunk = await stream.receive_some(1)
            assert chunk, f"the stream ended after {data!r}"
            data += chunk
    return data.decode()


class Persist:
    """A test's own runtime directory and project, the console script started in them, and what it left there."""

    def __init__(self, runtime: Path, project: Path) -> None:
        self.runtime = runtime
        self.project = project
        self.directory = runtime / "ipython-mcp"
        self.marker = f"XDG_RUNTIME_DIR={runtime}".encode()
        self.env = {"XDG_RUNTIME_DIR": str(runtime)}  # for the SDK's client, which adds PATH, HOME and the like
        self.environ = {k: v for k, v in os.environ.items() if not k.startswith("IPYTHON_MCP_")} | self.env
        self.relays: list[trio.Process] = []  # reaped by the fixture: each ends when its server does

    def client(self, *flags: str, mode: str = "auto", **options) -> Client:
        params = StdioServerParameters(command=CONSOLE_SCRIPT, args=["--persist", *flags], env=self.env, cwd=self.project)
        return Client(params, mode=mode, **options)

    async def relay(self, *flags: str, kind=RawServer, stderr=None, environ: dict | None = None):
        """A relay spoken to in raw JSON-RPC, in a process group of its own (so that a test can kill it all)."""
        process = await trio.lowlevel.open_process(
            [CONSOLE_SCRIPT, "--persist", *flags], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=stderr,
            cwd=self.project, env=self.environ | (environ or {}), start_new_session=True,
        )
        self.relays.append(process)
        return kind(process)

    async def run(self, *flags: str, environ: dict | None = None) -> subprocess.CompletedProcess:
        with trio.fail_after(120):
            return await trio.run_process(
                [CONSOLE_SCRIPT, "--persist", *flags], stdin=subprocess.DEVNULL, capture_stdout=True, capture_stderr=True,
                check=False, cwd=self.project, env=self.environ | (environ or {}),
            )

    def state(self) -> dict:
        (path,) = self.directory.glob("persist-*.json")
        return json.loads(path.read_text())

    @property
    def socket(self) -> Path:
        (path,) = self.directory.glob("persist-*.sock")
        return path

    def servers(self) -> set[int]:
        return {pid for pid in environ_with(self.marker) if b"--serve-persistent" in Path(f"/proc/{pid}/cmdline").read_bytes()}


@pytest.fixture
async def persist(tmp_path):
    # Short: a Unix socket's path has at most 107 bytes, and tmp_path alone can take 70.
    runtime = Path(tempfile.mkdtemp(prefix="xdg-"))
    project = tmp_path / "project"
    project.mkdir()
    world = Persist(runtime, project)
    try:
        yield world
    finally:
        with trio.CancelScope(shield=True):
            stopped = await world.run("--stop")
            with trio.move_on_after(15):
                for relay in world.relays:
                    await relay.wait()
            left = await wait_gone(sorted(environ_with(world.marker)), within=15)
            for pid in left:
                with suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            shutil.rmtree(runtime, ignore_errors=True)
        assert stopped.returncode == 0, stopped.stderr
        assert not left, f"still running after --stop: {left}"


async def until_progress(server: RawServer) -> None:
    """Read until a progress notification comes: the call it reports on is under way."""
    with trio.fail_after(60):
        while (await server.receive()).get("method") != "notifications/progress":
            pass


@slow
async def test_a_client_killed_mid_cell_loses_nothing_and_the_next_client_waits_for_the_rest(persist):
    first = await persist.relay()
    await first.initialize()
    # it prints for a few seconds, then waits for the test to let it end
    train = "import os, time\nfor i in range(12):\n    print(f'epoch {i}', flush=True)\n    time.sleep(0.3)\nwhile not os.path.exists('release'):\n    time.sleep(0.05)\ntrained = 'yes'"
    seen = await first.execute("train", "import os\nkernel = os.getpid()\nkernel")
    kernel = int(seen)
    running = await first.request("tools/call", {"name": "execute", "arguments": {"session": "train", "code": train, "wait_s": 1}})
    assert running["result"]["_meta"]["ipython-mcp/execute"]["status"] == "running"
    early = "".join(block["text"] for block in running["result"]["content"])
    # a wait in progress, and a second session's execute that no reply has answered yet: then the client dies, all of it
    await first.send({"jsonrpc": "2.0", "id": 90, "method": "tools/call", "params": {"name": "wait", "arguments": {"session": "train"}, "_meta": {"progressToken": 90}}})
    await until_progress(first)
    await first.send({"jsonrpc": "2.0", "id": 91, "method": "tools/call", "params": {"name": "execute", "arguments": {"session": "quiet", "code": "import time\nfor i in range(6):\n    print(f'quiet {i}', flush=True)\n    time.sleep(0.5)"}, "_meta": {"progressToken": 91}}})
    await until_progress(first)
    os.killpg(first.process.pid, signal.SIGKILL)
    await first.process.wait()

    async with persist.client() as second:  # 2026-07-28, through server/discover
        assert "'train' (busy: cell 2 has run for" in second.instructions
        (persist.project / "release").touch()
        replies = await until_it_ends(second, "train", await second.call_tool("wait", {"session": "train"}))
        assert record(replies[-1])["status"] == "ok"
        assert said_lines(early, *map(text, replies)) == [f"epoch {i}" for i in range(12)], "nothing lost, nothing twice"
        assert text(await run(second, "train", "trained, kernel")) == f"('yes', {kernel})\n", "the same kernel, its variables there"
        quiet = await until_it_ends(second, "quiet", await second.call_tool("wait", {"session": "quiet"}))
        assert said_lines(*map(text, quiet)) == [f"quiet {i}" for i in range(6)], "a cell no reply had shown: all of it"
        page = await second.call_tool("output", {"session": "train", "cell": 2})
        assert "epoch 0" in text(page) and "epoch 11" in text(page)
        listing = {s["name"]: s for s in (await second.call_tool("list_sessions", {})).structured_content["result"]}
        assert listing["train"]["cells"] == 3 and listing["train"]["last_used_s_ago"] < 60


@slow
async def test_two_clients_at_once_on_two_sessions_and_on_one(persist):
    rendezvous = "import os, time\nopen({mine!r}, 'w').close()\nwhile not os.path.exists({flag!r}):\n    time.sleep(0.05)"
    ended = []

    async def meet(client, name: str, other: str) -> None:
        ended.append(record(await run(client, name, rendezvous.format(flag=f"{other}.flag", mine=f"{name}.flag")))["status"])

    async with persist.client() as a, persist.client(mode="legacy") as b, trio.open_nursery() as nursery:
        # two sessions: each cell waits for the other's file, so they can only end if they run at once
        nursery.start_soon(meet, a, "one", "two")
        nursery.start_soon(meet, b, "two", "one")
    assert ended == ["ok", "ok"]
    async with persist.client() as a, persist.client(mode="legacy") as b:
        running = await run(a, "shared", "x = 1\nimport time\ntime.sleep(2)", wait_s=0)
        assert record(running)["status"] == "running"
        after = await run(b, "shared", "x + 1")  # waits its turn behind a's cell, in the same kernel
        assert text(after) == "2\n" and record(after)["status"] == "ok"
        assert record(await a.call_tool("wait", {"session": "shared"}))["status"] in ("ok", "idle")
        busy = await run(b, "shared", "time.sleep(5)", wait_s=0)
        refused = await run(a, "shared", "x = 99", wait_s=0.5)
        assert record(busy)["status"] == "running" and record(refused)["status"] == "busy"
    assert len(persist.servers()) == 1


@slow
async def test_linger_exits_after_the_last_client_leaves_and_not_while_a_cell_runs(persist):
    gate = persist.project / "gate"
    os.mkfifo(gate)
    async with persist.client("--linger", "2") as client:
        kernel = int(text(await run(client, "long", "import os\nos.getpid()")))
        server = persist.state()["pid"]
        assert await wait_gone([server], within=4) == [server], "a connected client keeps it"
        assert record(await run(client, "long", "open('gate').read()\nended = True", wait_s=0))["status"] == "running"
    assert await wait_gone([server], within=4) == [server], "a running cell keeps it"
    with open(gate, "w") as opened:  # the cell reads to EOF: it ends now
        opened.write("go")
    released = time.monotonic()
    assert await wait_gone([server], within=30) == []
    assert time.monotonic() - released >= 1.5, "it lingered after the cell ended"
    assert await wait_gone([kernel], within=5) == []
    assert not list(persist.directory.glob("persist-*.sock")) and not list(persist.directory.glob("persist-*.json"))


@slow
async def test_status_and_stop(persist):
    project = os.path.realpath(persist.project)
    nothing = await persist.run("--status")
    assert (nothing.returncode, nothing.stdout.decode()) == (1, f"no persistent server for {project}\n")
    assert (await persist.run("--stop")).returncode == 0
    async with persist.client() as client:
        kernel = int(text(await run(client, "main", "import os\nos.getpid()")))
        status = await persist.run("--status")
        server = persist.state()["pid"]
        lines = status.stdout.decode().splitlines()
        assert status.returncode == 0, status.stderr
        assert lines[0] == f"persistent server for {project}: pid {server}, ipython-mcp {ipython_mcp.__version__}"
        assert lines[1] == f"socket {persist.socket}"
        assert re.fullmatch(r"up \d+ (s|min); 1 client\(s\) connected; exits after 8 h with no client and no cell running \(--linger\)", lines[3]), lines[3]
        assert re.fullmatch(rf"session 'main': idle; 1 cell finished; last used \d+ (s|min) ago; kernel pid {kernel}", lines[4]), lines[4]
        stop = await persist.run("--stop")
        assert stop.returncode == 0 and "1 session(s) shut down, every kernel gone" in stop.stdout.decode()
        assert not alive(kernel), "--stop returns once every kernel is gone"
    assert await wait_gone([server], within=5) == []
    assert (await persist.run("--status")).returncode == 1


@slow
async def test_a_killed_persistent_server_leaves_no_kernel_and_the_next_one_reports_the_loss(persist):
    first = await persist.relay()
    await first.initialize()
    for name in ("a", "b"):
        await first.execute(name, "import subprocess\nchild = subprocess.Popen(['sleep', '300'])")
    server = persist.state()["pid"]
    everything = sorted(descendants(server))
    assert len(everything) >= 4, "two kernels and their children"
    os.kill(server, signal.SIGKILL)
    assert await wait_gone([server, *everything], within=15) == [], "the kernels die with their server"
    await first.process.wait()  # the relay ends with its server's connection
    left_behind = persist.socket
    assert left_behind.exists(), "a socket the dead server left"

    async with persist.client(mode="legacy") as client:  # initialize, 2025-11-25
        assert "Sessions 'a', 'b' were lost with the previous persistent server for this directory" in client.instructions
        listing = (await client.call_tool("list_sessions", {})).structured_content["result"]
        assert [(s["name"], s["status"]) for s in listing] == [("a", "lost"), ("b", "lost")]
        assert f"(pid {server}," in listing[0]["lost"] and "ended without shutting down" in listing[0]["lost"]
        assert text(await run(client, "a", "1 + 1")) == "2\n", "the name works again, with a fresh kernel"
        listing = (await client.call_tool("list_sessions", {})).structured_content["result"]
        assert [(s["name"], s["status"]) for s in listing] == [("a", "idle"), ("b", "lost")]
    modern = await persist.relay(kind=ModernServer)
    discovered = await modern.request("server/discover", {"_meta": envelope()})
    assert "Session 'b' was lost with the previous persistent server" in discovered["result"]["instructions"]
    assert persist.state()["pid"] != server


@slow
async def test_both_protocol_revisions_progress_tasks_and_elicitation_through_the_relay(persist):
    modern = await persist.relay(kind=ModernServer)
    discovered = await modern.request("server/discover", {"_meta": envelope()})
    assert discovered["result"]["capabilities"]["extensions"] == {TASKS: {}}
    await modern.call("execute", {"session": "t", "code": "1"}, tasks=False)
    code = "import time\nfor i in range(3):\n    print(f'tick {i}', flush=True)\n    time.sleep(0.6)\n'done'"
    created = (await modern.call("execute", {"session": "t", "code": code}))["result"]
    assert created["resultType"] == "task"
    final = (await modern.poll(created["taskId"], {"completed", "cancelled", "failed"}))[-1]
    assert final["status"] == "completed" and content_text(final["result"]) == "tick 0\ntick 1\ntick 2\n'done'\n"

    handshake = await persist.relay()
    assert (await handshake.initialize())["protocolVersion"] == "2025-11-25"
    await handshake.send({"jsonrpc": "2.0", "id": 7, "method": "tools/call", "params": {"name": "execute", "arguments": {"session": "t", "code": "time.sleep(2.5)\n'slept'"}, "_meta": {"progressToken": "p7"}}})
    progress = []
    with trio.fail_after(60):
        while (message := await handshake.receive()).get("id") != 7:
            if message.get("method") == "notifications/progress":
                progress.append(message["params"])
    assert progress and progress[0]["progressToken"] == "p7" and progress[0]["message"].startswith("running for")
    assert message["result"]["content"][0]["text"] == "'slept'\n"

    async def answer(context, params):
        from mcp_types import ElicitResult

        return ElicitResult(action="accept", content={next(iter(params.requested_schema["properties"])): "Ada"})

    async with persist.client(mode="legacy", elicitation_callback=answer) as client:
        await run(client, "ask", "1")
        assert text(await run(client, "ask", "name = input('who? ')\nf'hi {name}'")) == "who? Ada\n'hi Ada'\n"


@slow
async def test_a_client_cancel_through_the_relay_still_interrupts_its_cell(persist):
    server = await persist.relay()
    await server.initialize()
    assert await server.execute("main", "import time\nfinished = False") == "(no output)"
    await server.send({"jsonrpc": "2.0", "id": 50, "method": "tools/call", "params": {"name": "execute", "arguments": {"session": "main", "code": "time.sleep(30)\nfinished = True"}, "_meta": {"progressToken": 50}}})
    await until_progress(server)
    await server.send({"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": 50, "reason": "the user pressed stop"}})
    started = time.monotonic()
    assert await server.execute("main", "finished") == "False\n"
    assert time.monotonic() - started < 15, "interrupted, not waited out"


@slow
async def test_a_client_that_cancels_and_leaves_at_once_still_interrupts_its_cell(persist):
    # The connection's end may be read before the cancelled call wakes: the cancel, read first, is still the client's.
    for attempt in range(4):
        client = await persist.relay()
        await client.initialize()
        assert await client.execute("main", "import time\nfinished = False") == "(no output)"
        await client.send({"jsonrpc": "2.0", "id": 50, "method": "tools/call", "params": {"name": "execute", "arguments": {"session": "main", "code": "time.sleep(20)\nfinished = True"}, "_meta": {"progressToken": 50}}})
        await until_progress(client)
        started = time.monotonic()
        await client.send({"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": 50, "reason": "the user pressed stop"}})
        await client.process.stdin.aclose()
        with trio.fail_after(30):
            await client.process.wait()
        later = await persist.relay()
        await later.initialize()
        waited = await later.request("tools/call", {"name": "wait", "arguments": {"session": "main"}})
        said = "".join(block["text"] for block in waited["result"]["content"])
        assert "cancelled" in said and await later.execute("main", "finished") == "False\n", (attempt, said)
        assert time.monotonic() - started < 15, "interrupted, not waited out"
        await later.process.stdin.aclose()


@slow
async def test_two_relays_racing_start_one_server(persist):
    relays = []

    async def one(index: int) -> None:
        relay = await persist.relay()
        await relay.initialize()
        relays.append((relay, await relay.execute(f"s{index}", "import os\nos.getppid()")))

    async with trio.open_nursery() as race:
        for index in range(4):
            race.start_soon(one, index)
    parents = {int(said) for _, said in relays}
    assert len(relays) == 4 and parents == {persist.state()["pid"]} == persist.servers()


@slow
async def test_a_relay_killed_while_it_starts_the_server_leaves_that_server_to_the_next_relay(persist):
    # An MCP client restarting kills its process group: here, the moment the server process it started appears.
    starter = await persist.relay("--spares", "0")
    with trio.fail_after(60):
        while not (appeared := persist.servers()):
            await trio.sleep(0.005)
    os.killpg(starter.process.pid, signal.SIGKILL)
    await starter.process.wait()
    started = time.monotonic()
    later = await persist.relay("--spares", "0")
    with trio.fail_after(20):
        await later.initialize()
    assert time.monotonic() - started < 20, "answered by the server that was starting, not after waiting for another"
    (server,) = appeared
    assert int(await later.execute("s", "import os\nos.getppid()")) == server and persist.servers() == {server}
    status = (await persist.run("--status")).stdout.decode().splitlines()
    assert os.readlink(f"/proc/{server}/fd/2") == status[2].removeprefix("log "), "--status names the log the server writes"


@slow
async def test_linger_0_serves_the_relay_that_started_the_server_and_ends_it_when_the_client_leaves(persist):
    first = await persist.relay("--linger", "0", "--spares", "0")
    await first.initialize()
    assert await first.execute("a", "1 + 1") == "2\n"
    server = persist.state()["pid"]
    await first.process.stdin.aclose()
    assert await wait_gone([server], within=8) == [], "gone as soon as its last client left"
    assert (await persist.run("--status")).returncode == 1


@slow
async def test_a_server_whose_socket_was_removed_is_still_found_and_stopped(persist):
    first = await persist.relay("--spares", "0")
    await first.initialize()
    kernel = int(await first.execute("main", "import os\nos.getpid()"))
    server, removed = persist.state()["pid"], persist.socket
    removed.unlink()  # a cleaner of the runtime directory, or a person
    status = await persist.run("--status")
    assert status.returncode == 1 and f"runs (pid {server}), but its socket {removed} is gone" in status.stdout.decode(), status.stdout
    started = time.monotonic()
    refused = await persist.run("--spares", "0")
    said = refused.stderr.decode()
    assert refused.returncode != 0 and f"runs (pid {server}), but its socket {removed} is gone" in said and "`ipython-mcp --persist --stop` ends it" in said, said
    assert time.monotonic() - started < 10, "said at once, not after waiting for a server to start"
    assert persist.servers() == {server}, "no second server"
    stop = await persist.run("--stop")
    assert stop.returncode == 0 and f"(pid {server}), whose socket was gone: every kernel gone" in stop.stdout.decode(), stop.stdout
    assert not alive(kernel) and await wait_gone([server], within=5) == []
    async with persist.client("--spares", "0") as client:
        assert text(await run(client, "main", "1 + 1")) == "2\n", "the next start makes a new server"


@slow
async def test_a_relay_in_a_removed_or_read_only_directory_says_why(persist):
    gone = persist.project / "gone"
    gone.mkdir()
    removed = await trio.run_process(
        ["sh", "-c", 'rmdir "$PWD" && exec "$0" --persist', CONSOLE_SCRIPT], cwd=gone, env=persist.environ,
        stdin=subprocess.DEVNULL, capture_stdout=True, capture_stderr=True, check=False,
    )
    assert removed.returncode != 0 and b"the working directory no longer exists" in removed.stderr and b"Traceback" not in removed.stderr, removed.stderr
    persist.directory.mkdir(mode=0o700)  # its private directory as it should be, but on a read-only file system
    if os.getuid() == 0:  # root writes whatever the mode: a read-only bind mount, in a mount namespace of its own
        if shutil.which("unshare") is None:
            pytest.skip("a read-only directory for root needs unshare(1)")
        mount = 'mount --bind "$1" "$1" && mount -o remount,bind,ro "$1" && exec "$0" --persist "$2"'
        command = ["unshare", "-m", "sh", "-c", mount, CONSOLE_SCRIPT, str(persist.directory)]
    else:
        persist.directory.chmod(0o500)
        command = [CONSOLE_SCRIPT, "--persist"]
    try:
        for flag, code, says in (("--spares=0", 1, b"cannot open"), ("--status", 1, b"no persistent server for"), ("--stop", 0, b"nothing to stop")):
            ran = await trio.run_process([*command, flag], cwd=persist.project, env=persist.environ, stdin=subprocess.DEVNULL, capture_stdout=True, capture_stderr=True, check=False)
            assert ran.returncode == code and says in ran.stdout + ran.stderr and b"Traceback" not in ran.stderr, (flag, ran.stdout, ran.stderr)
    finally:
        persist.directory.chmod(0o700)
    assert persist.servers() == set()


@slow
async def test_a_relay_with_other_settings_names_them_and_uses_the_running_server(persist):
    first = await persist.relay("--max-sessions", "5")
    await first.initialize()
    log_path = persist.project.parent / "relay.err"
    with open(log_path, "wb") as err:
        second = await persist.relay("--max-sessions", "6", stderr=err, environ={"IPYTHON_MCP_OUTPUT_CHARS": "900", "IPYTHON_MCP_GATEWAY_TOKEN": "hush"})
    await second.initialize()
    assert await first.execute("a", "import os\nos.getppid()") == await second.execute("b", "import os\nos.getppid()")
    said = log_path.read_text()
    assert "ipython-mcp: --max-sessions is 6 for this client, but 5 in the running server" in said
    assert "ipython-mcp: --output-chars is 900 for this client, but 20000 in the running server" in said
    assert "--gateway-token differs from the running server's (the values are not shown)" in said and "hush" not in said
    assert "`ipython-mcp --persist --stop` ends it, and the next start applies the new settings" in said
    listing = await second.request("tools/call", {"name": "list_sessions", "arguments": {}})
    assert {s["name"] for s in listing["result"]["structuredContent"]["result"]} == {"a", "b"}


@slow
async def test_a_relay_that_cannot_start_a_server_says_why(persist, tmp_path):
    persist.directory.mkdir(mode=0o755)
    persist.directory.chmod(0o755)
    refused = await persist.run()
    assert refused.returncode != 0 and b"must be a directory of yours that only you can open (mode 0700)" in refused.stderr
    persist.directory.rmdir()
    deep = tmp_path / ("d" * 120)
    deep.mkdir()
    too_long = await persist.run(environ={"XDG_RUNTIME_DIR": str(deep)})
    assert too_long.returncode != 0 and b"over the 107 a Unix socket's can be. Set XDG_RUNTIME_DIR to a shorter directory" in too_long.stderr
    missing = await persist.run(environ={"XDG_RUNTIME_DIR": str(tmp_path / "no-such-dir")})
    assert missing.returncode != 0 and b"cannot make its private directory" in missing.stderr
    broken = await persist.run(environ={"IPYTHON_MCP_MAX_SESSIONS": "0"})
    assert broken.returncode != 0
    assert b"could not start the persistent server" in broken.stderr and b"--max-sessions must be a positive number" in broken.stderr
    assert persist.servers() == set()


@needs_sandbox
@slow
async def test_a_sandboxed_persistent_servers_kernels_reach_neither_its_socket_nor_its_files(persist):
    # A kernel that could connect to its persistent server's socket could drive every session of it: read their
    # variables, run code in them. The socket, state and log live in the private directory, which a sandboxed
    # kernel cannot see (here it lies under /tmp, which the kernel sees as its own empty directory).
    async with persist.client("--sandbox", "--spares", "0") as client:
        assert "Kernels are confined: sandboxed:" in client.instructions
        state = next(persist.directory.glob("persist-*.json"))
        probes = {
            "list": f"os.listdir({str(persist.directory)!r})",
            "connect": f"socket.socket(socket.AF_UNIX).connect({str(persist.socket)!r})",
            "read": f"open({str(state)!r}).read()",
        }
        await run(client, "probe", "import os, socket")
        for what, probe in probes.items():
            result = await run(client, "probe", probe)
            assert record(result)["status"] == "error", (what, text(result))
            assert record(result)["error"]["ename"] in ("FileNotFoundError", "PermissionError"), (what, text(result))
        assert record(await run(client, "probe", "1 + 1"))["result"] == "2", "the session goes on"
        assert state.exists() and persist.socket.exists(), "and the server's files are as they were"


@slow
async def test_a_terminal_on_stdin_gets_one_line_on_stderr_and_pipes_none(persist):
    for flags in ([], ["--persist"]):
        primary, terminal = os.openpty()
        try:
            process = await trio.lowlevel.open_process(
                [CONSOLE_SCRIPT, "--spares", "0", *flags], stdin=terminal, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                cwd=persist.project, env=persist.environ,
            )
            line = await read_line(process.stderr)
            assert line.startswith(f"ipython-mcp {ipython_mcp.__version__}: serving MCP on stdio") and "waiting for an MCP client" in line, line
            assert ("through the persistent server for" in line) == bool(flags)
            process.terminate()
            with trio.fail_after(30):
                await process.wait()
            assert await process.stdout.receive_some() == b"", "nothing on stdout, the wire"
        finally:
            os.close(primary)
            os.close(terminal)
    for flags in ([], ["--persist"]):
        process = await trio.lowlevel.open_process(
            [CONSOLE_SCRIPT, "--spares", "0", *flags], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            cwd=persist.project, env=persist.environ,
        )
        await RawServer(process).initialize()
        await process.stdin.aclose()
        with trio.fail_after(30):
            await process.wait()
        assert await process.stderr.receive_some() == b"", "a client on pipes sees nothing on stderr"


# ---------------------------------------------------------------------------
# under load
# ---------------------------------------------------------------------------


@slow
async def test_stress_many_sessions_timeouts_interrupts_and_a_death(config):
    import random

    rng = random.Random(20261124)
    names = [f"load{n}" for n in range(6)]
    calls_per_session = 30
    fds_before = open_fds()
    pids: set[int] = set()
    replies: dict[tuple[str, int], list] = {}
    async with open_sessions(config) as sessions:
        async with Client(build_server(sessions)) as client:
            for name in names:
                await run(client, name, f"import time\ntoken = {name!r}")
                pids.add(sessions.get(name).kernel.pid)
            victim = names[3]

            async def one_call(name: str, i: int) -> None:
                code = f"print('M-' + '{name}-{i}')\ntime.sleep({rng.uniform(0, 0.15):.3f})"
                timeout = rng.choice([None, None, 0.05, 0.1, 1.0])
                kwargs = {"timeout_s": timeout} if timeout else {}
                replies.setdefault((name, i), []).append(await run(client, name, code, **kwargs))

            async def interrupter() -> None:
                for _ in range(30):
                    await trio.sleep(rng.uniform(0.05, 0.3))
                    await client.call_tool("interrupt", {"session": rng.choice(names)})

            deaths = []

            async def killer() -> None:
                # A cell of the victim's kills its own kernel: a death mid-cell however loaded the machine is (a kill
                # from outside could land after a short cell ended). The storm's interrupts may withdraw it while it
                # waits its turn: then it goes again.
                while not deaths:
                    result = await run(client, victim, "import os, signal, time\nprint('M-dying', flush=True)\ntime.sleep(0.3)\nos.kill(os.getpid(), signal.SIGKILL)")
                    if record(result)["status"] == "died":
                        deaths.append(result)

            with trio.fail_after(240):
                async with trio.open_nursery() as nursery:
                    nursery.start_soon(interrupter)
                    nursery.start_soon(killer)
                    for i in range(calls_per_session):
                        for name in names:
                            nursery.start_soon(one_call, name, i)

            assert len(replies) == len(names) * calls_per_session
            statuses = {}
            for (name, i), got in replies.items():
                assert len(got) == 1, "exactly one reply per call"
                (result,) = got
                body = text(result)
                status = record(result)["status"]
                statuses[status] = statuses.get(status, 0) + 1
                foreign = {m for m in body.split() if m.startswith("M-") and m != f"M-{name}-{i}"}
                assert not foreign, f"reply for {name}#{i} carries other cells' output: {foreign}"
                if status == "ok":
                    assert f"M-{name}-{i}" in body
            # an interrupt also cancels the executes queued behind the cell it stops
            assert statuses.get("ok", 0) > 20 and statuses.get("timeout", 0) > 3 and statuses.get("cancelled", 0) > 0, statuses
            (death,) = deaths
            assert "killed by SIGKILL" in text(death) and "M-dying" in text(death), text(death)
            for name in names:
                result = await run(client, name, "token")
                if name != victim:
                    assert text(result) == f"{name!r}\n", "surviving sessions keep their state"
                pids.add(sessions.get(name).kernel.pid)
        runtime_dir = sessions.runtime_dir
    assert await wait_gone(sorted(pids), within=10) == []
    assert not runtime_dir.exists()
    assert open_fds() - fds_before == set(), "file descriptors leaked"
