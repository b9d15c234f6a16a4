# SPDX-License-Identifier: MIT -- Copyright (c) 2026 the ipython-mcp authors; the full text is in LICENSE.
# /// script
# requires-python = ">=3.11"
# dependencies = [
#     "trio>=0.30",
#     "mcp>=2.3,<3",
#     "jupyter_client>=8.6",
#     "pyzmq>=26",
#     "ipykernel>=6.29",
#     "nbformat>=5.9",
#     "google-re2>=1.1",
#     "h11>=0.14",
# ]
# ///
"""ipython-mcp: a stateful IPython kernel per named session, served over MCP.

Theory of operation
-------------------
A *session* is a name bound to one kernel. The kernel keeps the variables,
imports and working directory between ``execute`` calls, like a notebook.
Each session may run in its own Python environment.

Everything runs on one trio event loop. The server owns one nursery; each
session owns a nursery inside it, and each kernel a nursery inside that, which
holds the kernel's tasks: the process watcher and the readers of its
channels. Readers route every message by its parent ``msg_id`` into the
memory channel of the request waiting for it; a kernel that ends closes those
channels, so a waiting cell learns of the death at once. (A warm spare kernel
lives in the server's nursery until a session adopts it.)

A session owns its cells. One owner task per session (Session.run) holds the
kernel, the running cell and the queue of cells waiting their turn, and it is
the only code that changes them. It takes requests and events from one
channel and handles each to the end before the next, so no two can
interleave: tool calls send requests (run this code, interrupt, reset,
shut down, what is the latest output) and wait for the answer; its helper
tasks (starting a kernel, carrying a cell's messages, sending an interrupt)
report back on the same channel. A session moves between starting, idle,
busy, dead and closed as h11 moves a connection: the owner says what
happened, one table (TRANSITIONS) decides the next state, and one method
(Session._move) applies it. Different sessions run at the same time.

A cell outlives the call that started it. The call waits for it up to its
``wait_s`` and then replies "running" with the output so far; the cell goes
on until it ends, its deadline passes, or interrupt, reset or shutdown stops
it, and ``wait`` and ``output`` follow it. Every line a cell prints goes to a
spool file in the session's directory (all of it, for ``output``) and to the
view that the next reply takes (so no reply repeats another). A deadline, an
``interrupt`` or the client cancelling the execute starts the ladder: SIGINT
once the kernel's handler is in place, again halfway through a bounded grace,
then the kernel is killed with its whole process group, the session marked
dead, to be restarted by the next ``execute``.

Kernels come in three kinds that share all of the above: a local ipykernel
process this server starts (the default), a running kernel it joins by its
connection file (``attach``; never killed, only let go of), and a kernel on a
Jupyter Server or Enterprise Gateway (``--gateway-url``), driven over its
websocket. Local kernels talk over the IPC transport: sockets and connection
files live in a private 0700 runtime directory that is removed at exit,
messages are signed with HMAC-SHA256 and a fresh key per kernel, and no TCP
port is opened.

Beside the replies, every cell is recorded as a notebook cell (export,
--notebook-dir); a client that speaks the MCP tasks extension may follow a
long cell as a task. A cell's input() is put to the user by elicitation
(during the call at 2025-11-25; by an input_required result and the
client's retry at 2026-07-28; in a task); a getpass() never goes through the
client: the user types the secret on a one-time page of this server, and the
session masks it in everything it shows or saves from then on.

Sessions can outlive their client (--persist). The process a client starts
is then a relay that copies bytes between its stdio and a Unix socket; the
sessions live in a persistent server, one per user and working directory,
which the first relay starts detached and which serves every connection as
a stdio server serves its one client. Its clients share its sessions. A
connection that ends cancels the calls it carried as any end does, but a
client leaving stops nothing: only a client's own cancel interrupts a cell.
The relay is stdlib only and runs before the heavy imports, so that a client
gets its first answer at once.

Where each decision is made
---------------------------
The sections below come in this order; each decision has one home.

- The relay, --status and --stop (the client's side of --persist), and
  private_dir(), where this user's sockets, state, logs and tokens live:
  before the heavy imports, which they must not wait for.
- Constants, and Config: every setting once (its flag, variable, help, floor,
  and whether it is a secret); too_small is the one rule for a number's floor,
  for settings and tool arguments alike.
- State, Happened and TRANSITIONS: what can happen to a session in each state,
  and the state that follows; Session._move applies it.
- What clients send: shown cuts an echoed argument, check_path refuses a bad
  path naming its argument, read_regular_file reads what a client named
  without blocking, replace_file writes without following a planted link,
  WrittenFiles decides whether a file may be replaced.
- Env / Kernelspec / Joined: what kernel a session gets and whether the server
  owns it (``Source.owned``: what a message says of the kernel, and whether
  Kernel.serve's cleanup ends it or only lets go); resolve_env maps an env
  argument to a Python.
- Auto-install, the kernel (Kernel.serve starts, Kernel.stop ends all three
  kinds; Kernel.listener hears that it ended; KernelLog writes a local
  kernel's own output, masked), attach, the gateway, warm spares: each in a
  section of its own.
- Sandboxed kernels: Confinement builds a local kernel's Policy (--sandbox,
  --memory-limit), the launcher (CONFINE_AND_EXEC; Launcher, one kept
  started ahead) applies it before the kernel's interpreter starts, and
  Confinement.explain names the rule a refused cell met.
- Output shaping: Lines, Transcript (what one reply shows), Spool (all of it).
- Reading a spool back: read_lines takes a page (every_line) or the lines a
  Grep matches (RE2, in a worker thread), _grep_in_child what only Python's re
  can run (in a child process), read_spool picks one and holds the deadline.
- The notebook: CellRecord.take applies clear_output and update_display_data
  (the cell's reply view follows it; a DisplayMap finds what an update
  reaches), Notebook logs ended cells and builds the notebook from the log;
  file_name maps a session's name to its file, one to one, and
  check_session_name refuses names that would not.
- Cells: Cell (a cell's messages and how a cell that ran ended:
  Cell.conclude), Outcome (a reply's text and record: Outcome.to_result),
  start_failure (the words for a kernel that would not start, whoever asked),
  not_run (an execute whose code never ran), Ladder (a running cell's
  interrupt ladder: its state, and which rung is due).
- The session: Session.run is the owner; _handle drops what it has moved past
  (saying why) and handles the rest; _advance decides what runs next and when
  a kernel is started; _stop_cell/_signal/_give_up do what the Ladder says,
  _start_failed cleans up a failed start, _drop_kernel lets a kernel go;
  Session.progress words what a waiting call is told. cut_off() tells a client
  that left from one that cancelled, and _abandoned keeps a left cell's output
  for the next wait. UserInput decides how a cell's input() reaches the user
  (form, page or not at all); SecretPages serves the one-time pages; Masker is
  what a secret becomes (********).
- The registry (Sessions): the policy a tool call needs (which env, which
  warning, whether to install ipykernel and try again).
- The tasks extension (the execute tool hands the call its TaskOffer); the
  SDK internals this module leans on (each in one small function, stdio_over
  among them); the MCP tools
  (they check arguments and make one call on the registry; instructions()
  names the sessions that exist); streamable HTTP (the token); the persistent
  server (PersistentServer: its connections, its linger, its state file);
  main().
"""

__version__ = "0.1.0"

import argparse
import base64
import bisect
import codecs
import contextvars
import dataclasses
import datetime
import enum
import getpass
import glob
import hashlib
import hmac
import html
import io
import itertools
import json
import logging
import math
import os
import re
import secrets
import select
import shlex
import shutil
import signal
import socket
import stat
import struct
import subprocess
import sys
import tempfile
import threading
import time
import types
import typing
import unicodedata
import urllib.parse
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager, suppress
from dataclasses import dataclass, field
from functools import partial, wraps
from http import HTTPStatus
from ipaddress import ip_address
from pathlib import Path
from typing import Annotated, Any, Literal


# ============================================================================
# --persist, the client's side: the relay, --status and --stop
# ============================================================================
#
# With --persist, the process a client starts is a relay: it copies the MCP
# wire, unchanged, both ways between its stdio and the user's persistent
# server for the working directory (see "The persistent server", near the
# end), and starts that server when none runs. A client waits for its
# server's first answer, and importing the MCP SDK, trio and ZeroMQ takes
# about a second; so the relay, --status and --stop use the standard library
# alone and run here, before those imports, when this file or its console
# script is the program and the arguments ask for them. Importing the module
# never runs them; main() reaches the same functions when argparse had to
# read the arguments first (an abbreviated --persist, say).
#
# On connecting, each side says one line of JSON before the MCP wire starts:
# the relay its arguments and settings, the server its pid and how its own
# settings differ from those (or why it refuses them).
#
# The files, in the user's private directory (private_dir(), 0700), are named
# after a hash of the working directory's real path:
#   persist-<hash>.sock   the server's socket
#   persist-<hash>.lock   held by the server for its life: one server per directory. It
#                         says the holder's pid and whether it is starting, listening or
#                         ending, so that a server whose socket was removed is still found
#   persist-<hash>.start  held by a relay while it starts a server, and by that server
#                         until it listens: two relays start one, and a relay killed
#                         while it starts one leaves the next to wait for it, not start another
#   persist-<hash>.json   the live server's state (pid, sessions): a server that finds
#                         it on start knows its predecessor died with those sessions
#   persist-<hash>.log    the server's stderr (.log.1: the previous server's); only a
#                         server holding the lock moves it aside, so a live one's never moves

PERSIST_START_WAIT_S = 30.0  # a server has this long to start and say it listens: a cold import on a loaded machine takes seconds
PERSIST_STOP_WAIT_S = 60.0  # --stop waits this long for every kernel to be gone (each has a few seconds' grace)
SOCKET_PATH_MAX = 107 if sys.platform.startswith("linux") else 103  # a Unix socket's sun_path holds 108 bytes (104 on macOS) with its NUL
PUMP_CHUNK = 1 << 16  # the relay copies at most this much per read
TRUE_WORDS = ("1", "true", "yes", "on")  # how a variable says yes to a flag without a value
SERVE_PERSISTENT = "--serve-persistent"  # how a relay starts the server (not for people: the relay passes its start lock's fd)
SERVER_STATES = ("starting", "listening", "ending")  # what a server says of itself in its lock file
STDERR_TAIL_LINES = 20  # lines of a failed kernel's (or persistent server's) log quoted back; here, for the relay
CRASH_REPORT = "Fatal Python error"  # how faulthandler's report of a kernel's crash in native code begins
MODULE_FILE = os.path.abspath(__file__)  # the server is started from the very file the relay runs: a vendored copy or the installed module


def private_dir() -> Path:
    """This user's directory for ipython-mcp's own files: HTTP token files, and the persistent servers' sockets,
    state and logs. The user's runtime directory, else a private one in the temp directory. Decided here only,
    so that a sandbox can hide it from kernels."""
    if (runtime := os.environ.get("XDG_RUNTIME_DIR", "")) and os.path.isabs(runtime):
        return Path(runtime) / "ipython-mcp"
    return Path(tempfile.gettempdir()) / f"ipython-mcp-{os.getuid()}"


def make_private_dir() -> Path:
    """The private directory, made 0700, or SystemExit when it cannot be, or exists and others could get in."""
    directory = private_dir()
    try:
        with suppress(FileExistsError):
            directory.mkdir(mode=0o700)
        info = directory.lstat()
    except OSError as exc:
        raise SystemExit(f"ipython-mcp: cannot make its private directory {directory}: {exc}") from None
    if directory.is_symlink() or not directory.is_dir() or info.st_uid != os.getuid() or info.st_mode & 0o077:
        raise SystemExit(f"ipython-mcp: {directory} must be a directory of yours that only you can open (mode 0700)")
    return directory


@dataclass(frozen=True)
class PersistPlace:
    """Where the persistent server of one working directory keeps its files (see the list above)."""

    directory: str  # the working directory it serves, its real path
    socket: Path
    lock: Path
    start: Path
    state: Path
    log: Path


def persist_place(directory: str) -> PersistPlace:
    """The files of the persistent server for a working directory; SystemExit when they cannot be."""
    real = os.path.realpath(directory)
    stem = make_private_dir() / ("persist-" + hashlib.sha256(os.fsencode(real)).hexdigest()[:16])
    place = PersistPlace(real, *(stem.with_suffix(suffix) for suffix in (".sock", ".lock", ".start", ".json", ".log")))
    if len(os.fsencode(place.socket)) > SOCKET_PATH_MAX:
        raise SystemExit(
            f"ipython-mcp: no persistent server can listen on {place.socket}: the path is {len(os.fsencode(place.socket))} bytes,"
            f" over the {SOCKET_PATH_MAX} a Unix socket's can be. Set XDG_RUNTIME_DIR to a shorter directory"
        )
    return place


def working_directory() -> str:
    """The directory whose persistent server this process uses; SystemExit when it no longer exists."""
    try:
        return os.getcwd()
    except FileNotFoundError:
        raise SystemExit(
            "ipython-mcp: the working directory no longer exists (it was removed after this process was started in it);"
            " --persist serves a directory, so start from one that exists"
        ) from None


def say_waiting(through: str = "") -> None:
    """On a terminal, stdin waits for JSON-RPC no person will type: say so on stderr, in one line (stdout is the wire)."""
    if os.isatty(0):
        print(
            f"ipython-mcp {__version__}: serving MCP on stdio{through}, waiting for an MCP client"
            " (this is no interactive prompt: start it from a client; Ctrl-C quits)",
            file=sys.stderr,
            flush=True,
        )


def _lock(path: Path, timeout: float) -> int | None:
    """A descriptor holding an exclusive flock on path once its holder lets go, or None when it has not within
    timeout. (A flock belongs to the open file, so a child given the descriptor holds it too, until the last copy
    is closed.) SystemExit when the file cannot be made: the directory is read-only, or full."""
    import fcntl  # POSIX only, as --persist is: here, so that importing the module needs none of it

    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    except OSError as exc:
        raise SystemExit(
            f"ipython-mcp: no persistent server can run here: cannot open {path}: {exc.strerror}."
            " Its directory must be writable (set XDG_RUNTIME_DIR to choose another)"
        ) from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return fd
    except BlockingIOError:
        pass

    def give_up(signum: int, frame: types.FrameType | None) -> None:
        raise TimeoutError

    previous = signal.signal(signal.SIGALRM, give_up)
    signal.setitimer(signal.ITIMER_REAL, timeout)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        return fd
    except TimeoutError:
        os.close(fd)
        return None
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


@contextmanager
def _locked(path: Path, timeout: float, busy: str) -> Iterator[int]:
    """Hold an exclusive flock on path, waiting at most timeout for its holder to let go (SystemExit saying ``busy``
    past that)."""
    if (fd := _lock(path, timeout)) is None:
        raise SystemExit(f"ipython-mcp: {busy}")
    try:
        yield fd
    finally:
        os.close(fd)


def declare(lock_fd: int, state: str) -> None:
    """The server says in its lock file what it is doing, for _holder(): one fixed-width record, rewritten in place.
    An empty file (the moment between taking the lock and saying so, or a server that ended) reads as starting."""
    os.pwrite(lock_fd, f"{os.getpid()} {state}".ljust(32).encode() + b"\n", 0)


@dataclass(frozen=True)
class Holder:
    """The server holding a directory's lock, as it said in the lock file (declare())."""

    pid: int | None  # None when it has not said yet
    state: str  # one of SERVER_STATES


def _holder(place: PersistPlace) -> Holder | None:
    """The server that holds the lock, whether or not its socket answers; None when none does. Looked at with a
    shared lock, which two lookers may hold at once, and which only a live server's exclusive one refuses."""
    import fcntl

    try:
        fd = os.open(place.lock, os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:  # no server ever ran here
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        return None
    except BlockingIOError:
        said = os.pread(fd, 64, 0).split()
    finally:
        os.close(fd)
    if len(said) == 2 and said[0].isdigit() and said[1].decode() in SERVER_STATES:
        return Holder(int(said[0]), said[1].decode())
    return Holder(None, "starting")


def _unreachable(place: PersistPlace, holder: Holder) -> str:
    """What a relay and --status say of a live server whose socket does not answer."""
    if holder.state == "starting":
        return f"the persistent server for {place.directory} (pid {holder.pid or 'not said yet'}) is starting; ask again in a moment"
    if holder.state == "ending":
        return f"no persistent server for {place.directory}: the last one (pid {holder.pid}) is shutting its kernels down"
    return (
        f"the persistent server for {place.directory} runs (pid {holder.pid}), but its socket {place.socket} is gone"
        " (removed while it ran), so no client can reach its sessions. `ipython-mcp --persist --stop` ends it and"
        " every kernel in it; the next start makes a new one. Its log: " + str(place.log)
    )


def _connect(place: PersistPlace) -> socket.socket | None:
    """A connection to the running server, or None when none listens (no socket, or one a dead server left)."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.connect(str(place.socket))
    except (FileNotFoundError, ConnectionRefusedError):
        sock.close()
        return None
    except OSError as exc:
        sock.close()
        raise SystemExit(f"ipython-mcp: cannot reach the persistent server at {place.socket}: {exc}") from None
    return sock


def _say(sock: socket.socket, message: dict[str, object]) -> None:
    sock.sendall(json.dumps(message).encode() + b"\n")


def _hear(sock: socket.socket, place: PersistPlace) -> tuple[dict[str, Any], bytes]:
    """The server's first line, and whatever came after it."""
    sock.settimeout(PERSIST_START_WAIT_S)
    data = b""
    try:
        while b"\n" not in data:
            chunk = sock.recv(PUMP_CHUNK)
            if not chunk:
                raise SystemExit(f"ipython-mcp: the persistent server for {place.directory} closed the connection without answering; see {place.log}")
            data += chunk
    except TimeoutError:
        raise SystemExit(f"ipython-mcp: the persistent server for {place.directory} did not answer within {PERSIST_START_WAIT_S:g} s; see {place.log}") from None
    sock.settimeout(None)
    line, rest = data.split(b"\n", 1)
    return json.loads(line), rest


def log_tail(log: Path | bytes) -> list[str]:
    """A log's last non-blank lines, as a failure quotes them; from its last 64 KiB only, however long it grew.
    ``log`` is a path, or the end of a log the server keeps itself (a kernel's: KernelLog)."""
    if isinstance(log, bytes):
        data = log[-65536:]
    else:
        try:
            with open(log, "rb") as file:
                file.seek(max(0, file.seek(0, os.SEEK_END) - 65536))
                data = file.read()
        except OSError:  # no log: the process never started
            return []
    lines = [line for line in data.decode(errors="replace").splitlines() if line.strip()]
    crashes = [i for i, line in enumerate(lines) if CRASH_REPORT in line]
    if not crashes:
        return lines[-STDERR_TAIL_LINES:]
    # A crash's report (faulthandler's) reads from its top, where the frame that faulted is. It may start mid-line:
    # output the kernel echoes to its log a piece at a time can lose its newline to the crash.
    first, *rest = lines[crashes[-1] :]
    return [first[first.index(CRASH_REPORT) :], *rest][:STDERR_TAIL_LINES]


def _start_server(place: PersistPlace, argv: list[str]) -> socket.socket:
    """Start the persistent server, detached, and connect to it; or connect to the one another relay started.

    The new server runs this file with this interpreter, in its own session
    (no terminal's hangup reaches it, no client's kill of its process group),
    stdio on /dev/null and its log. It shares this relay's start lock and lets
    go of it once it listens: every relay then waits for that lock, this one
    as any other, and connects. No polling; a server that dies first lets go
    at once; and a relay killed meanwhile leaves the server to the next relay.
    """
    busy = f"a persistent server for {place.directory} has been starting for over {PERSIST_START_WAIT_S:g} s; see {place.log}"
    with _locked(place.start, PERSIST_START_WAIT_S + 5, busy) as start_fd:
        if (server := _connect(place)) is not None:  # started by another relay while this one waited
            return server
        if (holder := _holder(place)) is not None and holder.state != "ending":  # one ending: the new one waits for it
            raise SystemExit(f"ipython-mcp: {_unreachable(place, holder)}")
        try:
            with open(place.log, "ab") as log_file:  # moved aside by the new server once it holds the lock, not here
                process = subprocess.Popen(
                    [sys.executable, MODULE_FILE, *argv, SERVE_PERSISTENT, str(start_fd)],
                    stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=log_file,
                    cwd=place.directory, start_new_session=True, pass_fds=(start_fd,),
                )
        except OSError as exc:
            raise SystemExit(f"ipython-mcp: could not start the persistent server for {place.directory}: {exc}") from None
    if (fd := _lock(place.start, PERSIST_START_WAIT_S)) is None:
        process.kill()
        why = f"it did not listen within {PERSIST_START_WAIT_S:g} s, and was killed"
    else:
        os.close(fd)
        if (server := _connect(place)) is not None:
            return server
        why = "it let go of the start lock without listening"  # by exiting, or about to
        with suppress(subprocess.TimeoutExpired):
            why = f"it exited with status {process.wait(timeout=PERSIST_START_WAIT_S)}"
    ends = "\n".join(log_tail(place.log)) or "(nothing)"
    raise SystemExit(f"ipython-mcp: could not start the persistent server for {place.directory}: {why}. Its log, {place.log}, ends:\n{ends}")


def _pump(server: socket.socket, first: bytes) -> bool:
    """Copy bytes both ways until the server closes its end; say whether the client had left first.

    One loop, one thread: select() says which side is ready. stdin's bytes go
    to the server and the server's to stdout, each through a buffer whose
    source is not read while it is full, so neither side can make the relay
    grow. stdin's EOF (the client left) closes the sending half once the
    buffer is sent, so the server sees the client leave. stdin and stdout stay
    as the client made them (blocking): select() says when they are ready, and
    a write of at most PIPE_BUF bytes to a ready pipe does not block. The
    socket is the relay's own, non-blocking.
    """
    server.setblocking(False)
    up, down = bytearray(), bytearray(first)  # bound for the server, bound for stdout
    client_open, half_closed = True, False
    try:
        while True:
            readers = ([0] if client_open and len(up) < PUMP_CHUNK else []) + ([server] if len(down) < PUMP_CHUNK else [])
            writers = ([server] if up else []) + ([1] if down else [])
            readable, writable, _ = select.select(readers, writers, [])
            if 1 in writable:
                del down[: os.write(1, down[: select.PIPE_BUF])]
            if server in writable:
                del up[: server.send(up)]
            if 0 in readable:
                chunk = os.read(0, PUMP_CHUNK)
                up += chunk
                client_open = bool(chunk)
            if not client_open and not up and not half_closed:
                server.shutdown(socket.SHUT_WR)
                half_closed = True
            if server in readable:
                if not (chunk := server.recv(PUMP_CHUNK)):  # the server ended this connection: what it said goes out first
                    server.setblocking(True)
                    while down:
                        del down[: os.write(1, down)]
                    return not client_open
                down += chunk
    except OSError:  # the client closed stdout, or the connection broke: nothing more to carry
        return True


def _settings_environ() -> dict[str, str]:
    """The variables that make settings (Config.from_environ reads these), for the server to compare with its own."""
    return {k: v for k, v in os.environ.items() if k.startswith("IPYTHON_MCP_") or k == "MCP_TOOL_TIMEOUT"}


def relay(argv: list[str]) -> int:
    """Serve a client on stdio through the persistent server for this directory, starting it when none runs."""
    place = persist_place(working_directory())
    say_waiting(f" through the persistent server for {place.directory}")
    server = _connect(place) or _start_server(place, argv)
    with server:
        _say(server, {"ipython-mcp": "relay", "version": __version__, "module": MODULE_FILE, "argv": argv, "environ": _settings_environ()})
        answer, rest = _hear(server, place)
        if "refused" in answer:
            print(f"ipython-mcp: the persistent server for {place.directory} (pid {answer.get('pid')}) refused: {answer['refused']}", file=sys.stderr)
            return 2
        for difference in answer.get("differences", ()):
            print(f"ipython-mcp: {difference}", file=sys.stderr, flush=True)
        if not _pump(server, rest):
            print(f"ipython-mcp: the persistent server for {place.directory} closed the connection: it was stopped, or ended; see {place.log}", file=sys.stderr)
            return 1
    return 0


def ask_server(action: str) -> int:
    """--status or --stop: ask the running server and print its answer. --status exits 1 when none runs; --stop
    returns once every kernel is gone, which is when the server closes this connection."""
    place = persist_place(working_directory())
    server = _connect(place)
    if server is None:
        return _unanswered(place, action)
    with server:
        _say(server, {"ipython-mcp": action})
        answer, _ = _hear(server, place)
        server.settimeout(PERSIST_STOP_WAIT_S)
        try:
            while action == "stop" and server.recv(PUMP_CHUNK):
                pass
        except TimeoutError:
            print(f"ipython-mcp: the persistent server for {place.directory} (pid {answer['pid']}) is still stopping after {PERSIST_STOP_WAIT_S:g} s; see {place.log}", file=sys.stderr)
            return 1
    print(answer["text"])
    return 0


def _unanswered(place: PersistPlace, action: str) -> int:
    """--status or --stop when no server answers on the socket: the lock says whether one runs all the same (its
    socket removed, starting, or ending). --stop ends it by its pid, and returns once it let go of its lock, which it
    does as it exits, every kernel gone."""
    if (holder := _holder(place)) is None:
        print(f"no persistent server for {place.directory}" + (": nothing to stop" if action == "stop" else ""))
        return 0 if action == "stop" else 1
    if action == "status":
        print(_unreachable(place, holder))
        return 1
    if holder.state != "ending" and holder.pid is not None:
        with suppress(ProcessLookupError):
            os.kill(holder.pid, signal.SIGTERM)
    if (fd := _lock(place.lock, PERSIST_STOP_WAIT_S)) is None:
        print(f"ipython-mcp: the persistent server for {place.directory} (pid {holder.pid}) is still stopping after {PERSIST_STOP_WAIT_S:g} s; see {place.log}", file=sys.stderr)
        return 1
    os.close(fd)
    how = {"starting": "as it started", "listening": "whose socket was gone", "ending": "which was already ending"}[holder.state]
    print(f"stopped the persistent server for {place.directory} (pid {holder.pid}), {how}: every kernel gone")
    return 0


def persist_command(argv: list[str], action: str) -> int:
    """Run the relay ("relay"), --status ("status") or --stop ("stop"); the exit status."""
    try:
        return relay(argv) if action == "relay" else ask_server(action)
    except KeyboardInterrupt:  # Ctrl-C in a terminal: the persistent server goes on
        return 130


def _quick_persist_action(argv: list[str]) -> str | None:
    """The persist action these arguments ask for when it needs no argparse (the common spellings); else None."""
    if "--persist" not in argv and os.environ.get("IPYTHON_MCP_PERSIST", "").lower() not in TRUE_WORDS:
        return None
    if any(arg in ("-h", "--help", "--version", SERVE_PERSISTENT) or arg.startswith("--transport") for arg in argv) or {"--status", "--stop"} <= set(argv):
        return None  # for argparse to answer, or refuse
    return "status" if "--status" in argv else "stop" if "--stop" in argv else "relay"


if __name__ == "__main__" or os.path.basename(sys.argv[0] if sys.argv else "") == "ipython-mcp":
    if (_action := _quick_persist_action(sys.argv[1:])) is not None:
        sys.exit(persist_command(sys.argv[1:], _action))

import trio  # noqa: E402 - after the relay, which must not wait for these (see above)
import zmq  # noqa: E402
from mcp.server.context import CallNext, HandlerResult, ServerRequestContext  # noqa: E402
from mcp.server.extension import Extension, MethodBinding  # noqa: E402
from mcp.server.mcpserver import Context, MCPServer  # noqa: E402
from mcp.server.mcpserver.exceptions import ToolError  # noqa: E402
from mcp_types import CallToolRequestParams, CallToolResult, ElicitResult, ImageContent, InputRequiredResult, RequestParams, TextContent, ToolAnnotations  # noqa: E402
from mcp_types.version import MODERN_PROTOCOL_VERSIONS  # noqa: E402
from pydantic import Field  # noqa: E402

if typing.TYPE_CHECKING:  # names for annotations: each module is imported where it is used, and only then
    from httpx2 import Response
    from mcp.server.lowlevel import Server as LowlevelServer
    from mcp.server.transport_security import TransportSecuritySettings
    from nbformat import NotebookNode
    from trio_websocket import WebSocketConnection


log = logging.getLogger("ipython_mcp")


# ============================================================================
# Constants
# ============================================================================

# time
CLIENT_TIMEOUT_MARGIN_S = 2.0  # reply this long before the client's own MCP_TOOL_TIMEOUT gives up
MAX_TIMEOUT_S = 24 * 3600.0  # longer durations are clamped: a day is beyond any client's patience
NUMBER_WAIT_S = 1.0  # a reply waits this long at most for the kernel to number its cell (it takes milliseconds)
INPUT_WAIT_S = 300.0  # a cell's input() waits this long for the user's answer, then raises EOFError
TERMINATE_GRACE_S = 1.0  # between SIGTERM and SIGKILL when a kernel is shut down
IOPUB_CHECK_S = 0.25  # how long to wait for iopub to echo a kernel_info before asking again
INSTALL_TIMEOUT_S = 600.0  # an ipykernel install on a slow link; longer means something is wrong
PROGRESS_INTERVAL_S = 1.0  # progress notifications at most this often
VARIABLES_TIMEOUT_S = 10.0  # describing the namespace must not hold a session: past this it is interrupted

# sizes and bounds
MESSAGE_BUFFER = 256  # kernel messages queued per request before the reader waits
INBOX_SIZE = 256  # requests and events queued for a session's owner before their senders wait (flow control)
MAX_SESSION_NAME = 64  # names are shown in every listing; keep them short
MAX_OUTPUT_CHARS = 40_000  # ceiling for max_output_chars: Claude Code replaces a result over ~45,000 characters with a preview
MIN_OUTPUT_CHARS = 200  # floor for --output-chars and max_output_chars: room for a status line and a few lines of output
OUTPUT_LINE_CHARS = 2_000  # a longer line in an output reply is cut, saying how much
RICH_TEXT_MAX = 10_000  # markdown/JSON longer than this falls back to text/plain
LONG_LINE = 64 * 1024  # a "line" that never ends is cut here so memory stays bounded
KERNEL_LOG_KEPT = 64 * 1024  # the end of a kernel's log kept in memory: as much as log_tail reads, for a died reply
KERNEL_LOG_READ = 64 * 1024  # one read of a kernel's output pipe: a pipe's whole default buffer
KERNEL_LOG_CATCH_UP = 1024 * 1024  # a look at a kernel's log reads this much at most: a dead kernel left a pipe's worth, a flood never ends
REDRAW_COLLAPSE = 4096  # a line redrawn with \r is collapsed to its current state past this size
SPOOL_CHARS = 256 * 1024 * 1024  # one cell's saved output (text and images); past it lines are only counted
SPOOL_MEMORY = 32 * 1024  # a cell's output up to this size stays in memory; past it, the spool is a file
SPOOL_READ_CHUNK = 4 * 1024 * 1024  # output reads the spool this much at a time, in a worker thread: memory stays bounded
SPOOL_MARK_BYTES = 1024 * 1024  # the spool notes where a line starts this often, so a line's number is found without counting all before it
NOTEBOOK_CHARS = 4 * 1024 * 1024  # a cell's outputs in the notebook record (text and images); past it, counted only
VARIABLES_SHOWN = 200  # rows in a variables reply
VARIABLE_VALUE_CHARS = 80  # a value's short repr in that table

# what clients send: bounds on what is read, written and echoed
SHOWN_CHARS = 60  # an argument echoed in a reply is cut to this many characters, its length said
SHOWN_PATH_CHARS = 300  # a path named in a reply (the notebook written, the one refused) is cut to this
MAX_ERROR_CHARS = 4000  # a tool's error reply is cut to this: errors quote logs, and a log line can be long
NAME_MAX_BYTES = 255  # a file name's limit on the file systems this runs on (ext4, APFS, NTFS: 255)
PATH_MAX_BYTES = 4095  # a path's limit on Linux (PATH_MAX less its NUL)
SESSION_FILE_BYTES = 200  # a session's file name (UTF-8): with ".ipynb" and a temporary name's affixes, under NAME_MAX_BYTES
CONNECTION_FILE_BYTES = 64 * 1024  # a kernel's connection file is a few hundred bytes; anything much larger is not one
NOTEBOOK_CHECK_BYTES = 256 * 1024 * 1024  # a notebook read to see whether this server wrote it; larger ones are taken as not
MAX_GREP_CHARS = 4096  # a grep pattern is a search term: longer ones are refused
GREP_FALSE_LINES = 64  # an anchored grep searched by its literal goes back to the whole pattern in a block after this many lines in vain

# tasks (the MCP tasks extension)
TASK_FIRST_WAIT_S = 1.0  # an execute offered as a task answers plainly if its cell ends within this
TASK_TTL_S = 3600.0  # a finished task is kept at least this long after it finished...
TASKS_KEPT = 256  # ...and at most this many finished tasks (each holds its result: up to the reply's caps)
TASK_POLL_MS = 1000  # the poll interval a task suggests: a person is watching, not a loop

# kernels on a Jupyter server
GATEWAY_TIMEOUT_S = 30.0  # one REST call to a Jupyter server; creating a kernel can take this long on a busy cluster
RECONNECT_DELAYS_S = (0.2, 0.5, 1.0, 2.0, 4.0)  # backoff between websocket reconnects, about 8 s in all
WS_MAX_MESSAGE = 64 * 1024 * 1024  # a kernel message with images can be large; the library's default is 1 MiB

# names on the wire
META_KEY = "ipython-mcp/execute"  # the one namespaced _meta key carrying the record
TASKS_EXTENSION = "io.modelcontextprotocol/tasks"  # the MCP tasks extension's identifier
DELIM = b"<IDS|MSG>"  # the Jupyter wire protocol's separator between routing ids and the message
INPUT_EOF = "\x04"  # the input_reply value that makes ipykernel's input() raise EOFError, as Ctrl-D would
INPUT_STATE_VERSION = 1  # the plaintext inside a sealed requestState (the SDK seals it); another version is refused

# secrets: getpass() answered on a one-time page, masked in everything shown or saved
MASK = "********"  # what a secret becomes wherever it would reach the model or a disk
MIN_MASKED_SECRET = 4  # a shorter "secret" would mask ordinary words in every line; it is still never echoed
MIN_CUT_FRAGMENT = 3  # where a value is shown cut (CUTS), a secret's fragment this long or longer is masked too
CUTS = ("...", "\u2026")  # how reprlib, pandas, NumPy ("...") and rich ("…") show that they shortened a value
PAGE_PATH = "/ipython-mcp/secret/"  # where the one-time pages are served; the rest of the path is the page's credential
PAGE_TOKEN_BYTES = 32  # 256 bits in a page's URL: beyond guessing, and it works once
PAGE_MAX_HEAD = 16 * 1024  # request line and headers of a page request; a browser sends about 1 KiB
PAGE_MAX_BODY = 64 * 1024  # the posted form: a secret and its field name; larger is refused with 413
PAGE_IO_TIMEOUT_S = 10.0  # a browser sends a request in milliseconds; a stalled connection is dropped after this
PAGES_GONE_KEPT = 64  # expired pages remembered, so a late visit hears why the page is gone

# sandboxed kernels (the rest of their constants are in their section)
MIN_PROCESS_LIMIT = 32  # an idle kernel already runs about 15 threads, and each counts as a process


# ============================================================================
# Settings: one table
# ============================================================================


Least = Literal["positive", "zero"] | int  # a number setting's floor: above 0, 0 or more, or at least this


def setting(default: Any, help: str, *, flag: str | None, variable: str | None = None, least: Least | None = None, secret: bool = False,
            also: tuple[str, Callable[[str], object]] | None = None, choices: tuple[str, ...] = (), metavar: str | None = None) -> Any:
    """A Config field that is also a command-line flag and an environment variable (IPYTHON_MCP_ and the flag's name).
    ``least``: the smallest number accepted; a ``secret`` is never shown, nor left in the environment kernels inherit;
    ``also``: another variable that sets it, read before its own, and how."""
    variable = variable or "IPYTHON_MCP_" + str(flag).removeprefix("--").upper().replace("-", "_")
    meta = {"flag": flag, "variable": variable, "help": help, "least": least, "secret": secret, "also": also, "choices": choices, "metavar": metavar}
    return field(default=default, repr=not secret, metadata=meta)


def too_small(value: float, least: Least) -> bool:
    """Whether a number is below its floor (NaN always is): one rule for settings and tool arguments."""
    return not (value > 0 if least == "positive" else value >= (0 if least == "zero" else least))


def least_words(least: Least, seconds: bool = False) -> str:
    if least == "positive":
        return "a positive number" + " of seconds" * seconds
    return ("0 or more" + " seconds" * seconds) if least == "zero" else f"at least {least}"


def _comma_separated(text: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in text.split(",") if part.strip())


def _path(text: str) -> Path:
    return Path(text).expanduser()


class Size(int):
    """A number of bytes, written as 300M, 2G, 1.5GiB or plain bytes; shown as "2 GiB"."""

    UNITS = {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3, "t": 1024**4}

    def __new__(cls, text: str | int) -> "Size":
        if isinstance(text, int):
            return super().__new__(cls, text)
        match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(?:i?b)?\s*", str(text), re.IGNORECASE)
        if match is None or float(match[1]) <= 0:
            raise ValueError(f"{text!r} is not a size such as 512M or 2G")
        return super().__new__(cls, int(float(match[1]) * cls.UNITS[match[2].lower()]))

    def __str__(self) -> str:
        for unit, name in ((1024**4, "TiB"), (1024**3, "GiB"), (1024**2, "MiB"), (1024, "KiB")):
            if self >= unit:
                return f"{self / unit:.3g} {name}"
        return f"{int(self)} bytes"


@dataclass(frozen=True)
class Config:
    """Every setting, declared once: its field and default here give the flag, the variable and the help text.

    Precedence: the default, then the environment variable, then the flag.
    """

    transport: str = setting("stdio", "stdio, or streamable-http for clients that cannot start processes (needs hypercorn)", flag="--transport", choices=("stdio", "streamable-http"))
    reply_after_s: float = setting(50.0, "seconds a call waits for its cell before replying 'running' (else MCP_TOOL_TIMEOUT, the client's tool timeout in ms, less 2 s): under the 60 s after which many clients give up", flag="--reply-after", least="zero", also=("MCP_TOOL_TIMEOUT", lambda ms: max(0.0, float(ms) / 1000 - CLIENT_TIMEOUT_MARGIN_S)))
    default_timeout_s: float | None = setting(None, "a cell's hard limit in seconds when execute gives none (default: no limit)", flag="--timeout", least="positive")
    interrupt_grace_s: float = setting(3.0, "seconds a cell has to obey SIGINT before its kernel is killed", flag="--interrupt-grace", least="positive")
    start_timeout_s: float = setting(60.0, "seconds a kernel has to start: a cold interpreter importing ipykernel can take many", flag="--start-timeout", least="positive")
    max_sessions: int = setting(32, "live sessions at once: each kernel costs 50-100 MB", flag="--max-sessions", least="positive")
    output_chars: int = setting(20_000, "text budget per reply: well under the ~25k-token cap of common clients", flag="--output-chars", least=MIN_OUTPUT_CHARS)
    max_images: int = setting(8, "images per reply; the rest are named by their files", flag="--max-images", least="positive")
    max_image_bytes: int = setting(4 * 1024 * 1024, "decoded image bytes per reply", flag="--max-image-bytes", least="positive")
    keep_cells: int = setting(20, "cells per session whose output stays on disk for the output tool", flag="--keep-cells", least="positive")
    spares: int = setting(1, "default-env kernels kept started, so a new session's first cell answers at once (0: none)", flag="--spares", least="zero")
    grep_timeout_s: float = setting(10.0, "seconds an output(grep=...) search may take before it is stopped with a message (a backtracking pattern can take forever)", flag="--grep-timeout", least="positive")
    notebook_dir: Path | None = setting(None, "keep each session's notebook live in this directory, rewritten after every cell", flag="--notebook-dir", metavar="DIR")
    envs_dir: Path = setting(Path("~/envs").expanduser(), "where bare env names are looked up (then the active conda's envs/)", flag="--envs-dir", metavar="DIR")
    auto_install_ipykernel: bool = setting(False, "install ipykernel into an env that lacks it, on first use (uv when on PATH, else the env's pip)", flag="--auto-install-ipykernel")
    gateway_url: str | None = setting(None, "create every kernel on this Jupyter Server or Enterprise Gateway (http[s]://host:port); env then names a kernelspec", flag="--gateway-url", metavar="URL")
    gateway_token: str | None = setting(None, "its token (better set as the variable: flags show in process listings)", flag="--gateway-token", secret=True, metavar="TOKEN")
    persist: bool = setting(False, "relay to this user's persistent server for the working directory, started when none runs: its sessions and running cells outlive the client (see --linger, --status, --stop)", flag="--persist")
    linger_s: float = setting(8 * 3600.0, "--persist: the server shuts its kernels down and exits after this many seconds with no client connected and no cell running", flag="--linger", least="zero")
    host: str = setting("127.0.0.1", "streamable-http: the address to bind", flag="--host")
    port: int = setting(8000, "streamable-http: the port (0: any free one); the endpoint is /mcp", flag="--port", least="zero")
    token: str | None = setting(None, "streamable-http: the token every request must carry; a variable only, as flags show in process listings", flag=None, variable="IPYTHON_MCP_TOKEN", secret=True)
    token_file: Path | None = setting(None, "streamable-http: the token is this file's first line, unless IPYTHON_MCP_TOKEN is set (with neither: a fresh random token)", flag="--token-file", metavar="PATH")
    no_auth: bool = setting(False, "streamable-http: accept requests without the token; refused unless --host is a loopback address", flag="--no-auth")
    allowed_hosts: tuple[str, ...] = setting((), "streamable-http: also accept this name in the Host and Origin headers (repeatable; the variable takes a comma-separated list)", flag="--allowed-host", metavar="NAME")
    certfile: Path | None = setting(None, "streamable-http: serve HTTPS with this certificate (PEM; needs --keyfile)", flag="--certfile", metavar="PATH")
    keyfile: Path | None = setting(None, "streamable-http: the certificate's private key (PEM)", flag="--keyfile", metavar="PATH")
    max_body_bytes: int = setting(32 * 1024 * 1024, "streamable-http: larger request bodies are refused with 413 (the SDK's own 4 MiB is tight for a cell carrying data)", flag="--max-body-bytes", least="positive")
    sandbox: bool = setting(False, "confine every kernel started here: files, network, processes (see the README's 'Sandboxed sessions'); refuses to start where that cannot be had", flag="--sandbox")
    sandbox_write: tuple[str, ...] = setting((), "--sandbox: kernels may also write under this path (repeatable; the variable takes a comma-separated list)", flag="--sandbox-write", metavar="PATH")
    sandbox_network: bool = setting(False, "--sandbox: kernels may use the network (else they have none: no TCP, UDP or name lookups)", flag="--sandbox-network")
    memory_limit: Size | None = setting(None, "memory per kernel, such as 2G (with or without --sandbox): a memory cgroup where the server may make one, else an address-space rlimit", flag="--memory-limit", metavar="SIZE")
    process_limit: int = setting(256, "--sandbox: processes and threads per kernel (a pids cgroup where the server may make one, else RLIMIT_NPROC in the kernel's user namespace)", flag="--process-limit", least=MIN_PROCESS_LIMIT)
    log_level: str = setting("WARNING", "stderr log level", flag="--log-level", choices=("DEBUG", "INFO", "WARNING", "ERROR"))

    @classmethod
    def settings(cls) -> Iterator[tuple[dataclasses.Field[Any], Callable[[str], object]]]:
        """Each setting's field and the function that reads its value from text."""
        hints = typing.get_type_hints(cls)
        for item in dataclasses.fields(cls):
            hint = hints[item.name]
            if isinstance(hint, types.UnionType):  # X | None
                hint = next(arg for arg in typing.get_args(hint) if arg is not type(None))
            kind = typing.get_origin(hint) or hint
            yield item, {tuple: _comma_separated, Path: _path}.get(kind, kind)

    @classmethod
    def from_environ(cls, environ: dict[str, str] | os._Environ[str] = os.environ, **overrides: object) -> "Config":
        """Defaults, then environment variables, then explicit overrides (the CLI's flags; a repeated one's list)."""
        values: dict[str, Any] = {}
        for item, read in cls.settings():
            also, variable = item.metadata["also"], item.metadata["variable"]
            for name, read_text in ([also] if also else []) + [(variable, read)]:
                if text := environ.get(name, ""):
                    try:
                        values[item.name] = text.lower() in TRUE_WORDS if read_text is bool else read_text(text)
                    except ValueError:
                        raise SystemExit(f"ipython-mcp: {name}={text!r} is not a valid {read.__name__}") from None
        values.update({k: tuple(v) if isinstance(v, list) else v for k, v in overrides.items() if v is not None})
        return cls(**values)

    @classmethod
    def add_arguments(cls, parser: argparse.ArgumentParser) -> None:
        for item, read in cls.settings():
            meta = item.metadata
            if meta["flag"] is None:  # a variable only
                continue
            default = f" (default {item.default})" if item.default not in (None, False, ()) else ""
            help_text = f"{meta['help']}{default}; variable {meta['variable']}"
            if read is bool:
                parser.add_argument(meta["flag"], dest=item.name, action="store_true", default=None, help=help_text)
            elif read is _comma_separated:  # repeatable on the command line
                parser.add_argument(meta["flag"], dest=item.name, action="append", metavar=meta["metavar"], help=help_text)
            else:
                metavar = meta["metavar"] or {float: "S", int: "N"}.get(read)  # type: ignore[call-overload]
                parser.add_argument(meta["flag"], dest=item.name, type=read, choices=meta["choices"] or None, metavar=metavar, help=help_text)

    def check(self) -> None:
        """Refuse settings that cannot work together, with the reason (ValueError)."""
        for item, read in self.settings():
            least, value = item.metadata["least"], getattr(self, item.name)
            if least is not None and value is not None and too_small(value, least):
                raise ValueError(f"{item.metadata['flag']} must be {least_words(least, read is float)}, got {value}")
        if self.persist and self.transport != "stdio":
            raise ValueError("--persist serves clients that start it over stdio; streamable HTTP is a persistent server already")
        if self.no_auth and self.token_file:
            raise ValueError("--no-auth and --token-file contradict each other: choose one")
        if self.no_auth and not is_loopback(self.host):
            raise ValueError(
                f"--no-auth is refused with --host {self.host}: without the token anyone who can reach that address "
                "runs code as you; bind a loopback address (127.0.0.1) or keep the token"
            )
        if (self.certfile is None) != (self.keyfile is None):
            raise ValueError("--certfile and --keyfile go together")
        if not self.sandbox and (self.sandbox_write or self.sandbox_network):
            raise ValueError("--sandbox-write and --sandbox-network shape --sandbox, which is off: add --sandbox")


# ============================================================================
# A session's lifecycle, and what a reply can say
# ============================================================================


# A session's lifecycle, as h11 keeps a connection's: the owner task says what happened, this table decides
# the state that follows, and Session._move applies it; what cannot happen in a state fails loudly, naming it.
class State(enum.Enum):
    STARTING = "starting"  # a kernel is being started, joined or restarted
    IDLE = "idle"  # a kernel is up and no cell runs
    BUSY = "busy"  # a cell runs
    DEAD = "dead"  # no kernel: not started yet, died, killed, or reset
    CLOSED = "closed"  # shut down; the owner task ends


class Happened(enum.Enum):
    START = "a kernel start began"
    KERNEL_UP = "its kernel came up"
    START_FAILED = "its kernel failed to start"
    CELL_SENT = "a cell was sent to the kernel"
    CELL_ENDED = "the running cell ended"  # before its kernel is let go of, so that it keeps what the kernel said
    KERNEL_DROPPED = "its kernel was let go of"  # died, killed, reset, or given up on while it started
    SHUT_DOWN = "it was shut down"  # once its kernel is let go of


TRANSITIONS: dict[State, dict[Happened, State]] = {
    State.DEAD: {Happened.START: State.STARTING, Happened.KERNEL_DROPPED: State.DEAD, Happened.SHUT_DOWN: State.CLOSED},
    State.STARTING: {Happened.KERNEL_UP: State.IDLE, Happened.START_FAILED: State.DEAD, Happened.KERNEL_DROPPED: State.DEAD},
    State.IDLE: {Happened.CELL_SENT: State.BUSY, Happened.START: State.STARTING, Happened.KERNEL_DROPPED: State.DEAD},  # START: restarted in place
    State.BUSY: {Happened.CELL_ENDED: State.IDLE},
    State.CLOSED: {},
}


# What a reply says of its cell. running, busy and idle are answers about a
# session whose cell outlives the call; the others say how a cell ended.
Status = Literal["ok", "error", "timeout", "cancelled", "died", "env_error", "running", "busy", "idle"]


# ============================================================================
# Errors
# ============================================================================


class EnvError(Exception):
    """The env could not be resolved or cannot run a kernel; the message carries a hint."""


class KernelStartError(Exception):
    """The kernel process did not come up; the message quotes its log."""


class GatewayError(KernelStartError):
    """The Jupyter server could not be reached, refused us, or failed a request."""


# ============================================================================
# What clients send: echoes kept short, paths checked, files read and written safely
# ============================================================================
#
# A client names paths (cwd, env, export's path, attach's connection file),
# and the server writes files a person may have open (--notebook-dir, export).
# The rules, each in one place: an argument a reply echoes is cut short
# (shown); a path argument a system call would choke on is refused naming the
# argument (check_path); a file a client named is read only if it is a
# regular file, opened without blocking and never on the event loop
# (read_regular_file); a file is written under a random name made with
# O_EXCL beside its target, then renamed over it, and removed on any failure
# (replace_file); and a file is replaced only if this server wrote it and it
# has not changed since (WrittenFiles).


class Refused(Exception):
    """A file the server will not replace; ``final`` when overwrite=true would not change that."""

    def __init__(self, message: str, final: bool = False) -> None:
        super().__init__(message)
        self.final = final


def shown(value: str, limit: int = SHOWN_CHARS) -> str:
    """An argument as a reply echoes it: its repr, cut to ``limit`` characters, with its length said."""
    if len(value) <= limit:
        return repr(value)
    return f"{value[:limit]!r}… ({len(value)} characters)"


def check_path(argument: str, value: str) -> None:
    """Refuse a path no system call would take, naming the argument (ToolError)."""
    if "\x00" in value:
        raise ToolError(f"{argument} {shown(value)} contains a NUL character, which no path may hold")
    try:
        encoded = os.fsencode(value)
    except UnicodeEncodeError:
        raise ToolError(f"{argument} {shown(value)} is not valid Unicode (a lone surrogate): no file has that name") from None
    if len(encoded) > PATH_MAX_BYTES:
        raise ToolError(f"{argument} {shown(value)} is {len(encoded)} bytes long; a path may have {PATH_MAX_BYTES} at most")
    longest = max(encoded.split(b"/"), key=len)
    if len(longest) > NAME_MAX_BYTES:
        name = os.fsdecode(longest)
        raise ToolError(f"{argument} {shown(value)} has a name of {len(longest)} bytes ({shown(name)}); a file name may have {NAME_MAX_BYTES} at most")


def _file_kind(mode: int) -> str:
    kinds = ((stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a FIFO"), (stat.S_ISCHR, "a character device"),
             (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"), (stat.S_ISLNK, "a symbolic link"))
    return next((kind for test, kind in kinds if test(mode)), "not a file")


def read_regular_file(path: Path, limit: int, check: Callable[[os.stat_result], None] | None = None) -> bytes:
    """The bytes of ``path`` if it is a regular file of at most ``limit`` bytes (that ``check`` does not refuse),
    else OSError saying what it is.

    Opened non-blocking, so a FIFO or a device is refused rather than waited on;
    still, call it from a worker thread: any disk can be slow.
    """
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC | getattr(os, "O_NOCTTY", 0))
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise OSError(f"{shown(str(path), SHOWN_PATH_CHARS)} is not a regular file ({_file_kind(info.st_mode)})")
        if info.st_size > limit:
            raise OSError(f"{shown(str(path), SHOWN_PATH_CHARS)} is {info.st_size} bytes, more than the {limit} expected")
        if check is not None:
            check(info)
        chunks = []
        while chunk := os.read(fd, 1 << 20):
            chunks.append(chunk)
        return b"".join(chunks)
    finally:
        os.close(fd)


def replace_file(path: Path, data: bytes, mode: int = 0o666, within: tuple[str, ...] | None = None) -> os.stat_result:
    """Write ``data`` to ``path`` in one step, and return what the new file looks like (for WrittenFiles).

    A temporary file with a random name is created beside the target with
    O_EXCL (so never through a link planted at a name it could guess), with
    ``mode`` less the umask (by default the mode any new file of the user's
    gets), then renamed over the target; a reader sees the old file or the
    new one. On any failure the temporary file is removed. Both steps name
    the directory by a descriptor, opened once: with ``within`` (real paths),
    the directory it really is must lie in one of them, whatever links a
    sandboxed kernel made of the path meanwhile (Refused otherwise).
    """
    directory = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        if within is not None:
            real = os.readlink(f"/proc/self/fd/{directory}")
            if not any(Path(real).is_relative_to(root) for root in within):
                raise Refused(f"{shown(str(path.parent), SHOWN_PATH_CHARS)} is {real}, outside {', '.join(within)}: a sandboxed session's files"
                              " are written only where its kernel may write", final=True)
        for _ in range(8):  # a clash of 64 random bits is next to impossible; a few tries make it certain
            temporary = f".ipython-mcp-{secrets.token_hex(8)}.tmp"
            try:
                fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, mode, dir_fd=directory)
                break
            except FileExistsError:  # the name is taken: draw another
                continue
        else:
            raise FileExistsError(f"could not make a temporary file beside {path}")
        try:
            with os.fdopen(fd, "wb") as file:
                file.write(data)
                written = os.fstat(file.fileno())
            os.replace(temporary, path.name, src_dir_fd=directory, dst_dir_fd=directory)
        except BaseException:
            with suppress(OSError):  # the failure being raised is the one to tell
                os.unlink(temporary, dir_fd=directory)
            raise
    finally:
        os.close(directory)
    return written


def notebook_digest(notebook: dict[str, Any]) -> str:
    """What an unedited notebook of this server's says of itself: SHA-256 of its JSON without this field."""
    metadata = notebook.get("metadata") or {}
    ours = {key: value for key, value in (metadata.get("ipython-mcp") or {}).items() if key != "sha256"}
    content = {**notebook, "metadata": {**metadata, "ipython-mcp": ours}}
    return hashlib.sha256(json.dumps(content, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode()).hexdigest()


class WrittenFiles:
    """The notebooks this server wrote, so that it replaces a file only if it wrote it for that session
    and the file has not changed since (as Jupyter's "file changed on disk" check does).

    Within a run, "not changed" means the same device, inode, size and
    modification time as right after the write. Across runs (a restarted
    server, another server) nothing is remembered, so a notebook counts as
    this session's and unchanged only if its ipython-mcp metadata names the
    session and carries the SHA-256 of its content, and the content still has
    it: JupyterLab keeps that metadata when a person edits and saves, but the
    digest no longer matches, so their edits are never replaced. The marker
    alone is never trusted.
    """

    def __init__(self) -> None:
        self._files: dict[Path, tuple[str, tuple[int, int, int, int]]] = {}

    def remember(self, path: Path, session: str, info: os.stat_result) -> None:
        self._files[path] = (session, self._fingerprint(info))

    def check(self, path: Path, session: str, overwrite: bool = False) -> None:
        """Refused, saying why, unless ``path`` is absent or may be replaced; reads the file: call it from a worker thread."""
        try:
            info = os.lstat(path)
        except FileNotFoundError:  # nothing to replace
            return
        name = shown(str(path), SHOWN_PATH_CHARS)
        if not stat.S_ISREG(info.st_mode):
            raise Refused(f"{name} is not a regular file ({_file_kind(info.st_mode)}): it is never replaced", final=True)
        if overwrite or self._files.get(path) == (session, self._fingerprint(info)):
            return
        if not self._unedited_notebook_of(path, session):
            raise Refused(f"{name} exists and was not written by ipython-mcp for session {session!r}, or was changed since")

    @staticmethod
    def _fingerprint(info: os.stat_result) -> tuple[int, int, int, int]:
        return info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns

    @staticmethod
    def _unedited_notebook_of(path: Path, session: str) -> bool:
        try:
            notebook = json.loads(read_regular_file(path, NOTEBOOK_CHECK_BYTES))
            ours = notebook["metadata"]["ipython-mcp"]
            return ours["session"] == session and ours["sha256"] == notebook_digest(notebook)
        except (OSError, ValueError, KeyError, TypeError):  # unreadable, or not a notebook of ours: not ours to replace
            return False


# ============================================================================
# Where a session's kernel comes from: an env, a kernelspec, or a running kernel
# ============================================================================
#
# A session's source says what kernel it gets, and whether that kernel is the
# server's own: a local env's and a gateway kernelspec's kernels are started
# (and so may be killed) here; a joined kernel someone else started is only
# ever let go of. That is the one notion of who owns a kernel (Source.owned):
# what a message says of a kernel and what Kernel.serve does at its end both
# read it.


@dataclass(frozen=True)
class Env:
    """A local Python environment; its interpreter runs ipykernel."""

    spec: str = field(compare=False)  # as the caller wrote it; "" for the server's own interpreter
    python: str  # the interpreter that runs the kernel, symlinks left as they are: what makes two envs the same
    prefix: str = field(compare=False)  # the environment's root, for hints and VIRTUAL_ENV
    owned = True

    @property
    def label(self) -> str:
        return self.spec or "(server default)"


@dataclass(frozen=True)
class Kernelspec:
    """A kernelspec on the Jupyter server of --gateway-url."""

    spec: str  # "" for the server's default kernelspec
    owned = True

    @property
    def label(self) -> str:
        return self.spec or "(the Jupyter server's default)"


@dataclass(frozen=True)
class Joined:
    """A running kernel someone else started, joined by its connection file (attach)."""

    path: Path
    owned = False  # never killed from here, only let go of

    @property
    def label(self) -> str:
        return f"attached:{self.path}"


Source = Env | Kernelspec | Joined


def conda_roots() -> list[Path]:
    """Root directories of the active conda/mamba installation, whose envs/ holds named envs."""
    roots = []
    if exe := os.environ.get("CONDA_EXE"):  # <root>/bin/conda
        roots.append(Path(exe).parent.parent)
    if prefix := os.environ.get("CONDA_PREFIX"):  # <root>, or <root>/envs/<name> when an env is active
        path = Path(prefix)
        roots.append(path.parent.parent if path.parent.name == "envs" else path)
    if mamba := os.environ.get("MAMBA_ROOT_PREFIX"):
        roots.append(Path(mamba))
    return list(dict.fromkeys(roots))


def resolve_env(spec: str | None, envs_dir: Path) -> Env:
    """Map an env argument to an interpreter.

    Empty: the server's own ``sys.executable``, not resolved, because in a venv
    the symlink leads to the base interpreter, which lacks the venv's packages.
    A bare name: ``<envs_dir>/<name>``, else ``<conda root>/envs/<name>`` of the
    active conda. Anything with a path separator or a leading ``~``: that path.
    A directory may be an env itself or hold a ``.venv``; a file is taken as
    the interpreter.
    """
    if not spec:
        return Env("", sys.executable, sys.prefix)
    if "/" in spec or "\\" in spec or spec.startswith("~"):
        root = Path(os.path.abspath(os.path.expanduser(spec)))
    else:
        places = [envs_dir / spec] + [conda / "envs" / spec for conda in conda_roots()]
        root = next((place for place in places if place.exists()), places[0])
        if not root.exists():
            looked = ", ".join(str(p) for p in places)
            raise EnvError(
                f"env {shown(spec)} not found (looked in {shown(looked, SHOWN_PATH_CHARS)}); bare names are looked up in {envs_dir}"
                " (set IPYTHON_MCP_ENVS_DIR to change that) and in the active conda's envs/"
            )
    if root.is_file():
        if not os.access(root, os.X_OK):
            raise EnvError(f"env {shown(spec)}: it is a file but not an executable interpreter")
        return Env(spec, str(root), str(root.parent.parent))
    if not root.exists():
        raise EnvError(f"env {shown(spec)}: {shown(str(root), SHOWN_PATH_CHARS)} does not exist")
    for candidate in (root, root / ".venv"):
        python = candidate / "bin" / "python"
        if python.exists():
            if not os.access(python, os.X_OK):
                raise EnvError(f"env {shown(spec)}: {shown(str(python), SHOWN_PATH_CHARS)} is not executable")
            return Env(spec, str(python), str(candidate))
    raise EnvError(f"env {shown(spec)}: no Python interpreter in it (looked for bin/python and .venv/bin/python under {shown(str(root), SHOWN_PATH_CHARS)})")


def install_hint(env: Env) -> str:
    """The command that would put ipykernel into this env, in the env's own dialect."""
    prefix = Path(env.prefix)
    if (prefix / "conda-meta").is_dir():
        return f"conda install -p {prefix} ipykernel"
    cfg = prefix / "pyvenv.cfg"
    if cfg.is_file() and re.search(r"^uv\s*=", cfg.read_text(errors="replace"), re.M):
        return f"uv pip install --python {env.python} ipykernel"
    return f"{env.python} -m pip install ipykernel"


# ============================================================================
# Auto-install: ipykernel into an env that lacks it
# ============================================================================


def lacks_ipykernel(exc: Exception) -> bool:
    return "No module named ipykernel" in str(exc) or "No module named 'ipykernel" in str(exc)


async def install_ipykernel(env: Env, say: Callable[[str], Awaitable[object]]) -> str:
    """Install ipykernel into env with uv when it is on PATH, else the env's pip; say tells the session so meanwhile."""
    uv = shutil.which("uv")
    command = [uv, "pip", "install", "--python", env.python, "ipykernel"] if uv else [env.python, "-m", "pip", "install", "ipykernel"]
    shown = " ".join(command)
    log.info("installing ipykernel: %s", shown)
    await say(f"installing ipykernel into env {env.label}: {shown}")
    with trio.move_on_after(INSTALL_TIMEOUT_S) as deadline:
        done = await trio.run_process(command, stdin=subprocess.DEVNULL, capture_stdout=True, capture_stderr=True, check=False)
    if deadline.cancelled_caught:
        raise EnvError(f"installing ipykernel into env {env.label} took over {INSTALL_TIMEOUT_S:g} s: `{shown}` was stopped")
    if done.returncode != 0:
        tail = "\n".join((done.stderr or done.stdout).decode(errors="replace").strip().splitlines()[-STDERR_TAIL_LINES:])
        raise EnvError(f"ipykernel is not installed in env {env.label} and `{shown}` failed (exit {done.returncode}):\n{tail}")
    return f"installed ipykernel into env {env.label} (python: {env.python}) with `{shown}`"


# ============================================================================
# The kernel: one ipykernel process and its ZeroMQ sockets
# ============================================================================


def _jupyter_session_class() -> type:
    # jupyter_client's package import costs a few hundred ms; defer it to the
    # first kernel so the MCP handshake is not kept waiting.
    from jupyter_client.session import Session

    return Session


# Starts ipykernel as ``python -m ipykernel_launcher`` would, except for one
# thing: ipykernel binds a loopback TCP socket to collect output from forked
# children (multiprocessing with fork). Rebind that pipe to an IPC socket in
# the kernel's private directory so no kernel opens a TCP port. This leans on
# ipykernel's private IOPubThread methods (written against ipykernel 6.29 to
# 7.4; test_the_internals_we_lean_on_are_still_there checks the server's own);
# an env whose ipykernel lacks them keeps the stock behaviour, and its
# kernel's log says so.
#
# It also starts the watcher of the server's lifeline pipe: the server never
# writes to it, so a read returns only when the server is gone, however it
# died (even SIGKILL); the watcher then kills the kernel's process group,
# children included, itself among them (so the server's own kill of the group
# ends it too). The watcher is a process, not a thread of the kernel: a thread
# needs the GIL to act, and a cell busy in C code that holds it (a regex
# backtracking) would outlive its server. It is forked twice, the middle
# child reaped at once, so no cell's os.wait() meets it; it keeps no other
# descriptor (the kernel's output pipes end with the kernel), and ignores the
# SIGINT an interrupt sends to the whole group.
#
# A confined kernel's launcher gives it one FIFO for stdout and stderr; the
# bootstrap gives stderr the FIFO of its own that KernelLog made (KernelLog
# says why two).
#
# And a crash in native code (a segfault, an abort) writes the Python stack of
# the cell that caused it to the kernel's log, which the cell's died reply
# quotes: otherwise all the model learns is the signal's name.
KERNEL_BOOTSTRAP = """
import faulthandler, os, signal, sys
if sys.path and sys.path[0] in ("", os.getcwd()):
    del sys.path[0]

def _watch_lifeline(fd):
    middle = os.fork()
    if middle:
        os.waitpid(middle, 0)
        os.close(fd)
        return
    try:
        if os.fork() == 0:
            signal.signal(signal.SIGINT, signal.SIG_IGN)
            os.dup2(fd, 0)
            os.closerange(1, os.sysconf("SC_OPEN_MAX"))
            try:  # a shell holds 100 KiB of its own where this copy of the kernel's interpreter would hold 3 MiB
                os.execv("/bin/sh", ["/bin/sh", "-c", "while read -r _; do :; done; kill -KILL 0", "ipython-mcp-lifeline"])
            except OSError:
                while os.read(0, 1):
                    pass
                os.killpg(0, signal.SIGKILL)
    finally:
        os._exit(0)  # neither child ever runs the kernel

_watch_lifeline(int(os.environ.pop("IPYTHON_MCP_LIFELINE")))
stderr = os.environ.pop("IPYTHON_MCP_STDERR", "")
if stderr:  # confined: the launcher gave stdout and stderr one FIFO; stderr's own waits here (KernelLog)
    fd = os.open(stderr, os.O_WRONLY | os.O_CLOEXEC)
    os.dup2(fd, 2)
    os.close(fd)
    os.unlink(stderr)
faulthandler.enable(os.dup(2), all_threads=False)  # the log itself: ipykernel soon turns fd 2 into a pipe that dies with it

import ipykernel  # first: an env without it fails here, saying so ("No module named 'ipykernel'")
import zmq
from ipykernel import iostream

address = os.environ.pop("IPYTHON_MCP_FORK_PIPE")
stock = iostream.IOPubThread

def _setup_pipe_in(self):
    self._pipe_uuid = os.urandom(16)
    pipe_in = self.socket.context.socket(zmq.PULL)
    pipe_in.linger = 0
    pipe_in.bind(address)
    self._pipe_in = iostream.ZMQStream(pipe_in, self.io_loop)
    self._pipe_in.on_recv(self._handle_pipe_msg)

def _setup_pipe_out(self):
    ctx = zmq.Context()
    pipe_out = ctx.socket(zmq.PUSH)
    pipe_out.linger = 3000
    pipe_out.connect(address)
    return ctx, pipe_out

missing = [name for name in IPYKERNEL_PIPE_INTERNALS if not hasattr(stock, name)]
if missing:
    print(f"ipython-mcp: ipykernel {ipykernel.__version__} has no IOPubThread.{', '.join(missing)}: output from forked"
          " children goes through its stock loopback TCP socket", file=sys.stderr)
else:
    stock._setup_pipe_in, stock._setup_pipe_out = _setup_pipe_in, _setup_pipe_out
sys.argv[0] = "ipykernel_launcher"
from ipykernel import kernelapp
kernelapp.launch_new_instance()
""".replace("IPYKERNEL_PIPE_INTERNALS", repr(("_setup_pipe_in", "_setup_pipe_out", "_handle_pipe_msg")))


class TrioSocket:
    """A ZeroMQ socket read the trio way.

    ZeroMQ's ``FD`` is edge-triggered and only says "look at EVENTS": so read
    until EAGAIN before waiting, and after any send wake a waiting reader,
    because the send may have consumed the edge that announced a message.
    """

    def __init__(self, sock: zmq.Socket) -> None:
        self.sock = sock
        self._fd = sock.getsockopt(zmq.FD)
        self._waiting: trio.CancelScope | None = None

    def send(self, parts: list[bytes]) -> None:
        self.sock.send_multipart(parts, zmq.NOBLOCK)
        if self._waiting is not None:
            self._waiting.cancel()

    async def recv(self) -> list[bytes]:
        while True:
            try:
                return self.sock.recv_multipart(zmq.NOBLOCK)
            except zmq.Again:  # nothing queued: wait below
                pass
            if self.sock.getsockopt(zmq.EVENTS) & zmq.POLLIN:
                continue
            with trio.CancelScope() as self._waiting:
                await trio.lowlevel.wait_readable(self._fd)
            self._waiting = None

    def close(self) -> None:
        trio.lowlevel.notify_closing(self._fd)
        self.sock.close(linger=0)


def _describe_exit(returncode: int) -> str:
    if returncode < 0:
        with suppress(ValueError):  # a signal Python has no name for: its number will do
            return f"killed by {signal.Signals(-returncode).name}"
        return f"killed by signal {-returncode}"
    return f"exited with code {returncode}"


def _signal_group(pid: int, sig: int) -> None:
    # The kernel leads its own process group, so its children get the signal too.
    try:
        os.killpg(pid, sig)
    except ProcessLookupError:  # the group is gone already, which is what the signal was for
        pass
    except PermissionError as exc:  # a kill that fails leaves a process behind: say so, as trio's subprocess code does
        log.warning("could not send %s to kernel process group %d: %s", signal.Signals(sig).name, pid, exc)


class KernelListener(typing.Protocol):
    """Who hears that a kernel ended: its session, or the spare pool."""

    async def kernel_gone(self, kernel: "Kernel") -> None: ...


class Kernel:
    """A Jupyter kernel: bring it up, route its messages, end it.

    ``serve`` runs for the kernel's whole life inside a nursery of its owner.
    Requests register a memory channel under their ``msg_id``; the readers
    deliver replies and iopub messages there, and the end of the kernel
    closes every channel. The kinds differ only in how the kernel comes to
    be, how messages travel and how it ends: LocalKernel starts and kills its
    own process; AttachedKernel joins one that someone else started and only
    ever lets go of it (both over ZeroMQ); RemoteKernel lives on a Jupyter
    Server and is driven over its websocket. Its source says whether it is
    ended or only let go of (``Source.owned``): serve's cleanup calls ``_end`` only then.
    """

    location = "local"  # where the kernel runs, for list_sessions
    restarts_in_place = False  # reset restarts this kernel rather than replacing it
    interrupt_kind = "the interrupt request"  # what interrupt() sends, for messages

    def __init__(self, source: Source) -> None:
        self.source = source  # what it was started or joined for
        self.cwd: str | None = None
        self.process: trio.Process | None = None
        self.returncode: int | None = None
        self.stopped_because: str | None = None
        self.info: dict[str, Any] = {}  # the kernel_info reply
        self.listener: KernelListener | None = None  # told when the kernel ends
        self.gone = trio.Event()  # set once the kernel is let go of and its files are removed
        self._replies: dict[str, trio.MemorySendChannel[dict[str, Any]]] = {}
        self._scope = trio.CancelScope()
        self._session: Any = None  # a jupyter_client Session: builds (and signs) our messages
        self.notes: list[str] = []  # things the next reply should mention (a restored connection)

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process else None

    def exit_description(self) -> str:
        if self.stopped_because:
            return self.stopped_because
        if self.returncode is not None:
            return f"kernel {_describe_exit(self.returncode)}"
        return "kernel stopped"

    async def serve(self, start_timeout: float, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Start or join the kernel, report started once it answers, run until it ends or is let go, then tell its listener."""
        try:
            with self._scope:
                connection = await self._launch()
                try:
                    async with trio.open_nursery() as nursery:
                        if self.process is not None:
                            nursery.start_soon(self._watch_process, nursery.cancel_scope)
                        await self._open(connection, nursery)
                        with trio.move_on_after(start_timeout) as deadline:
                            await self._handshake()
                        if deadline.cancelled_caught:
                            raise KernelStartError(f"kernel did not answer within {start_timeout:g} s{self.last_words()}")
                        task_status.started()
                except BaseExceptionGroup as group:
                    # Surface a start failure as itself, not wrapped by the nursery.
                    failure, rest = group.split((KernelStartError, EnvError))
                    if failure is not None and rest is None:
                        raise failure.exceptions[0] from None
                    raise
        finally:
            with trio.CancelScope(shield=True):
                self._close_replies()
                self._close()
                if self.source.owned:
                    await self._end()
                await self._release()
                self.gone.set()
        if self.listener is not None:  # not after a failed start, nor when the owner's nursery was cancelled
            with trio.CancelScope(shield=True):
                await self.listener.kernel_gone(self)

    @property
    def alive(self) -> bool:
        return self.returncode is None and self.stopped_because is None

    def stop(self, reason: str) -> None:
        """End the kernel (serve's cleanup kills or lets go of it) and every waiting request."""
        if self.alive:
            self.stopped_because = reason
        self._close_replies()
        self._scope.cancel()

    async def interrupt(self) -> None:
        """Ask the kernel to interrupt its running cell."""
        raise NotImplementedError

    async def restart(self, start_timeout: float) -> None:
        """Restart the kernel in place (only where restarts_in_place); raises KernelStartError."""
        raise NotImplementedError

    async def _launch(self) -> dict[str, Any]:
        """Bring the kernel up (or find it); return how to connect and set self._session."""
        raise NotImplementedError

    async def _open(self, connection: dict[str, Any], nursery: trio.Nursery) -> None:
        """Connect the channels and start the tasks that read them into _deliver."""
        raise NotImplementedError

    async def _send(self, channel: str, msg: dict[str, Any]) -> None:
        raise NotImplementedError

    def _close(self) -> None:
        """Close the channels (the reading tasks are already done)."""

    async def _end(self) -> None:
        """End the kernel itself, once its tasks are done (shielded): only for a kernel its source says is ours."""

    async def _release(self) -> None:
        """Let go of what is left of the kernel here, whether it was ended or not (shielded)."""

    def last_words(self) -> str:
        """What the kernel's process wrote outside any cell (its log) before it failed, if this server has it."""
        return ""

    def mask_with(self, masker: "Masker") -> None:
        """Its session's secrets, masked in what this server keeps of the kernel's own output (LocalKernel's log)."""

    # -- requests ----------------------------------------------------------

    @asynccontextmanager
    async def request(self, msg_type: str, content: dict[str, Any]) -> AsyncIterator[trio.MemoryReceiveChannel[dict[str, Any]]]:
        """Send a shell request; yield the channel that receives its reply and iopub messages.

        The channel ends (EndOfChannel) when the kernel exits or is stopped.
        """
        msg = self._session.msg(msg_type, content)
        send, receive = trio.open_memory_channel[dict[str, Any]](MESSAGE_BUFFER)
        msg_id = msg["header"]["msg_id"]
        try:
            if self.alive:
                self._replies[msg_id] = send
                await self._send("shell", msg)
            else:
                send.close()
            yield receive
        finally:
            self._replies.pop(msg_id, None)
            send.close()
            receive.close()

    async def answer_input(self, request: dict[str, Any], value: str) -> None:
        """Answer a cell's input_request (its header) on the stdin channel; EOF ("\\x04") makes input() raise EOFError."""
        if self.alive:
            await self._send("stdin", self._session.msg("input_reply", {"value": value}, parent={"header": request}))

    async def _deliver(self, msg: dict[str, Any]) -> None:
        """Hand a message to the request it answers; messages for other requests (or clients) are dropped."""
        parent = msg["parent_header"].get("msg_id")
        channel = self._replies.get(parent)
        if channel is None:
            return
        if isinstance(msg["content"], bytes):
            msg["content"] = json.loads(msg["content"])
        try:
            await channel.send(msg)
        except (trio.BrokenResourceError, trio.ClosedResourceError):  # the request stopped listening
            self._replies.pop(parent, None)

    # -- internals ---------------------------------------------------------

    async def _handshake(self) -> None:
        """Wait until shell answers and iopub is subscribed.

        A SUB socket misses what is published before it connects, so the
        kernel is ready only once a kernel_info's idle status came back on
        iopub: wait for the first reply however long start-up takes, then ask
        again, briefly each time, until iopub echoes one.
        """
        async with self.request("kernel_info_request", {}) as replies:
            if await self._kernel_info(replies, need_idle=False):
                return
        while True:
            with trio.move_on_after(IOPUB_CHECK_S):
                async with self.request("kernel_info_request", {}) as replies:
                    await self._kernel_info(replies, need_idle=True)
                    return

    async def _kernel_info(self, replies: trio.MemoryReceiveChannel[dict[str, Any]], need_idle: bool) -> bool:
        """Wait for a kernel_info reply (and its idle status if asked); say whether idle was seen."""
        idle = replied = False
        async for msg in replies:
            if msg["msg_type"] == "kernel_info_reply":
                replied = True
                self.info = msg["content"]
            elif msg["msg_type"] == "status" and msg["content"].get("execution_state") == "idle":
                idle = True
            if replied and (idle or not need_idle):
                return idle
        raise KernelStartError(f"{self.exit_description()} during start-up{self.last_words()}")

    async def _watch_process(self, kernel_scope: trio.CancelScope) -> None:
        assert self.process is not None
        self.returncode = await self.process.wait()
        log.info("kernel %s %s", self.process.pid, _describe_exit(self.returncode))
        self._close_replies()
        kernel_scope.cancel()

    def _close_replies(self) -> None:
        for send in self._replies.values():
            send.close()
        self._replies.clear()


class ZmqKernel(Kernel):
    """A kernel reached through its ZeroMQ sockets (IPC or TCP), messages signed with its key."""

    def __init__(self, source: Source, zmq_context: zmq.Context) -> None:
        super().__init__(source)
        self._zmq = zmq_context
        self._sockets: dict[str, TrioSocket] = {}
        self._stdin_ready = trio.Event()

    async def _open(self, info: dict[str, Any], nursery: trio.Nursery) -> None:
        def address(port: int) -> str:
            if info.get("transport", "tcp") == "ipc":
                return f"ipc://{info['ip']}-{port}"
            return f"tcp://{info['ip']}:{port}"

        def connect(kind: int, port: int) -> TrioSocket:
            sock = self._zmq.socket(kind)
            if kind == zmq.SUB:
                sock.setsockopt(zmq.SUBSCRIBE, b"")
            else:
                # The kernel sends a cell's input_request on stdin to the identity
                # that sent the cell on shell: the two sockets must share it.
                sock.setsockopt(zmq.IDENTITY, self._session.bsession)
            sock.connect(address(port))
            return TrioSocket(sock)

        self._sockets = {
            "shell": connect(zmq.DEALER, info["shell_port"]),
            "iopub": connect(zmq.SUB, info["iopub_port"]),
            "control": connect(zmq.DEALER, info["control_port"]),
        }
        # The kernel's stdin is a ROUTER, which drops what it sends to a peer it
        # does not know yet: an input() in the first cell could be lost if that
        # connection is still retrying (IPC retries every 100 ms while the kernel
        # starts). So the kernel is ready only once stdin's handshake is done.
        stdin = self._zmq.socket(zmq.DEALER)
        stdin.setsockopt(zmq.IDENTITY, self._session.bsession)
        monitor = TrioSocket(stdin.get_monitor_socket(zmq.EVENT_HANDSHAKE_SUCCEEDED))
        stdin.connect(address(info["stdin_port"]))
        self._sockets["stdin"] = TrioSocket(stdin)
        nursery.start_soon(self._watch_stdin, monitor)
        for sock in self._sockets.values():
            nursery.start_soon(self._read, sock)

    async def _watch_stdin(self, monitor: TrioSocket) -> None:
        try:
            await monitor.recv()  # the one event it was asked for: the handshake succeeded
            self._sockets["stdin"].sock.disable_monitor()
            self._stdin_ready.set()
        finally:
            monitor.close()

    async def _handshake(self) -> None:
        await super()._handshake()
        await self._stdin_ready.wait()

    async def _send(self, channel: str, msg: dict[str, Any]) -> None:
        self._sockets[channel].send(self._session.serialize(msg))

    def _close(self) -> None:
        for sock in self._sockets.values():
            sock.close()
        self._sockets = {}

    async def _read(self, sock: TrioSocket) -> None:
        while True:
            msg = self._verify(await sock.recv())
            if msg is not None:
                await self._deliver(msg)

    def _verify(self, parts: list[bytes]) -> dict[str, Any] | None:
        """Check the HMAC and decode header and parent; content stays raw until someone wants it.

        (jupyter_client's full deserialize also parses every date in every
        header, which costs more than the rest of a round trip's work here.)
        """
        try:
            signature, header, parent, metadata, content = parts[parts.index(DELIM) + 1 :][:5]
            if not hmac.compare_digest(signature, self._session.sign([header, parent, metadata, content])):
                raise ValueError("bad signature")
            decoded = json.loads(header)
            return {"msg_type": decoded["msg_type"], "header": decoded, "parent_header": json.loads(parent), "content": content}
        except Exception as exc:  # unsigned, forged or malformed: drop it, never trust it
            log.warning("dropped a kernel message that failed verification: %s", exc.__class__.__name__)
            return None


@dataclass
class LogStream:
    """One of a local kernel's stdout and stderr, as its KernelLog reads it."""

    fd: int  # the read end of its pipe (or FIFO)
    # Bytes that are not UTF-8 pass unchanged (surrogateescape); a character split between two reads is whole again.
    decoder: codecs.IncrementalDecoder = field(default_factory=lambda: codecs.getincrementaldecoder("utf-8")("surrogateescape"))
    unfinished: str = ""  # the line being written


class KernelLog:
    """A local kernel's own stdout and stderr, written to kernel.log in its directory by the server.

    Not a cell's output, which comes as messages: ipykernel's warnings, a
    native crash's report (faulthandler), and ipykernel's echo of what a cell
    writes at the file-descriptor level (os.write(1, ...), a subprocess, C's
    printf), which the cell also gets as stream output. That echo can hold a
    secret of the session's, so the log is masked as the cell's output is:
    the kernel writes into two pipes the server reads (relay, a task of the
    kernel's), and the server masks each stream line by line, an unfinished
    line waiting for its end or cut as Lines cuts one. Two, because ipykernel
    echoes stdout and stderr from a thread each: in one pipe, a line one
    stream leaves unfinished would be cut by the other's, and a secret with
    it. The server writes kernel.log through a descriptor it made before the
    kernel ran. The kernel may write its own directory (sandboxed too), where
    it could swap that path for a link or a FIFO, so the server never opens
    the path again: the end a died reply quotes (tail) is kept in memory.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.masker = Masker()  # its session's, once a session has the kernel (Kernel.mask_with)
        self._file: int | None = None  # kernel.log, written here only
        self._streams: list[LogStream] = []  # stdout's and stderr's, once made
        self._kept = bytearray()  # the log's end, masked

    def create(self) -> None:
        self._file = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND | os.O_CLOEXEC, 0o600)

    def pipes(self) -> tuple[int, int]:
        """Pipes for the kernel's stdout and stderr; their write ends, for the caller to close once the kernel has them."""
        ends = []
        for _ in range(2):
            read, write = os.pipe()
            os.set_blocking(read, False)
            self._streams.append(LogStream(read))
            ends.append(write)
        return ends[0], ends[1]

    def fifos(self, directory: Path) -> tuple[Path, Path]:
        """The same as FIFOs in ``directory``, for a kernel that opens its stdout and stderr by path: each opened for
        reading first, so the kernel's open does not wait; for whoever opens each to remove it."""
        paths = directory / "stdout", directory / "stderr"
        for path in paths:
            os.mkfifo(path, 0o600)
            self._streams.append(LogStream(os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)))
        return paths

    async def relay(self) -> None:
        """Log what the kernel writes as it comes; a flood waits for the server's reads, and the server's other tasks
        run between two of them."""

        async def follow(stream: LogStream) -> None:
            # Waits first: a FIFO no writer has opened yet reads as ended, but is not readable until one writes.
            while True:
                await trio.lowlevel.wait_readable(stream.fd)
                if not self._read(stream, KERNEL_LOG_READ):
                    return  # every writer has closed it

        async with trio.open_nursery() as nursery:
            for stream in self._streams:
                nursery.start_soon(follow, stream)

    def tail(self) -> bytes:
        """The log's end, with all the kernel has written by now; an unfinished line without what could begin a secret."""
        for stream in self._streams:
            self._read(stream, KERNEL_LOG_CATCH_UP)
        return bytes(self._kept) + b"".join(self._encoded(self.masker.shown(stream.unfinished)) for stream in self._streams)

    def close(self) -> None:
        """Log what the kernel's processes left (they are gone), end the unfinished lines, close every end."""
        for stream in self._streams:
            self._read(stream, KERNEL_LOG_CATCH_UP)
            if stream.unfinished:
                self._write(self.masker.text(stream.unfinished) + "\n")
            os.close(stream.fd)
        self._streams.clear()
        if self._file is not None:
            os.close(self._file)
            self._file = None

    def _read(self, stream: LogStream, limit: int) -> bool:
        """Log what the stream's pipe holds now, up to about ``limit`` bytes; False once it has ended."""
        while limit > 0:
            try:
                data = os.read(stream.fd, KERNEL_LOG_READ)
            except BlockingIOError:
                return True
            if not data:
                return False
            limit -= len(data)
            text = stream.unfinished + stream.decoder.decode(data)
            done, newline, text = text.rpartition("\n")
            done += newline
            if len(text) > LONG_LINE:  # a line that never ends: logged in pieces, each without what could begin a secret
                cut = len(text) - self.masker.held_back(text)
                done, text = done + text[:cut], text[cut:]
            stream.unfinished = text
            if done:
                self._write(self.masker.text(done))
        return True

    def _write(self, text: str) -> None:
        data = self._encoded(text)
        self._kept += data
        del self._kept[:-KERNEL_LOG_KEPT]
        if self._file is None:
            return
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(self._file, view) :]
        except OSError as exc:  # a full disk: the log stops there; the kernel, and the end kept here, go on
            log.warning("%s: %s; nothing more is written to it", self.path, exc.strerror or exc)
            os.close(self._file)
            self._file = None

    @staticmethod
    def _encoded(text: str) -> bytes:
        return text.encode("utf-8", "surrogateescape")


class LocalKernel(ZmqKernel):
    """An ipykernel process this server starts, in its own process group, and kills when done."""

    interrupt_kind = "SIGINT"

    def __init__(self, env: Env, workdir: Path, cwd: str, zmq_context: zmq.Context, lifeline: int, confinement: "Confinement | None" = None) -> None:
        super().__init__(env, zmq_context)
        self.env = env
        self.workdir = workdir
        self.cwd = cwd
        self._lifeline = lifeline
        self.confinement = confinement  # --sandbox, --memory-limit: applied by the launcher, before the kernel's interpreter starts
        self.cgroups: KernelCgroups | None = None
        self.log = KernelLog(workdir / "kernel.log")

    @property
    def tmpdir(self) -> Path:
        """A sandboxed kernel's TMPDIR: its own, removed with it."""
        return self.workdir / "tmp"

    def exit_description(self) -> str:
        if self.stopped_because is None and self.returncode == -signal.SIGKILL and self.cgroups is not None and self.cgroups.oom_kills():
            assert self.confinement is not None
            return f"memory limit {self.confinement.memory} reached (--memory-limit)"
        return super().exit_description()

    def explain(self, lines: list[str], error: dict[str, str] | None, oom_before: int) -> str:
        """The sandbox rule behind a refusal in a cell of this kernel, if any (Confinement.explain)."""
        if self.confinement is None:
            return ""
        oom = self.cgroups.oom_kills() - oom_before if self.cgroups is not None else 0
        return self.confinement.explain(lines, error, oom, str(self.tmpdir), self.cwd or "", self.env.prefix)

    async def interrupt(self) -> None:
        """SIGINT to the kernel's process group, as Ctrl-C in a terminal would send."""
        if self.process is not None and self.returncode is None:
            _signal_group(self.process.pid, signal.SIGINT)

    async def _launch(self) -> dict[str, Any]:
        connection = self._write_connection_file()
        self.log.create()
        try:
            self.process = await self._spawn()
        except OSError as exc:  # e.g. an interpreter that resolved, yet is not a program this machine runs
            where = "" if exc.filename in (None, self.env.python) else f"{exc.filename}: "  # the python is named already
            raise KernelStartError(f"{where}{exc.strerror or exc}") from None
        return connection

    async def _open(self, info: dict[str, Any], nursery: trio.Nursery) -> None:
        nursery.start_soon(self.log.relay)
        await super()._open(info, nursery)

    def _write_connection_file(self) -> dict[str, Any]:
        from jupyter_client.connect import write_connection_file

        self.workdir.mkdir(mode=0o700)
        key = secrets.token_hex(32).encode()
        _, info = write_connection_file(
            str(self.workdir / "connection.json"),
            ip=str(self.workdir / "ipc"),
            transport="ipc",
            key=key,
            signature_scheme="hmac-sha256",
        )
        self._session = _jupyter_session_class()(key=key, signature_scheme="hmac-sha256", username="ipython-mcp")
        return dict(info)

    async def _spawn(self) -> trio.Process:
        environ = dict(os.environ)
        # ipykernel exits by itself when this pid stops being its parent.
        environ["JPY_PARENT_PID"] = str(os.getpid())
        prefix = Path(self.env.prefix)
        if (prefix / "pyvenv.cfg").is_file():
            environ["VIRTUAL_ENV"] = str(prefix)
        else:
            environ.pop("VIRTUAL_ENV", None)
        # Shell escapes (!pip, subprocess) find the env's own tools first.
        environ["PATH"] = os.pathsep.join([str(Path(self.env.python).parent), environ.get("PATH", "")])
        environ["IPYTHON_MCP_FORK_PIPE"] = f"ipc://{self.workdir / 'fork-pipe'}"
        environ["IPYTHON_MCP_LIFELINE"] = str(self._lifeline)
        command = [
            self.env.python, "-c", KERNEL_BOOTSTRAP,
            "-f", str(self.workdir / "connection.json"),
            # Kernels are many and short-lived: no shared history database to lock.
            "--HistoryManager.hist_file=:memory:",
        ]
        if self.confinement is None:
            stdout, stderr = self.log.pipes()
            try:
                # stdin and stdout are the MCP channel: the kernel must touch neither.
                return await trio.lowlevel.open_process(
                    command,
                    stdin=subprocess.DEVNULL,
                    stdout=stdout,
                    stderr=stderr,
                    cwd=self.cwd,
                    env=environ,
                    start_new_session=True,
                    pass_fds=(self._lifeline,),
                )
            finally:
                os.close(stdout)
                os.close(stderr)
        self.tmpdir.mkdir(mode=0o700)
        environ.update(self.confinement.environ(self.tmpdir))
        try:
            self.cgroups = self.confinement.kernel_cgroups(self.workdir.name)
        except OSError as exc:
            raise KernelStartError(f"could not make the kernel's cgroup: {exc}") from None
        policy = self.confinement.policy(self.workdir, self.cwd or os.getcwd(), self.env.prefix, self.env.python, self.cgroups)
        # The launcher opens one file for stdout and stderr both; the kernel's bootstrap gives stderr its own.
        stdout, stderr = self.log.fifos(self.workdir)
        environ["IPYTHON_MCP_STDERR"] = str(stderr)
        try:  # the launcher leaves stdin and stdout (the MCP channel) alone too
            return await self.confinement.launch(policy, command, env=environ, cwd=self.cwd, log_path=stdout, lifeline=self._lifeline)
        except subprocess.SubprocessError:  # the launcher could not confine it, and said why in the log
            raise KernelStartError(f"the kernel was not started: it could not be confined{self.last_words()}") from None
        finally:
            stdout.unlink()  # the launcher has it open, or never will

    async def _end(self) -> None:
        """SIGTERM the group, a bounded grace, then SIGKILL."""
        if self.process is not None:
            if self.process.returncode is None:
                _signal_group(self.process.pid, signal.SIGTERM)
                with trio.move_on_after(TERMINATE_GRACE_S):
                    await self.process.wait()
            # SIGKILL the group even when the leader is gone: its children may not be.
            _signal_group(self.process.pid, signal.SIGKILL)
            self.returncode = await self.process.wait()

    async def _release(self) -> None:
        """Remove the kernel's cgroups and files; its log's end stays, for last_words."""
        if self.cgroups is not None:
            await self.cgroups.remove()
        self.log.close()
        shutil.rmtree(self.workdir, ignore_errors=True)

    def last_words(self) -> str:
        lines = log_tail(self.log.tail())
        return ("\nlast lines of the kernel's output:\n" + "\n".join(lines)) if lines else ""

    def mask_with(self, masker: "Masker") -> None:
        self.log.masker = masker


# ============================================================================
# Sandboxed kernels: what a local kernel may touch
# ============================================================================
#
# With --sandbox every kernel this server starts (spares too) is confined
# before its interpreter starts, so nothing of the kernel's own (not its
# interpreter's start-up, not a .pth file it could have planted) ever runs
# unconfined, and everything it starts inherits the confinement. The policy
# is data (Policy), built once per kernel by Confinement from the settings.
# The launcher applies it, the one place that does: the server's own
# interpreter, in isolated mode, which confines itself and then execs the
# kernel in its own place (Launcher starts it, one ahead of need;
# CONFINE_AND_EXEC is its program). In order:
#
# - cgroups: the kernel's process joins its memory and pids cgroups, where the
#   server may make them (a cgroup v1 hierarchy it can write, as root; a
#   cgroup v2 subtree delegated to it); else rlimits stand in (RLIMIT_AS for
#   memory, RLIMIT_NPROC counted in the kernel's own user namespace).
# - a user and mount namespace of its own, so that it sees empty private
#   directories in place of /tmp, the user's runtime directory ($XDG_RUNTIME_DIR),
#   the server's own directories (those three are hidden_places) and /dev/shm: they hold
#   other kernels' and programs' UNIX sockets (this server's kernels, other
#   servers', tmux's, the D-Bus session bus, the ssh and gpg agents), which
#   Landlock cannot close. Its own directory (sockets, connection file, TMPDIR),
#   its working directory and env are put back in place; the secret stores are
#   covered by empty read-only ones.
# - a network namespace of its own unless --sandbox-network: no route out
#   for any protocol, and its abstract UNIX sockets are its own.
# - Landlock: read anywhere, write only under the working directory, TMPDIR
#   and --sandbox-write; no TCP connect or bind unless --sandbox-network;
#   no signal to, nor abstract socket of, a process outside its domain (the
#   server, other kernels). Landlock also denies mounts, so the view above
#   cannot be undone, and ptrace of anything outside the domain.
#
# The user namespace also keeps /proc/<pid>/environ, mem, fd, cwd and root of
# every process outside it out of reach (the server's environment may hold
# IPYTHON_MCP_TOKEN): across user namespaces such access needs CAP_SYS_PTRACE
# over the other's namespace, which Landlock alone does not require for reads.
#
# A cell that meets a rule gets Python's usual exception; Confinement.explain
# reads the cell's error and the denial lines of its output and adds one line
# naming the rule, so the model changes course instead of retrying.

LANDLOCK_ABI = 7  # the Landlock ABI this layer was written for (Linux 6.15); newer ABIs keep these meanings (the kernel's promise)
LANDLOCK_ABI_NEEDED = 6  # scoped signals and abstract sockets (Linux 6.12): without them a kernel could signal the server
LANDLOCK_ABI_NETWORK = 4  # TCP bind and connect rules (Linux 6.7)
SYS_LANDLOCK_CREATE_RULESET, SYS_LANDLOCK_ADD_RULE, SYS_LANDLOCK_RESTRICT_SELF = 444, 445, 446  # the same on every architecture but alpha

# Read by nobody in a sandbox: where people keep credentials (a directory or a file, from the home directory).
SECRET_STORES = (
    "~/.ssh", "~/.gnupg", "~/.aws", "~/.azure", "~/.config/gcloud", "~/.kube", "~/.docker", "~/.netrc",
    "~/.git-credentials", "~/.pypirc", "~/.password-store", "~/.local/share/keyrings", "~/.config/gh",
)
# What a sandboxed kernel may not change even inside a directory it may write, where present: what runs code outside
# the sandbox later. Git runs .git's hooks and config (core.fsmonitor, filters, a commondir file pointing elsewhere)
# at the next `git status` of the user or their agent; editors, agents and direnv run their settings' commands.
PROTECTED_ENTRIES = (".git", ".vscode", ".idea", ".claude", ".mcp.json", ".envrc")
# Devices a sandboxed kernel may open for writing: the harmless ones, terminals, and GPUs.
WRITABLE_DEVICES = ("/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom", "/dev/tty", "/dev/ptmx", "/dev/pts")
GPU_DEVICES = ("/dev/nvidia*", "/dev/dri", "/dev/kfd")
# What a refusal looks like in a cell's error or output (Python's words, the shell's, Rust tools'), for explain().
DENIAL = re.compile(
    r"Permission denied|Operation not permitted|Read-only file system|Invalid cross-device link|"
    r"Resource temporarily unavailable|can't start new thread|MemoryError|Cannot allocate memory|No such file or directory|"
    r"Network is unreachable|Temporary failure in name resolution|Device or resource busy"
)
PATH_IN_TEXT = re.compile(r"'(/[^'\n]*)'|\"(/[^\"\n]*)\"|(?<![\w/.~-])(/[^\s'\":,;()\[\]]+)|: '([^'\n]+)'")  # a path in an error line (a relative one only as Python quotes it)
DENIAL_LINES_KEPT = 20  # a cell's lines that look like refusals, kept for explain()


class SandboxUnavailable(Exception):
    """--sandbox or --memory-limit cannot be had on this machine; the message says what is missing."""


def hidden_places(runtime_dir: Path) -> tuple[str, ...]:
    """Directories a kernel sees as empty private ones: those shared with other programs, where their UNIX sockets
    live; then this server's runtime directory (other sessions' connection files, sockets and output) and its private
    directory (HTTP token files, the persistent servers' sockets, state and logs)."""
    shared = {Path("/tmp"), Path(tempfile.gettempdir())}
    if (runtime := os.environ.get("XDG_RUNTIME_DIR", "")) and os.path.isabs(runtime):
        shared.add(Path(runtime))
    return tuple(str(p) for p in [*sorted(shared), runtime_dir, private_dir()])


@dataclass(frozen=True)
class Policy:
    """What one kernel may do, as data: Confinement.policy builds it, the launcher (CONFINE_AND_EXEC) applies it."""

    cgroup_joins: tuple[str, ...] = ()  # files the kernel's process writes "0" to, to join its cgroups (CGROUP_JOIN)
    address_space: int | None = None  # RLIMIT_AS, where no memory cgroup is had
    sandbox: bool = False  # the rest applies only with --sandbox
    hidden: tuple[str, ...] = ()  # directories replaced by an empty read-only one
    scratch: tuple[tuple[str, str], ...] = ()  # (directory, tmpfs options) replaced by an empty writable one: /dev/shm
    kept: tuple[str, ...] = ()  # the kernel's own, put back in place where a hidden directory covers them
    secrets: tuple[str, ...] = ()  # covered by an empty read-only directory, or /dev/null for a file
    read_only: tuple[str, ...] = ()  # under a writable directory, yet read-only (Confinement.protected)
    write: tuple[str, ...] = ()  # Landlock: write (and everything else) under these
    devices: tuple[str, ...] = ()  # Landlock: open these for writing
    network: bool = True  # False: no TCP bind or connect
    processes: int | None = None  # RLIMIT_NPROC, counted in the kernel's user namespace, where no pids cgroup is had


def landlock_abi() -> int:
    """The kernel's Landlock ABI version, 0 without Landlock: the one system call the server makes for confinement itself."""
    if sys.platform != "linux":
        return 0
    import ctypes

    return max(ctypes.CDLL(None).syscall(SYS_LANDLOCK_CREATE_RULESET, None, 0, 1), 0)  # LANDLOCK_CREATE_RULESET_VERSION


# The interpreter the launcher runs on: the server's own, resolved once, before any kernel runs. A venv's
# bin/python is a link in the venv, which may lie in a directory kernels can write (the project a session works
# in); its target, the installation the server itself runs from, is as trusted as the server.
LAUNCHER_PYTHON = os.path.realpath(sys.executable)
# What the launcher reads before it confines itself: that interpreter and its standard library. A kernel that could
# write there would have its code run unconfined by the next kernel's launcher, so where a directory a kernel may
# write holds them (a session working in the directory the server's Python is installed in), they stay read-only.
_LAUNCHER_READS = sorted({os.path.dirname(LAUNCHER_PYTHON), os.path.realpath(sys.base_prefix)})  # a directory sorts before what it holds
LAUNCHER_HOME = tuple(home for i, home in enumerate(_LAUNCHER_READS) if not any(Path(home).is_relative_to(o) for o in _LAUNCHER_READS[:i]))

# The launcher's program (what it is and why: the section's opening, and Launcher).
# Its one argument is a socket to the server, on which it waits, its imports
# done, for its job: the Policy's fields, the command, its environment, working
# directory and log file (marshal: both ends are the same interpreter, and
# importing json would cost 6 ms, for re). Exec closes the socket with nothing
# said back. A step that fails says its name and error there, and in the log,
# and the launcher exits, so the command never runs unconfined.
CONFINE_AND_EXEC = r"""
import ctypes, marshal, os, resource, sys

channel = int(sys.argv[1])
os.set_inheritable(channel, False)  # exec closes it: that is how the server learns that the command runs
job = b""
while chunk := os.read(channel, 1 << 16):
    job += chunk
policy, command, environ, cwd, log = marshal.loads(job)
libc = ctypes.CDLL(None, use_errno=True)
libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_char_p]

SYS_LANDLOCK_CREATE_RULESET, SYS_LANDLOCK_ADD_RULE, SYS_LANDLOCK_RESTRICT_SELF = LANDLOCK_SYSCALLS
LANDLOCK_FS_READ = 1 | 4 | 8  # EXECUTE, READ_FILE, READ_DIR
LANDLOCK_FS_WRITE_DEVICE = 2  # WRITE_FILE: open /dev/null and its kin for writing
LANDLOCK_FS_ALL = (1 << 15) - 1  # every right up to TRUNCATE (ABI 3), REFER among them; IOCTL_DEV is left unhandled
LANDLOCK_FS_FILE = 1 | 2 | 4 | (1 << 14)  # the rights that apply to a file rather than a directory: EXECUTE, WRITE_FILE, READ_FILE, TRUNCATE
LANDLOCK_NET_TCP = 1 | 2  # BIND_TCP, CONNECT_TCP
LANDLOCK_SCOPES = 1 | 2  # ABSTRACT_UNIX_SOCKET, SIGNAL
CLONE_NEWNS, CLONE_NEWUSER, CLONE_NEWNET = 0x00020000, 0x10000000, 0x40000000
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC, MS_REMOUNT, MS_BIND, MS_REC, MS_SLAVE = 1, 2, 4, 8, 32, 4096, 16384, 1 << 19
MS_NOATIME, MS_NODIRATIME, MS_STRICTATIME, ST_RELATIME = 1024, 2048, 1 << 24, 4096  # statvfs's ST_ flags share MS_'s values up to NODIRATIME
HIDING_TMPFS = "mode=0755,size=1m,nr_inodes=4096"  # holds only the mount points of what is put back


def check(result, what):
    if result < 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"{what}: {os.strerror(errno)}")
    return result


def mount(source, target, fstype, flags, data=None):
    encoded = [None if text is None else text.encode() for text in (source, target, fstype, data)]
    check(libc.mount(encoded[0], encoded[1], encoded[2], flags, encoded[3]), f"mount {target}")


def write_file(path, text):
    fd = os.open(path, os.O_WRONLY | os.O_CLOEXEC)
    try:
        os.write(fd, text.encode())
    finally:
        os.close(fd)


def enter_namespaces():
    # A user namespace (the same user inside) owning a mount namespace of the kernel's own, and without the network
    # a network namespace too: no interface but a loopback that is down, so no protocol reaches out (UDP, MPTCP, a
    # socket that listens without bind: what Landlock's TCP rule does not cover).
    uid, gid = os.getuid(), os.getgid()
    check(libc.unshare(CLONE_NEWUSER | CLONE_NEWNS | (0 if policy["network"] else CLONE_NEWNET)), "unshare")
    write_file("/proc/self/setgroups", "deny")
    write_file("/proc/self/uid_map", f"{uid} {uid} 1")
    write_file("/proc/self/gid_map", f"{gid} {gid} 1")


def arrange_view():
    # Hide, then put back, then cover the secrets; outer directories first, so inner ones land on top.
    mount(None, "/", None, MS_REC | MS_SLAVE)  # nothing done here propagates back to the server's view
    kept = {}
    for path in policy["kept"]:  # opened before anything is hidden, in this namespace
        try:
            kept[path] = os.open(path, os.O_PATH | os.O_CLOEXEC)
        except (FileNotFoundError, NotADirectoryError):
            pass
    flags = MS_NOSUID | MS_NODEV
    operations = sorted([(p, "hide") for p in policy["hidden"]] + [(p, "scratch") for p, _ in policy["scratch"]] + [(p, "keep") for p in kept],
                        key=lambda item: (item[0].count("/"), item[1] != "hide"))
    scratch_options, hiding = dict(policy["scratch"]), []
    for path, what in operations:
        if what == "keep":
            fd = kept[path]
            here = os.stat(path) if os.path.exists(path) else None
            there = os.fstat(fd)
            if here is None or (here.st_dev, here.st_ino) != (there.st_dev, there.st_ino):
                os.makedirs(path, exist_ok=True)
                mount(f"/proc/self/fd/{fd}", path, None, MS_BIND | MS_REC)
        elif os.path.isdir(path):
            mount("tmpfs", path, "tmpfs", flags, scratch_options.get(path, HIDING_TMPFS))
            if what == "hide":
                hiding.append(path)
    for fd in kept.values():
        os.close(fd)
    for path in hiding:  # read-only once the mount points are made
        mount(None, path, None, MS_REMOUNT | MS_RDONLY | flags)
    for path in policy["secrets"]:
        if os.path.isdir(path):
            mount("tmpfs", path, "tmpfs", MS_RDONLY | flags | MS_NOEXEC, "mode=000,size=4k")
        elif os.path.lexists(path) and not os.path.islink(path):
            mount("/dev/null", path, None, MS_BIND)
            mount(None, path, None, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID)  # reads as empty (nodev would refuse)
    for path in policy["read_only"]:  # last, over whatever was put back
        mount(path, path, None, MS_BIND | MS_REC)
        remount_read_only(path)


def remount_read_only(path):
    # A user namespace may not change the flags its mount came with, only add read-only: restate them.
    have = os.statvfs(path).f_flag
    flags = MS_BIND | MS_REMOUNT | MS_RDONLY | (have & (MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_NOATIME | MS_NODIRATIME))
    if not have & (MS_NOATIME | ST_RELATIME):
        flags |= MS_STRICTATIME
    mount(None, path, None, flags)


def landlock():
    # Read anywhere; write where the policy says; TCP only if allowed; no signal or abstract socket beyond the domain.
    class RulesetAttr(ctypes.Structure):
        _fields_ = [("handled_access_fs", ctypes.c_uint64), ("handled_access_net", ctypes.c_uint64), ("scoped", ctypes.c_uint64)]

    class PathBeneath(ctypes.Structure):
        _pack_ = 1
        _fields_ = [("allowed_access", ctypes.c_uint64), ("parent_fd", ctypes.c_int32)]

    attr = RulesetAttr(LANDLOCK_FS_ALL, 0 if policy["network"] else LANDLOCK_NET_TCP, LANDLOCK_SCOPES)
    ruleset = check(libc.syscall(SYS_LANDLOCK_CREATE_RULESET, ctypes.byref(attr), ctypes.sizeof(attr), 0), "landlock_create_ruleset")
    rules = [("/", LANDLOCK_FS_READ)] + [(p, LANDLOCK_FS_ALL) for p in policy["write"]] + [(p, LANDLOCK_FS_WRITE_DEVICE) for p in policy["devices"]]
    for path, rights in rules:
        try:
            fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
        except FileNotFoundError:
            continue
        try:
            if not os.path.isdir(path):
                rights &= LANDLOCK_FS_FILE
            rule = PathBeneath(rights, fd)
            check(libc.syscall(SYS_LANDLOCK_ADD_RULE, ruleset, 1, ctypes.byref(rule), 0), f"landlock_add_rule {path}")
        finally:
            os.close(fd)
    check(libc.prctl(38, 1, 0, 0, 0), "prctl(PR_SET_NO_NEW_PRIVS)")  # setuid programs gain nothing either
    check(libc.syscall(SYS_LANDLOCK_RESTRICT_SELF, ruleset, 0), "landlock_restrict_self")
    os.close(ruleset)


step = "log"
try:
    if log is not None:  # the launcher's stdout and stderr, and then the kernel's
        fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o666)
        os.dup2(fd, 1)
        os.dup2(fd, 2)
        os.close(fd)
    step = "cgroups"
    for path in policy["cgroup_joins"]:
        write_file(path, "0")
    if policy["address_space"] is not None:
        resource.setrlimit(resource.RLIMIT_AS, (policy["address_space"], policy["address_space"]))
    if policy["sandbox"]:
        step = "namespaces"
        enter_namespaces()
        step = "mounts"
        arrange_view()
    # Only now: a working directory entered before the view was arranged would keep the world as it was under it
    # (a relative path past what is hidden, or into what was made read-only).
    step = "cwd"
    os.chdir(cwd if cwd is not None else os.getcwd())
    if policy["sandbox"]:
        step = "rlimits"
        if policy["processes"] is not None:
            resource.setrlimit(resource.RLIMIT_NPROC, (policy["processes"], policy["processes"]))
        step = "landlock"
        landlock()
    step = "exec"
    # Found and run as subprocess would, with the environment as given (not this interpreter's, which may have
    # coerced a C locale). Only SIGPIPE and SIGXFSZ differ: ignored here, they stay ignored, where subprocess
    # would reset them; the kernel, a Python too, ignores them itself.
    os.execvpe(command[0], command, environ)
except Exception as exc:
    if step not in ("log", "cwd", "exec"):  # those fail as subprocess's would, with an OSError in the server
        os.write(2, f"ipython-mcp: the kernel could not be confined ({step}): {exc}\n".encode())
    os.write(channel, f"{step}\n{getattr(exc, 'errno', None) or 0}\n{exc}".encode())
    sys.exit(1)
""".replace("LANDLOCK_SYSCALLS", repr((SYS_LANDLOCK_CREATE_RULESET, SYS_LANDLOCK_ADD_RULE, SYS_LANDLOCK_RESTRICT_SELF)))


class Launcher:
    """A launcher's process, started before it is told what to become.

    It is this server's own interpreter (LAUNCHER_PYTHON) in isolated mode
    (-I -S: no site, no .pth file, no PYTHON* variable, nothing from the
    working directory), so nothing a kernel could have left behind runs before
    it is confined, and the server runs no code of its own between fork and
    exec (a preexec_fn: unsafe in a process with threads, and it makes
    subprocess fork this whole server rather than vfork it). Started ahead of
    need (Confinement.launch), its interpreter's start, about 12 ms of CPU,
    is not what a kernel's start waits for: that is its job's system calls
    and an exec.
    """

    def __init__(self, process: trio.Process, channel: trio.SocketStream, pass_fds: tuple[int, ...]) -> None:
        self.process = process
        self.pass_fds = pass_fds  # what it will hand on to its command
        self._channel = channel

    @classmethod
    async def start(cls, pass_fds: tuple[int, ...] = ()) -> "Launcher":
        ours, theirs = socket.socketpair()
        try:
            process = await trio.lowlevel.open_process(
                [LAUNCHER_PYTHON, "-I", "-S", "-c", CONFINE_AND_EXEC, str(theirs.fileno())],
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                start_new_session=True, pass_fds=(*pass_fds, theirs.fileno()),
            )
        except BaseException:
            ours.close()
            raise
        finally:
            theirs.close()
        return cls(process, trio.SocketStream(trio.socket.from_stdlib_socket(ours)), pass_fds)

    async def become(self, policy: Policy, command: list[str], *, env: dict[str, str] | None = None, cwd: str | Path | None = None,
                     log_path: Path | None = None) -> trio.Process:
        """Have the launcher apply ``policy`` and exec ``command`` (in a process group of its own, stdin /dev/null,
        stdout and stderr to ``log_path``); return its process once the command runs. Raises SubprocessError when
        it could not confine (it says why in the log), or the OSError subprocess would have raised for the log,
        ``cwd`` or the command."""
        import marshal

        job = (dataclasses.asdict(policy), command, dict(os.environ if env is None else env), *(None if p is None else str(p) for p in (cwd, log_path)))
        said = b""
        try:
            async with self._channel:
                with suppress(trio.BrokenResourceError):  # a launcher gone early: its exit says why
                    await self._channel.send_all(marshal.dumps(job))
                    await self._channel.send_eof()
                    while chunk := await self._channel.receive_some():
                        said += chunk
            if said:
                await self.process.wait()
        except BaseException:
            await self.aclose()
            raise
        if not said:
            return self.process
        step, errno, message = said.decode(errors="replace").split("\n", 2)
        if step in ("log", "cwd", "exec"):
            raise OSError(int(errno), os.strerror(int(errno)), {"log": log_path, "cwd": cwd, "exec": command[0]}[step])
        raise subprocess.SubprocessError(f"the launcher could not confine it ({step}): {message}")

    async def aclose(self) -> None:
        """End a launcher that will not be used."""
        with trio.CancelScope(shield=True):
            self.process.kill()
            await self.process.wait()
            await self._channel.aclose()


# Where each cgroup version keeps the memory limit and its count of OOM kills (pids.max is the same in both).
CGROUP_MEMORY_FILES = {1: ("memory.limit_in_bytes", "memory.oom_control"), 2: ("memory.max", "memory.events")}
# The file a process writes "0" to, to join a cgroup. On cgroup v1, tasks: it moves the writing thread alone (the
# launcher has no other), which spares the RCU grace period that moving a whole process through cgroup.procs waits
# for, about 10 ms on a busy machine. cgroup v2 moves only whole processes.
CGROUP_JOIN = {1: "tasks", 2: "cgroup.procs"}
OOM_KILLS = re.compile(rb"^oom_kill (\d+)", re.M)  # the count in memory.oom_control (v1) and memory.events (v2)


@dataclass
class CgroupTree:
    """A cgroup directory of this server's (ipython-mcp-<pid>), in which every kernel gets one with its limits."""

    version: int
    path: Path
    controllers: set[str]


def find_cgroup_trees(controllers: set[str], server: str) -> list[CgroupTree]:
    """Make this server's cgroup directories where it may: under its own cgroup in a cgroup v1 hierarchy it can
    write (as root), or under the nearest cgroup v2 ancestor it owns whose children get the controllers (delegated).
    Returns the trees made; a controller none serves is left to an rlimit."""
    try:
        own = [line.split(":", 2) for line in Path("/proc/self/cgroup").read_text().splitlines()]
        mounts = [line.split() for line in Path("/proc/self/mountinfo").read_text().splitlines()]
    except OSError:
        return []
    trees: list[CgroupTree] = []
    for fields in mounts:
        fstype, options = fields[fields.index("-") + 1], fields[-1].split(",")
        root, point = fields[3], fields[4]
        if fstype == "cgroup":
            served = controllers & set(options)
            path = next((p for _, names, p in own if served & set(names.split(","))), None)
            if not served or path is None or not path.startswith(root):
                continue
            candidates, version = [Path(point) / os.path.relpath(path, root)], 1
        elif fstype == "cgroup2":
            path = next((p for number, names, p in own if number == "0" and not names), None)
            if path is None or not path.startswith(root):
                continue
            here = Path(point) / os.path.relpath(path, root)
            candidates, version = [here, *[p for p in here.parents if p.is_relative_to(point)]], 2
            served = set()
        else:
            continue
        for base in candidates:
            if version == 2:
                try:
                    served = controllers & set((base / "cgroup.subtree_control").read_text().split())
                except OSError:
                    continue
                if not served or not os.access(base / "cgroup.procs", os.W_OK):
                    continue
            if not os.access(base, os.W_OK):
                continue
            tree = CgroupTree(version, base / server, served)
            try:
                tree.path.mkdir()
                if version == 2:
                    (tree.path / "cgroup.subtree_control").write_text(" ".join(f"+{c}" for c in sorted(served)))
            except OSError as exc:
                log.info("no cgroup for %s under %s: %s", ", ".join(sorted(served)), base, exc)
                with suppress(OSError):
                    tree.path.rmdir()
                continue
            _remove_stale_cgroups(base)
            trees.append(tree)
            controllers = controllers - served
            break
    return trees


def _remove_stale_cgroups(base: Path) -> None:
    """Empty cgroup directories of servers that died without removing them. Another server starting now may remove
    them first: glob.glob, unlike Path.glob, finds nothing in a directory gone meanwhile."""
    for server in base.glob("ipython-mcp-*"):
        pid = server.name.split("-")[2]
        if not pid.isdigit() or Path(f"/proc/{pid}").exists():
            continue
        for directory in [*(server / kernel for kernel in glob.glob("k*", root_dir=server)), server]:  # its kernels' first
            with suppress(OSError):  # not empty (a process still in it), or removed meanwhile
                directory.rmdir()


class KernelCgroups:
    """One kernel's cgroup directories (one per tree), its limits written, joined by the kernel's process at start."""

    def __init__(self, trees: list[CgroupTree], name: str, memory: int | None, processes: int | None) -> None:
        self.dirs: list[Path] = []
        self.joins: list[str] = []  # for the Policy: the kernel's process joins its cgroups through these
        self._oom_fd: int | None = None  # the file that counts OOM kills: read at every cell's start and end, so kept open
        self._oom_kills = 0  # the last count read, kept for when the directory is gone
        try:
            for tree in trees:
                directory = tree.path / name
                directory.mkdir()
                self.dirs.append(directory)
                self.joins.append(str(directory / CGROUP_JOIN[tree.version]))
                if "memory" in tree.controllers and memory is not None:
                    limit, oom_counts = CGROUP_MEMORY_FILES[tree.version]
                    (directory / limit).write_text(str(int(memory)))
                    for swap in ("memory.memsw.limit_in_bytes", "memory.swap.max"):  # the limit is on memory, not on memory and swap
                        if (directory / swap).exists():
                            (directory / swap).write_text(str(int(memory)) if swap.endswith("bytes") else "0")
                    self._oom_fd = os.open(directory / oom_counts, os.O_RDONLY | os.O_CLOEXEC)
                if "pids" in tree.controllers and processes is not None:
                    (directory / "pids.max").write_text(str(processes))
        except OSError:
            if self._oom_fd is not None:
                os.close(self._oom_fd)
            for directory in self.dirs:
                with suppress(OSError):
                    directory.rmdir()
            raise

    def oom_kills(self) -> int:
        """How many of the kernel's processes the memory limit has killed: one pread (opening the file and reading it
        whole, twice a cell, cost the server a tenth of a trivial round trip's CPU)."""
        if self._oom_fd is not None:
            with suppress(OSError, ValueError):
                self._oom_kills = int(OOM_KILLS.search(os.pread(self._oom_fd, 4096, 0))[1])  # type: ignore[index]
        return self._oom_kills

    async def remove(self) -> None:
        """Kill what is left in the cgroups (a process that left the kernel's process group too), then remove them."""
        self.oom_kills()
        if self._oom_fd is not None:
            os.close(self._oom_fd)
            self._oom_fd = None
        for _ in range(10):  # a process that forks while it is killed leaves a child for the next round
            pids = set()
            for directory in self.dirs:
                with suppress(OSError, ValueError):
                    pids |= {int(p) for p in (directory / "cgroup.procs").read_text().split()}
            if not pids:
                break
            waits = []
            for pid in pids:
                with suppress(OSError):
                    waits.append(os.pidfd_open(pid))
                    os.kill(pid, signal.SIGKILL)
            with trio.move_on_after(TERMINATE_GRACE_S):
                for fd in waits:
                    await trio.lowlevel.wait_readable(fd)
            for fd in waits:
                os.close(fd)
        for directory in self.dirs:
            try:
                directory.rmdir()
            except OSError as exc:
                log.warning("could not remove the kernel's cgroup %s: %s", directory, exc)


class Confinement:
    """What kernels started here are confined to (--sandbox, --memory-limit), found out once at start-up."""

    def __init__(self, config: Config, runtime_dir: Path) -> None:
        self.sandbox = config.sandbox
        self.network = config.sandbox_network or not config.sandbox
        self.memory = config.memory_limit
        self.processes = config.process_limit if config.sandbox else None
        self.runtime_dir = runtime_dir
        self.write = tuple(os.path.abspath(os.path.expanduser(p)) for p in config.sandbox_write)
        self.directory = os.path.realpath(os.getcwd())  # the server's: sessions work in it or under it, or under a --sandbox-write
        for path in self.write:
            if not os.path.isdir(path):
                raise SandboxUnavailable(f"--sandbox-write {path}: no such directory")
            if why := self._holds_home(path):
                raise SandboxUnavailable(f"--sandbox-write {path}: {why}")
        # Where a new session may work (and so write), real paths: a server started in ~ or / lends its directory to none.
        self.workplaces = tuple(os.path.realpath(p) for p in ((self.directory,) if not self._holds_home(self.directory) else ()) + self.write)
        wanted = ({"memory"} if self.memory is not None else set()) | ({"pids"} if self.sandbox else set())
        self.trees = find_cgroup_trees(wanted, runtime_dir.name) if wanted else []
        served = set().union(*(tree.controllers for tree in self.trees))
        # Where the server could make no cgroup for a limit, an rlimit stands in (plain data: marshal takes no Size).
        self.rlimit_as = int(self.memory) if self.memory is not None and "memory" not in served else None
        self.rlimit_nproc = self.processes if "pids" not in served else None
        self.hidden = hidden_places(runtime_dir)
        home = Path.home()
        self.secrets = tuple(str(home / p.removeprefix("~/")) for p in SECRET_STORES)
        self.devices = WRITABLE_DEVICES + tuple(sorted(p for pattern in GPU_DEVICES for p in glob.glob(pattern)))
        self._ahead: Launcher | None = None  # the next kernel's launcher, started while the last kernel booted
        if self.sandbox:
            abi = landlock_abi()
            log.info("Landlock ABI %d (this layer was written for ABI %d)", abi, LANDLOCK_ABI)
            if abi < LANDLOCK_ABI_NEEDED:
                raise SandboxUnavailable(
                    f"--sandbox needs Landlock ABI {LANDLOCK_ABI_NEEDED} or later (Linux 6.12, landlock in the kernel's lsm= list) to keep kernels"
                    f" from signalling the server and each other, and ABI {LANDLOCK_ABI_NETWORK} for the network rule; this kernel has "
                    + (f"ABI {abi}" if abi else "no Landlock")
                )
            if "pids" not in served and os.geteuid() == 0:
                raise SandboxUnavailable(
                    "--sandbox as root needs a pids cgroup the server can make, to bound each kernel's processes: root is exempt from RLIMIT_NPROC,"
                    " the fallback. Mount the pids controller, or run the server as a user"
                )

    @classmethod
    async def create(cls, config: Config, runtime_dir: Path) -> "Confinement | None":
        """The confinement the settings ask for, tried once on a throwaway process; None when they ask for none."""
        if not config.sandbox and config.memory_limit is None:
            return None
        if sys.platform != "linux":
            raise SandboxUnavailable("--sandbox and --memory-limit need Linux")
        confinement = cls(config, runtime_dir)
        try:
            await confinement._try()
        except BaseException:
            await confinement.aclose()
            raise
        return confinement

    async def _try(self) -> None:
        """Confine a throwaway interpreter as a kernel would be, and check from inside that it took."""
        workdir = self.runtime_dir / "probe"
        (workdir / "tmp").mkdir(parents=True, mode=0o700)
        checks = "import os, sys\n"
        if self.sandbox:
            checks += (
                "try:\n    os.kill(os.getppid(), 0)\nexcept PermissionError:\n    pass\nelse:\n    sys.exit('a signal to the server was not refused')\n"
                f"if os.listdir({str(self.runtime_dir)!r}) != ['probe']:\n    sys.exit('the server runtime directory is visible')\n"
            )
        cgroups, log_path, said = None, workdir / "probe.log", ""
        try:
            cgroups = self.kernel_cgroups(workdir.name)
            policy = self.policy(workdir, str(workdir), sys.prefix, sys.executable, cgroups)
            launcher = await Launcher.start()
            probe = await launcher.become(policy, [sys.executable, "-I", "-S", "-c", checks], cwd=workdir, log_path=log_path)  # where it says what failed
            try:
                failed = await probe.wait() != 0
            except BaseException:
                await launcher.aclose()
                raise
        except (OSError, subprocess.SubprocessError) as exc:
            failed, said = True, str(exc)
        finally:
            if cgroups is not None:
                await cgroups.remove()
        with suppress(OSError):
            said = log_path.read_text(errors="replace").strip() or said
        shutil.rmtree(workdir, ignore_errors=True)
        if failed:
            hint = " (unprivileged user namespaces may be off, or restricted by AppArmor: kernel.apparmor_restrict_unprivileged_userns)" if self.sandbox else ""
            raise SandboxUnavailable(f"kernels cannot be confined here{hint}: {said or 'the confining step failed'}")

    async def launch(self, policy: Policy, command: list[str], *, env: dict[str, str], cwd: str | None, log_path: Path, lifeline: int) -> trio.Process:
        """Start a kernel confined by ``policy`` (Launcher.become) through the launcher started ahead for it, or one
        started now; then start the next kernel's, while this one boots."""
        launcher, self._ahead = self._ahead, None
        if launcher is not None and (launcher.process.poll() is not None or launcher.pass_fds != (lifeline,)):
            await launcher.aclose()
            launcher = None
        process = await (launcher or await Launcher.start((lifeline,))).become(policy, command, env=env, cwd=cwd, log_path=log_path)
        with trio.CancelScope(shield=True):  # the kernel runs: nothing here may lose it
            try:
                ahead = await Launcher.start((lifeline,))
            except OSError as exc:
                log.warning("could not start a launcher ahead of the next kernel (it will start one when it comes): %s", exc)
            else:
                if self._ahead is None:
                    self._ahead = ahead
                else:  # another kernel's start got there first
                    await ahead.aclose()
        return process

    def kernel_cgroups(self, name: str) -> KernelCgroups | None:
        return KernelCgroups(self.trees, name, self.memory, self.processes) if self.trees else None

    @staticmethod
    def _holds_home(directory: str) -> str:
        """Why a directory may not be one a sandboxed kernel writes under, or "": the home directory and what holds
        it, where the user's start-up files live (~/.bashrc, ~/.profile, ~/.config, ~/.local/bin), which run unconfined."""
        real, home = Path(os.path.realpath(directory)), Path(os.path.realpath(Path.home()))
        if home.is_relative_to(real):
            what = "is your home directory" if real == home else "holds your home directory"
            return f"{real} {what}, whose start-up files (~/.bashrc, ~/.config, ~/.local/bin) run outside the sandbox"
        return ""

    def refusal(self, cwd: str) -> str:
        """Why a new session may not work in ``cwd`` under --sandbox, or "". Its working directory is where it may
        write, so the model does not choose it freely: it lies in the server's directory or a --sandbox-write one,
        and never holds the home directory."""
        if not self.sandbox:
            return ""
        if why := self._holds_home(cwd):
            return f"a sandboxed session may write under its working directory, and {why}: give execute a cwd in a project directory"
        real = os.path.realpath(cwd)
        if any(Path(real).is_relative_to(w) for w in self.workplaces):
            return ""
        lends = len(self.workplaces) > len(self.write)
        return (
            f"a sandboxed session works, and may write, only under {self._workplaces()}; {real} is outside: give execute a cwd inside"
            + (" it" if len(self.workplaces) == 1 else " one")
            + ("" if lends else f" (the server runs in {self.directory}: start it in a project directory, or name one with --sandbox-write)")
        )

    def _workplaces(self) -> str:
        """Where a new sandboxed session may work, in words."""
        server = [f"the server's directory ({self.directory})"] if len(self.workplaces) > len(self.write) else []
        return " or ".join([*server, *(f"{w} (--sandbox-write)" for w in self.write)]) or "a --sandbox-write directory, and there is none"

    def protected(self, cwd: str, prefix: str) -> dict[str, str]:
        """What a kernel working in ``cwd`` with the env at ``prefix`` may not change, though it lies under a directory
        it may write, each with why: the launcher's Python (the next kernel's launcher runs it before it confines
        itself); this server's code and the session's env, unless under a --sandbox-write (they run unconfined:
        the next server, the user's own commands; installing into an env is what --sandbox-write is for); and
        PROTECTED_ENTRIES of each writable directory."""
        write = [os.path.realpath(w) for w in (cwd, *self.write)]
        under = lambda path, roots: any(Path(path).is_relative_to(root) for root in roots)  # noqa: E731
        why: dict[str, str] = {}
        for home in LAUNCHER_HOME:
            if under(home, write):
                why[home] = "holds the Python that confines kernels"
        for path in {os.path.realpath(prefix), os.path.realpath(sys.prefix), os.path.realpath(MODULE_FILE)}:
            if under(path, write[:1]) and not under(path, [os.path.realpath(w) for w in self.write]) and not under(path, why):
                why[path] = "holds this server's own code" if path != os.path.realpath(prefix) else "is the session's environment"
        for root in write:
            for name in PROTECTED_ENTRIES:
                entry = os.path.join(root, name)
                if os.path.lexists(entry) and not os.path.islink(entry) and not under(entry, why):
                    why[entry] = "runs code outside the sandbox (git's hooks and config, editors' and agents' settings)"
        return why

    def policy(self, workdir: Path, cwd: str, prefix: str, python: str, cgroups: KernelCgroups | None) -> Policy:
        """One kernel's Policy: its own directory and working directory writable, its env readable where it was hidden."""
        limits = {"cgroup_joins": tuple(cgroups.joins) if cgroups else (), "address_space": self.rlimit_as}
        if not self.sandbox:
            return Policy(**limits)
        write = (cwd, str(workdir), *self.write)
        reached = {*write, prefix, str(Path(os.path.realpath(python)).parent.parent)}
        kept = tuple(sorted(p for p in reached if any(Path(p).is_relative_to(h) and p != h for h in self.hidden)))
        read_only = tuple(sorted(self.protected(cwd, prefix)))  # sorted: a directory before what it holds
        shm = f"mode=1777,size={int(self.memory) if self.memory is not None else '50%'}"
        return Policy(
            **limits, sandbox=True, hidden=self.hidden, scratch=(("/dev/shm", shm),), kept=kept, secrets=self.secrets, read_only=read_only,
            write=(*write, "/dev/shm"), devices=self.devices, network=self.network, processes=self.rlimit_nproc,
        )

    def environ(self, tmpdir: Path) -> dict[str, str]:
        """Where a kernel's tools write: a sandboxed kernel's TMPDIR holds IPython's, matplotlib's and the caches' files."""
        updates = {}
        if self.rlimit_as is not None:
            updates["MALLOC_ARENA_MAX"] = os.environ.get("MALLOC_ARENA_MAX", "2")  # glibc reserves 64 MiB of address space per thread otherwise
        if self.sandbox:
            updates.update(
                TMPDIR=str(tmpdir), IPYTHONDIR=str(tmpdir / "ipython"), MPLCONFIGDIR=str(tmpdir / "matplotlib"), XDG_CACHE_HOME=str(tmpdir / "cache")
            )
        return updates

    def describe(self, cwd: str | None = None) -> str:
        """What a session may do, in a sentence, for list_sessions and the server's instructions."""
        parts = []
        if self.sandbox:
            where = ", ".join([f"its working directory{f' ({cwd})' if cwd else ''}", "its own $TMPDIR", *(f"{p} (--sandbox-write)" for p in self.write)])
            parts += [
                "sandboxed: reads any file but the secret stores (~/.ssh, ~/.aws, ... ) and the server's own files",
                f"writes only under {where}",
                "network allowed (--sandbox-network)" if self.network else "no network (no connection or listening socket reaches outside the session)",
                f"at most {self.processes} processes and threads",
                "/tmp and $XDG_RUNTIME_DIR are empty private directories",
                "no signal or socket reaches the server or other sessions",
            ]
        if self.memory is not None:
            parts.append(f"memory limit {self.memory} per kernel")
        return "; ".join(parts)

    def explain(self, lines: list[str], error: dict[str, str] | None, oom_kills: int, tmpdir: str, cwd: str, prefix: str) -> str:
        """The rule behind a refusal in a cell's error or output, in a line; "" when none is recognised."""
        if oom_kills:
            return f"memory limit {self.memory} reached (--memory-limit): a process of this session was killed"
        texts = ([f"{error['ename']}: {error['evalue']}"] if error else []) + lines
        for text in texts:
            if reason := self._rule(text, tmpdir, cwd, prefix):
                return reason
        return ""

    def _rule(self, text: str, tmpdir: str, cwd: str, prefix: str) -> str:
        if self.memory is not None and ("MemoryError" in text or "Cannot allocate memory" in text):
            return f"memory limit {self.memory} per kernel (--memory-limit)"
        if not self.sandbox:
            return ""
        if "Resource temporarily unavailable" in text or "can't start new thread" in text:
            return f"a session may run at most {self.processes} processes and threads (--process-limit)"
        paths = [os.path.normpath(os.path.join(cwd, next(filter(None, m)).rstrip("."))) for m in PATH_IN_TEXT.findall(text)]
        if any(re.match(r"/proc/\d+(/|$)", path) for path in paths):
            return "processes outside this session are out of reach: their /proc entries, signals and tracing"
        for path in paths:
            if hidden := next((h for h in (*self.secrets, *self.hidden) if Path(path).is_relative_to(h)), None):
                if hidden in self.secrets:
                    return f"{hidden} is hidden from sandboxed sessions: it holds credentials"
                if not any(Path(path).is_relative_to(p) for p in (tmpdir, cwd, prefix, *self.write)):  # put back in place
                    return f"{hidden} is an empty private directory here (other programs' files and sockets live in the real one); write temporary files under $TMPDIR ({tmpdir})"
        if paths and re.search("Permission denied|Read-only file system|Invalid cross-device link|Device or resource busy", text):
            where = ", ".join([f"{cwd} (the working directory)", f"{tmpdir} ($TMPDIR)", *(f"{p} (--sandbox-write)" for p in self.write)])
            protected = self.protected(cwd, prefix)
            writable = [os.path.realpath(p) for p in (cwd, tmpdir, *self.write)]
            # the path that is out of bounds: a move from the working directory names the one inside it first
            path = next((p for p in paths if not any(Path(os.path.realpath(p)).is_relative_to(w) for w in writable)
                         or any(Path(os.path.realpath(p)).is_relative_to(h) for h in protected)), paths[0])
            real = os.path.realpath(path)
            if (held := next((p for p in protected if Path(real).is_relative_to(p)), None)) is not None:
                reason = f"{held} {protected[held]}: it is read-only to sandboxed kernels, even under a writable directory"
            else:
                reason = f"writes are allowed under {where}; {path}{f' (a link to {real})' if real != path else ''} is outside them"
            if Path(real).is_relative_to(os.path.realpath(prefix)):
                reason += f": to install into the session's environment, start the server with --sandbox-write {prefix}"
            return reason
        if not self.network and re.search("Permission denied|Network is unreachable|Temporary failure in name resolution", text):
            return "no network: no connection leaves a sandboxed session, name lookups neither (start the server with --sandbox-network to allow them)"
        if "Operation not permitted" in text and not paths:
            return "signals, tracing and abstract UNIX sockets reach only this session's own processes"
        return ""

    def instructions(self) -> str:
        """The server's instructions, on confinement."""
        text = f" Kernels are confined: {self.describe()}."
        if self.sandbox:
            text += (
                " A cell that meets a rule fails with Python's usual exception (PermissionError, ConnectionRefusedError, MemoryError ...)"
                " and the reply adds a line [sandbox: ...] naming the rule: change course rather than retry."
                f" A new session's cwd lies under {self._workplaces()}."
            )
        return text

    async def aclose(self) -> None:
        if self._ahead is not None:
            await self._ahead.aclose()
            self._ahead = None
        for tree in self.trees:
            with suppress(OSError):
                tree.path.rmdir()



# ============================================================================
# Attach: a running kernel someone else started
# ============================================================================


class AttachedKernel(ZmqKernel):
    """A kernel someone else started (a notebook's, say), joined through its connection file.

    It is never killed: interrupts go as interrupt_request on the control
    channel, and the end of the session only disconnects.
    """

    def __init__(self, source: Joined, zmq_context: zmq.Context) -> None:
        super().__init__(source, zmq_context)
        self.connection_file = source.path

    async def interrupt(self) -> None:
        if self._sockets and self.alive:
            await self._send("control", self._session.msg("interrupt_request", {}))

    async def _launch(self) -> dict[str, Any]:
        try:
            info = json.loads(await trio.to_thread.run_sync(read_regular_file, self.connection_file, CONNECTION_FILE_BYTES))
            key = info.get("key", "").encode()
            scheme = info.get("signature_scheme", "hmac-sha256")
        except (OSError, ValueError, AttributeError) as exc:
            raise KernelStartError(f"cannot read connection file {shown(str(self.connection_file), SHOWN_PATH_CHARS)}: {exc}") from None
        self._session = _jupyter_session_class()(key=key, signature_scheme=scheme, username="ipython-mcp")
        return info


def find_connection_file(spec: str) -> Path:
    """A connection file by path, or by name (or glob) in Jupyter's runtime directory.

    Whatever it finds is read later only if it is a regular file (read_regular_file).
    """
    check_path("connection_file", spec)
    path = Path(os.path.expanduser(spec))
    if os.path.lexists(path):
        return path.absolute()
    from jupyter_client.connect import find_connection_file as jupyter_find
    from jupyter_core.paths import jupyter_runtime_dir

    try:
        return Path(jupyter_find(spec))
    except OSError:
        runtime = jupyter_runtime_dir()
        known = sorted(p.name for p in Path(runtime).glob("kernel-*.json"))[:10]
        raise ToolError(
            f"no connection file {shown(spec)} (looked for that path and in {runtime}; kernels there: {', '.join(known) or 'none'})."
            " In a notebook, %connect_info names the file."
        ) from None


# ============================================================================
# Kernels on a Jupyter Server or Enterprise Gateway
# ============================================================================


MIN_REDACTED_CHARS = 4  # the shortest query value of the gateway URL replaced in free text (in the URL itself every one is)


def redact_url(url: str) -> tuple[str, list[str]]:
    """A URL as replies and logs show it, its password and query values replaced by ***; and those secrets.

    (http://alice:pw@host/?token=t becomes http://alice:***@host/?token=***: the
    user name and the host stay, to say which account on which server.)
    """
    parts = urllib.parse.urlsplit(url)
    found: list[str] = []
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, host = netloc.rsplit("@", 1)
        user, colon, password = userinfo.partition(":")
        if colon:
            found += [password, urllib.parse.unquote(password)]
            netloc = f"{user}:***@{host}"
    query = urllib.parse.parse_qsl(parts.query, keep_blank_values=True)
    # a value too short to be a secret (x=1) would, replaced in every text, garble what it says (127.0.0.1)
    query_secrets = [value for _, value in query if len(value) >= MIN_REDACTED_CHARS]
    found += query_secrets + [urllib.parse.quote(value) for value in query_secrets]
    shown_query = "&".join(f"{key}=***" for key, _ in query)
    return urllib.parse.urlunsplit((parts.scheme, netloc, parts.path, shown_query, parts.fragment)), [s for s in found if s]


def redact(text: str, secrets_: list[str]) -> str:
    """``text`` with every one of ``secrets_`` replaced by ***, longest first."""
    for secret in sorted(secrets_, key=len, reverse=True):
        text = text.replace(secret, "***")
    return text


class Redact(logging.Filter):
    """Keeps secrets (the gateway URL's password and query values, the gateway token) out of every log line."""

    def __init__(self, secrets_: list[str]) -> None:
        super().__init__()
        self.secrets = [secret for secret in secrets_ if secret]

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if any(secret in message for secret in self.secrets):
            record.msg, record.args = redact(message, self.secrets), ()
        return True


def _reason(response: "Response") -> str:
    """The explanation a Jupyter server puts in an error response, if any."""
    with suppress(ValueError, AttributeError):  # not JSON, or not an object: it gives none
        body = response.json()
        return str(body.get("reason") or body.get("message") or "")
    return ""


class Gateway:
    """A Jupyter Server (or Enterprise Gateway, which speaks the same API) that hosts kernels.

    REST for the lifecycle (create, interrupt, delete), one websocket per
    kernel for its channels. The websocket client is imported here, only
    when a gateway is used, so a vendored copy without it runs local kernels.
    """

    def __init__(self, url: str, token: str | None) -> None:
        import httpx2

        # A URL copied from Jupyter's start-up message (http://host:8888/lab?token=...) names a page of its UI and
        # carries the token: the server is the URL without them, and that token serves unless one was given.
        parts = urllib.parse.urlsplit(url)
        token = token or dict(urllib.parse.parse_qsl(parts.query)).get("token")
        path = re.sub(r"/(lab|tree)/?$", "", parts.path).rstrip("/")
        self.url = urllib.parse.urlunsplit((parts.scheme, parts.netloc, path, "", ""))
        self.shown = redact_url(self.url)[0]  # what replies and logs say: no password, no token
        self.secrets = redact_url(url)[1] + ([token] if token else [])
        self._token = token
        headers = {"Authorization": f"token {token}"} if token else {}
        self._http = httpx2.AsyncClient(base_url=self.url, headers=headers, timeout=GATEWAY_TIMEOUT_S)
        self._errors = (httpx2.HTTPError, OSError)

    async def call(self, method: str, path: str, expect: tuple[int, ...] = (), doing: str = "", body: object = None) -> "Response":
        """A REST call's response; GatewayError when the server cannot be reached, refuses us, or answers other than ``expect``."""
        try:
            response = await self._http.request(method, path, json=body)
        except self._errors as exc:
            raise GatewayError(f"cannot reach the Jupyter server at {self.shown}: {exc.__class__.__name__}: {redact(str(exc), self.secrets)}") from None
        if response.status_code in (401, 403):
            reason = _reason(response)
            raise GatewayError(
                f"the Jupyter server at {self.shown} refused the request (HTTP {response.status_code})"
                + (f": {reason}" if reason else ": check the token (IPYTHON_MCP_GATEWAY_TOKEN)")
            )
        if expect and response.status_code not in expect:
            raise self._failed(response, doing)
        return response

    def _failed(self, response: "Response", doing: str) -> GatewayError:
        return GatewayError(f"{self.shown} could not {doing} (HTTP {response.status_code}): {redact(_reason(response) or response.text[:500], self.secrets)}")

    async def kernelspecs(self) -> tuple[str, list[str]]:
        body = (await self.call("GET", "/api/kernelspecs", (200,), "list its kernelspecs")).json()
        return body.get("default", ""), sorted(body.get("kernelspecs", {}))

    async def start_kernel(self, kernelspec: str) -> str:
        # Enterprise Gateway starts kernels as KERNEL_USERNAME (and refuses root); Jupyter Server ignores it.
        body: dict[str, object] = {"env": {"KERNEL_USERNAME": os.environ.get("KERNEL_USERNAME") or getpass.getuser()}}
        if kernelspec:
            body["name"] = kernelspec
        response = await self.call("POST", "/api/kernels", body=body)
        if response.status_code in (200, 201):
            return response.json()["id"]
        default, names = await self.kernelspecs()
        if kernelspec and kernelspec not in names:
            raise EnvError(
                f"the Jupyter server at {self.shown} has no kernelspec {shown(kernelspec)}; it offers: "
                f"{', '.join(names) or 'none'} (default {default!r}). With a gateway, env names a kernelspec."
            )
        raise self._failed(response, "start a kernel")

    async def connect(self, nursery: trio.Nursery, kernel_id: str, client_session: str) -> "WebSocketConnection":
        from trio_websocket import connect_websocket_url

        ws_url = re.sub(r"^http", "ws", self.url) + f"/api/kernels/{kernel_id}/channels?session_id={client_session}"
        headers = [(b"Authorization", f"token {self._token}".encode())] if self._token else []
        try:
            return await connect_websocket_url(nursery, ws_url, extra_headers=headers, max_message_size=WS_MAX_MESSAGE)
        except Exception as exc:  # handshake refused, connection refused, TLS: all mean "not connected"
            raise GatewayError(
                f"cannot open the kernel's websocket at {redact(ws_url, self.secrets)}: {exc.__class__.__name__}: {redact(str(exc), self.secrets)}"
            ) from None

    async def aclose(self) -> None:
        await self._http.aclose()


class RemoteKernel(Kernel):
    """A kernel created on a Jupyter Server, driven over its websocket channels.

    The server signs messages for the kernel, so ours go unsigned. A dropped
    websocket is reconnected with the same client session id, for which the
    server keeps what the kernel said meanwhile; a kernel the server reports
    restarting or dead has lost its state, and ends like a local one that died.
    """

    def __init__(self, gateway: Gateway, source: Kernelspec) -> None:
        super().__init__(source)
        self.gateway = gateway
        self.kernelspec = source.spec
        self.kernel_id: str | None = None
        self._client_session = secrets.token_hex(16)
        self._ws: WebSocketConnection | None = None
        self._reconnected = trio.Event()  # set (and replaced) when the websocket is replaced or the kernel ends
        self._nursery: trio.Nursery | None = None

    restarts_in_place = True  # POST .../restart keeps the kernel's id, which a person watching the server sees

    @property
    def location(self) -> str:  # type: ignore[override]
        return f"{self.gateway.shown} kernel {self.kernel_id}"

    async def restart(self, start_timeout: float) -> None:
        await self.gateway.call("POST", f"/api/kernels/{self.kernel_id}/restart", (200,), f"restart kernel {self.kernel_id}")
        with trio.move_on_after(start_timeout) as deadline:
            await self._handshake()
        if deadline.cancelled_caught:
            raise KernelStartError(f"kernel {self.kernel_id} did not answer within {start_timeout:g} s of its restart")

    async def interrupt(self) -> None:
        if self.kernel_id is not None and self.alive:
            try:
                await self.gateway.call("POST", f"/api/kernels/{self.kernel_id}/interrupt")
            except GatewayError as exc:  # the ladder goes on: past its grace the kernel is deleted
                log.warning("could not interrupt %s: %s", self.location, exc)

    async def _launch(self) -> dict[str, Any]:
        # The Jupyter server re-signs what it forwards to the kernel; a throwaway
        # key only keeps jupyter_client from warning that signing is off.
        self._session = _jupyter_session_class()(key=secrets.token_hex(16).encode(), username="ipython-mcp")
        self.kernel_id = await self.gateway.start_kernel(self.kernelspec)
        return {}

    async def _open(self, connection: dict[str, Any], nursery: trio.Nursery) -> None:
        self._nursery = nursery
        self._ws = await self.gateway.connect(nursery, self.kernel_id, self._client_session)
        nursery.start_soon(self._read)

    async def _send(self, channel: str, msg: dict[str, Any]) -> None:
        from jupyter_client.jsonutil import json_default
        from trio_websocket import ConnectionClosed

        data = json.dumps({**msg, "channel": channel}, default=json_default)
        while self.alive:
            ws, reconnected = self._ws, self._reconnected
            try:
                return await ws.send_message(data)
            except ConnectionClosed:
                await reconnected.wait()  # the reader is reconnecting; send again on the new socket

    async def _read(self) -> None:
        from trio_websocket import ConnectionClosed

        while True:
            try:
                msg = json.loads(await self._ws.get_message())
            except ConnectionClosed:
                if await self._reconnect():
                    continue
                self.stop(f"the kernel on {self.gateway.shown} is gone (its websocket closed and the kernel no longer exists)")
                return
            state = msg.get("content", {}).get("execution_state") if msg.get("msg_type") == "status" else None
            if state in ("restarting", "autorestarting", "dead"):
                self.stop(f"the kernel died on {self.gateway.shown} (the server reported '{state}')")
                return
            await self._deliver(msg)

    async def _reconnect(self) -> bool:
        """Bounded backoff; rejoin the kernel if the server still has it."""
        for delay in RECONNECT_DELAYS_S:
            await trio.sleep(delay)
            try:
                if (await self.gateway.call("GET", f"/api/kernels/{self.kernel_id}")).status_code != 200:  # the server no longer has it
                    return False
                self._ws = await self.gateway.connect(self._nursery, self.kernel_id, self._client_session)
            except GatewayError as exc:
                log.info("reconnecting to %s: %s", self.location, exc)
                continue
            self.notes.append(f"the connection to {self.gateway.shown} dropped and was restored; the kernel kept its state")
            self._reconnected.set()
            self._reconnected = trio.Event()
            return True
        return False

    def _close(self) -> None:
        self._reconnected.set()  # no sender waits for a socket that will not come

    async def _end(self) -> None:
        """Delete the kernel on the server: this server created it, so it cleans it up; one left there is logged."""
        if self.kernel_id is None:
            return
        failure = f"no answer within {GATEWAY_TIMEOUT_S:g} s"
        with trio.move_on_after(GATEWAY_TIMEOUT_S):
            try:  # a 404 will do: the kernel is gone already
                await self.gateway.call("DELETE", f"/api/kernels/{self.kernel_id}", (204, 404), f"delete kernel {self.kernel_id}")
                return
            except GatewayError as exc:
                failure = str(exc)
        log.warning("kernel %s may still run on %s: deleting it failed (%s)", self.kernel_id, self.gateway.shown, failure)

    async def _release(self) -> None:
        if self._ws is not None:
            with trio.move_on_after(1):
                try:
                    await self._ws.aclose()
                except Exception as exc:  # the socket is gone either way; the kernel's fate is _end's
                    log.info("closing the websocket of %s: %s", self.location, exc)


# ============================================================================
# Warm spares: a default-env kernel started before anyone asks
# ============================================================================


class Spares:
    """Default-env kernels kept started and waiting, so a new session's first cell needs no start-up.

    A spare lives in the server's nursery until a session in the default env
    and the server's directory adopts it (a new session, or a reset); then
    another is started behind it. Spares are not sessions: not listed, not
    counted against the cap, shut down with the server.
    """

    def __init__(self, registry: "Sessions") -> None:
        self._registry = registry
        self._kernels: list[Kernel] = []
        self._wanted = trio.Event()
        self._failures = 0  # spares that died unused since one last served; past 3 no more are started

    def take(self, source: Source, cwd: str) -> Kernel | None:
        """A warm kernel for a default-env session in the server's directory, if one is ready."""
        if not isinstance(source, Env) or source.spec:
            return None
        for kernel in self._kernels:
            if kernel.alive and kernel.cwd == cwd:
                self._kernels.remove(kernel)
                self._failures = 0  # a spare served: worth keeping again
                self._wanted.set()
                return kernel
        return None

    async def keep(self, count: int) -> None:
        """Keep ``count`` spares started; give up (with a warning) when one fails to start."""
        registry = self._registry
        env, cwd = resolve_env(None, registry.config.envs_dir), os.getcwd()
        if registry.confinement is not None and (why := registry.confinement.refusal(cwd)):
            log.info("no spare kernels: no session may work in the server's directory: %s", why)
            return
        while True:
            while len(self._kernels) < count:
                try:
                    kernel = await registry.start_kernel(env, cwd, registry.nursery)
                except KernelStartError as exc:
                    log.warning("spare kernel failed to start; running without spares: %s", exc)
                    return
                kernel.listener = self
                self._kernels.append(kernel)
                log.info("spare kernel %s is ready", kernel.pid)
            self._wanted = trio.Event()
            await self._wanted.wait()

    async def kernel_gone(self, kernel: Kernel) -> None:
        """A spare ended before any session took it."""
        if kernel in self._kernels:
            self._kernels.remove(kernel)
            self._failures += 1
            if self._failures <= 3:  # a spare that keeps dying is not worth restarting forever
                self._wanted.set()

    async def stop_all(self) -> None:
        kernels, self._kernels = self._kernels, []
        for kernel in kernels:
            kernel.stop("the server is shutting down")
        for kernel in kernels:
            await kernel.gone.wait()


# ============================================================================
# Output shaping: what the model reads
# ============================================================================


# Terminal control sequences: CSI (colours, cursor moves), OSC (titles,
# hyperlinks), DCS/SOS/PM/APC strings, and the two-byte escapes.
_ESCAPES = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]"
    r"|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?"
    r"|\x1b[PX^_][^\x1b]*(?:\x1b\\)?"
    r"|\x1b[@-Z\\-_]"
    r"|\x9b[0-?]*[ -/]*[@-~]"
)


_CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")  # after \r and \b are applied; keeps \t and \n


def _overstrike(line: str) -> str:
    """Apply \\r and \\b as a terminal would, so a progress bar leaves its final state."""
    if "\r" not in line and "\b" not in line:
        return line
    cells: list[str] = []
    col = 0
    for ch in line:
        if ch == "\r":
            col = 0
        elif ch == "\b":
            col = max(0, col - 1)
        else:
            if col < len(cells):
                cells[col] = ch
            else:
                cells.append(ch)
            col += 1
    return "".join(cells)


def clean_text(text: str) -> str:
    """Plain text for a model: no escapes, overstrikes applied, \\n line endings."""
    text = _ESCAPES.sub("", text.replace("\r\n", "\n"))
    lines = [_overstrike(line) for line in text.split("\n")]
    return _CONTROLS.sub("", "\n".join(lines))


@dataclass
class Part:
    kind: Literal["stdout", "stderr", "result", "display", "error", "note", "image"]
    text: str = ""
    mime: str = ""  # images only: image/png or image/jpeg, data base64 in text
    line: int = 0  # the spool line (0-based) the part starts on, for pointing output() at what a reply left out
    display_id: str | None = None  # a display the cell may update in place (update_display_data)

    @property
    def size(self) -> int:
        return 0 if self.kind == "image" else len(self.text)

    @property
    def image_bytes(self) -> int:
        """An image's size once decoded (base64 carries 3 bytes in 4 characters); 0 for text."""
        return len(self.text) * 3 // 4 if self.kind == "image" else 0


class Masker:
    """A session's secrets (what its cells' getpass() returned), replaced by ******** wherever the
    session's output would reach the model or a disk, as CI systems mask theirs.

    Held in memory only, for the life of the session. A secret is looked for
    as typed and as the kernel would echo it: in a repr or traceback (escaped
    as a Python string), inside JSON (the variables tool reads the kernel's
    JSON), and HTML-escaped (a rich display). The one thing a line cannot
    show is a secret split across two lines; a secret split across two
    stream messages is whole again once Lines has assembled its line.
    """

    def __init__(self) -> None:
        self._forms: list[str] = []  # longest first, so the longest form wins where two overlap
        self._pattern: re.Pattern[str] | None = None

    def __bool__(self) -> bool:
        return self._pattern is not None

    def add(self, secret: str) -> None:
        if len(secret) < MIN_MASKED_SECRET:
            return
        python, ascii_only = repr(secret)[1:-1], ascii(secret)[1:-1]
        forms = {
            secret, python, ascii_only, html.escape(secret),
            *(json.dumps(form, ensure_ascii=flag)[1:-1] for form in (secret, python, ascii_only) for flag in (True, False)),
        }
        self._forms = sorted(set(self._forms) | forms, key=len, reverse=True)
        self._pattern = re.compile("|".join(map(re.escape, self._forms)))
        # every piece of a form as long as a fragment must be: a cut's neighbour that is none of them needs no search
        self._grams = {form[i : i + MIN_CUT_FRAGMENT] for form in self._forms for i in range(len(form) - MIN_CUT_FRAGMENT + 1)}

    def text(self, text: str) -> str:
        """``text`` with the secrets masked, and a secret's fragment where a value was shown cut short (a DataFrame
        cell, a reprlib repr: head...tail)."""
        if self._pattern is None or not text:
            return text
        text = self._pattern.sub(MASK, text)
        for cut in CUTS:
            if cut in text:
                text = self._around(text, cut)
        return text

    def content(self, value: Any) -> Any:
        """Every string in a kernel message's content (or a notebook output) masked; images left as they are."""
        if self._pattern is None:
            return value
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, list):
            return [self.content(item) for item in value]
        if isinstance(value, dict):
            return {key: item if str(key).startswith("image/") else self.content(item) for key, item in value.items()}
        return value

    def shown(self, text: str) -> str:
        """Text still growing (an unfinished line), masked, without a tail that could be the start of a secret."""
        text = self.text(text)
        return text[: len(text) - self.held_back(text)] if self._pattern is not None else text

    def held_back(self, text: str, shortest: int = 1) -> int:
        """How many characters at the end of ``text`` could begin a secret (at least ``shortest``, else 0)."""
        return max((size for form in self._forms for size in range(shortest, len(form)) if text.endswith(form[:size])), default=0)

    def _around(self, text: str, cut: str) -> str:
        """A secret's head just before ``cut``, and its tail just after, masked."""
        pieces = text.split(cut)
        for index, piece in enumerate(pieces):
            if index < len(pieces) - 1 and piece[-MIN_CUT_FRAGMENT:] in self._grams and (size := self.held_back(piece, MIN_CUT_FRAGMENT)):
                piece = piece[:-size] + MASK
            if index > 0 and piece[:MIN_CUT_FRAGMENT] in self._grams and (size := self._begins_with_an_end(piece)):
                piece = MASK + piece[size:]
            pieces[index] = piece
        return cut.join(pieces)

    def _begins_with_an_end(self, text: str) -> int:
        return max((size for form in self._forms for size in range(MIN_CUT_FRAGMENT, len(form)) if text.startswith(form[-size:])), default=0)


class Lines:
    """Stream text assembled into whole lines per stream and cleaned line by line.

    A carriage-return progress bar costs one line, not thousands: a line being
    redrawn keeps only what it shows now once it grows past REDRAW_COLLAPSE,
    and a "line" that never ends is cut at LONG_LINE, so memory stays bounded.
    Lines are masked whole (a secret split across two messages is caught);
    an unfinished line is shown without a tail that could begin a secret.
    """

    def __init__(self, masker: Masker | None = None) -> None:
        self.masker = masker if masker is not None else Masker()
        self._pending: dict[str, str] = {}
        self._last_kind = "stdout"  # the stream written last
        self._last_line = ""  # its last complete non-empty line, raw

    @property
    def latest(self) -> str:
        """The latest line printed, for progress messages and list_sessions."""
        pending = self._pending.get(self._last_kind, "")
        line = self.masker.shown(clean_text(pending)) if pending.strip() else self.masker.text(clean_text(self._last_line))
        return line.strip().rsplit("\n", 1)[-1][-200:]

    def feed(self, name: str, text: str) -> list[Part]:
        kind = "stderr" if name == "stderr" else "stdout"
        parts = []
        pending = self._pending.get(kind, "") + text
        if "\n" in pending:
            complete, pending = pending.rsplit("\n", 1)
            parts.append(Part(kind, self.masker.text(clean_text(complete)) + "\n"))
            if complete.strip():
                self._last_line = complete.strip().rsplit("\n", 1)[-1]
        if "\r" in pending and len(pending) > REDRAW_COLLAPSE:
            # The cursor is back at column 0 after the last \r: keep what the line shows now.
            cut = pending.rfind("\r")
            pending = _overstrike(_ESCAPES.sub("", pending[:cut])) + "\r" + pending[cut + 1 :]
        if len(pending) > LONG_LINE:
            cut = len(pending) - self.masker.held_back(pending)  # a secret's start stays for the rest of it
            parts.append(Part(kind, self.masker.text(clean_text(pending[:cut]))))
            pending = pending[cut:]
        self._pending[kind] = pending
        if text.strip():
            self._last_kind = kind
        return parts

    def flush(self) -> list[Part]:
        """End the unfinished lines (before other output, and when the cell ends)."""
        parts = [Part(kind, self.masker.text(clean_text(pending)) + "\n") for kind, pending in self._pending.items() if pending]  # type: ignore[arg-type]
        self._pending.clear()
        return parts

    def discard(self) -> None:
        """Forget the unfinished lines: the cell cleared its output (clear_output)."""
        self._pending.clear()

    def peek(self) -> str:
        """The unfinished lines as they look now (a progress bar mid-way), without ending them."""
        return "".join(self.masker.shown(clean_text(pending)) + "\n" for pending in self._pending.values() if pending)


class Transcript:
    """One reply's view of a cell's output: what no reply has shown yet, within a budget.

    The first half of the budget keeps the head, the second half a rolling
    tail; what falls between is counted and left to the spool, which holds
    everything. Images are kept up to their own caps and otherwise named.
    """

    def __init__(self, budget: int, max_images: int, max_image_bytes: int) -> None:
        self.budget = budget
        self.head_budget = budget // 2
        self.max_images = max_images
        self.max_image_bytes = max_image_bytes
        self.clear()

    def clear(self) -> None:
        """Empty, as at first and after the cell's clear_output: what it held is no longer what the cell shows."""
        self.head: list[Part] = []
        self.head_chars = 0
        self.tail: deque[Part] = deque()
        self.tail_chars = 0
        self.omitted_chars = 0
        self.omitted_lines = 0
        self.omitted_from: int | None = None  # spool line where the left-out stretch begins
        self.images_left_out: list[str] = []

    @property
    def truncated(self) -> bool:
        return self.omitted_chars > 0

    def update(self, display_id: str, parts: list[Part]) -> bool:
        """Put ``parts`` where the display ``display_id`` is, if this view holds it; say whether it did."""
        for held in (self.head, self.tail):
            at = next((i for i, part in enumerate(held) if part.display_id == display_id), None)
            if at is not None:
                kept = [part for part in held if part.display_id != display_id]
                held.clear()
                held.extend(kept[:at] + parts + kept[at:])
                self.head_chars = sum(part.size for part in self.head)
                self.tail_chars = sum(part.size for part in self.tail)
                self._trim_tail()
                return True
        return False

    def add(self, part: Part) -> None:
        if part.kind == "image":
            held = [image for image in (*self.head, *self.tail) if image.kind == "image"]
            if len(held) >= self.max_images or sum(image.image_bytes for image in held) + part.image_bytes > self.max_image_bytes:
                self.images_left_out.append(part.mime)
                return
        if self.head_chars + part.size <= self.head_budget and not self.tail:
            self.head.append(part)
            self.head_chars += part.size
            return
        if not self.tail and part.size and self.head_chars < self.head_budget:
            # Split a long part at the head's edge, on a line break: the head ends on a whole line.
            room = self.head_budget - self.head_chars
            if cut := part.text.rfind("\n", 0, room) + 1:
                self.head.append(Part(part.kind, part.text[:cut], line=part.line))
                self.head_chars += cut
                part = Part(part.kind, part.text[cut:], line=part.line + part.text.count("\n", 0, cut))
        self.tail.append(part)
        self.tail_chars += part.size
        self._trim_tail()

    def parts(self, session: str, cell: int | None) -> Iterator[Part]:
        """What the reply shows, with a marker where the middle was left out that says how output() reads it."""
        yield from self.head
        if self.truncated:
            yield Part("note", (
                f"[... {self.omitted_lines} lines ({self.omitted_chars} characters) left out here;"
                f" output(session={session!r}, cell={cell}, offset={self.omitted_from or 0}) reads them ...]\n"
            ))
        yield from self.tail
        if self.images_left_out:
            yield Part("note", f"[{len(self.images_left_out)} more image(s) not attached to this reply; their files are named above]\n")

    def text_of(self, *kinds: str) -> str:
        return "".join(p.text for p in (*self.head, *self.tail) if p.kind in kinds)

    def _trim_tail(self) -> None:
        limit = self.budget - self.head_budget
        while self.tail_chars > limit:
            first = self.tail[0]
            excess = self.tail_chars - limit
            if self.omitted_from is None:
                self.omitted_from = first.line
            if first.size <= excess:
                self.tail.popleft()
                self.tail_chars -= first.size
                if first.kind == "image":
                    self.images_left_out.append(first.mime)
                else:
                    self._omit(first.text)
            else:
                # Cut at the next line break after the excess, so the tail starts on a whole line.
                cut = first.text.find("\n", excess) + 1 or excess
                self._omit(first.text[:cut])
                first.line += first.text.count("\n", 0, cut)
                first.text = first.text[cut:]
                self.tail_chars -= cut
                if not first.text:
                    self.tail.popleft()

    def _omit(self, text: str) -> None:
        self.omitted_chars += len(text)
        self.omitted_lines += text.count("\n")


class Spool:
    """A cell's whole output, kept as it streams for the output tool to read back.

    The first SPOOL_MEMORY characters stay in memory (most cells print less,
    and a file per cell would cost more than the rest of a round trip); past
    that, everything goes to a file in the session's directory, as UTF-8, in
    plain buffered writes cheap enough not to need a thread. Past ``cap``
    characters the rest is only counted, so one cell cannot fill the disk.
    About every SPOOL_MARK_BYTES it notes where a line starts and its number
    (``marks``), so a reader finds line N, or the number of a line it found,
    without counting every line before it.
    """

    def __init__(self, path: Path, cap: int) -> None:
        self.path = path
        self.cap = cap
        self.size = 0  # characters, for the cap
        self.bytes = 0  # as written, for readers
        self.lines = 0  # complete lines written
        self.open_line = False  # the last line has no newline yet
        self.lines_left_out = 0
        self.marks: list[tuple[int, int]] = [(0, 0)]  # (byte offset, 0-based line number) of line starts
        self._memory: list[bytes] = []
        self._file: io.BufferedWriter | None = None
        self.on_disk = False

    @property
    def total_lines(self) -> int:
        return self.lines + self.open_line

    def write(self, text: str) -> None:
        if not text:
            return
        if self.size + len(text) > self.cap:
            self.lines_left_out += text.count("\n") or 1
            return
        self._put(text.encode("utf-8", "replace"))
        self.size += len(text)
        self.lines += text.count("\n")
        self.open_line = not text.endswith("\n")

    def _put(self, data: bytes) -> None:
        if not self.open_line and self.bytes - self.marks[-1][0] >= SPOOL_MARK_BYTES:
            self.marks.append((self.bytes, self.lines))
        if self._file is not None:
            self._file.write(data)
        else:
            self._memory.append(data)
            if self.bytes + len(data) > SPOOL_MEMORY:
                self._file = open(self.path, "wb")  # noqa: SIM115 - closed in close()
                self.on_disk = True
                self._file.write(b"".join(self._memory))
                self._memory = []
        self.bytes += len(data)

    def flush(self) -> None:
        if self._file is not None:
            self._file.flush()

    def close(self) -> None:
        if self.lines_left_out:
            self._put((("\n" if self.open_line else "") + f"[the spool is full: {self.lines_left_out} more lines were not saved]\n").encode())
            self.lines += 1 + self.open_line
            self.open_line = False
            self.lines_left_out = 0
        if self._file is not None:
            self._file.close()
            self._file = None

    def view(self) -> "SpoolView":
        """What a reader may read now: everything written so far (flushed), and where lines start."""
        self.flush()
        memory = None if self.on_disk else b"".join(self._memory)
        return SpoolView(self.path, memory, self.bytes, tuple(self.marks))


# ============================================================================
# Reading a spool back: a page of lines, or the lines a pattern matches
# ============================================================================
#
# Both run in a worker thread, so a 100 MB spool never stalls the event loop,
# and read the file in blocks of whole lines into one reused buffer, so
# memory stays bounded. A pattern is run by RE2 where RE2 can express it:
# linear time, on the bytes as written (no decoding of 100 MB to str), and
# it releases the GIL while it searches. What only Python's re can run
# (lookarounds, backreferences) runs in a child process, since a backtracking
# pattern can take forever and a thread cannot be stopped; past
# --grep-timeout the child is killed and the reply says why.


@dataclass(frozen=True)
class SpoolView:
    """A spool as a reader in another thread sees it: the file (or the bytes held in memory) up to ``size``."""

    path: Path
    memory: bytes | None
    size: int
    marks: tuple[tuple[int, int], ...]

    def mark_before(self, line: int) -> tuple[int, int]:
        """The noted line start at or before ``line``: (byte offset, line number)."""
        return self.marks[bisect.bisect_right(self.marks, line, key=lambda mark: mark[1]) - 1]


@dataclass
class Block:
    """Whole lines of a spool: ``data[:length]``, starting on line ``line`` (0-based)."""

    line: int
    data: bytes | bytearray
    length: int
    continues: bool  # it starts inside a line longer than a block, which the block before began


@dataclass
class Line:
    """A line for a reply: its 1-based number, its start as text, and how many bytes of it are left out."""

    number: int
    text: str
    more_bytes: int = 0


def _blocks(view: SpoolView, offset: int, line: int, stop: threading.Event) -> Iterator[Block]:
    """The spool from ``offset`` (where line ``line`` starts) in blocks of whole lines.

    A block ends at a noted line start when one is in reach, so each block's
    first line number is known without counting the lines of the blocks a
    search skipped; where none is, it ends at its last line break and its
    lines are counted. A line longer than a block is cut where the block
    ends. Once ``stop`` is set (the reply stopped waiting), no block follows.
    """
    if view.memory is not None:
        data = view.memory[offset : view.size]
        yield Block(line, data, len(data), False)
        return
    starts = [start for start, _ in view.marks]
    buffer = bytearray(SPOOL_READ_CHUNK)
    continues = False
    try:
        spool = open(view.path, "rb", buffering=0)  # noqa: SIM115 - closed below
    except FileNotFoundError:  # the cell was dropped from the history meanwhile
        return
    with spool:
        while offset < view.size:
            reach = min(offset + SPOOL_READ_CHUNK, view.size)
            index = bisect.bisect_right(starts, reach) - 1
            end = reach if reach == view.size or starts[index] <= offset else starts[index]
            spool.seek(offset)
            length = spool.readinto(memoryview(buffer)[: end - offset])
            if not length:
                return
            if end == reach and reach < view.size:  # no noted line start in reach: cut at the last line break, and count
                length = buffer.rfind(b"\n", 0, length) + 1 or length
                following = line + buffer.count(b"\n", 0, length)
            else:
                following = view.marks[index][1]
            yield Block(line, buffer, length, continues)
            continues = buffer[length - 1] != ord("\n")
            offset, line = offset + length, following
            if stop.is_set():
                return


def _line(block: Block, start: int, end: int, number: int) -> Line:
    keep = OUTPUT_LINE_CHARS * 4  # bytes enough for OUTPUT_LINE_CHARS characters of any script
    return Line(number + 1, block.data[start : min(end, start + keep)].decode("utf-8", "replace"), max(0, end - start - keep))


def every_line(block: Block) -> Iterator[tuple[int, int, int]]:
    """Each line of a block: (start, end, 0-based number), as Grep.lines gives the lines it matches."""
    position, number = 0, block.line
    while position < block.length:
        end = block.data.find(b"\n", position, block.length)
        end = block.length if end < 0 else end
        yield position, end, number
        position, number = end + 1, number + 1


def read_lines(
    view: SpoolView, first: int, limit: int, budget: int, stop: threading.Event, lines: Callable[[Block], Iterator[tuple[int, int, int]]]
) -> tuple[list[Line], bool]:
    """The first ``limit`` of the ``lines`` from line ``first`` (0-based) on, within ``budget`` characters; and
    whether more follow. A page reads every_line, a grep the lines its pattern matches (Grep.lines)."""
    found: list[Line] = []
    used = 0
    for block in _blocks(view, *view.mark_before(first), stop):
        for start, end, number in lines(block):
            if number < first or (block.continues and number == block.line and found and found[-1].number == number + 1):
                continue  # before the first line asked for, or the rest of a long line the block before began
            if len(found) >= limit or used > budget:
                return found, True
            found.append(_line(block, start, end, number))
            used += len(found[-1].text)
    return found, False


class Searcher(typing.Protocol):
    """What Grep uses of a compiled RE2 pattern: search(text, pos, endpos), giving None or a match with start() and end()."""

    def search(self, text: bytes | memoryview, pos: int, endpos: int) -> Any: ...


@dataclass(frozen=True)
class Grep:
    """An output(grep=...) pattern, compiled once.

    A line matches when the pattern matches within it, as in grep: RE2 is
    told never to match a newline, so whatever it finds in a block of many
    lines lies within one line, and ^ and $ are line starts and ends. An
    anchored pattern whose rest starts with a literal (^ERROR, ^0012 ) is
    searched as that rest, which RE2 finds at memchr speed, and each line it
    finds is checked against the whole pattern; where that finds many lines
    in vain, the rest of the block is searched with the pattern itself.
    Without RE2 (a pattern it cannot express, or a copy without google-re2)
    ``regex`` is None: Python's re runs it, in a child process.
    """

    text: str
    regex: Searcher | None = None
    quick: Searcher | None = None

    def lines(self, block: Block) -> Iterator[tuple[int, int, int]]:
        """The lines of a block the pattern matches: (start, end, 0-based number), in order."""
        data, length = block.data, block.length
        text = memoryview(data)[:length]  # for RE2, without a copy: nothing past the block is taken as context
        counted, number = 0, block.line  # the line number at `counted`
        position, in_vain = 0, 0
        while position < length:
            searcher = self.quick if self.quick is not None and in_vain < GREP_FALSE_LINES else self.regex
            match = searcher.search(text, position, length)
            if match is None:
                return
            start = data.rfind(b"\n", 0, match.start()) + 1
            end = data.find(b"\n", match.end(), length)
            end = length if end < 0 else end
            position = end + 1
            if searcher is self.quick and self.regex.search(text, start, end) is None:
                in_vain += 1
                continue
            number += data.count(b"\n", counted, start)
            counted = start
            yield start, end, number


def compile_grep(pattern: str) -> Grep:
    """A grep argument checked (it must be a valid Python regular expression) and compiled, for RE2 where it can."""
    if len(pattern) > MAX_GREP_CHARS:
        raise ToolError(f"grep is {len(pattern)} characters long; a pattern may have {MAX_GREP_CHARS} at most")
    try:
        re.compile(pattern, re.MULTILINE)
    except (re.error, RecursionError, OverflowError) as exc:
        raise ToolError(f"grep {shown(pattern)} is not a valid Python regular expression: {exc}") from None
    try:
        import re2
    except ImportError:  # a vendored copy may lack google-re2: then every pattern runs in Python's re, in a child
        return Grep(pattern)
    options = re2.Options()
    options.never_nl = True  # a match lies within one line
    options.log_errors = False  # a pattern RE2 cannot run is no error: Python's re runs it (RE2 would log a line per call)
    try:
        regex = re2.compile(("(?m)" + pattern).encode(), options)
    except (re2.error, UnicodeEncodeError):  # a lookaround, a backreference, \Z...: Python's re runs it
        return Grep(pattern)
    quick = None
    if pattern.startswith("^"):
        with suppress(re2.error):  # no literal to search by: the whole pattern is searched
            rest = re2.compile(("(?m)" + pattern[1:]).encode(), options)
            low, high = rest.possiblematchrange(8)
            if len(os.path.commonprefix([low, high])) >= 2:
                quick = rest
    return Grep(pattern, regex, quick)


# Python's re over a spool, in a child process a deadline can kill: job on the
# first line of stdin (the spool's bytes follow it when it is held in memory),
# the lines found as JSON on stdout. Each line is searched on its own, as RE2's are.
GREP_CHILD = r"""
import json, re, sys
job = json.loads(sys.stdin.buffer.readline())
pattern = re.compile(job["pattern"], re.MULTILINE)
source = open(job["path"], "rb") if job["path"] else sys.stdin.buffer
source.seek(job["offset"]) if job["path"] else None
left, number, found, used, more = job["size"] - job["offset"], job["line"], [], 0, False
while left > 0:
    raw = source.readline(min(left, 1 << 20))
    if not raw:
        break
    left -= len(raw)
    line = raw.rstrip(b"\n")
    if number >= job["first"] and pattern.search(line.decode("utf-8", "replace")):
        if len(found) >= job["limit"] or used > job["budget"]:
            more = True
            break
        text = line[: job["keep"]].decode("utf-8", "replace")
        found.append([number + 1, text, max(0, len(line) - job["keep"])])
        used += len(text)
    number += raw.endswith(b"\n")
print(json.dumps([found, more]))
"""


async def _grep_in_child(view: SpoolView, grep: Grep, first: int, limit: int, budget: int) -> tuple[list[Line], bool]:
    offset, line = view.mark_before(first)
    job = {"pattern": grep.text, "path": "" if view.memory is not None else str(view.path), "offset": offset, "line": line,
           "size": view.size, "first": first, "limit": limit, "budget": budget, "keep": OUTPUT_LINE_CHARS * 4}
    stdin = json.dumps(job).encode() + b"\n" + (view.memory[offset : view.size] if view.memory is not None else b"")

    async def kill(process: trio.Process) -> None:
        process.kill()

    done = await trio.run_process(
        [sys.executable, "-I", "-S", "-c", GREP_CHILD], stdin=stdin, capture_stdout=True, capture_stderr=True, check=False, deliver_cancel=kill
    )
    if done.returncode != 0:
        raise ToolError(f"grep {shown(grep.text)} failed: {done.stderr.decode(errors='replace').strip().splitlines()[-1:]}")
    found, more = json.loads(done.stdout)
    return [Line(*entry) for entry in found], more


async def read_spool(
    spool: Spool, offset: int, limit: int, grep: Grep | None = None, budget: int = MAX_OUTPUT_CHARS, timeout: float = 10.0
) -> tuple[list[Line], bool]:
    """Lines of a spool: ``limit`` lines from line ``offset`` (0-based), or the first ``limit`` from there that
    ``grep`` matches; and whether more follow. Within ``timeout`` seconds, else a ToolError that says so."""
    view = spool.view()
    gave_up = threading.Event()  # the worker thread stops at its next block once the reply stops waiting
    if grep is not None and grep.regex is None:  # only Python's re runs it: in a child, which the deadline can kill
        read = partial(_grep_in_child, view, grep, offset, limit, budget)
    else:
        lines = every_line if grep is None else grep.lines
        read = partial(trio.to_thread.run_sync, read_lines, view, offset, limit, budget, gave_up, lines, abandon_on_cancel=True)
    with trio.move_on_after(timeout):
        try:
            return await read()
        finally:
            gave_up.set()
    if grep is None:
        raise ToolError(f"reading the output was stopped after {timeout:g} s (the limit is --grep-timeout)")
    why = ("Python's re backtracks on it (RE2 cannot run a lookaround or a backreference; without them it searches in linear time)"
           if grep.regex is None else "the output is too large to search in that time; narrow it with offset")
    raise ToolError(f"grep {shown(grep.text)} was stopped after {timeout:g} s: {why} (the limit is --grep-timeout)")


def _rich_text(data: dict[str, Any]) -> str:
    """The best text form of a rich output: small markdown or JSON, else text/plain, never raw HTML/SVG."""
    markdown = data.get("text/markdown")
    if isinstance(markdown, str) and len(markdown) <= RICH_TEXT_MAX:
        return markdown
    if "application/json" in data:
        pretty = json.dumps(data["application/json"], indent=2, ensure_ascii=False)
        if len(pretty) <= RICH_TEXT_MAX:
            return pretty
    plain = data.get("text/plain")
    if isinstance(plain, str):
        return clean_text(plain)
    others = ", ".join(sorted(data)) or "nothing"
    return f"[rich output ({others}) has no text form to show]"


# ============================================================================
# The notebook: every cell recorded as nbformat shapes it
# ============================================================================
#
# Beside the model's replies, each cell is recorded as a notebook cell: its
# code and its outputs as the kernel sent them (every MIME bundle, ANSI codes
# and all), with displays updated and cleared as JupyterLab would. An ended
# cell's record is one line of an append-only log in the session's directory,
# so a long session does not grow the server; export builds and validates a
# notebook from it with nbformat, and --notebook-dir keeps one live.


OUTPUT_MESSAGES = frozenset({"stream", "execute_result", "display_data", "update_display_data", "error", "clear_output"})


def _iso(wall: float) -> str:
    return datetime.datetime.fromtimestamp(wall, datetime.timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def duration(seconds: float) -> str:
    """A span as a person says it: 40 s, 12 min, 3 h 5 min."""
    if seconds < 100:
        return f"{seconds:.0f} s"
    minutes = round(seconds / 60)
    return f"{minutes} min" if minutes < 60 else f"{minutes // 60} h" + (f" {minutes % 60} min" if minutes % 60 else "")


FILE_NAME_ESCAPED = frozenset('%/\\:<>"|?*')  # separators, what some file systems refuse, and % itself: the mapping is one to one


def file_name(session: str) -> str:
    """A session's name as a file name, one to one, so two sessions never share a file: separators, characters
    some file systems refuse and % become %XX, as does a leading dot (no hidden file, no '..').

    The one rule for names and files: check_session_name refuses a name that is
    not in NFC (it would look like another) or whose file name would be too long.
    """
    encoded = "".join(f"%{ord(char):02X}" if char in FILE_NAME_ESCAPED or char < " " else char for char in session)
    return "%2E" + encoded[1:] if encoded.startswith(".") else encoded


def display_id_of(content: dict[str, Any]) -> str | None:
    """The display an output message shows or updates, if it names one."""
    return (content.get("transient") or {}).get("display_id")


class DisplayMap:
    """Which outputs show each display (nbclient's display-id map): an update_display_data gives every one
    of them its new data, as JupyterLab does."""

    def __init__(self) -> None:
        self._outputs: dict[str, list[dict[str, Any]]] = {}

    def add(self, output: dict[str, Any], display_id: str | None) -> None:
        if display_id:
            self._outputs.setdefault(display_id, []).append(output)

    def update(self, display_id: str | None, data: dict[str, Any], metadata: dict[str, Any]) -> None:
        for output in self._outputs.get(display_id or "", ()):
            output["data"], output["metadata"] = data, metadata


class CellRecord:
    """One cell's outputs in nbformat's shapes, within ``cap`` characters of text and data; the one place that
    applies clear_output (with wait=True, at the next output) and update_display_data. take() says when the output
    was cleared, for the cell's reply view to follow; an update for a display an ended cell shows goes to the notebook."""

    def __init__(self, code: str, cap: int, masker: Masker | None = None, notebook: "Notebook | None" = None) -> None:
        self.code = code
        self.cap = cap
        self.masker = masker if masker is not None else Masker()  # stream text is masked whole, when the cell ends
        self.notebook = notebook
        self.outputs: list[dict[str, Any]] = []
        self.display_ids: list[str | None] = []  # beside outputs: the display each one shows, for the notebook's log
        self.displays = DisplayMap()
        self.size = 0
        self.left_out = 0  # characters of stream text past the cap, counted, not kept
        self._clear_waiting = False

    def take(self, kind: str, content: dict[str, Any]) -> bool:
        """Apply an output message; say whether it cleared what the cell showed so far."""
        cleared = (self._clear_waiting and kind != "clear_output") or (kind == "clear_output" and not content.get("wait"))
        if cleared:
            self.clear()
        data, metadata = content.get("data", {}), content.get("metadata", {})
        if kind == "clear_output":
            self._clear_waiting = bool(content.get("wait"))
        elif kind == "stream":
            self._stream(content.get("name", "stdout"), content.get("text", ""))
        elif kind == "update_display_data":
            self.displays.update(display_id_of(content), data, metadata)
            if self.notebook is not None:
                self.notebook.update_display(display_id_of(content), data, metadata)
        elif kind in ("execute_result", "display_data"):
            output = {"output_type": kind, "data": data, "metadata": metadata}
            if kind == "execute_result":
                output["execution_count"] = content.get("execution_count")
            self._append(output, display_id_of(content))
        elif kind == "error":
            self._append({"output_type": "error", **{k: content.get(k, "" if k != "traceback" else []) for k in ("ename", "evalue", "traceback")}})
        return cleared

    def clear(self) -> None:
        self.outputs, self.display_ids, self.displays, self.size, self._clear_waiting = [], [], DisplayMap(), 0, False

    def _stream(self, name: str, text: str) -> None:
        room = max(0, self.cap - self.size)
        if len(text) > room:
            self.left_out += len(text) - room
            text = text[:room]
        if not text:
            return
        if self.outputs and self.outputs[-1]["output_type"] == "stream" and self.outputs[-1]["name"] == name:
            self.outputs[-1]["text"] += text  # one stream output per run of text, as a notebook shows it
            self.size += len(text)
        else:
            self._append({"output_type": "stream", "name": name, "text": text})

    def _append(self, output: dict[str, Any], display_id: str | None = None) -> None:
        size = len(json.dumps(output.get("data", output.get("text", output.get("traceback", "")))))
        if self.size + size > self.cap and output["output_type"] != "error":
            self.left_out += size
            return
        self.size += size
        self.outputs.append(output)
        self.display_ids.append(display_id)
        self.displays.add(output, display_id)

    def to_json(self, number: int | None, status: str, stopped_by: str | None, started: float, elapsed: float) -> dict[str, Any]:
        outputs = self.masker.content(list(self.outputs))
        if self.left_out:
            outputs.append({"output_type": "stream", "name": "stderr", "text": f"[ipython-mcp: {self.left_out} more characters of output were not kept in the notebook]\n"})
        return {
            "code": self.code,
            "execution_count": number,
            "outputs": outputs,
            "display_ids": self.display_ids,
            "status": status,
            "stopped_by": stopped_by,  # timeout, interrupt, cancelled, reset, shutdown: why it did not end by itself
            "started": _iso(started),
            "elapsed_s": round(elapsed, 3),
        }


class Notebook:
    """A session's record: an append-only log in the session's directory, one line (one write) per ended
    cell, restart or display update, and the notebook built from it."""

    def __init__(self, directory: Path, session: str, live: Path | None, written: WrittenFiles, confined_to: tuple[str, ...] | None = None) -> None:
        self.path = directory / "notebook.jsonl"
        self.session = session
        self.live = live  # --notebook-dir/<session>.ipynb, rewritten after every cell; None once refused
        self.written = written  # what this server wrote: it replaces nothing else
        # A sandboxed session's notebooks go only where its kernel may write (export), or into --notebook-dir as it
        # was at start (the live one): never through a link its kernel made. None: anywhere.
        self.confined_to = confined_to
        self._live_within = None if confined_to is None or live is None else (os.path.realpath(live.parent),)
        self.warnings: list[str] = []  # for the next reply: the live notebook could not be kept
        self.count = 0  # code cells recorded
        self.kernel_info: dict[str, Any] = {}
        self.env = ""
        self._log: io.TextIOWrapper | None = None
        self._dirty = trio.Event()
        self._shown: set[str] = set()  # the displays ended cells show: an update for one is logged

    def add_cell(self, record: CellRecord, number: int | None, status: str, stopped_by: str | None, started: float, elapsed: float) -> None:
        self.count += 1
        self._shown.update(display_id for display_id in record.display_ids if display_id)
        self._append({"cell": record.to_json(number, status, stopped_by, started, elapsed)})

    def add_note(self, text: str) -> None:
        """A markdown cell between code cells: the kernel was restarted, or died."""
        if self.count:
            self._append({"note": text})

    def update_display(self, display_id: str | None, data: dict[str, Any], metadata: dict[str, Any]) -> None:
        """An update_display_data (the running cell's record has applied it): an ended cell that shows the display shows the new state."""
        if display_id in self._shown:
            self._append({"update": {"display_id": display_id, "data": data, "metadata": metadata}})

    def close(self) -> None:
        if self._log is not None:
            self._log.close()
            self._log = None

    def build(self) -> "NotebookNode":
        """The record as an nbformat v4 notebook, validated."""
        import nbformat
        from nbformat import v4

        cells, displays = [], DisplayMap()
        for entry in self._entries():
            if "note" in entry:
                cells.append(v4.new_markdown_cell(entry["note"]))
            elif (update := entry.get("update")) is not None:  # an ended cell's display, updated by a later one
                displays.update(update["display_id"], update["data"], update["metadata"])
            else:
                cell = entry["cell"]
                meta = {"ipython-mcp": {key: cell[key] for key in ("status", "stopped_by", "started", "elapsed_s") if cell.get(key) is not None}}
                outputs = [nbformat.from_dict(output) for output in cell["outputs"]]
                for output, display_id in zip(outputs, cell["display_ids"], strict=False):  # a note of dropped output has none
                    displays.add(output, display_id)
                cells.append(v4.new_code_cell(cell["code"], execution_count=cell["execution_count"], outputs=outputs, metadata=meta))
        language = self.kernel_info.get("language_info") or {"name": "python"}
        notebook = v4.new_notebook(
            cells=cells,
            metadata={
                "kernelspec": {"name": "python3", "display_name": f"Python 3 ({self.env or 'ipython-mcp'})", "language": language.get("name", "python")},
                "language_info": language,
                "ipython-mcp": {"session": self.session, "env": self.env, "written": _iso(time.time())},
            },
        )
        nbformat.validate(notebook)
        return notebook

    def _entries(self) -> Iterator[dict[str, Any]]:
        """The log's entries written so far (one being written as it is read waits for the next build)."""
        try:
            log_file = open(self.path, encoding="utf-8")  # noqa: SIM115 - closed below
        except FileNotFoundError:  # nothing recorded yet
            return
        with log_file:
            for line in log_file:
                if not line.endswith("\n"):
                    return
                yield json.loads(line)

    def write(self, path: Path, overwrite: bool = False) -> int:
        """Build the notebook and write it in one step, unless ``path`` is a file this server may not replace,
        or lies where this session's notebooks may not go (Refused); the notebook carries its own digest
        (WrittenFiles). Runs in a worker thread."""
        import nbformat

        self.written.check(path, self.session, overwrite)
        notebook = self.build()
        notebook.metadata["ipython-mcp"]["sha256"] = notebook_digest(json.loads(nbformat.writes(notebook)))
        within = self._live_within if path == self.live else self.confined_to
        self.written.remember(path, self.session, replace_file(path, nbformat.writes(notebook).encode(), within=within))
        return sum(cell.cell_type == "code" for cell in notebook.cells)

    def refuse_live(self, refusal: Refused) -> None:
        """The live notebook's file is not this session's to replace (any more): say so once, and stop keeping it."""
        advice = "" if refusal.final else " (rename that file, or use another session name)"
        message = f"--notebook-dir: {refusal}; this session's live notebook is no longer written{advice}"
        log.warning("%s", message)
        self.warnings.append(message)
        self.live = None

    async def keep_live(self) -> None:
        """Rewrite the live notebook after every cell, until it is refused."""
        while self.live is not None:
            await self._dirty.wait()
            self._dirty = trio.Event()
            await self.save_live()

    async def save_live(self) -> None:
        """Rewrite the live notebook, if there is one (in a worker thread: a big notebook's JSON would stall every
        session); a file it may not replace stops it, any other failure is logged."""
        if (live := self.live) is None:
            return
        try:
            await trio.to_thread.run_sync(self.write, live)
        except Refused as refusal:
            self.refuse_live(refusal)
        except (OSError, ValueError) as exc:
            log.warning("could not write the live notebook %s: %s", live, exc)

    def _append(self, entry: dict[str, Any]) -> None:
        if self._log is None:
            self._log = open(self.path, "a", encoding="utf-8")  # noqa: SIM115 - closed with its session
        self._log.write(json.dumps(entry) + "\n")
        self._log.flush()
        self._dirty.set()


# ============================================================================
# Cells and the replies made of them
# ============================================================================


@dataclass
class Outcome:
    """One reply about a cell: text for the model, and the same facts as a record for programs."""

    status: Status
    headline: str = ""  # the first line, for every status but ok
    transcript: Transcript | None = None  # the output this reply shows
    cell: int | None = None  # the cell's number: its execution count
    error: dict[str, str] | None = None
    warnings: list[str] = field(default_factory=list)
    elapsed_s: float = 0.0
    session: str = ""
    unfinished: str = ""  # a running cell's unfinished lines, shown as they look now
    sandbox: str = ""  # the sandbox rule a refusal in the cell met (Confinement.explain)

    def to_result(self) -> CallToolResult:
        """The reply: its headline, sandbox rule and warnings, then the output, consecutive text merged, images where they arrived."""
        head = [self.headline] if self.headline else [] if self.status == "ok" else [self.status]
        head += [f"sandbox: {self.sandbox}"] if self.sandbox else []
        head += [f"warning: {w}" for w in self.warnings]
        transcript = self.transcript
        parts = list(transcript.parts(self.session, self.cell)) if transcript is not None else []
        parts += [Part("stdout", self.unfinished)] if self.unfinished else []
        if not parts and self.status in ("ok", "timeout", "cancelled", "running") and transcript is not None:
            parts = [Part("note", "(no output yet)" if self.status == "running" else "(no output)")]
        if head:
            parts.insert(0, Part("note", "".join(f"[{line}]\n" for line in head)))
        blocks: list[TextContent | ImageContent] = []
        for image, run in itertools.groupby(parts, key=lambda part: part.kind == "image"):
            if image:
                blocks += [ImageContent(type="image", data=part.text, mime_type=part.mime) for part in run]
            else:
                blocks.append(TextContent(type="text", text="".join(part.text for part in run)))
        record: dict[str, Any] = {
            "status": self.status,
            "cell": self.cell,  # its execution count, named as every tool names a cell
            "stdout": transcript.text_of("stdout") if transcript else "",
            "stderr": transcript.text_of("stderr") if transcript else "",
            "result": transcript.text_of("result").rstrip("\n") if transcript else "",
            "error": self.error,
            "warning": "; ".join(self.warnings) or None,
            "sandbox": self.sandbox or None,
            "elapsed_s": round(self.elapsed_s, 3),
        }
        if transcript is not None and transcript.truncated:
            record["truncated"] = {
                "omitted_lines": transcript.omitted_lines,
                "omitted_chars": transcript.omitted_chars,
                "from_line": (transcript.omitted_from or 0) + 1,
            }
        return CallToolResult(content=blocks, is_error=self.status not in ("ok", "running", "idle"), meta={META_KEY: record})


def env_error(message: str, ename: str = "EnvError") -> Outcome:
    return Outcome("env_error", headline=f"env_error: {message}", error={"ename": ename, "evalue": message})


def start_failure(exc: Exception, source: Source | None, auto_install: bool = False) -> tuple[str, str]:
    """The one wording of a kernel that would not start, or of an env that cannot run one (source None: it did not
    resolve), and its error's name: an execute replies with them (env_error), a reset or an attach raises them."""
    text = str(exc)
    if isinstance(exc, EnvError):
        return text, "EnvError"
    if not isinstance(source, Env):  # joined, or on a Jupyter server: the error names the server itself
        where = f"could not join the kernel of {source.path}: " if isinstance(source, Joined) else ""
        return where + text, "GatewayError" if isinstance(exc, GatewayError) else "KernelStartError"
    if lacks_ipykernel(exc):
        message = f"ipykernel is not installed in env {source.label} (python: {source.python}). Install it with: {install_hint(source)}"
        if not auto_install:
            message += " (or start the server with --auto-install-ipykernel to have it installed on first use)"
        return message, "EnvError"
    return f"the kernel for env {source.label} (python: {source.python}) failed to start: {text}", "KernelStartError"


def not_run(why: str) -> Outcome:
    """The one wording of an execute whose code never reached the kernel: why says what came first."""
    return Outcome("cancelled", headline=f"cancelled: {why} before this cell ran; its code was not run")


def after_loss(lost: str, owned: bool) -> str:
    """What a lost kernel means for the session, as the cell's reply and an interrupt's answer say it."""
    return f"{lost}; " + ("its state is lost and the next execute starts a fresh kernel" if owned else "the next execute rejoins it")


@dataclass
class Ask:
    """A cell's input() or getpass(), waiting for the user's answer."""

    key: str  # unique within its cell: names the request in inputRequests (a retry's, a task's)
    prompt: str
    password: bool  # getpass: asked on a one-time page only; the answer is never shown, saved or logged
    request: dict[str, Any]  # the kernel's input_request header, which the answer names as its parent
    claimed: bool = False  # a call is asking the user right now, or the user went to the page: others wait
    done: trio.Event = field(default_factory=trio.Event)
    why: str = ""  # why it got no answer (declined, timed out), once it is done

    @property
    def function(self) -> str:
        return "getpass" if self.password else "input"

    def form(self, session: str) -> dict[str, Any]:
        """The elicitation/create params of an input(): a one-field form (never for a secret)."""
        message = f"A cell in session {session!r} asks (input): {self.prompt.strip() or '(no prompt)'}"
        field_ = {"type": "string", "title": "Answer", "description": "What input() returns to the cell."}
        return {"mode": "form", "message": message, "requestedSchema": {"type": "object", "properties": {"answer": field_}, "required": ["answer"]}}

    def page(self, session: str, url: str) -> dict[str, Any]:
        """The elicitation/create params that send the user to the ask's one-time page (URL mode)."""
        what = "a secret (getpass)" if self.password else "an answer (input)"
        message = (
            f"A cell in session {session!r} asks for {what}: {self.prompt.strip() or '(no prompt)'} "
            "Type it on this server's one-time page: it goes straight to the kernel, not through this client."
        )
        return {"mode": "url", "message": message, "url": url}

    @staticmethod
    def value_of(response: dict[str, Any]) -> str | None:
        """The answer in an elicitation result; None when the user declined or cancelled."""
        if response.get("action") != "accept":
            return None
        content = response.get("content") or {}
        value = next(iter(content.values()), None) if len(content) == 1 else content.get("answer")
        return value if isinstance(value, str) else None


Stop = Literal["timeout", "interrupt", "cancelled", "reset", "shutdown"]  # why a running cell is being stopped


@dataclass
class Ladder:
    """How a running cell is stopped, and the only code that moves it: SIGINT once the kernel's handler is in place,
    again halfway through the grace (one signal lost in a race with the kernel's own code must not cost the session its
    state), then the kernel is killed. A reset or a shutdown lets the kernel go at once instead (let_go). The owner
    does what is due (Session._stop_cell, _signal, _give_up)."""

    timeout: float | None
    grace: float
    why: Stop | None = None  # set once it starts
    signals: int = 0  # SIGINTs sent
    deadline: float = math.inf  # the timeout's, once the cell is sent
    resend_at: float = math.inf
    kill_at: float = math.inf

    def sent(self, now: float) -> None:
        self.deadline = math.inf if self.timeout is None else now + self.timeout

    def start(self, why: Stop, now: float) -> bool:
        """Start climbing; False if it already has."""
        if self.why is not None:
            return False
        self.why, self.kill_at = why, now + self.grace
        return True

    def let_go(self, why: Stop) -> None:
        self.why = why

    def signalled(self, now: float) -> None:
        self.signals += 1
        self.resend_at = now + self.grace / 2 if self.signals == 1 else math.inf

    @property
    def awaits_handler(self) -> bool:  # started before the kernel's SIGINT handler was in place
        return self.why is not None and not self.signals

    def next_at(self) -> float:
        return min(self.deadline if self.why is None else math.inf, self.resend_at, self.kill_at)

    def due(self, now: float) -> Literal["kill", "signal", "timeout"] | None:
        if now >= self.kill_at:
            return "kill"
        if now >= self.resend_at:
            return "signal"
        return "timeout" if now >= self.deadline and self.why is None else None


class Cell:
    """One execute: its code, its output as the kernel sends it, and how it ended.

    Only the owner task of its session changes a cell. The calls waiting on it
    wait for its events (``started``, ``done``) and ask the owner for its output.
    Every piece of output goes to the spool (all of it, for ``output``) and to
    the view (what the next reply shows); the view is handed over and replaced
    by each reply, so no output is shown twice.
    """

    def __init__(self, session: "Session", run: "Run") -> None:
        config = session.config
        self.session = session.name
        self.run = run  # what its execute asked for: the code, its timeout and budget, stdin, silence, a task's claim
        self.started_wall = 0.0  # when it was sent to the kernel, for the notebook
        self.number: int | None = None  # the kernel's execution count, from execute_input
        self.serial = next(session.serials)  # names its files until the number is known
        self.id = secrets.token_urlsafe(12)  # names it in a sealed requestState: a retry answers this cell, no other
        self.directory = session.dir
        self.dispatched_at: float | None = None  # the execute_request went to the kernel
        self.ended_at: float | None = None
        self.started = trio.Event()  # execute_input came: the kernel runs it and its SIGINT handler is in place
        self.done = trio.Event()
        self.scope = trio.CancelScope()  # the task carrying its messages
        self.lines = Lines(session.masker)
        self.spool = Spool(self.directory / f"cell-x{self.serial}.txt", SPOOL_CHARS)
        self._new_view = partial(Transcript, run.budget, config.max_images, config.max_image_bytes)
        self.view = self._new_view()
        self.files: list[Path] = []  # images saved for this cell
        self.outcome: Outcome | None = None  # how it ended, once it has
        self.handed_off = run.abandoned  # a reply said it was still running (or none came): a later wait() owes its end
        self.reported = False  # a reply showed how it ended
        self.notes: list[str] = []  # for the next reply: a restarted kernel, an installed package
        self.interrupt_waiters: list[Reply] = []
        self.asking: Ask | None = None  # an input() or getpass() waiting for the user's answer
        self.attention = trio.Event()  # set when the cell ends or asks for input
        self.input_deadline = math.inf
        self._asks = itertools.count(1)
        self.record = CellRecord(run.code, NOTEBOOK_CHARS, session.masker, session.notebook)
        self.denials: list[str] = []  # output lines that look like a refusal, for the sandbox's explanation
        self.last_words = ""  # the end of its kernel's log, if the kernel died under it
        self.oom_before = 0  # the kernel's count of memory-limit kills when the cell was sent
        # What the kernel said
        self.replied = False  # its execute_reply came
        self.idle = False
        self.error: dict[str, str] | None = None
        self._images_seen: set[str] = set()
        self.ladder = Ladder(run.timeout, config.interrupt_grace_s)

    @property
    def label(self) -> str:
        return f"cell {self.number}" if self.number is not None else "the cell"

    @property
    def finished(self) -> bool:
        """execute_reply and idle both came; once interrupted, idle alone will do.

        (A SIGINT that lands in ipykernel's own code after the cell, while it
        sends the reply, is caught there and the reply is never sent.)
        """
        return self.idle and (self.replied or self.ladder.signals > 0)

    def elapsed(self) -> float:
        if self.dispatched_at is None:
            return 0.0
        return (self.ended_at or trio.current_time()) - self.dispatched_at

    # -- messages (the owner calls these) ----------------------------------

    def take(self, msg: dict[str, Any]) -> None:
        kind, content = msg["msg_type"], msg["content"]
        if kind in OUTPUT_MESSAGES and self.record.take(kind, content):  # clear_output: the view forgets what it held too
            self.lines.discard()
            self.view.clear()
        if kind == "error" or (kind == "execute_reply" and content.get("status") == "error" and self.error is None):
            self.error = {"ename": content.get("ename", ""), "evalue": content.get("evalue", "")}  # the error message's, else the reply's
        if kind == "stream":
            for part in self.lines.feed(content.get("name", "stdout"), content.get("text", "")):
                self._add(part)
            self._note_denials(content.get("text", ""))
        elif kind in ("execute_result", "display_data", "update_display_data"):
            self._display(content.get("data", {}), "result" if kind == "execute_result" else "display", display_id_of(content), kind == "update_display_data")
        elif kind == "error":
            self._flush_lines()
            self._add(Part("error", clean_text("\n".join(content.get("traceback", []))) + "\n"))
        elif kind == "execute_input":
            self._numbered(content.get("execution_count"))
            self.started.set()
        elif kind == "input_request":
            self._flush_lines()
            self.asking = Ask(f"input-{next(self._asks)}", str(content.get("prompt", "")), bool(content.get("password")), msg["header"])
            self.attention.set()
        elif kind == "status":
            self.idle = content.get("execution_state") == "idle"
        elif kind == "execute_reply":
            self.replied = True
            self._numbered(content.get("execution_count"))

    def take_view(self) -> Transcript:
        """Hand the output no reply has shown yet to a reply, and start a new view."""
        self.spool.flush()
        view, self.view = self.view, self._new_view()
        return view

    def answered(self, value: str | None, why: str = "", note: str = "") -> Ask:
        """The pending input() got its answer (None: none, so it raises EOFError); show it as a terminal would, a secret hidden."""
        ask = self.asking
        assert ask is not None
        shown = "[hidden]" if ask.password else value
        self._add(Part("stdout", f"{ask.prompt}{shown}\n" if value is not None else f"{ask.prompt}[{why}: {ask.function}() raises EOFError]\n"))
        if note:
            self._add(Part("note", f"[{note}]\n"))
        ask.why = why
        self.asking = None
        self.input_deadline = math.inf
        self.attention = trio.Event()
        ask.done.set()
        return ask

    def end(self, outcome: Outcome) -> None:
        self._flush_lines()
        self.spool.close()
        self.outcome = outcome
        self.ended_at = trio.current_time()
        self.scope.cancel()
        self.done.set()
        self.attention.set()
        if self.asking is not None:  # over with its cell: no reply says it still waits, no answer is taken for it
            self.asking.done.set()
            self.asking = None

    def conclude(self, lost: str | None, owned: bool) -> Outcome:
        """How a cell that ran has ended: from what the kernel said, why it was being stopped, and whether its kernel is gone."""
        self._flush_lines()
        why = self.ladder.why
        if lost is not None and why in ("reset", "shutdown"):
            return Outcome("cancelled", headline=f"cancelled: {lost} while {self.label} ran")
        if lost is not None and why is None:
            if self.last_words:
                self._add(Part("note", f"[{self.last_words.strip()}]\n"))
            self._add(Part("note", "[the kernel's state is lost; the next execute starts a fresh kernel]\n" if owned else "[the connection to the kernel is lost; the next execute tries to rejoin it]\n"))
            return Outcome("died", headline=f"died: {lost}", error={"ename": "KernelDied", "evalue": lost})
        stopped = after_loss(lost, owned) if lost is not None else "kernel interrupted, session kept"
        if why == "timeout":
            return Outcome("timeout", headline=f"timeout after {self.ladder.timeout:g} s — {stopped}")
        if why == "cancelled":
            return Outcome("cancelled", headline=f"cancelled by the client — {stopped}")
        if lost is not None:  # interrupt, and the kernel would not stop
            return Outcome("died", headline=f"died: {stopped}", error={"ename": "KernelDied", "evalue": lost})
        if self.ladder.signals and not self.replied and self.error is None:
            self.error = {"ename": "KeyboardInterrupt", "evalue": "interrupted; the kernel sent no reply"}
        if self.error is not None:  # an error message's, or an execute_reply with status error
            return Outcome("error", error=self.error, headline=f"error: {self.error['ename']}: {self.error['evalue']}".rstrip(": "))
        return Outcome("ok")

    # -- internals ---------------------------------------------------------

    def _note_denials(self, text: str) -> None:
        if len(self.denials) < DENIAL_LINES_KEPT and DENIAL.search(text):
            self.denials += [line for line in text.splitlines() if DENIAL.search(line)][: DENIAL_LINES_KEPT - len(self.denials)]

    def _numbered(self, count: object) -> None:
        if isinstance(count, int) and self.number is None:
            self.number = count
            if not self.spool.on_disk:
                self.spool.path = self.directory / f"cell-{count}.txt"

    def _add(self, part: Part, to_view: bool = True) -> None:
        part.line = self.spool.total_lines
        self.spool.write(part.text if part.kind != "image" else "")
        if to_view:
            self.view.add(part)

    def _flush_lines(self) -> None:
        for part in self.lines.flush():
            self._add(part)

    def _display(self, data: dict[str, Any], kind: Literal["result", "display"], display_id: str | None, update: bool) -> None:
        """A rich output; an update replaces its display where the view still holds it, as a notebook would."""
        self._flush_lines()
        parts = self._image_parts(data)
        if parts is None:
            parts = [Part(kind, text if text.endswith("\n") else text + "\n") for text in [_rich_text(data)] if text]
        for part in parts:
            part.display_id = display_id
            self._add(part, to_view=False)
        if not (update and display_id and self.view.update(display_id, parts)):
            for part in parts:
                self.view.add(part)

    def _image_parts(self, data: dict[str, Any]) -> list[Part] | None:
        """An image saved as a file (a client may drop image blocks; the model can still open the file), named and shown;
        None when the output is no image."""
        mime, suffix = next(((m, x) for m, x in (("image/png", "png"), ("image/jpeg", "jpg")) if isinstance(data.get(m), str)), ("", ""))
        if not mime:
            return None
        encoded = "".join(data[mime].split())
        digest = hashlib.sha1(encoded.encode()).hexdigest()
        if digest in self._images_seen:  # a figure both returned and flushed by the inline backend
            return []
        self._images_seen.add(digest)
        try:
            raw = base64.b64decode(encoded)
        except ValueError:
            return [Part("note", f"[an {mime} output that is not valid base64 was left out]\n")]
        if self.spool.size + len(raw) > self.spool.cap:
            return [Part("note", f"[an {mime} image was not saved: the cell's spool is full]\n"), Part("image", encoded, mime)]
        path = self.directory / f"cell-{self.number if self.number is not None else 'x' + str(self.serial)}-{len(self._images_seen)}.{suffix}"
        path.write_bytes(raw)
        self.spool.size += len(raw)  # images count against the cell's disk budget too
        self.files.append(path)
        return [Part("note", f"[image: {path}]\n"), Part("image", encoded, mime)]

    def remove_files(self) -> None:
        for path in (self.spool.path, *self.files):
            with suppress(OSError):  # never written (a spool kept in memory), or gone: nothing is left to remove
                path.unlink()


# ============================================================================
# The session: one owner task holds the kernel and the cells
# ============================================================================


T = typing.TypeVar("T")


class Reply(typing.Generic[T]):
    """An answer given once: the first to give it wins.

    That makes withdrawing a request atomic: a caller whose wait ran out gives
    its own request the answer "busy", and the owner, finding it answered,
    never runs it; or the owner answered first and the caller goes on with that.
    """

    __slots__ = ("value", "_given")

    def __init__(self) -> None:
        self.value: T | None = None
        self._given = trio.Event()

    @property
    def given(self) -> bool:
        return self._given.is_set()

    def give(self, value: T) -> bool:
        if self._given.is_set():
            return False
        self.value = value
        self._given.set()
        return True

    async def wait(self) -> T:
        await self._given.wait()
        return typing.cast(T, self.value)


# What the owner task receives. Requests come from tool calls and carry the
# Reply they wait on; events come from the owner's own helper tasks, or say
# that a call went away.


class Request(typing.Protocol[T]):
    reply: Reply[T]


@dataclass
class Run:  # execute: run this code when its turn comes; answered with the Cell, or an Outcome if it never runs
    code: str
    timeout: float | None
    budget: int
    allow_stdin: bool = False  # the call can put input() to its user
    task_bound: bool = False  # the call may become a task, which then owns the cell's output
    silent: bool = False  # the server's own look at the kernel (variables): no history, no record, now or never
    abandoned: bool = False  # its call went away with the client's connection: a later wait() owes its output
    reply: Reply[Cell | Outcome] = field(default_factory=Reply)
    seen: trio.Event = field(default_factory=trio.Event)  # the owner has taken it in: it runs, or waits its turn

    @property
    def cell(self) -> Cell | None:
        """Its cell, once the owner has made one."""
        return self.reply.value if isinstance(self.reply.value, Cell) else None


@dataclass
class Interrupt:  # answered with a sentence once the running cell has stopped
    reply: Reply[str | ToolError] = field(default_factory=Reply)


@dataclass
class Reset:  # answered once a fresh kernel is up, or with the ToolError saying why not
    reply: Reply[str | ToolError] = field(default_factory=Reply)


@dataclass
class Shutdown:  # answered once the kernel is gone
    reason: str
    reply: Reply[str | ToolError] = field(default_factory=Reply)


@dataclass
class Start:  # attach: answered with the kernel once it is up, or with the ToolError saying why not
    reply: Reply[Kernel | ToolError] = field(default_factory=Reply)


@dataclass
class Follow:  # wait: answered with the cell a wait() should follow, or None
    reply: Reply[Cell | None] = field(default_factory=Reply)


@dataclass
class Snapshot:  # answered with an Outcome: the cell's unseen output (if this caller may take it) and its status
    cell: "Cell"
    takes_output: bool = True
    reply: Reply[Outcome] = field(default_factory=Reply)


@dataclass
class Claim:  # answered with the cell's pending Ask, now claimed by the caller, or None
    cell: "Cell"
    reply: Reply[Ask | None] = field(default_factory=Reply)


@dataclass
class Answer:  # the user's answer to an Ask (None: declined or none); answered with whether it was taken
    cell: "Cell"
    key: str
    value: str | None
    why: str = "no answer"
    note: str = ""  # shown after the prompt: what the user can do instead
    from_page: bool = False  # typed on the ask's one-time page: the only way a secret's value comes
    reply: Reply[bool] = field(default_factory=Reply)


@dataclass
class Find:  # output, a retry: answered with the kept or current cell of that number or id (the latest if neither), or None
    number: int | None = None
    cell_id: str | None = None  # a retry's: its requestState names its cell, so that it answers no other
    reply: Reply[Cell | None] = field(default_factory=Reply)


@dataclass
class CancelCell:  # the client cancelled the execute that started this cell
    cell: "Cell"


@dataclass
class Abandon:  # a call went away with its client's connection: the cell goes on, and a later wait() owes its output
    run: Run | None = None  # an execute's: queued, or its cell's
    cell: "Cell | None" = None  # the cell an execute was following
    ask: Ask | None = None  # an input() the call was putting to its user: another call may take it up


@dataclass
class KernelUp:
    attempt: trio.CancelScope
    kernel: Kernel
    notes: list[str] = field(default_factory=list)


@dataclass
class StartFailed:
    attempt: trio.CancelScope
    error: Exception


@dataclass
class Activity:  # what a start is doing meanwhile (installing ipykernel), for progress messages
    attempt: trio.CancelScope
    text: str


@dataclass
class KernelGone:
    kernel: Kernel


@dataclass
class CellMessage:
    cell: "Cell"
    msg: dict[str, Any]


@dataclass
class CellLost:  # the cell's message channel ended: its kernel is gone
    cell: "Cell"


Inbound = (  # requests, and events
    Run | Interrupt | Reset | Shutdown | Start | Follow | Snapshot | Claim | Answer | Find | CancelCell | Abandon
    | KernelUp | StartFailed | Activity | KernelGone | CellMessage | CellLost
)


class Session:
    """A named kernel and its cells, owned by one task (``run``): it handles each request and event to the end
    (``_handle``, synchronous) and says what happened (``_move``); helper tasks do what takes time and report back,
    and tool calls only send requests and wait for replies, cells' events, or both (see the module's header)."""

    def __init__(self, name: str, source: Source, cwd: str, registry: "Sessions", directory: Path) -> None:
        self.name = name
        self.dir = directory  # private (0700): cells' output, images and notebook record
        self.source = source
        self.cwd = cwd
        self.config = registry.config
        self.state = State.DEAD
        self.kernel: Kernel | None = None
        self.created = trio.current_time()
        self.last_used = self.created  # when a tool call last named it (the registry stamps it)
        self.exec_count = 0
        self.ever_started = False
        self.activity = ""  # what the session is doing besides running a cell, for progress messages
        self.cell: Cell | None = None  # the current cell: waiting for its kernel, or running
        self.history: deque[Cell] = deque()  # ended cells, the newest last, at most config.keep_cells
        self.serials = itertools.count(1)
        live = registry.config.notebook_dir / f"{file_name(name)}.ipynb" if registry.config.notebook_dir else None
        self.notebook = Notebook(directory, name, live, registry.written, registry.write_roots(source, cwd))
        self.masker = Masker()  # the secrets its cells were given: masked in all it shows or saves
        self.pages = registry.pages  # where its cells' secrets are typed
        self._registry = registry
        self._queue: deque[Run] = deque()
        self._send, self._inbox = trio.open_memory_channel[Inbound](INBOX_SIZE)
        self._nursery: trio.Nursery | None = None
        self._attempt: trio.CancelScope | None = None  # the start under way: its helper's scope, which its events name
        self._start_waiters: list[Reset | Start] = []  # answered when a kernel is up, or will not come
        self._closers: list[Reply[str | ToolError]] = []  # shutdown calls, answered when the kernel is gone
        self._stopped: list[Kernel] = []  # kernels let go of, until they are gone
        self._lost: str | None = None  # why the last kernel was lost, told with the next cell
        self._notes: list[str] = []  # other news for the next cell's reply (an installed ipykernel)

    @property
    def queued(self) -> int:
        return sum(not run.reply.given for run in self._queue)

    @property
    def attached(self) -> Path | None:
        """The connection file of the kernel this session joined, if it did."""
        return self.source.path if isinstance(self.source, Joined) else None

    def info(self) -> dict[str, Any]:
        cell = self.cell
        return {
            "name": self.name,
            "env": None if isinstance(self.source, Joined) else self.source.spec or None,
            "python": self.source.python if isinstance(self.source, Env) else None,
            "status": self.state.value,
            "uptime_s": round(trio.current_time() - self.created, 1),
            "exec_count": self.exec_count,
            "cells": self.notebook.count,
            "last_used_s_ago": round(trio.current_time() - self.last_used, 1),
            "pid": self.kernel.pid if self.kernel else None,
            "cwd": self.cwd or None,
            "attached": str(self.attached) if self.attached else None,
            "location": self.kernel.location if self.kernel else None,
            "running": None if cell is None else {"cell": cell.number, "elapsed_s": round(cell.elapsed(), 1), "last_line": cell.lines.latest},
            "queued": self.queued,
            "sandbox": self._registry.confinement_of(self.source, self.cwd),
        }

    def summary(self) -> str:
        """How it stands, in a few words: for the server's instructions and --status."""
        cell, now = self.cell, trio.current_time()
        if cell is not None and cell.dispatched_at is not None:
            stands = f"busy: {cell.label} has run for {duration(cell.elapsed())}"
        else:
            stands = self.state.value
        count = self.notebook.count
        return f"{stands}; {count} cell{'' if count == 1 else 's'} finished; last used {duration(now - self.last_used)} ago"

    def progress(self, cell: Cell | None, *, named: bool = False) -> str:
        """What a call or a task waiting for this cell (None: not taken in yet) is told; named: a task's words."""
        if cell is not None and cell.dispatched_at is not None:
            latest = cell.lines.latest
            ran = f"{cell.label} has run for" if named else "running for"
            return f"{ran} {cell.elapsed():.0f} s" + (f" — {latest}" if latest else "")
        if self.activity:
            return self.activity
        if (ahead := self.cell) is not None and ahead is not cell:
            return f"waiting for its turn: {ahead.label} has run for {ahead.elapsed():.0f} s"
        return "waiting for the kernel to start"

    # -- what tool calls do: send a request, wait ---------------------------

    async def ask(self, request: Request[T]) -> T:
        """Send a request to the owner and wait for its answer; a session that was shut down answers for itself."""
        inbound = typing.cast(Inbound, request)  # every Request is one of them
        if not await self._tell(inbound):
            self._refuse(inbound)
        return await request.reply.wait()

    async def execute(
        self, code: str, timeout: float | None, wait_s: float, budget: int, user: "UserInput", offer: "TaskOffer | None" = None
    ) -> "Outcome | Asking":
        """Run code when its turn comes; reply when it ends or after wait_s, whichever is first. With an offer (the
        tasks extension may make this call a task) the first wait is short, and a cell still waiting or going then is
        the offer's: neither withdrawn nor reported as running."""
        if offer is not None:
            wait_s = min(wait_s, TASK_FIRST_WAIT_S)
        reply_by = trio.current_time() + wait_s
        run = Run(code, timeout, budget, allow_stdin=user.reachable, task_bound=offer is not None)
        async with _progress(user.ctx, lambda: self.progress(run.cell)):
            if not await self._tell(run):
                self._refuse(run)
            try:
                with trio.move_on_at(reply_by):
                    await run.reply.wait()
                if not run.reply.given:  # busy only if another cell holds the session, not because the owner was slower
                    await run.seen.wait()
            except trio.Cancelled:
                if cut_off(user.ctx):
                    await self._tell(Abandon(run=run), shielded=True)
                else:
                    await self.call_off(run, "the client cancelled the call")
                raise
            if not run.reply.given and offer is not None:
                return offer.take(self, run)
            run.reply.give(self._busy())  # still waiting its turn: withdrawn, and the call says busy
            answer = run.reply.value
            if isinstance(answer, Outcome):
                return answer
            outcome = await self._follow(answer, reply_by, user, interrupt_on_cancel=True, hand_over=offer is not None)
            return offer.take(self, run) if outcome is None and offer is not None else outcome  # type: ignore[return-value]

    async def call_off(self, run: Run, by: str) -> None:
        """The client called off an execute (its cancel, tasks/cancel): unrun code never runs, a running cell is stopped."""
        if not run.reply.give(not_run(by)) and (cell := run.cell) is not None:
            await self._tell(CancelCell(cell), shielded=True)

    async def wait(self, timeout: float, user: "UserInput", *, of_execute: bool = False) -> "Outcome | Asking":
        """Follow the cell a wait() owes, else the current one, up to timeout. A retry (2026-07-28) follows the cell its
        first call started: an execute's retry (of_execute) runs nothing, answers as the execute would, and its cancel
        interrupts the cell."""
        reply_by = trio.current_time() + timeout
        cell = await self.ask(Follow()) if user.resuming is None else await self._retried(user)
        if cell is None:
            return self._idle()
        async with _progress(user.ctx, lambda: self.progress(cell)):
            outcome = await self._follow(cell, reply_by, user, interrupt_on_cancel=of_execute)
        assert outcome is not None
        if isinstance(outcome, Outcome) and outcome.status == "ok" and not of_execute:  # a wait's reply says which cell ended, even when all went well
            outcome.headline = f"ok: {cell.label} finished after {cell.elapsed():.1f} s"
        return outcome

    async def _retried(self, user: "UserInput") -> "Cell":
        """The cell a retry's sealed requestState names, given the answer its client brings if it still waits for one."""
        assert user.resuming is not None
        cell = await self.ask(Find(cell_id=user.resuming.cell_id))
        if cell is None:
            raise ToolError(
                f"the cell that asked for this answer in session {self.name!r} has ended and is no longer kept; "
                "the answer was not used"
            )
        await user.take(self, cell, user.resuming.key, user.responses.get(user.resuming.key))
        return cell

    async def _follow(self, cell: "Cell", reply_by: float, user: "UserInput", interrupt_on_cancel: bool, hand_over: bool = False) -> "Outcome | Asking | None":
        """Wait for the cell up to reply_by, putting its input() to the user as this call can; then its snapshot. A
        call that asks by its result (2026-07-28) returns Asking instead, its retry following the cell on; with hand_over
        (a call offered as a task), None says that a cell still going or asking for input is the task's now."""
        try:
            while not cell.done.is_set():
                attention = cell.attention if user.reachable or hand_over else cell.done
                with trio.move_on_at(reply_by):
                    await attention.wait()
                if cell.done.is_set() or trio.current_time() >= reply_by or hand_over:
                    break
                if (asking := await user.put(self, cell, reply_by)) is not None:
                    return asking
            if hand_over and not cell.done.is_set():
                return None
            if cell.dispatched_at is not None and not cell.done.is_set():
                # Even with wait_s=0, say the cell's number: the kernel names it within milliseconds.
                with trio.move_on_after(NUMBER_WAIT_S):
                    await cell.started.wait()
        except trio.Cancelled:
            if cut_off(user.ctx):
                await self._tell(Abandon(cell=cell if interrupt_on_cancel else None, ask=user.claimed), shielded=True)
            elif interrupt_on_cancel:
                await self._tell(CancelCell(cell), shielded=True)
            raise
        return await self.ask(Snapshot(cell, takes_output=not cell.run.task_bound or interrupt_on_cancel))

    def _busy(self) -> Outcome:
        cell = self.cell
        if cell is None or cell.dispatched_at is None:
            ahead = "the session's kernel is still starting" if cell is None else "the cell ahead of it is waiting for the kernel to start"
        else:
            ahead = f"{cell.label} has been running for {cell.elapsed():.0f} s"
        until = f"wait(session={self.name!r}) until it ends, or interrupt(session={self.name!r}) to stop it"
        return Outcome("busy", headline=f"busy: {ahead}; this code was NOT run. {until}; then execute again", cell=cell.number if cell else None)

    def _idle(self) -> Outcome:
        last = self.history[-1] if self.history else None
        if last is None or last.outcome is None:
            said = "no cell has run yet"
        else:
            said = f"the last, {last.label}, ended {last.outcome.status} after {last.elapsed():.1f} s"
        return Outcome("idle", headline=f"idle: no cell is running in session {self.name!r}; {said}", cell=last.number if last else None)

    def _refuse(self, request: Inbound) -> None:
        """Answer a request the owner will never handle: the session was shut down. (Events expect no answer.)"""
        why = f"session {self.name!r} was shut down"
        match request:
            case Run():
                request.reply.give(not_run(why))
            case Snapshot():
                request.reply.give(self._snapshot(request.cell, request.takes_output))
            case Follow() | Find() | Claim():
                request.reply.give(None)
            case Answer():
                request.reply.give(False)
            case Interrupt() | Reset() | Shutdown() | Start():
                request.reply.give(ToolError(why))

    async def _tell(self, event: Inbound, shielded: bool = False) -> bool:
        """Send to the owner; False once it is gone (it answered every call on its way out). Shielded: a cancelled call still tells."""
        with trio.CancelScope(shield=shielded):
            try:
                await self._send.send(event)
            except trio.BrokenResourceError:
                return False
        return True

    async def kernel_gone(self, kernel: Kernel) -> None:
        await self._tell(KernelGone(kernel))

    # -- the owner ---------------------------------------------------------

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """The owner task: the only code that changes this session, its kernel and its cells."""
        try:
            async with trio.open_nursery() as nursery:
                self._nursery = nursery
                if self.notebook.live is not None:
                    nursery.start_soon(self.notebook.keep_live)
                task_status.started()
                try:
                    while self.state is not State.CLOSED:
                        with trio.move_on_at(self._next_timer()):
                            self._handle(await self._inbox.receive())
                        self._on_timers()
                        self._advance()
                finally:
                    with trio.CancelScope(shield=True):
                        await self._wind_up()
                    nursery.cancel_scope.cancel()
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)
            for reply in self._closers:
                reply.give(self._goodbye())

    def _handle(self, event: Inbound) -> None:
        match event:
            # First, what the owner has moved past since it was sent: a helper's report, or a cancel, about a cell
            # or a kernel or a start that is no longer the session's. Each is dropped here, saying why.
            case CellMessage(cell=cell) | CellLost(cell=cell) | CancelCell(cell=cell) if cell is not self.cell:
                self._stale(event, f"{cell.label} has already ended (stopped, or its kernel let go of)")
            case KernelGone(kernel=kernel) if kernel is not self.kernel:
                self._stale(event, "the session had already let go of that kernel")
            case KernelGone() if self._carrying():
                self._stale(event, "the running cell's channel ends too: CellLost ends the cell once it has all the kernel said")
            case KernelUp(attempt=attempt) | StartFailed(attempt=attempt) | Activity(attempt=attempt) if attempt is not self._attempt:
                self._stale(event, "the session gave up on that start (reset, shut down, or its kernel let go of)")
                if isinstance(event, KernelUp):
                    event.kernel.stop("its session no longer needed it")
            # The server's own look into the kernel (variables) runs at once or not at all: it never waits its turn.
            case Run(silent=True) if self.state is not State.IDLE or self._occupied:
                no_kernel = Outcome("idle", headline=f"session {self.name!r} is {self.state.value}: no kernel to look into")
                event.reply.give(self._busy() if self._occupied else no_kernel)
                event.seen.set()
            case Run():
                if not event.reply.given:
                    self._queue.append(event)
                event.seen.set()  # set now, seen after _advance: the caller runs again only once this turn is over
            case CellMessage(cell=cell):
                self._take(cell, event.msg)
            case CellLost() | KernelGone():
                assert self.kernel is not None
                self._drop_kernel(self.kernel.exit_description())
            case KernelUp():
                self._kernel_up(event.kernel, event.notes)
            case StartFailed():
                self._start_failed(event.error)
            case Activity():
                self.activity = event.text
            case Snapshot():
                event.reply.give(self._snapshot(event.cell, event.takes_output))
            case Follow():  # a cell whose end a wait() owes (its reply said it ran on), else the current one
                event.reply.give(next((c for c in self.history if c.handed_off and not c.reported and not c.run.task_bound), self.cell))
            case Claim(cell=cell):
                ask = cell.asking if cell is self.cell else None  # an ended cell's ask is over, whatever it held
                event.reply.give(None if ask is None or ask.claimed else ask)
                if ask is not None:
                    ask.claimed = True
            case Answer(cell=cell):
                ask = cell.asking if cell is self.cell else None
                # A secret's value comes from its page only: never from a form, a retry or tasks/update.
                taken = ask is not None and ask.key == event.key and (event.value is None or event.from_page or not ask.password)
                if taken:
                    self._answer(cell, event.value, event.why, event.note)
                event.reply.give(taken)
            case Find():
                event.reply.give(self._find(event.number, event.cell_id))
            case CancelCell(cell=cell):
                self._stop_cell(cell, "cancelled")
            case Abandon():
                self._abandoned(event)
            case Interrupt():
                self._interrupt(event.reply)
            case Reset():
                self._reset(event)
            case Start():
                if self.kernel is not None and self.state is not State.STARTING:
                    event.reply.give(self.kernel)
                else:
                    self._start_waiters.append(event)  # _advance starts a kernel if none is coming
            case Shutdown():
                self._closers.append(event.reply)
                self._close(event.reason)

    def _stale(self, event: Inbound, why: str) -> None:
        log.debug("session %r: %s ignored: %s", self.name, type(event).__name__, why)

    def _move(self, happened: Happened) -> None:
        """Say what happened: TRANSITIONS decides the state that follows, and what cannot happen now fails loudly."""
        to = TRANSITIONS[self.state].get(happened)
        if to is None:
            raise RuntimeError(f"session {self.name!r} is {self.state.value}: {happened.value!r} cannot happen now")
        if to is not self.state:
            log.debug("session %r: %s -> %s (%s)", self.name, self.state.value, to.value, happened.value)
        self.state = to

    def _advance(self) -> None:
        """What happens next: the one place a queued execute gets its turn and a kernel is started (for a cell, a reset, an attach)."""
        while self.state is not State.CLOSED:
            if self.kernel is not None and not self.kernel.alive and not self._carrying():
                self._drop_kernel(self.kernel.exit_description())
            if self.cell is None and self._queue:
                run = self._queue.popleft()
                cell = Cell(self, run)
                if run.reply.give(cell):  # not withdrawn by its caller
                    self.cell = cell
                continue
            cell = self.cell
            waiting = cell is not None and cell.dispatched_at is None
            if self.state is State.DEAD and (waiting or self._start_waiters):
                self._begin_start()
                continue  # a warm spare may have made the session idle at once
            if self.state is State.IDLE and waiting:
                self._dispatch(cell)
            return

    # -- cells -------------------------------------------------------------

    @property
    def _occupied(self) -> bool:
        """A cell runs, waits for its kernel, or waits its turn."""
        return self.cell is not None or bool(self._queue)

    def _carrying(self) -> bool:
        """A cell's messages are on their way: a kernel that died is dropped when its carrier says the
        channel ended (CellLost), so the cell keeps what the kernel printed before it died."""
        return self.cell is not None and self.cell.dispatched_at is not None

    def _dispatch(self, cell: "Cell") -> None:
        assert self.kernel is not None and self._nursery is not None
        cell.dispatched_at = trio.current_time()
        cell.started_wall = time.time()
        cell.ladder.sent(cell.dispatched_at)
        cell.notes += self._notes + self.notebook.warnings
        self._notes.clear()
        self.notebook.warnings.clear()
        if self._lost is not None:
            cell.notes.append(
                f"rejoined the kernel of {self.attached}; the session had lost it ({self._lost})"
                if not self.source.owned
                else f"started a fresh kernel: the previous one was lost ({self._lost}); earlier state is gone"
            )
            self._lost = None
        if isinstance(self.kernel, LocalKernel) and self.kernel.cgroups is not None:
            cell.oom_before = self.kernel.cgroups.oom_kills()
        self._move(Happened.CELL_SENT)
        self._nursery.start_soon(self._carry, self.kernel, cell)

    async def _carry(self, kernel: Kernel, cell: "Cell") -> None:
        """Send the cell to the kernel and carry every message about it to the owner."""
        run = cell.run
        content = {"code": run.code, "silent": run.silent, "store_history": not run.silent, "allow_stdin": run.allow_stdin, "stop_on_error": True}
        with cell.scope:
            async with kernel.request("execute_request", content) as replies:
                async for msg in replies:
                    await self._tell(CellMessage(cell, msg))
            await self._tell(CellLost(cell))

    def _take(self, cell: Cell, msg: dict[str, Any]) -> None:
        """A message about the running cell, from its kernel."""
        if self.masker:  # a secret the kernel echoes (a repr, a traceback) never gets further than here
            msg["content"] = self.masker.content(msg["content"])
        cell.take(msg)
        if msg["msg_type"] == "execute_input":
            self._forget_number(cell)
            if cell.ladder.awaits_handler:  # stopped before the kernel's SIGINT handler was in place; now it is
                self._signal(cell)
        elif msg["msg_type"] == "input_request":
            cell.input_deadline = trio.current_time() + INPUT_WAIT_S
        if cell.finished:
            self._end_cell(cell)

    def _end_cell(self, cell: "Cell", outcome: Outcome | None = None, lost: str | None = None) -> None:
        """A cell has ended: record how, free the session for the next, tell who waits."""
        kernel = self.kernel
        if outcome is None:
            outcome = cell.conclude(lost, owned=self.source.owned)
            if isinstance(kernel, LocalKernel) and lost is None:
                outcome.sandbox = kernel.explain(cell.denials, cell.error, cell.oom_before)
        if kernel is not None:
            cell.notes += kernel.notes
            kernel.notes.clear()
        cell.end(outcome)
        if self.cell is cell:
            self.cell = None
        if cell.dispatched_at is None:
            return  # it never ran: nothing to keep
        self._move(Happened.CELL_ENDED)
        if not cell.run.silent:  # the server's own look leaves no trace
            if cell.number is not None:
                self.exec_count = cell.number
            self.notebook.add_cell(cell.record, cell.number, outcome.status, cell.ladder.why, cell.started_wall, cell.elapsed())
            self.history.append(cell)
            while len(self.history) > self.config.keep_cells:
                self.history.popleft().remove_files()
        kept = f"interrupted {cell.label} in session {self.name!r}; the session is kept"
        for waiter in cell.interrupt_waiters:
            waiter.give(kept if lost is None else f"session {self.name!r}: {after_loss(lost, self.source.owned)}")

    def _snapshot(self, cell: "Cell", takes_output: bool = True) -> Outcome:
        """A reply's view of a cell: what no reply has shown yet, and how it stands (a task's cell: its status only)."""
        view = cell.take_view() if takes_output else None
        if cell.outcome is not None:
            outcome = dataclasses.replace(cell.outcome, warnings=list(cell.outcome.warnings))
            cell.reported = cell.reported or takes_output
        elif cell.dispatched_at is None:
            cell.handed_off = True
            outcome = Outcome("running", headline=(
                f"running: the cell is waiting for the kernel to start and runs as soon as it is up. "
                f"wait(session={self.name!r}) for its output, interrupt(session={self.name!r}) to call it off"
            ))
        else:
            cell.handed_off = True
            outcome = Outcome("running", headline=(
                f"running: {cell.label} has run for {cell.elapsed():.0f} s and goes on. "
                f"wait(session={self.name!r}) for more, output(session={self.name!r}, cell={cell.number}) to read all of it, "
                f"interrupt(session={self.name!r}) to stop it"
            ), unfinished=cell.lines.peek())
        if cell.asking is not None:
            outcome.headline += f". It waits for the user's answer to {cell.asking.function}(): {cell.asking.prompt.strip()!r}"
        outcome.transcript, outcome.cell, outcome.session, outcome.elapsed_s = view, cell.number, self.name, cell.elapsed()
        if takes_output:
            outcome.warnings = cell.notes + outcome.warnings
            cell.notes = []
        else:
            outcome.warnings.append(f"{cell.label}'s output goes to the task that runs it; output(session={self.name!r}) reads it")
        return outcome

    def _find(self, number: int | None, cell_id: str | None) -> "Cell | None":
        """The cell a call names, the current one even before it runs (a reply named it); its spool flushed for reading."""
        cells = [*self.history, *([self.cell] if self.cell is not None else [])]
        matches = [c for c in cells if number in (None, c.number) and cell_id in (None, c.id)]
        if not matches:
            return None
        matches[-1].spool.flush()
        return matches[-1]

    def _forget_number(self, cell: "Cell") -> None:
        """A new kernel counts from 1 again: an older cell of the same number gives way."""
        for old in [c for c in self.history if c.number == cell.number]:
            self.history.remove(old)
            old.remove_files()

    def _end_waiting(self, outcome: Callable[[], Outcome]) -> int:
        """End every execute not run yet (queued, or its cell waiting for a kernel), each with its own outcome; how many."""
        count = 0
        while self._queue:
            count += self._queue.popleft().reply.give(outcome())
        if self.cell is not None and self.cell.dispatched_at is None:
            self._end_cell(self.cell, outcome())
            count += 1
        return count

    # -- the interrupt ladder: Ladder says what is due, these do it -----------

    def _stop_cell(self, cell: Cell, why: Stop) -> None:
        if cell.dispatched_at is None:  # only a cancel comes this early: an interrupt ends such cells first
            self._end_cell(cell, not_run("the client cancelled the call"))
        elif cell.ladder.start(why, trio.current_time()) and cell.started.is_set():
            self._signal(cell)

    def _signal(self, cell: "Cell") -> None:
        assert self.kernel is not None and self._nursery is not None
        cell.ladder.signalled(trio.current_time())
        self._nursery.start_soon(self.kernel.interrupt)

    def _give_up(self) -> None:
        """The ladder's last rung: a kernel that did not stop in time is killed or, if not ours, let go of."""
        assert self.kernel is not None
        ignored = f"it ignored {self.kernel.interrupt_kind} for {self.config.interrupt_grace_s:g} s"
        detached = f"detached from the kernel: {ignored} (it was not started here, so it was not killed)"
        self._drop_kernel(f"kernel killed: {ignored}" if self.source.owned else detached)

    def _next_timer(self) -> float:
        cell = self.cell
        return math.inf if cell is None or cell.dispatched_at is None else min(cell.ladder.next_at(), cell.input_deadline)

    def _on_timers(self) -> None:
        cell, now = self.cell, trio.current_time()
        if cell is None or cell.dispatched_at is None:
            return
        if now >= cell.input_deadline and cell.asking is not None:
            self._answer(cell, None, f"no answer within {INPUT_WAIT_S:g} s")
        match cell.ladder.due(now):
            case "kill":
                self._give_up()
            case "signal":
                self._signal(cell)
            case "timeout":
                self._stop_cell(cell, "timeout")

    def _answer(self, cell: "Cell", value: str | None, why: str, note: str = "") -> None:
        """Send the user's answer (or EOF) to the kernel's input_request; a secret is masked from now on, before the kernel has it."""
        assert self.kernel is not None and self._nursery is not None
        ask = cell.answered(value, why, note)
        if ask.password and value is not None:
            self.masker.add(value)
        self._nursery.start_soon(self.kernel.answer_input, ask.request, INPUT_EOF if value is None else value)

    def _abandoned(self, event: Abandon) -> None:
        """Its call is gone with its connection; the cell is nobody's now, so a later wait() takes its output
        (a task that was never handed out cannot claim it either)."""
        run = event.cell.run if event.cell is not None else event.run
        if run is not None:
            run.abandoned, run.task_bound = True, False  # (a cell not made yet is made so)
            if run.cell is not None:
                run.cell.handed_off = True
        if event.ask is not None and self.cell is not None and event.ask is self.cell.asking:
            event.ask.claimed = False

    def _interrupt(self, reply: Reply[str | ToolError]) -> None:
        cancelled = self._end_waiting(partial(not_run, "the session was interrupted"))
        also = f"; {cancelled} waiting execute(s) cancelled" if cancelled else ""
        cell = self.cell
        if cell is None:
            reply.give(f"session {self.name!r} is {self.state.value}: no cell is running{also}")
            return
        cell.interrupt_waiters.append(reply)
        self._stop_cell(cell, "interrupt")

    # -- the kernel ----------------------------------------------------------

    def _begin_start(self, restart: Kernel | None = None) -> None:
        """Bring up a kernel: the one it has restarted in place, else a warm spare when one fits, else a new one."""
        assert self._nursery is not None
        self._move(Happened.START)
        self._attempt = attempt = trio.CancelScope()
        if restart is None and (spare := self._registry.spares.take(self.source, self.cwd)) is not None:
            self._kernel_up(spare, [])
        else:
            self._nursery.start_soon(self._bring_up, attempt, restart)

    async def _bring_up(self, attempt: trio.CancelScope, restart: Kernel | None) -> None:
        """A helper task: start (or restart) a kernel, and report how that went."""
        assert self._nursery is not None
        with attempt:
            try:
                if restart is not None:
                    await restart.restart(self.config.start_timeout_s)
                    kernel, notes = restart, []
                else:
                    kernel, notes = await self._registry.start_kernel_for(self, self._nursery, lambda text: self._tell(Activity(attempt, text)))
            except (KernelStartError, EnvError) as exc:
                await self._tell(StartFailed(attempt, exc))
                return
            with trio.CancelScope(shield=True):
                if not await self._tell(KernelUp(attempt, kernel, notes)):
                    kernel.stop("its session was shut down while it started")

    def _kernel_up(self, kernel: Kernel, notes: list[str]) -> None:
        self._attempt, self.activity = None, ""
        self._notes += notes
        if not isinstance(kernel, LocalKernel) and (unconfined := self._registry.unconfined(self.source)):
            self._notes.append(unconfined)
        kernel.listener = self
        kernel.mask_with(self.masker)  # a spare's, adopted now; the others' since they started
        self.kernel = kernel
        self.notebook.kernel_info, self.notebook.env = kernel.info, self.source.label
        if self.ever_started:
            why = "was restarted (reset)" if any(isinstance(w, Reset) for w in self._start_waiters) else f"was lost ({self._lost or 'gone'}) and a fresh one started"
            self.notebook.add_note(f"*The kernel {why}: the cells below start from an empty namespace.*")
        self.ever_started = True
        self._move(Happened.KERNEL_UP)
        where = f"pid {kernel.pid}" if kernel.pid else kernel.location
        for waiter in self._start_waiters:
            if isinstance(waiter, Reset):
                waiter.reply.give(f"session {self.name!r} reset: fresh kernel ({where}) in env {self.source.label}; all state is gone")
            else:
                waiter.reply.give(kernel)
        self._start_waiters.clear()

    def _start_failed(self, error: Exception) -> None:
        self._attempt, self.activity = None, ""
        if self.kernel is not None:  # a restart in place that failed
            kernel, self.kernel = self.kernel, None
            kernel.stop("its restart failed")
            self._stopped.append(kernel)
        self._move(Happened.START_FAILED)
        message, ename = start_failure(error, self.source, self.config.auto_install_ipykernel)
        self._end_waiting(partial(env_error, message, ename))
        self._refuse_start_waiters(message)
        if not self.ever_started:  # a session whose kernel never came up leaves nothing behind
            self._registry.forget(self)
            self._move(Happened.SHUT_DOWN)

    def _refuse_start_waiters(self, why: str) -> None:
        for waiter in self._start_waiters:
            waiter.reply.give(ToolError(why))
        self._start_waiters.clear()

    def _reset(self, reset: Reset) -> None:
        if not self.source.owned:
            reset.reply.give(ToolError(
                f"session {self.name!r} is attached to a kernel this server did not start ({self.attached});"
                " reset will not restart it. Restart it where it runs, then execute again to rejoin it."
            ))
            return
        self._end_waiting(partial(not_run, "the session was reset"))
        self._start_waiters.append(reset)
        if self.state is State.STARTING:
            return  # the kernel coming up is as fresh as a reset makes it
        self._lost = None
        kernel = self.kernel
        if kernel is not None and kernel.alive and kernel.restarts_in_place and self.cell is None:
            self._begin_start(restart=kernel)
        else:
            self._drop_kernel("the session was reset", by="reset")  # and _advance starts a fresh one

    def _drop_kernel(self, reason: str, by: Literal["reset", "shutdown"] | None = None) -> None:
        """Let go of the kernel (its serve task kills it, or detaches); a running cell ends with it. Unless a reset
        or a shutdown lets it go, the kernel was lost, and the next cell's reply says so."""
        kernel, self.kernel = self.kernel, None
        if kernel is not None:
            kernel.stop(reason)
            self._stopped = [k for k in self._stopped if not k.gone.is_set()] + [kernel]
        if self.cell is not None and self.cell.dispatched_at is not None:
            if by is not None:
                self.cell.ladder.let_go(by)
            elif kernel is not None:  # lost: what its process said as it went (a fatal error's report) explains why
                self.cell.last_words = kernel.last_words()  # masked: the kernel's log masks with this session's secrets
            self._end_cell(self.cell, lost=reason)
        if self._attempt is not None:
            self._attempt.cancel()
            self._attempt, self.activity = None, ""
        if by is None:
            self._lost = reason
        self._move(Happened.KERNEL_DROPPED)

    def _close(self, reason: str) -> None:
        if self.state is State.CLOSED:
            return
        self._end_waiting(partial(not_run, reason))
        self._drop_kernel(reason, by="shutdown")
        self._refuse_start_waiters(f"session {self.name!r}: {reason}")
        self._move(Happened.SHUT_DOWN)

    async def _wind_up(self) -> None:
        """The owner's last act, however it ended: every call answered, every kernel gone."""
        self._close("the server is shutting down")
        with suppress(trio.WouldBlock):
            while True:
                self._refuse(self._inbox.receive_nowait())
        self._inbox.close()  # from now on a request is refused at once (ask, execute)
        if self.notebook.count:  # the last cells, whatever the live writer got to
            await self.notebook.save_live()
        self.notebook.close()
        with trio.move_on_after(TERMINATE_GRACE_S + 2):
            for kernel in self._stopped:
                await kernel.gone.wait()

    def _goodbye(self) -> str:
        if not self.source.owned:
            return f"session {self.name!r} detached from the kernel of {self.attached}, which keeps running"
        return f"session {self.name!r} shut down; its kernel is gone"


@dataclass
class ClientLink:
    """A client's connection to a persistent server, as the calls it carries see it."""

    lost: bool = False  # it ended (EOF, a killed relay, a write that failed), whether or not a call was cancelled
    # The ids (as Context.request_id words them) of the requests its client cancelled (notifications/cancelled), noted
    # as the line is read: a client that cancels and closes at once may be read to its end before the cancelled call
    # wakes, and its cancel must still count as its own.
    cancelled: set[str] = field(default_factory=set)

    def heard(self, line: bytes) -> None:
        """Note a cancel among the lines read from the connection."""
        if b"notifications/cancelled" not in line:  # most lines: no parsing twice
            return
        with suppress(ValueError, AttributeError, KeyError):
            message = json.loads(line)
            if message.get("method") == "notifications/cancelled" and (request := message["params"].get("requestId")) is not None:
                self.cancelled.add(str(request))


# Set by the persistent server for each connection it serves; every call on
# that connection inherits it. Elsewhere (stdio, HTTP, in-process) it is None.
_CLIENT_LINK: contextvars.ContextVar[ClientLink | None] = contextvars.ContextVar("ipython_mcp_client_link", default=None)


def cut_off(ctx: Context | None) -> bool:
    """Whether the call being cancelled (ctx: its tool's Context) lost its client's connection, rather than being
    called off by the client: the one place the two are told apart. A client that cancels an execute
    (notifications/cancelled, tasks/cancel, an in-process client's own cancel) interrupts its cell, as Ctrl-C would,
    also when it closes the connection right after. A connection that ends cancels every call it carried, but a
    client leaving stops nothing: the cell goes on, and its output waits for the next client's wait()."""
    link = _CLIENT_LINK.get()
    return link is not None and link.lost and (ctx is None or ctx.request_id not in link.cancelled)


@dataclass(frozen=True)
class Resuming:  # what a retry's requestState names: the session, the cell and its ask (sealed by the SDK on the way out)
    session: str
    cell_id: str
    key: str


@dataclass
class Asking:  # a call's answer when its cell waits for the user and the call asks by its result (2026-07-28)
    ask: Ask
    request: dict[str, Any]  # the elicitation/create request, as on the wire
    state: str  # the requestState's plaintext: Resuming as JSON


REFUSALS = {"decline": "the user declined", "cancel": "the user cancelled"}  # an elicitation's refusals, as the cell's note says them

# Why a getpass() gets EOFError from a client that cannot open a page, and what the user can do instead.
NO_PAGE = "this client cannot open a page for a secret (it did not declare URL-mode elicitation), and a secret never goes through a form"
NO_PAGE_HINT = (
    "to give the cell a secret, set it in the environment the server starts in (the kernel inherits it: os.environ), "
    "or put it in a file only you can read, or use a client that supports URL-mode elicitation"
)


class UserInput:
    """How a call can put a cell's input() or getpass() to its user, if at all: the one place that decides.

    - during the call (2025-11-25, where the protocol lets a server send requests during one): the server sends
      elicitation/create itself;
    - by the call's result (2026-07-28): input_required with the request and a requestState naming the session, cell
      and ask; the client's retry of the same call brings the answer and follows the cell on. The SDK seals the state
      and refuses it on any other call (MCPServer's RequestStateBoundary, mcp 2.3:
      test_the_internals_we_lean_on_are_still_there checks it is installed); the cell's id refuses it for any other cell;
    - through a task: the tasks extension's input_required and tasks/update.
    input() is asked with a one-field form (or the ask's page, for a client that opens URLs only); a client without
    elicitation is not offered stdin, so its input() fails at once. A secret never goes through a form: getpass() sends
    the user to a one-time page of this server (URL mode, SecretPages), and a client that cannot open one has getpass()
    raise at once, saying why.
    """

    def __init__(self, ctx: Context | ServerRequestContext | None = None) -> None:
        """From a tool's Context, or the request context of a tasks/* method."""
        self.ctx: Context | None = ctx if isinstance(ctx, Context) else None  # progress, and requests during the call
        self.form = self.url = self.in_call = self.by_result = False
        self.host: str | None = None  # the Host this request came to (streamable HTTP): pages are served there
        self.resuming: Resuming | None = None
        self.claimed: Ask | None = None  # the ask this call is putting to its user in a form, right now
        self.responses: dict[str, Any] = {}  # a retry's inputResponses, as on the wire
        self.warnings: list[str] = []  # for this call's reply
        request = ctx.request_context if isinstance(ctx, Context) else ctx
        if request is None:
            return
        session = request.session
        caps = session.client_capabilities
        elicitation = caps.elicitation if caps is not None else None
        if elicitation is not None:
            self.form = elicitation.form is not None or elicitation.url is None  # an empty {} means form, as the spec says
            self.url = elicitation.url is not None
            self.in_call = session.can_send_request
            self.by_result = not self.in_call and request.protocol_version in MODERN_PROTOCOL_VERSIONS
        headers = getattr(request.request, "headers", None)
        self.host = headers.get("host") if headers is not None else None
        if self.ctx is not None and self.ctx.request_state is not None:
            self.resuming = self._resuming(self.ctx.request_state)
            self.responses = {key: response.model_dump(mode="json", by_alias=True, exclude_none=True) for key, response in (self.ctx.input_responses or {}).items()}

    @staticmethod
    def _resuming(state: str) -> Resuming:
        try:
            fields = json.loads(state)
            if fields.pop("v") != INPUT_STATE_VERSION:
                raise ValueError
            return Resuming(**fields)
        except (ValueError, TypeError, KeyError, AttributeError):
            raise ToolError("this retry's requestState was not made by this server for an input() it asked; call again without it") from None

    @property
    def reachable(self) -> bool:
        """Whether this call can put an input() to the user: the kernel is offered stdin only then."""
        return (self.form or self.url) and (self.in_call or self.by_result)

    def way(self, ask: Ask) -> Literal["form", "page", "none"]:
        """How this client is asked: a form, the ask's one-time page, or not at all (a secret, and no page it can open)."""
        if ask.password:
            return "page" if self.url else "none"
        return "form" if self.form else "page"

    async def put(self, session: "Session", cell: "Cell", reply_by: float) -> Asking | None:
        """Put the cell's pending ask to the user as this call can; Asking when the call's result must carry it."""
        ask = cell.asking
        if ask is None:
            return None
        if ask.claimed:  # another call asks the user, or the user went to the page: wait for that to end
            with trio.move_on_at(reply_by):
                await ask.done.wait()
            return None
        way = self.way(ask)
        if way == "none":
            await session.ask(Answer(cell, ask.key, None, NO_PAGE, note=NO_PAGE_HINT))
            return None
        if self.by_result:
            state = json.dumps({"v": INPUT_STATE_VERSION, "session": session.name, "cell_id": cell.id, "key": ask.key})
            return Asking(ask, await self.request(session, cell, ask), state)
        if await session.ask(Claim(cell)) is not ask:
            return None  # answered meanwhile, or another call got there first
        if way == "form":
            self.claimed = ask  # until answered: a call cut off meanwhile lets another call put it again
            value, why = await self.elicit(ask, session.name, cell.input_deadline)
            await session.ask(Answer(cell, ask.key, value, why))
            self.claimed = None
            return None
        page = await session.pages.open(session, cell, ask, self.host)
        action = await self.elicit_page(ask, session.name, page, cell.input_deadline)
        if action != "accept":
            await session.ask(Answer(cell, ask.key, None, action))
            return None
        with trio.move_on_at(reply_by):  # the user went to the page: the cell goes on once it is sent, or expires
            await ask.done.wait()
        if page.submitted and self.ctx is not None:
            with suppress(Exception):  # only a courtesy: the client may retry what waited for the page
                await self.ctx.request_context.session.send_elicit_complete(page.elicitation_id)
        return None

    async def request(self, session: "Session", cell: "Cell", ask: Ask) -> dict[str, Any]:
        """The elicitation/create request for this client, as on the wire (an input_required result's, a task's)."""
        if self.way(ask) == "form":
            return {"method": "elicitation/create", "params": ask.form(session.name)}
        page = await session.pages.open(session, cell, ask, self.host)
        return {"method": "elicitation/create", "params": ask.page(session.name, page.url)}

    async def take(self, session: "Session", cell: "Cell", key: str, response: object) -> None:
        """A client's response to the ask ``key`` (a retry's inputResponses, tasks/update's): the answer to an input(),
        the user's consent to go to the page (the cell then waits for it), or a refusal (EOFError). A response to an ask
        no longer pending is ignored, as the spec asks, and where it brought an answer or a refusal the call's reply says
        that it was not used; an accept without an answer is ignored too (the ask is put again, or its page brings the
        answer). An accept is never an empty answer, and never a secret's value."""
        if not isinstance(response, dict):
            return
        ask, action, value = cell.asking, response.get("action"), Ask.value_of(response)
        if ask is None or ask.key != key:
            late = value is not None or action in REFUSALS
        elif action == "accept" and session.pages.find(ask) is not None:  # the user went to the page
            await session.ask(Claim(cell))
            return
        elif action == "accept" and not ask.password and value is not None:
            late = not await session.ask(Answer(cell, key, value))
        elif action in REFUSALS:
            late = not await session.ask(Answer(cell, key, None, REFUSALS[action]))
        else:
            return
        if late:
            why = f"{cell.label} had already ended" if cell.done.is_set() else "what it answers was no longer waiting (another call's answer came first, or it expired)"
            self.warnings.append(f"the {'answer' if value is not None else action} this retry brought was not used: {why}")

    def reply(self, answer: "Outcome | Asking", warnings: list[str]) -> CallToolResult | InputRequiredResult:
        """The tool's result: its reply, or (2026-07-28) input_required with the request and the state its retry brings back."""
        if isinstance(answer, Asking):
            return InputRequiredResult.model_validate({"inputRequests": {answer.ask.key: answer.request}, "requestState": answer.state})
        answer.warnings = warnings + self.warnings + answer.warnings
        return answer.to_result()

    async def elicit(self, ask: Ask, session: str, deadline: float) -> tuple[str | None, str]:
        """Ask the user with a form during this call; the answer, or None and why there is none."""
        form = ask.form(session)
        assert self.ctx is not None
        call = self.ctx.request_context
        request = call.session.elicit_form(form["message"], form["requestedSchema"], related_request_id=call.request_id)
        result = await self._elicit(deadline, request)
        if isinstance(result, str):
            return None, result
        value = Ask.value_of(result.model_dump(mode="json"))
        return value, "the user declined" if value is None else ""

    async def elicit_page(self, ask: Ask, session: str, page: "SecretPage", deadline: float) -> str:
        """Send the user to the ask's page during this call (URL mode); accept, or why not."""
        assert self.ctx is not None
        call, message = self.ctx.request_context, ask.page(session, page.url)["message"]
        request = call.session.elicit_url(message, page.url, page.elicitation_id, related_request_id=call.request_id)
        result = await self._elicit(deadline, request)
        return result if isinstance(result, str) else REFUSALS.get(result.action, result.action)

    @staticmethod
    async def _elicit(deadline: float, request: Awaitable[ElicitResult]) -> ElicitResult | str:
        """One elicitation/create during this call, until the ask's deadline: the client's result, or why there is none."""
        with trio.move_on_at(deadline):
            try:
                return await request
            except Exception as exc:  # the client failed the request: the cell must not hang on it
                log.info("elicitation failed: %s", exc.__class__.__name__)
                return "the client could not ask the user"
        return f"no answer within {INPUT_WAIT_S:g} s"


@asynccontextmanager
async def _progress(ctx: Context | None, detail: Callable[[], str]) -> AsyncIterator[None]:
    """Progress notifications about once a second while a call waits, saying what for (a no-op without a progress token)."""

    async def report(ctx: Context) -> None:
        for tick in itertools.count(1):
            await trio.sleep(PROGRESS_INTERVAL_S)
            try:
                await ctx.report_progress(tick, None, detail())
            except Exception as exc:  # a client that went away must not fail the call
                log.info("progress notifications stopped: %s", exc.__class__.__name__)
                return

    async with trio.open_nursery() as nursery:
        if ctx is not None:
            nursery.start_soon(report, ctx)
        yield
        nursery.cancel_scope.cancel()


# ============================================================================
# One-time pages: where the user types what a cell's getpass() asks for
# ============================================================================
#
# A secret must not pass through the MCP client (URL-mode elicitation,
# 2025-11-25 and 2026-07-28): the client is sent a link to a page of this
# server, and the browser posts the secret here. The link's 256 random bits
# are the page's only credential; it works once and only for its ask, and
# expires when the ask does (answered, its cell ended, or INPUT_WAIT_S
# passed). Under streamable HTTP the pages are a route of the server's own
# app, ahead of the token check (PageRoute); otherwise a loopback listener
# serves them, opened with the first pending page and closed with the last.
# Both belong to the registry, so whichever process owns the sessions serves
# their pages, whichever connection asked.


@dataclass(eq=False)
class SecretPage:
    token: str  # the URL's last part: the page's credential
    session: "Session"
    cell: "Cell"
    ask: Ask
    expires_at: float  # wall-clock time, for the page's text; the ask's own deadline ends it
    url: str = ""
    elicitation_id: str = field(default_factory=lambda: secrets.token_hex(8))  # names it to a 2025-11-25 client
    submitted: bool = False


PAGE_HEADERS = [
    (b"content-type", b"text/html; charset=utf-8"),
    (b"cache-control", b"no-store"),
    (b"referrer-policy", b"no-referrer"),  # the URL is a credential: it must not leave in a Referer
    (b"x-content-type-options", b"nosniff"),
    (b"content-security-policy", b"default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'"),
]


class SecretPages:
    """The pending pages, the loopback listener that serves them under stdio, and the answer to each request."""

    def __init__(self, nursery: trio.Nursery) -> None:
        self._nursery = nursery
        self.scheme: str | None = None  # set when this server serves streamable HTTP: its app serves the pages
        self._pages: dict[str, SecretPage] = {}
        self._gone: dict[str, str] = {}  # tokens of pages that ended, and why: a late visit is told
        self._port: int | None = None  # the loopback listener's, while it listens
        self._starting = trio.Lock()
        self._changed = trio.Event()  # set and replaced when a page ends: the listener may close

    def find(self, ask: Ask) -> SecretPage | None:
        return next((page for page in self._pages.values() if page.ask is ask), None)

    async def open(self, session: "Session", cell: "Cell", ask: Ask, host: str | None) -> SecretPage:
        """The ask's page, made on its first use (the same URL for every call that asks)."""
        if (page := self.find(ask)) is not None:
            return page
        token = secrets.token_urlsafe(PAGE_TOKEN_BYTES)
        page = SecretPage(token, session, cell, ask, time.time() + max(0.0, cell.input_deadline - trio.current_time()))
        self._pages[token] = page
        self._nursery.start_soon(self._expire, page)
        if self.scheme is not None and host:
            page.url = f"{self.scheme}://{host}{PAGE_PATH}{token}"
        else:
            async with self._starting:
                if self._port is None:
                    await self._nursery.start(self._listen)
            page.url = f"http://127.0.0.1:{self._port}{PAGE_PATH}{token}"
        log.info("session %r: a page for %s's %s() is open", session.name, cell.label, ask.function)
        return page

    async def respond(self, method: str, path: str, body: bytes) -> tuple[int, str]:
        """One request for a page, whoever serves it: (HTTP status, HTML). A secret goes on to its cell and nowhere else."""
        token = path.removeprefix(PAGE_PATH).partition("?")[0]
        page = self._pages.get(token)
        if page is None:
            why = self._gone.get(token)
            return (410, _page_gone(why)) if why else (404, _page_gone(None))
        if method == "GET":
            return 200, _page_form(page)
        if method != "POST":
            return 405, _page_form(page, "Only the form's own button sends the answer.")
        values = urllib.parse.parse_qs(body.decode("utf-8", errors="replace"), keep_blank_values=True).get("secret")
        if not values:
            return 400, _page_form(page, "The form came without its field: type it again.")
        del self._pages[token]  # it works once, from here on
        page.submitted = True
        if not await page.session.ask(Answer(page.cell, page.ask.key, values[0], from_page=True)):
            page.submitted = False
            self._ended(page, f"{page.cell.label} stopped waiting for it before it came")
            return 410, _page_gone(self._gone[token])
        self._ended(page)
        log.info("session %r: %s's %s() was answered on its page", page.session.name, page.cell.label, page.ask.function)
        return 200, _page_sent(page)

    async def _expire(self, page: SecretPage) -> None:
        await page.ask.done.wait()  # answered, refused, timed out, or its cell ended: Cell.end sets it
        self._ended(page)

    def _ended(self, page: SecretPage, why: str = "") -> None:
        if why:
            self._gone[page.token] = why
        elif page.submitted:
            self._gone.setdefault(page.token, "what was typed on it went to the kernel; a page works once")
        elif page.cell.done.is_set():
            self._gone.setdefault(page.token, f"{page.cell.label} in session {page.session.name!r} ended")
        else:
            self._gone.setdefault(page.token, f"{page.cell.label} stopped waiting for it ({page.ask.why})")
        self._pages.pop(page.token, None)
        while len(self._gone) > PAGES_GONE_KEPT:
            del self._gone[next(iter(self._gone))]
        self._changed.set()
        self._changed = trio.Event()

    # -- the loopback listener (stdio, and any connection without an HTTP app) --

    async def _listen(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Serve the pages on a loopback port for as long as one is pending. Its connections are handled in the
        registry's nursery: a browser still being answered (the last page's own POST) outlives the listener."""
        listeners = await trio.open_tcp_listeners(0, host="127.0.0.1")
        async with trio.open_nursery() as nursery:
            nursery.start_soon(partial(trio.serve_listeners, self._serve, listeners, handler_nursery=self._nursery))
            self._port = listeners[0].socket.getsockname()[1]
            log.info("serving secret pages on 127.0.0.1:%d", self._port)
            task_status.started()
            while self._pages:
                await self._changed.wait()
            self._port = None  # in the same step as the decision: the next page starts a new listener
            nursery.cancel_scope.cancel()
        log.info("secret pages: the loopback listener is closed")

    async def _serve(self, stream: trio.SocketStream) -> None:
        """One request on the loopback listener, read and answered with h11, then the connection closes."""
        import h11

        connection = h11.Connection(h11.SERVER, max_incomplete_event_size=PAGE_MAX_HEAD)
        try:
            # A browser that goes away mid-request ends only its own connection, never the listener.
            with trio.move_on_after(PAGE_IO_TIMEOUT_S), suppress(trio.BrokenResourceError, trio.ClosedResourceError):
                try:
                    method, target, body = await _read_page_request(stream, connection)
                    status, text = await self.respond(method, target, body)
                except _PageTooLarge:
                    status, text = 413, _page_gone("the request was larger than a page's form can be")
                except h11.RemoteProtocolError:
                    status, text = 400, _page_gone("the request was not HTTP this page understands")
                data = text.encode()
                headers = [*PAGE_HEADERS, (b"content-length", str(len(data)).encode()), (b"connection", b"close")]
                response = h11.Response(status_code=status, reason=HTTPStatus(status).phrase.encode(), headers=headers)
                with suppress(h11.LocalProtocolError):  # h11 will not answer this connection (it broke the protocol): close it
                    await stream.send_all(connection.send(response) + connection.send(h11.Data(data=data)) + connection.send(h11.EndOfMessage()))
        finally:
            with trio.CancelScope(shield=True), suppress(trio.BrokenResourceError, trio.ClosedResourceError):  # gone already
                await stream.aclose()


class _PageTooLarge(Exception):
    pass


async def _read_page_request(stream: trio.SocketStream, connection: Any) -> tuple[str, str, bytes]:
    """A request's method, target and body, within PAGE_MAX_HEAD and PAGE_MAX_BODY."""
    import h11

    method = target = ""
    body = bytearray()
    while True:
        event = connection.next_event()
        if event is h11.NEED_DATA:
            connection.receive_data(await stream.receive_some(PAGE_MAX_HEAD))
        elif isinstance(event, h11.Request):
            method, target = event.method.decode(), event.target.decode("ascii", errors="replace")
            length = next((value for name, value in event.headers if name == b"content-length"), b"0")
            if int(length) > PAGE_MAX_BODY:
                raise _PageTooLarge
        elif isinstance(event, h11.Data):
            body += event.data
            if len(body) > PAGE_MAX_BODY:
                raise _PageTooLarge
        elif isinstance(event, h11.EndOfMessage):
            return method, target, bytes(body)
        else:  # the browser closed the connection mid-request
            raise h11.RemoteProtocolError("the connection closed before the request was whole")


# An ASGI application, as the MCP SDK's streamable-HTTP app is one and the layers in front of it are too.
Message = dict[str, Any]
Receive, Send = Callable[[], Awaitable[Message]], Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Message, Receive, Send], Awaitable[None]]


async def respond(send: Send, status: int, headers: list[tuple[bytes, bytes]], body: bytes) -> None:
    """A whole ASGI response, its length said."""
    await send({"type": "http.response.start", "status": status, "headers": [*headers, (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


class PageRoute:
    """ASGI: requests for the one-time pages go to them, everything else to ``app`` (behind the token). A page's URL
    is its own credential, so these requests carry no bearer token: the browser following the link has none."""

    def __init__(self, app: ASGIApp, pages: SecretPages) -> None:
        self.app = app
        self.pages = pages

    async def __call__(self, scope: Message, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(PAGE_PATH):
            return await self.app(scope, receive, send)
        body = bytearray()
        more = scope["method"] == "POST"
        while more and len(body) <= PAGE_MAX_BODY:
            message = await receive()
            body += message.get("body", b"")
            more = message.get("more_body", False)
        if len(body) > PAGE_MAX_BODY:
            status, text = 413, _page_gone("the request was larger than a page's form can be")
        else:
            status, text = await self.pages.respond(scope["method"], scope["path"], bytes(body))
        await respond(send, status, PAGE_HEADERS, text.encode())


PAGE_STYLE = (
    "body{font:16px/1.5 system-ui,sans-serif;margin:0;background:#f6f6f4;color:#222}"
    "main{max-width:34em;margin:3em auto;padding:1.5em 2em;background:#fff;border:1px solid #ddd;border-radius:8px}"
    "h1{font-size:1.3em;margin-top:0}code,.prompt{font-family:ui-monospace,monospace}"
    "input{font-size:1.1em;width:100%;box-sizing:border-box;padding:.4em;margin:.3em 0 .8em}"
    "button{font-size:1em;padding:.4em 1.2em}.small{color:#555;font-size:.9em}.note{color:#a40}"
)


def _page(title: str, body: str) -> str:
    return (
        '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{html.escape(title)}</title><style>{PAGE_STYLE}</style></head>"
        f"<body><main>{body}</main></body></html>\n"
    )


def _page_form(page: SecretPage, note: str = "") -> str:
    ask, name, cell = page.ask, html.escape(repr(page.session.name)), html.escape(page.cell.label)
    until = time.strftime("%H:%M:%S", time.localtime(page.expires_at))
    what, kind = ("a secret", "password") if ask.password else ("an answer", "text")
    masked = " The session masks it as ******** in everything it shows or saves." if ask.password else ""
    return _page(
        f"ipython-mcp: session {page.session.name} asks for {what}",
        f"<h1>A cell asks for {what}</h1>"
        f"<p>Session <b>{name}</b>, {cell}, called <code>{ask.function}()</code>:</p>"
        + (f'<p class="note">{html.escape(note)}</p>' if note else "")
        + f'<form method="post"><label for="secret" class="prompt">{html.escape(ask.prompt.strip() or "(no prompt)")}</label>'
        f'<input id="secret" name="secret" type="{kind}" autocomplete="off" autofocus>'
        '<button type="submit">Send to the kernel</button></form>'
        f"<p>What you type goes from this page straight to the kernel's <code>{ask.function}()</code>: not to the MCP "
        f"client or the model, and into no file or log.{masked}</p>"
        f'<p class="small">This page works once. It expires when {cell} ends, or at {until} '
        f"({INPUT_WAIT_S / 60:g} minutes after the cell asked), whichever comes first; "
        f"<code>{ask.function}()</code> then raises EOFError in the cell.</p>",
    )


def _page_sent(page: SecretPage) -> str:
    return _page(
        "ipython-mcp: sent",
        f"<h1>Sent</h1><p>{html.escape(page.cell.label).capitalize()} in session <b>{html.escape(repr(page.session.name))}</b> has it. "
        "You can close this page; it works no more.</p>",
    )


def _page_gone(why: str | None) -> str:
    return _page(
        "ipython-mcp: this page has expired",
        "<h1>This page has expired</h1>"
        + (f"<p>{html.escape(why[0].upper() + why[1:])}.</p>" if why else "<p>There is no page at this address.</p>")
        + f'<p class="small">A page works once, and expires when its cell ends or {INPUT_WAIT_S / 60:g} minutes after the cell asked.</p>',
    )


# ============================================================================
# The registry: every session, and the policy tool calls need
# ============================================================================


class Sessions:
    """Every session of this server, the runtime directory, and the nursery they live in. The policy a tool call
    needs (which env, which warning, whether to install ipykernel and try again) lives here; the sessions only run
    what they are given."""

    def __init__(
        self, config: Config, nursery: trio.Nursery, runtime_dir: Path, zmq_context: zmq.Context, lifeline: int, confinement: Confinement | None = None
    ) -> None:
        self.config = config
        self.confinement = confinement  # what local kernels are confined to (--sandbox, --memory-limit), or None
        self.lifeline = lifeline  # read end of the pipe every kernel watches for the server's death
        self.nursery = nursery
        self.runtime_dir = runtime_dir
        self.zmq = zmq_context
        self._sessions: dict[str, Session] = {}
        self._kernels = 0  # numbers kernels' directories
        self._serial = 0  # numbers sessions' directories
        self.spares = Spares(self)
        self.pages = SecretPages(nursery)  # where the user types what a cell's getpass() asks for
        self.gateway: Gateway | None = None  # when set, every new kernel is created there
        self.lost: dict[str, str] = {}  # sessions of a persistent server that died before this one, and how
        self.changed = trio.Event()  # set and replaced when a session is made or forgotten
        self.written = WrittenFiles()  # the notebooks this server wrote: it replaces no other file

    def __iter__(self) -> Iterator[Session]:
        return iter(list(self._sessions.values()))

    def known(self) -> str:
        return ", ".join(repr(n) for n in sorted(self._sessions)) or "none"

    def get(self, name: str) -> Session:
        """The session a tool call names; it is the call that counts as the session's use."""
        check_session_name(name)
        if (session := self._sessions.get(name)) is None:
            lost = f"; session {name!r} was {self.lost[name]}" if name in self.lost else ""
            raise ToolError(f"no session named {name!r}; known sessions: {self.known()}{lost}")
        session.last_used = trio.current_time()
        return session

    def find(self, name: str) -> Session | None:
        return self._sessions.get(name)

    def forget(self, session: Session) -> None:
        if self._sessions.get(session.name) is session:
            del self._sessions[session.name]
            self._changed()

    def listing(self) -> list[dict[str, Any]]:
        """list_sessions: every session, then those lost with an earlier persistent server."""
        lost = [{"name": name, "status": "lost", "lost": why} for name, why in self.lost.items()]
        return [s.info() for s in self] + lost

    def _changed(self) -> None:
        self.changed.set()
        self.changed = trio.Event()

    def _create(self, name: str, source: Source, cwd: str) -> Session:
        if len(self._sessions) >= self.config.max_sessions:
            raise ToolError(
                f"cannot create session {name!r}: the server's cap of {self.config.max_sessions} live sessions is reached"
                f" (raise it with --max-sessions); shut one down first. Known sessions: {self.known()}"
            )
        self._serial += 1
        session = self._sessions[name] = Session(name, source, cwd, self, self.runtime_dir / f"s{self._serial}")
        session.dir.mkdir(mode=0o700)
        self.nursery.start_soon(session.run)
        self.lost.pop(name, None)  # the name is taken again
        self._changed()
        return session

    # -- what the tools call -------------------------------------------------

    async def execute(
        self, name: str, code: str, *, env: str | None, cwd: str | None, timeout: float | None, wait_s: float, budget: int, user: "UserInput",
        offer: "TaskOffer | None" = None,
    ) -> "Outcome | Asking":
        """Run code in the named session, creating it (env, cwd) on first use; a retry (2026-07-28) follows its cell on."""
        check_session_name(name)
        for argument, value in (("env", env), ("cwd", cwd)):
            if value:
                check_path(argument, value)
        if user.resuming is not None:
            return await self._resumed(name, user).wait(wait_s, user, of_execute=True)
        warnings = user.warnings  # the call's reply says them, ahead of the cell's own
        session = self.find(name)
        if session is None or env or cwd:  # an existing session looks neither up again: it keeps its own
            try:
                requested: Source | None = Kernelspec(env or "") if self.gateway else resolve_env(env, self.config.envs_dir)
            except EnvError as exc:
                if session is None:
                    return env_error(*start_failure(exc, None))
                requested = None  # an existing session ignores env anyway; the warning below says so
            directory = "" if self.gateway else check_cwd(cwd)
            if session is None and isinstance(requested, Env) and self.confinement is not None and (why := self.confinement.refusal(directory)):
                raise ToolError(f"cwd {shown(directory, SHOWN_PATH_CHARS)}: {why}")
            if self.gateway and cwd:
                warnings.append("cwd is ignored for kernels on a Jupyter server: they start in the server's own directory")
            if session is None:
                session = self._create(name, requested, directory)  # type: ignore[arg-type]
                if (live := session.notebook.live) is not None:  # told now, not after the first cell
                    try:
                        await trio.to_thread.run_sync(self.written.check, live, name)
                    except Refused as refusal:
                        session.notebook.refuse_live(refusal)
            elif env and (requested is None or requested != session.source):
                where = f" ({session.source.python})" if isinstance(session.source, Env) else ""
                warnings.append(
                    f"session {name!r} already runs in env {session.source.label}{where}; "
                    f"env {shown(env)} is ignored. Use another session name, or shut this one down first, to use it"
                )
            if cwd and directory != session.cwd:  # a new session has it as its own
                warnings.append(
                    f"session {name!r} was started in {session.cwd}; cwd {shown(cwd)} applies only to new sessions "
                    "(use os.chdir() in a cell to move)"
                )
        session.last_used = trio.current_time()
        return await session.execute(code, timeout, wait_s, budget, user, offer)

    async def wait(self, name: str, timeout: float, user: "UserInput") -> "Outcome | Asking":
        return await (self.get(name) if user.resuming is None else self._resumed(name, user)).wait(timeout, user)

    def _resumed(self, name: str, user: "UserInput") -> Session:
        """The session a retry's state names: the call's own, still live."""
        assert user.resuming is not None
        session = self.find(name)
        if user.resuming.session != name or session is None:
            raise ToolError(f"session {name!r}, whose cell asked for this answer, was shut down; the answer was not used")
        return session

    async def output(self, name: str, number: int | None, grep: str | None, offset: int, limit: int) -> str:
        session = self.get(name)
        pattern = compile_grep(grep) if grep is not None else None
        cell = await session.ask(Find(number))
        if cell is None:
            which = f"no cell {number}" if number is not None else "no cell yet"
            kept = ", ".join(str(c.number) for c in session.history if c.number is not None) or "none"
            raise ToolError(f"session {name!r} has {which}; the cells whose output is kept: {kept}")
        return await render_output(cell, pattern, offset, limit, self.config.output_chars, self.config.grep_timeout_s)

    async def export(self, name: str, path: str | None, overwrite: bool) -> str:
        """Write the session's cells as a notebook; never over a file this server did not write (or that changed
        since), unless told to, and never over anything but a regular file."""
        session = self.get(name)
        notebook = session.notebook
        if not notebook.count:
            raise ToolError(f"session {name!r} has no cells to export yet")
        if path:
            check_path("path", path)
        target = Path(os.path.abspath(os.path.expanduser(path))) if path else Path(session.cwd or os.getcwd()) / f"{file_name(name)}.ipynb"
        where = shown(str(target), SHOWN_PATH_CHARS)
        if target.name == ".ipynb":
            raise ToolError(f"path {where} has no file name before .ipynb")
        if target.suffix != ".ipynb":
            raise ToolError(f"path {where} must end in .ipynb")
        try:
            cells = await trio.to_thread.run_sync(notebook.write, target, overwrite)  # building a notebook full of images is slow work
        except Refused as refusal:
            raise ToolError(str(refusal) if refusal.final else f"{refusal}; pass overwrite=true to replace it, or another path") from None
        except FileNotFoundError:
            raise ToolError(f"no directory {shown(str(target.parent), SHOWN_PATH_CHARS)} to write the notebook in") from None
        except OSError as exc:
            raise ToolError(f"could not write {where}: {exc.strerror or exc}") from None
        running = f"; {session.cell.label} still runs and is not in it yet" if session.cell is not None and session.cell.dispatched_at else ""
        return f"wrote {cells} code cells of session {name!r} to {target}{running}. Open it with: jupyter lab {shlex.quote(str(target))}"

    async def variables(self, name: str) -> Outcome | str:
        """The user's variables as a table, computed in the kernel within a bounded time; at once "busy" while a cell runs."""
        session = self.get(name)
        answer = await session.ask(Run(VARIABLES_CODE, VARIABLES_TIMEOUT_S, self.config.output_chars, silent=True))
        if isinstance(answer, Outcome):
            return answer
        await answer.done.wait()  # bounded: the cell's own timeout runs the ladder
        outcome = await session.ask(Snapshot(answer))
        try:
            rows = json.loads(outcome.transcript.text_of("stdout")) if outcome.status == "ok" and outcome.transcript else None
        except ValueError:  # not one JSON list (something else printed): the reply shows what the kernel said
            rows = None
        return outcome if rows is None else variables_table(name, rows, session.masker)

    async def interrupt(self, name: str) -> str:
        return _answered(await self.get(name).ask(Interrupt()))

    async def reset(self, name: str) -> str:
        return _answered(await self.get(name).ask(Reset()))

    async def shutdown(self, name: str) -> str:
        session = self.get(name)
        self.forget(session)  # the name is free at once; a new session of that name gets a new kernel
        return _answered(await session.ask(Shutdown("the session was shut down")))

    async def attach(self, name: str, spec: str) -> str:
        check_session_name(name)
        if name in self._sessions:
            raise ToolError(f"session {name!r} already exists; pick another name or shut it down first")
        path = find_connection_file(spec)
        session = self._create(name, Joined(path), "")
        kernel = _answered(await session.ask(Start()))  # refused: the session, whose kernel never came up, has closed itself
        language = kernel.info.get("language_info", {})
        return (
            f"session {name!r} joined the running kernel of {path} ({kernel.info.get('implementation', 'kernel')}"
            f" {kernel.info.get('implementation_version', '')}, {language.get('name', '?')} {language.get('version', '')})."
            " Its variables are shared with whoever else uses that kernel. shutdown only detaches; reset is refused."
            + (f" Note: {unconfined}." if (unconfined := self.unconfined(session.source)) else "")
        )

    # -- kernels and spares ------------------------------------------------

    async def start_kernel_for(self, session: Session, nursery: trio.Nursery, say: Callable[[str], Awaitable[object]]) -> tuple[Kernel, list[str]]:
        """A kernel for a session, its tasks in ``nursery``, installing ipykernel into its env first where allowed
        (say tells the session meanwhile); and what the session's next reply should say about it."""
        source = session.source
        try:
            return await self.start_kernel(source, session.cwd, nursery, session.masker), []
        except KernelStartError as exc:
            if not (isinstance(source, Env) and self.config.auto_install_ipykernel and lacks_ipykernel(exc)):
                raise
        installed = await install_ipykernel(source, say)
        return await self.start_kernel(source, session.cwd, nursery, session.masker), [installed]

    async def start_kernel(self, source: Source, cwd: str, nursery: trio.Nursery, masker: Masker | None = None) -> Kernel:
        """Start (or join) a kernel whose tasks live in ``nursery``, its session's secrets masked from its first
        word (a spare's from when a session adopts it); raises KernelStartError, leaving nothing behind."""
        kernel = self.new_kernel(source, cwd)
        if masker is not None:
            kernel.mask_with(masker)
        await nursery.start(kernel.serve, self.config.start_timeout_s)
        return kernel

    def new_kernel(self, source: Source, cwd: str) -> Kernel:
        """The one place that picks the kind of kernel a source gets."""
        if isinstance(source, Joined):
            return AttachedKernel(source, self.zmq)
        if isinstance(source, Kernelspec):
            assert self.gateway is not None
            return RemoteKernel(self.gateway, source)
        self._kernels += 1
        return LocalKernel(source, self.runtime_dir / f"k{self._kernels}", cwd, self.zmq, self.lifeline, self.confinement)

    def write_roots(self, source: Source, cwd: str) -> tuple[str, ...] | None:
        """Where a session's kernel may write, as real paths, when --sandbox confines it; else None."""
        if self.confinement is None or not self.confinement.sandbox or not isinstance(source, Env):
            return None
        return tuple(os.path.realpath(p) for p in (cwd, *self.confinement.write))

    def confinement_of(self, source: Source, cwd: str) -> str | None:
        """What a session's kernel may do, for list_sessions; None when kernels are not confined."""
        if self.confinement is None:
            return None
        return self.unconfined(source) or self.confinement.describe(cwd)

    def unconfined(self, source: Source) -> str:
        """Under --sandbox, the sentence saying a kernel not started here is not confined; else ""."""
        if self.confinement is None or not self.confinement.sandbox or isinstance(source, Env):
            return ""
        where = "runs on the Jupyter server" if isinstance(source, Kernelspec) else "was started elsewhere and joined"
        return f"this session's kernel is NOT sandboxed: it {where}, and --sandbox confines only the kernels this server starts"

    async def close_all(self) -> None:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(self.spares.stop_all)
            for session in self:
                self.forget(session)
                nursery.start_soon(session.ask, Shutdown("the server is shutting down"))


# Runs in the kernel in a namespace of its own (exec with fresh globals), so
# it leaves no trace in the user's, and prints one JSON list. Cheap facts only:
# a 10 GB frame is described by its shape and memory, never printed.
VARIABLES_CODE = r'''exec("""
import json, reprlib, sys, types
ip = get_ipython()
skip = set(ip.user_ns_hidden) | {"In", "Out", "exit", "quit", "get_ipython"}
short = reprlib.Repr()
short.maxstring, short.maxother, short.maxlist, short.maxdict = 60, 60, 6, 4
rows = []
for name, value in list(ip.user_ns.items()):
    if name.startswith("_") or name in skip or isinstance(value, types.ModuleType):
        continue
    if callable(value) and getattr(value, "__module__", "__main__") != "__main__":
        continue
    kind = type(value)
    kind_name = kind.__qualname__ if kind.__module__ == "builtins" else kind.__module__.split(".")[0] + "." + kind.__qualname__
    row = {"name": name, "type": kind_name, "shape": "", "size": None, "value": ""}
    shape = getattr(value, "shape", None)
    try:
        if isinstance(shape, tuple) and all(isinstance(n, int) for n in shape):
            row["shape"] = " x ".join(map(str, shape))
            if hasattr(value, "columns"):
                columns = list(value.columns)
                row["value"] = "columns: " + ", ".join(map(str, columns[:8])) + (" ..." if len(columns) > 8 else "")
            elif hasattr(value, "dtype"):
                row["value"] = "dtype " + str(value.dtype)
            nbytes = getattr(value, "nbytes", None)
            if isinstance(nbytes, int):
                row["size"] = nbytes
            elif hasattr(value, "memory_usage"):
                row["size"] = int(value.memory_usage(index=True, deep=False).sum())
            elif hasattr(value, "estimated_size"):
                row["size"] = int(value.estimated_size())
        else:
            if isinstance(value, (str, bytes, list, tuple, dict, set, frozenset)):
                row["shape"] = "len " + str(len(value))
            row["size"] = sys.getsizeof(value)
            row["value"] = short.repr(value)
    except Exception as error:
        row["value"] = "(" + type(error).__name__ + " describing it)"
    rows.append(row)
print(json.dumps(rows))
""", {})'''


def variables_table(session: str, rows: list[dict[str, Any]], masker: Masker | None = None) -> str:
    """The variables as a fixed-width table, a row per name; a secret's fragment where reprlib cut a value is masked too."""
    masker = masker if masker is not None else Masker()
    if not rows:
        return f"session {session!r} has no variables of its own yet (modules, imported functions and _names are not listed)"

    def size(n: object) -> str:
        if not isinstance(n, int):
            return ""
        amount = float(n)
        for unit in ("B", "KiB", "MiB", "GiB"):
            if amount < 1024 or unit == "GiB":
                return f"{amount:.0f} {unit}" if unit == "B" else f"{amount:.1f} {unit}"
            amount /= 1024
        return ""

    table = [("name", "type", "shape/len", "size", "value")] + [
        (r["name"], r["type"], r["shape"], size(r["size"]), " ".join(masker.text(str(r["value"])).split())[:VARIABLE_VALUE_CHARS]) for r in rows[:VARIABLES_SHOWN]
    ]
    widths = [min(max(len(row[i]) for row in table), 40) for i in range(4)]
    lines = ["  ".join(cell[:40].ljust(width) for cell, width in zip(row[:4], widths, strict=True)) + "  " + row[4] for row in table]
    more = f"\n({len(rows) - VARIABLES_SHOWN} more not shown)" if len(rows) > VARIABLES_SHOWN else ""
    return f"variables of session {session!r} (modules, imported functions and _names are not listed):\n" + "\n".join(lines).rstrip() + more


def _answered(answer: T | ToolError) -> T:
    """A lifecycle call's answer; a refusal is the tool's error."""
    if isinstance(answer, ToolError):
        raise answer
    return answer


async def render_output(cell: Cell, grep: Grep | None, offset: int, limit: int, budget: int, timeout: float = 10.0) -> str:
    """The output tool's reply: a header, then numbered lines from the cell's spool, within the reply budget."""
    spool = cell.spool
    total = spool.total_lines
    name = f"cell {cell.number}" if cell.number is not None else "the current cell"
    if cell.dispatched_at is None:
        return f"{name} is waiting for the kernel to start: no output yet. wait(session={cell.session!r}) follows it\n"
    status = cell.outcome.status if cell.outcome is not None else f"running for {cell.elapsed():.0f} s"
    if total == 0:
        return f"{name}, {status}: no output\n"
    start = max(0, total + offset) if offset < 0 else offset
    lines, more = await read_spool(spool, start, limit, grep, budget, timeout)
    body, used = [], 0
    for line in lines:
        text, more_bytes = line.text, line.more_bytes
        if len(text) > OUTPUT_LINE_CHARS:
            more_bytes += len(text[OUTPUT_LINE_CHARS:].encode())
            text = text[:OUTPUT_LINE_CHARS]
        entry = f"{line.number:>6}  {text}" + (f" …[{more_bytes} more bytes]" if more_bytes else "") + "\n"
        if used + len(entry) > budget and body:
            break
        body.append(entry)
        used += len(entry)
    shown_lines = len(body)
    if grep is not None:
        header = f"{name}, {status}: {shown_lines} line(s) matching {shown(grep.text)} of {total}"
        if more or shown_lines < len(lines):
            last = lines[shown_lines - 1].number if shown_lines else start
            header += f" (more follow: grep again with offset={last})"
    elif lines:
        first, last = lines[0].number, lines[shown_lines - 1].number
        header = f"{name}, {status}: lines {first}–{last} of {total}"
        if last < total:
            header += f" (next: offset={last})"
    else:
        header = f"{name}, {status}: no lines from offset {offset}; it has {total}"
    return header + "\n" + "".join(body)


def remove_stale_runtime_dirs(parent: Path) -> None:
    """Remove the runtime directories of servers that died without cleaning up (killed by SIGKILL); their kernels are
    gone too, each watching its server through the lifeline pipe."""
    for path in parent.glob("ipython-mcp-*-*"):
        pid = path.name.split("-")[2]
        try:
            if not pid.isdigit() or path.stat().st_uid != os.getuid():
                continue
            os.kill(int(pid), 0)
        except ProcessLookupError:
            shutil.rmtree(path, ignore_errors=True)
        except OSError:  # alive under another user, or vanished meanwhile
            continue


@asynccontextmanager
async def open_sessions(config: Config) -> AsyncIterator[Sessions]:
    """The session registry with its nursery and private runtime directory; every kernel is gone on exit."""
    # mkdtemp makes it 0700; the pid in its name lets a later server clean up after a killed one
    runtime_dir = Path(tempfile.mkdtemp(prefix=f"ipython-mcp-{os.getpid()}-"))
    remove_stale_runtime_dirs(runtime_dir.parent)
    try:
        confinement = await Confinement.create(config, runtime_dir)
    except BaseException:
        shutil.rmtree(runtime_dir, ignore_errors=True)
        raise
    zmq_context = zmq.Context()
    lifeline_read, lifeline_write = os.pipe()  # the write end is never written; it closes when this process ends
    try:
        async with trio.open_nursery() as nursery:
            sessions = Sessions(config, nursery, runtime_dir, zmq_context, lifeline_read, confinement)
            if config.gateway_url:
                sessions.gateway = Gateway(config.gateway_url, config.gateway_token)
            elif config.spares:
                nursery.start_soon(sessions.spares.keep, config.spares)
            try:
                yield sessions
            finally:
                with trio.CancelScope(shield=True):
                    await sessions.close_all()
                nursery.cancel_scope.cancel()
        # Every kernel's cleanup (a remote DELETE among them) has run: the HTTP client can go.
        if sessions.gateway is not None:
            with trio.CancelScope(shield=True):
                await sessions.gateway.aclose()
    finally:
        zmq_context.term()
        os.close(lifeline_read)
        os.close(lifeline_write)
        if confinement is not None:
            with trio.CancelScope(shield=True):
                await confinement.aclose()
        shutil.rmtree(runtime_dir, ignore_errors=True)


# ============================================================================
# The tasks extension: an execute that outlives its first second, as a task
# ============================================================================
#
# Follows the MCP tasks extension, io.modelcontextprotocol/tasks (SEP-2663),
# as specified in modelcontextprotocol/ext-tasks, specification/draft/tasks.md
# at commit e434597: a tools/call may be answered with a CreateTaskResult,
# then tasks/get, tasks/update and tasks/cancel. (Not the older 2025-11-25
# tasks design with tasks/result.) It exists only at protocol 2026-07-28,
# where each request carries its own capabilities. A task is a view of one
# cell, as a running reply is: the cell belongs to its session either way.


@dataclass
class TaskOffer:
    """An execute the extension may turn into a task, handed to the call by the execute tool (offer_for): the call
    gives it its run if the cell outlives the first wait."""

    session: Session | None = None
    run: Run | None = None

    def take(self, session: Session, run: Run) -> Outcome:
        self.session, self.run = session, run
        return Outcome("running", headline="running as a task")  # replaced by the CreateTaskResult


class TaskParams(RequestParams):  # tasks/get and tasks/cancel: the wire's taskId
    task_id: str


class UpdateParams(TaskParams):  # tasks/update: and inputResponses
    input_responses: dict[str, dict[str, Any]] = {}


class Task:
    """One execute's cell as the tasks extension shows it, from its run (queued) to its result."""

    def __init__(self, session: Session, run: Run, protocol_version: str) -> None:
        self.id = secrets.token_urlsafe(16)  # unguessable: a task id is all a caller needs to see its result
        self.session = session
        self.run = run
        self.protocol_version = protocol_version
        self.created = time.time()
        self.updated = self.created
        self.finished: float | None = None
        self.status = "working"
        self.message = ""
        self.result: dict[str, Any] | None = None  # the CallToolResult the execute would have returned, as on the wire
        self.input_requests: dict[str, Any] | None = None  # while input_required: what the user is asked, as on the wire

    async def refresh(self, user: UserInput) -> None:
        """Bring status and message up to date with the cell (its input() put as this client can); fix the result at its end."""
        if self.finished is not None:
            return
        self.input_requests = None
        cell, answer = self.run.cell, self.run.reply.value
        if cell is not None and (ask := cell.asking) is not None and not ask.claimed and user.way(ask) == "none":
            await self.session.ask(Answer(cell, ask.key, None, NO_PAGE, note=NO_PAGE_HINT))
        if isinstance(answer, Outcome):  # it never ran: cancelled while queued, or its kernel would not start
            self._finish(answer)
        elif cell is not None and cell.done.is_set():
            self._finish(await self.session.ask(Snapshot(cell)))
        elif cell is not None and (ask := cell.asking) is not None and ask.claimed:
            self._set("working", f"waiting for the user to answer {ask.function}() on its page: {ask.prompt.strip()!r}")
        elif cell is not None and ask is not None:
            self.input_requests = {ask.key: await user.request(self.session, cell, ask)}
            self._set("input_required", f"waiting for the user's answer to {ask.function}(): {ask.prompt.strip()!r}")
        else:
            self._set("working", self.session.progress(cell, named=True))

    def wire(self, result_type: str) -> dict[str, Any]:
        """The task as CreateTaskResult ("task") or as tasks/get's DetailedTask ("complete")."""
        ttl = None if self.finished is None else round((self.finished - self.created + TASK_TTL_S) * 1000)
        out: dict[str, Any] = {
            "resultType": result_type,
            "taskId": self.id,
            "status": self.status,
            "createdAt": _iso(self.created),
            "lastUpdatedAt": _iso(self.updated),
            "ttlMs": ttl,  # none while it works; an hour past its end once it has ended
            "pollIntervalMs": TASK_POLL_MS,
        }
        if self.message:
            out["statusMessage"] = self.message
        if result_type == "complete" and self.status == "completed":
            out["result"] = self.result
        if result_type == "complete" and self.status == "input_required" and self.input_requests:
            out["inputRequests"] = self.input_requests
        return out

    def _set(self, status: str, message: str) -> None:
        if (status, message) != (self.status, self.message):
            self.status, self.message, self.updated = status, message, time.time()

    def _finish(self, outcome: Outcome) -> None:
        self.result = tool_result_on_the_wire(outcome.to_result(), self.protocol_version)
        self.finished = time.time()
        self._set("cancelled" if outcome.status == "cancelled" else "completed", outcome.headline if outcome.status != "ok" else "")


class TasksExtension(Extension):
    """The tasks extension, through the SDK's extension API: tools/call interception and the tasks/* methods."""

    identifier = TASKS_EXTENSION

    def __init__(self) -> None:
        self._tasks: dict[str, Task] = {}
        self._offers: dict[int, TaskOffer] = {}  # by the id of the tools/call request's context, while the call runs

    def methods(self) -> list[MethodBinding]:
        modern = frozenset(MODERN_PROTOCOL_VERSIONS)
        return [
            MethodBinding("tasks/get", TaskParams, self._get, protocol_versions=modern),
            MethodBinding("tasks/update", UpdateParams, self._update, protocol_versions=modern),
            MethodBinding("tasks/cancel", TaskParams, self._cancel, protocol_versions=modern),
        ]

    def offer_for(self, ctx: Context) -> TaskOffer | None:
        """The offer to this execute call, if the extension may make it a task: the execute tool hands it to the call."""
        return self._offers.get(id(ctx.request_context))

    async def intercept_tool_call(self, params: CallToolRequestParams, ctx: ServerRequestContext, call_next: CallNext) -> HandlerResult:
        """An execute from a request that declared the extension may become a task; anything else passes."""
        caps = ctx.session.client_capabilities  # at 2026-07-28: this request's own
        declared = caps is not None and self.identifier in (caps.extensions or {})
        if params.name != "execute" or ctx.protocol_version not in MODERN_PROTOCOL_VERSIONS or not declared:
            return await call_next(ctx)
        offer = self._offers[id(ctx)] = TaskOffer()
        try:
            result = await call_next(ctx)  # the same ctx reaches the tool, as its Context's request_context
        finally:
            del self._offers[id(ctx)]
        if offer.run is None or offer.session is None:
            return result  # ended (or failed) within the first wait: a plain result
        task = Task(offer.session, offer.run, ctx.protocol_version)
        await task.refresh(UserInput(ctx))
        self._expire()
        self._tasks[task.id] = task
        return task.wire("task")

    async def _get(self, ctx: ServerRequestContext, params: TaskParams) -> dict[str, Any]:
        task = self._find(ctx, params.task_id)
        await task.refresh(UserInput(ctx))
        return task.wire("complete")

    async def _update(self, ctx: ServerRequestContext, params: UpdateParams) -> dict[str, str]:
        task = self._find(ctx, params.task_id)
        user = UserInput(ctx)
        if (cell := task.run.cell) is not None:
            for key, response in params.input_responses.items():  # keys not outstanding are ignored, as the spec asks
                await user.take(task.session, cell, key, response)
        return {"resultType": "complete"}

    async def _cancel(self, ctx: ServerRequestContext, params: TaskParams) -> dict[str, str]:
        task = self._find(ctx, params.task_id)
        await task.session.call_off(task.run, "the task was cancelled (tasks/cancel)")
        return {"resultType": "complete"}

    def _find(self, ctx: ServerRequestContext, task_id: str) -> Task:
        from mcp.server.mcpserver import require_client_extension
        from mcp.shared.exceptions import MCPError
        from mcp_types import INVALID_PARAMS

        require_client_extension(ctx, self.identifier)  # -32021 for a request whose capabilities lack the extension
        self._expire()
        if (task := self._tasks.get(task_id)) is None:
            raise MCPError(INVALID_PARAMS, f"Failed to retrieve task: no task {task_id!r} (unknown, or finished over {TASK_TTL_S / 3600:g} h ago)")
        return task

    def _expire(self) -> None:
        """Finished tasks go an hour after their end, and past TASKS_KEPT the oldest first; working ones stay."""
        now = time.time()
        finished = sorted((t for t in self._tasks.values() if t.finished is not None), key=lambda t: t.finished or 0)
        for index, task in enumerate(finished):
            if now - (task.finished or now) > TASK_TTL_S or index < len(finished) - TASKS_KEPT:
                del self._tasks[task.id]


# ============================================================================
# What this module leans on in the MCP SDK beyond its documented surface
# ============================================================================
#
# One small function each, written against the version named, and checked by
# test_the_internals_we_lean_on_are_still_there, which fails with a clear
# message when a new SDK moves them. (The ipykernel internals the kernel
# bootstrap patches are described beside KERNEL_BOOTSTRAP.)


def lowlevel_server(server: MCPServer) -> "LowlevelServer":
    """The lowlevel server MCPServer drives in run_stdio_async (mcp 2.3: ``MCPServer._lowlevel_server``).

    serve_stdio drives it itself, with stdin read by trio, because the SDK's
    stdin reader blocks a worker thread that no cancel reaches: SIGTERM would
    wait for the client to close stdin.
    """
    lowlevel = getattr(server, "_lowlevel_server", None)
    if lowlevel is None:
        raise RuntimeError("this mcp has no MCPServer._lowlevel_server (written against mcp 2.3): serve_stdio cannot drive it")
    return lowlevel


def tool_result_on_the_wire(result: CallToolResult, protocol_version: str) -> dict[str, Any]:
    """A tool result shaped for a protocol version, as the SDK shapes a plain tools/call's (mcp 2.3: mcp_types.methods)."""
    from mcp_types import methods

    dumped = result.model_dump(by_alias=True, mode="json", exclude_none=True)
    return methods.serialize_server_result("tools/call", protocol_version, dumped)


def guard_hypercorn_h2() -> None:
    """Make hypercorn's HTTP/2 drop body data that arrives for a stream it has already answered and closed
    (hypercorn 0.17-0.18: hypercorn/protocol/h2.py ``H2Protocol._handle_events``, pgjones/hypercorn#334).

    Unpatched, that data raises KeyError out of the connection; under the trio
    backend it ends the whole server. A client without the token, sending a
    large body over HTTP/2 (TLS, or prior knowledge in the clear), gets its 401
    before the body is read, and the body that follows would do exactly that.
    The data is still acknowledged, so the connection's flow control goes on.
    """
    import h2.events
    from hypercorn.protocol.h2 import H2Protocol

    handle_events = H2Protocol._handle_events
    if getattr(handle_events, "guards_closed_streams", False):
        return

    async def _handle_events(self: H2Protocol, events: list[h2.events.Event]) -> None:
        for event in events:
            if isinstance(event, h2.events.DataReceived) and event.stream_id not in self.streams:
                self.connection.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
                await self._flush()
                continue
            await handle_events(self, [event])

    _handle_events.guards_closed_streams = True  # type: ignore[attr-defined]
    H2Protocol._handle_events = _handle_events


@asynccontextmanager
async def stdio_over(reader: "_LineReader", writer: "_LineWriter") -> AsyncIterator[tuple[Any, Any]]:
    """The SDK's stdio transport over lines read and written by trio (mcp 2.3: ``mcp.server.stdio.stdio_server``):
    typed for anyio's files, it only iterates lines from one and awaits write() and flush() on the other, and,
    given both, leaves fds 0 and 1 alone. A line it cannot read as JSON-RPC it hands on as an exception, which
    the SDK's server drops unanswered: here it is answered (_Unreadable), or its caller would wait for ever."""
    from mcp.server.stdio import stdio_server

    lines = _Lines(reader)
    async with stdio_server(lines, writer) as (read, write):  # type: ignore[arg-type]
        yield _Unreadable(read, write, lines), write


class _Lines:
    """The lines of a _LineReader, each kept until the SDK's item for it is read: it makes exactly one of each
    line, in order (a message, or the exception it could not read it for), so the oldest kept is that item's."""

    def __init__(self, reader: "_LineReader") -> None:
        self._reader = reader
        self.pending: deque[str] = deque()

    def __aiter__(self) -> "_Lines":
        return self

    async def __anext__(self) -> str:
        line = await self._reader.__anext__()
        self.pending.append(line)
        return line


class _Unreadable:
    """The SDK's read stream (mcp 2.3: ``receive``, iteration, ``async with``, ``last_context``, as its dispatcher
    uses them), answering each line that is not a JSON-RPC message with JSON-RPC's error: -32700 for text that is
    not JSON, -32600 for JSON that is no valid message (a lone surrogate, a missing method), with the request's
    id where it has one."""

    def __init__(self, stream: Any, write: Any, lines: _Lines) -> None:
        self._stream = stream
        self._write = write
        self._lines = lines

    @property
    def last_context(self) -> Any:
        return getattr(self._stream, "last_context", None)

    async def receive(self) -> Any:
        from mcp.shared.message import SessionMessage
        from mcp_types import INVALID_REQUEST, PARSE_ERROR, ErrorData, JSONRPCError

        while True:
            item = await self._stream.receive()
            line = self._lines.pending.popleft() if self._lines.pending else ""
            if not isinstance(item, Exception):
                return item
            try:
                sent = json.loads(line)
            except ValueError:
                code, message, request = PARSE_ERROR, "Parse error: the line is not JSON", None
            else:
                code, message = INVALID_REQUEST, f"Invalid request: not a JSON-RPC message this server reads ({type(item).__name__})"
                request = sent.get("id") if isinstance(sent, dict) and isinstance(sent.get("id"), (str, int)) else None
                if isinstance(request, str):  # the id goes back as sent, but never a lone surrogate of its own
                    request = request.encode("utf-8", "replace").decode()
            log.info("answered a line that is no JSON-RPC message with %d: %s", code, item)
            await self._write.send(SessionMessage(JSONRPCError(jsonrpc="2.0", id=request, error=ErrorData(code=code, message=message))))

    def __aiter__(self) -> "_Unreadable":
        return self

    async def __anext__(self) -> Any:
        import anyio

        try:
            return await self.receive()
        except anyio.EndOfStream:
            raise StopAsyncIteration from None

    async def __aenter__(self) -> "_Unreadable":
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self._stream.aclose()

    async def aclose(self) -> None:
        await self._stream.aclose()


# ============================================================================
# The MCP tools
# ============================================================================


def check_session_name(name: str) -> None:
    """Refuse a name that would not map to a file name of its own (see file_name)."""
    if not isinstance(name, str) or not name.strip():
        raise ToolError("session name must be a non-empty string, for example 'main'")
    if len(name) > MAX_SESSION_NAME:
        raise ToolError(f"session name is {len(name)} characters long; the limit is {MAX_SESSION_NAME}")
    if not name.isprintable():
        raise ToolError(f"session name {shown(name)} contains control characters; use printable characters only")
    if not unicodedata.is_normalized("NFC", name):
        raise ToolError(
            f"session name {name!r} is not in Unicode's composed form (NFC): it would look like another name, and its"
            f" files like another's. Send it composed: {unicodedata.normalize('NFC', name)!r}"
        )
    if (size := len(file_name(name).encode())) > SESSION_FILE_BYTES:
        raise ToolError(
            f"session name {shown(name)} takes {size} bytes as a file name (UTF-8); the limit is {SESSION_FILE_BYTES} bytes,"
            f" so {MAX_SESSION_NAME} characters only when they are ASCII"
        )


def check_seconds(name: str, value: float | None, default: float | None, *, zero: bool = False) -> tuple[float | None, list[str]]:
    """A duration argument: refused when negative or NaN (or zero, unless allowed); clamped, with a warning, past a day."""
    if value is None:
        return default, []
    if too_small(value, "zero" if zero else "positive"):
        raise ToolError(f"{name} must be {least_words('zero' if zero else 'positive', seconds=True)}, got {value}")
    if value > MAX_TIMEOUT_S:
        return MAX_TIMEOUT_S, [f"{name}={value:g} clamped to the maximum of {MAX_TIMEOUT_S:g} s"]
    return value, []


def check_cwd(cwd: str | None) -> str:
    if not cwd:
        return os.getcwd()
    directory = os.path.abspath(os.path.expanduser(cwd))
    if not os.path.isdir(directory):
        raise ToolError(f"cwd {shown(cwd)} is not a directory" + (f" ({shown(directory, SHOWN_PATH_CHARS)})" if directory != cwd else ""))
    return directory


def answering_errors(handler: Callable[..., Any]) -> Callable[..., Any]:
    """A tool handler whose failures reach the client as a clear error of bounded size: an OSError or ValueError that
    a bad argument provoked below becomes one line naming the tool and the error, not the SDK's bare "Error executing
    tool" with a traceback on stderr; an error reply (it may quote a kernel's log) is cut at MAX_ERROR_CHARS."""

    @wraps(handler)
    async def answer(*args: Any, **kwargs: Any) -> Any:
        try:
            return await handler(*args, **kwargs)
        except ToolError as exc:
            if len(str(exc)) <= MAX_ERROR_CHARS:
                raise
            raise ToolError(str(exc)[:MAX_ERROR_CHARS] + " …[cut]") from None
        except (OSError, ValueError) as exc:
            log.info("%s: %s: %s", handler.__name__, exc.__class__.__name__, str(exc)[:SHOWN_PATH_CHARS])
            raise ToolError(f"{handler.__name__} failed: {exc.__class__.__name__}: {str(exc)[:SHOWN_PATH_CHARS]}") from None

    return answer


def _text(reply: str) -> CallToolResult:
    # Plain text, no structuredContent: some clients show a tool's structured
    # result to the model as a {"result": "..."} wrapper with escaped newlines.
    return CallToolResult(content=[TextContent(type="text", text=reply)])


def instructions(sessions: Sessions) -> str:
    """The server's instructions as of now: they name the sessions that exist (and any lost with an earlier
    persistent server), so that a model in a new conversation knows to look."""
    text = (
        "Stateful Python: each named session is a persistent IPython kernel. Variables, imports and the "
        "working directory survive between execute calls, like notebook cells. Use one session per task; "
        "list_sessions shows them. A cell that outlives its call keeps running: wait and output follow it."
    )
    if sessions.confinement is not None:
        text += sessions.confinement.instructions()
    if sessions.config.persist:
        text += (
            " This server outlives its clients: sessions, their variables and their running cells stay when a "
            "conversation ends, and the next one finds them."
        )
    if live := list(sessions):
        text += (
            " Sessions that exist now: " + "; ".join(f"{s.name!r} ({s.summary()})" for s in live) + ". Look into them "
            "before starting afresh: variables lists a session's variables, wait follows its running cell and returns "
            "what no reply has shown yet, output reads everything a cell printed."
        )
    by_reason: dict[str, list[str]] = {}
    for name, why in sessions.lost.items():
        by_reason.setdefault(why, []).append(repr(name))
    for why, names in by_reason.items():
        text += f" Session{'s' if len(names) > 1 else ''} {', '.join(names)} {'were' if len(names) > 1 else 'was'} {why}."
    return text


async def _instructions_now(sessions: Sessions, ctx: ServerRequestContext, call_next: CallNext) -> HandlerResult:
    """Server middleware: the instructions are made as initialize or server/discover is answered, not once at start
    (mcp 2.3: call_next returns the answer as the wire's dict; should that change,
    test_the_instructions_name_the_sessions_that_exist fails)."""
    result = await call_next(ctx)
    if ctx.method in ("initialize", "server/discover") and isinstance(result, dict):
        result["instructions"] = instructions(sessions)
    return result


# The SDK's refusal of arguments that do not fit a tool's schema (mcp 2.3: "Error executing tool T: " and pydantic's
# ValidationError text, each error a location line, an indented message with [type=..., input_type=...], and a
# line with a link): one line per tool call is what a model reads best. Should that text change, it is left as it
# is, and test_wrong_argument_types_are_refused_in_a_line fails.
SDK_ARGUMENT_ERROR = re.compile(r"Error executing tool (\S+): \d+ validation errors? for \S+\n")
PYDANTIC_ERROR = re.compile(r"^(\S[^\n]*)\n  ([^\n]*?)(?: \[type=(\w+)[^\n]*?(?:input_type=(\w+))?\])?$", re.M)


async def _argument_errors_in_a_line(ctx: ServerRequestContext, call_next: CallNext) -> HandlerResult:
    """Server middleware: a tool call refused for its arguments' types answers in a line naming each argument."""
    result = await call_next(ctx)
    if ctx.method != "tools/call" or not isinstance(result, dict) or not result.get("isError"):
        return result
    content = result.get("content") or []
    said = content[0].get("text", "") if len(content) == 1 and isinstance(content[0], dict) else ""
    if (head := SDK_ARGUMENT_ERROR.match(said)) and (errors := PYDANTIC_ERROR.findall(said, head.end())):
        problems = [
            f"argument {location} is required" if kind == "missing" else f"argument {location}: {message}{f' (got {got})' if got else ''}"
            for location, message, kind, got in errors
        ]
        content[0]["text"] = f"{head[1]}: {'; '.join(problems)}"
    return result


def build_server(sessions: Sessions) -> MCPServer:
    """The MCP server and its tools; each tool checks its arguments and makes one call on the registry."""
    config = sessions.config
    tasks = TasksExtension()
    server = MCPServer(
        "ipython-mcp",
        version=__version__,
        extensions=[tasks],
        instructions=instructions(sessions),
        middleware=[partial(_instructions_now, sessions), _argument_errors_in_a_line],
    )
    reply_after = config.reply_after_s
    limit = f"{config.default_timeout_s:g} s" if config.default_timeout_s is not None else "none"
    env_help = (
        f"Kernelspec for a NEW session, on the Jupyter server at {redact_url(config.gateway_url)[0]}; ignored (with a "
        "warning) for an existing one. Omit for the server's default kernelspec."
    ) if config.gateway_url else (
        "Python environment for a NEW session; ignored (with a warning) for an existing one. "
        f"Omit for the server's own Python. A bare name means {config.envs_dir}/<name> (the server's --envs-dir) "
        "or a conda env of that name; a path (with '/' or starting with '~') "
        "means that venv/conda env, a project holding .venv, or an interpreter. The env needs ipykernel."
    )
    Session_ = Annotated[str, Field(description="Session name, e.g. 'main'.")]

    def tool(title: str, description: str, **hints: bool) -> Callable[[Callable[..., Any]], Any]:
        def register(handler: Callable[..., Any]) -> Any:
            return server.tool(annotations=ToolAnnotations(title=title, **hints), description=description)(answering_errors(handler))

        return register

    @tool("Run Python in a session", (
        "Run Python code in a named IPython session and return its output: stdout, stderr and the value of the last expression, in order, "
        "plus images (e.g. matplotlib plots, also saved as files). The session's kernel is created on first use and keeps variables, "
        "imports and the working directory between calls. IPython syntax works (%magics, !shell). input() asks the user when the client "
        "supports elicitation (and fails at once when it does not); getpass() sends the user to a one-time page of this server, so the "
        "secret never passes through the client or the model; never put secrets in code. "
        f"A cell still running after wait_s (default {reply_after:g} s) keeps running: the reply says "
        "'running', and wait, output and interrupt follow it. While another cell runs, the code waits its turn for up to wait_s, then "
        "replies 'busy' WITHOUT running. Long output keeps its head and tail within "
        f"{config.output_chars} characters; output reads the rest. A non-ok status is named on the first line."
    ), destructive_hint=True, open_world_hint=True)
    async def execute(
        ctx: Context,
        session: Annotated[str, Field(description="Session name, e.g. 'main'. A new name creates a new kernel.")],
        code: Annotated[str, Field(description="Python/IPython code to run, like one notebook cell.")],
        env: Annotated[str | None, Field(description=env_help)] = None,
        timeout_s: Annotated[float | None, Field(description=(
            f"The cell's hard limit in seconds (default: {limit}). When it passes the cell gets a KeyboardInterrupt and the session is kept."
        ))] = None,
        wait_s: Annotated[float | None, Field(description=(
            f"How long this call waits for the cell before replying (default {reply_after:g}). A cell still running then goes on; "
            "the reply says 'running'. 0 starts the cell and replies at once."
        ))] = None,
        max_output_chars: Annotated[int | None, Field(description=f"Text budget for this reply (default {config.output_chars}, at most {MAX_OUTPUT_CHARS}).")] = None,
        cwd: Annotated[str | None, Field(description=(
            "Working directory for a NEW session's kernel (default: the server's); ignored, with a warning, for an existing one. "
            "Inside a session, os.chdir() works as usual."
        ))] = None,
    ) -> CallToolResult | InputRequiredResult:
        timeout, warnings = check_seconds("timeout_s", timeout_s, config.default_timeout_s)
        wait, more = check_seconds("wait_s", wait_s, reply_after, zero=True)
        warnings += more
        budget = config.output_chars
        if max_output_chars is not None:
            if too_small(max_output_chars, MIN_OUTPUT_CHARS):
                raise ToolError(f"max_output_chars must be {least_words(MIN_OUTPUT_CHARS)}, got {max_output_chars}")
            if max_output_chars > MAX_OUTPUT_CHARS:
                warnings.append(f"max_output_chars={max_output_chars} clamped to {MAX_OUTPUT_CHARS}")
            budget = min(max_output_chars, MAX_OUTPUT_CHARS)
        user = UserInput(ctx)
        offer = tasks.offer_for(ctx)
        return user.reply(await sessions.execute(session, code, env=env, cwd=cwd, timeout=timeout, wait_s=wait, budget=budget, user=user, offer=offer), warnings)

    @tool("Wait for a running cell", (
        "Wait for the session's running cell and return the output no reply has shown yet, with its status: "
        "'running' again if it still runs, else how it ended. With no cell running it says 'idle' at once."
    ), read_only_hint=True)
    async def wait(
        ctx: Context,
        session: Session_,
        timeout_s: Annotated[float | None, Field(description=f"Seconds to wait at most (default {reply_after:g}).")] = None,
    ) -> CallToolResult | InputRequiredResult:
        timeout, warnings = check_seconds("timeout_s", timeout_s, reply_after, zero=True)
        user = UserInput(ctx)
        return user.reply(await sessions.wait(session, timeout, user), warnings)

    @tool("Read a cell's saved output", (
        "Read a cell's whole saved output, also while it runs, without touching the kernel: numbered lines, "
        f"`limit` of them from `offset` (negative: from the end), or with `grep` the matching lines. Cells are "
        f"named by their number (execution count); the output of the last {config.keep_cells} cells is kept."
    ), read_only_hint=True)
    async def output(
        session: Session_,
        cell: Annotated[int | None, Field(description="The cell's number (default: the latest cell).")] = None,
        grep: Annotated[str | None, Field(description="A regular expression in Python's syntax: show only the lines it matches (\\w, \\d, \\s and \\b match ASCII only).")] = None,
        offset: Annotated[int, Field(description="Lines to skip; negative counts from the end (-50: the last 50).")] = 0,
        limit: Annotated[int, Field(description="Lines to show at most (default 200).")] = 200,
    ) -> CallToolResult:
        if too_small(limit, 1):
            raise ToolError(f"limit must be {least_words(1)}, got {limit}")
        return _text(await sessions.output(session, cell, grep, offset, limit))

    @tool("Export a session as a notebook", (
        "Write the session's cells to a Jupyter notebook (.ipynb): code, outputs as the kernel sent them (images, "
        "HTML, every MIME type), errors, and which cells timed out or died. Default path: <session>.ipynb in the "
        "session's working directory. A file not written by this server is only replaced with overwrite=true."
    ), destructive_hint=False)
    async def export(
        session: Session_,
        path: Annotated[str | None, Field(description="Where to write, ending in .ipynb (default: <session>.ipynb in the session's directory).")] = None,
        overwrite: Annotated[bool, Field(description="Replace a file this server did not write.")] = False,
    ) -> CallToolResult:
        return _text(await sessions.export(session, path, overwrite))

    @tool("List a session's variables", (
        "The session's variables as a table (name, type, shape or length, memory size, short value), computed in "
        "the kernel without printing them: a large frame is described by its shape. Answers 'busy' at once while a "
        "cell runs."
    ), read_only_hint=True)
    async def variables(session: Session_) -> CallToolResult:
        answer = await sessions.variables(session)
        return answer.to_result() if isinstance(answer, Outcome) else _text(answer)

    @tool("List sessions", (
        "List every session: name, env, python path, status (idle, busy, starting or dead), uptime_s (its age), exec_count (the last "
        "cell's number), cells (how many ran), last_used_s_ago (since a call last named it), kernel pid, working directory, the connection "
        "file of an attached kernel, location (local, or the Jupyter server and kernel id), the running cell (number, elapsed_s, last line "
        "of output), how many execute calls wait their turn (queued) and, when kernels are confined (--sandbox, --memory-limit), what the "
        "session's kernel may do (sandbox). A session lost with an earlier persistent server is listed with status 'lost' and how "
        "it was lost."
    ), read_only_hint=True)
    async def list_sessions() -> list[dict[str, Any]]:
        return sessions.listing()

    @tool("Restart a session's kernel", (
        "Restart the session's kernel: every variable and import is wiped; the name and env are kept. A running "
        "cell and any waiting execute are cancelled."
    ), destructive_hint=True)
    async def reset(session: Session_) -> CallToolResult:
        return _text(await sessions.reset(session))

    @tool("Shut a session down", "Kill the session's kernel (and anything it started) and forget the session; a running cell is cancelled.", destructive_hint=True)
    async def shutdown(session: Session_) -> CallToolResult:
        return _text(await sessions.shutdown(session))

    @tool("Join a running kernel", (
        "Bind a new session to a Jupyter kernel that is already running (for example a notebook's), by its "
        "connection file: a path, or a file name such as 'kernel-1234.json' found in Jupyter's runtime "
        "directory (in the notebook, %connect_info names it). execute then shares that kernel's variables. "
        "The kernel is never stopped from here: shutdown detaches, reset is refused."
    ), destructive_hint=False, open_world_hint=True)
    async def attach(
        session: Annotated[str, Field(description="Name for the new session.")],
        connection_file: Annotated[str, Field(description="Connection file path or name, e.g. 'kernel-1234.json'.")],
    ) -> CallToolResult:
        return _text(await sessions.attach(session, connection_file))

    @tool("Interrupt a running cell", (
        "Interrupt the cell running in the session (KeyboardInterrupt), as Ctrl-C would, and cancel any execute "
        "waiting its turn. A cell that ignores it for "
        f"{config.interrupt_grace_s:g} s has its kernel killed, losing the session's state."
    ), destructive_hint=False, idempotent_hint=True)
    async def interrupt(session: Session_) -> CallToolResult:
        return _text(await sessions.interrupt(session))

    return server


# ============================================================================
# Streamable HTTP: who may connect
# ============================================================================
#
# Over stdio only the client that started this server can reach it. Over HTTP
# anyone who can open a connection could run code as this user, so every
# request must carry this server's token, as Jupyter Server's must. The check
# is the outermost layer of the app: a request without the token is answered
# before the SDK sees it, so it costs no MCP session, no kernel and no file,
# and its body is never read. Host and Origin are checked too (DNS rebinding:
# a web page must not reach a server on loopback through a name it controls),
# against the names the server can be reached by. Nothing in this section
# writes the token anywhere but stderr at start and the 0600 token file.


TOKEN_BYTES = 32  # randomness in a generated token: 256 bits, beyond guessing over a network
TOKEN_FILE_BYTES = 64 * 1024  # a token file holds a line; a larger one is not a token file
LOOPBACK_NAMES = ("127.0.0.1", "localhost", "[::1]")  # how a client on this machine names it in a Host header


UNAUTHORIZED_BODY = (
    b"401 Unauthorized: send the header 'Authorization: Bearer <token>'. The server printed its token on its"
    b" stderr at start, and keeps it in the token file named there.\n"
)


def is_loopback(host: str) -> bool:
    return host == "localhost" or _is_address(host, "is_loopback")


def _is_address(host: str, kind: str) -> bool:
    """Whether ``host`` is an IP address of that kind (is_loopback; is_unspecified: 0.0.0.0 or ::, every interface)."""
    with suppress(ValueError):  # a name, not an address
        return getattr(ip_address(host), kind)
    return False


def _host_header_form(name: str) -> str:
    """An IPv6 address in brackets, as Host and Origin headers (and hypercorn's bind) write it."""
    return f"[{name}]" if ":" in name and not name.startswith("[") else name


def host_names(host: str, extra: tuple[str, ...] = ()) -> list[str]:
    """The names a request may give in its Host header to reach a server bound to `host`.

    An address on every interface is reached through loopback or the machine's
    name; any other name (a LAN address's DNS name, a reverse proxy's) is added
    with --allowed-host.
    """
    if _is_address(host, "is_unspecified"):
        names = [*LOOPBACK_NAMES, os.uname().nodename]
    else:
        names = [*LOOPBACK_NAMES, host] if is_loopback(host) else [host]
    return list(dict.fromkeys(_host_header_form(name) for name in [*names, *extra]))


def transport_security(names: list[str]) -> "TransportSecuritySettings":
    """The SDK's Host/Origin check, allowing exactly these names, with any port or none (a proxy on 443)."""
    from mcp.server.transport_security import TransportSecuritySettings

    return TransportSecuritySettings(
        enable_dns_rebinding_protection=True,
        allowed_hosts=[form for name in names for form in (name, f"{name}:*")],
        allowed_origins=[f"{scheme}://{name}{port}" for name in names for scheme in ("http", "https") for port in ("", ":*")],
    )


def resolve_token(from_environment: str, token_file: Path | None) -> tuple[str, bool]:
    """IPYTHON_MCP_TOKEN's value, else the first line of --token-file, else a fresh random token; and
    whether the user supplied it (then it is never printed: they know where it is)."""
    if token := from_environment.strip():
        source = "IPYTHON_MCP_TOKEN"
    elif token_file:
        source = f"--token-file {token_file}"
        token = read_token_file(token_file)
    else:
        return secrets.token_urlsafe(TOKEN_BYTES), False
    if not re.fullmatch(r"[\x21-\x7e]+", token):  # it travels in an HTTP header
        raise SystemExit(f"ipython-mcp: the token in {source} must be one line of printable ASCII without spaces")
    return token, True


def read_token_file(path: Path) -> str:
    """The first line of a token file that only its owner, this user, can read or change, as sshd wants of a key file."""

    def yours_alone(info: os.stat_result) -> None:
        if info.st_uid != os.getuid():
            raise OSError(f"it belongs to uid {info.st_uid}, not to you (uid {os.getuid()}): a token must be yours alone")
        if info.st_mode & 0o077:
            raise OSError(f"others can read or change it (mode {stat.S_IMODE(info.st_mode):04o}): a token must be yours alone. Run: chmod 600 {path}")

    try:
        return read_regular_file(path, TOKEN_FILE_BYTES, yours_alone).decode("utf-8").split("\n", 1)[0].strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise SystemExit(f"ipython-mcp: cannot read --token-file {path}: {exc}") from None


class RequireToken:
    """ASGI middleware: an HTTP request without ``Authorization: Bearer <token>`` gets 401.

    Not the SDK's bearer middleware (mcp 2.3, ``mcp.server.auth``): the SDK turns
    it on only through ``AuthSettings``, which requires the URL of an OAuth
    authorization server, and with ``resource_server_url`` it publishes metadata
    naming that server, so a client without the token would be sent into an
    OAuth flow against a server that does not exist. Its 401 also always says
    ``error="invalid_token"`` with a fixed JSON body, where the user needs to
    be told where the token is shown. A fixed token needs one comparison, not a
    verifier: here it is, constant-time. Other ASGI scopes (lifespan) pass
    through; the app has no websocket route.
    """

    def __init__(self, app: ASGIApp, token: str) -> None:
        self.app = app
        self._token = token.encode()

    async def __call__(self, scope: Message, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        credentials = next((value for name, value in scope["headers"] if name == b"authorization"), b"")
        scheme, _, presented = credentials.partition(b" ")
        if scheme.lower() == b"bearer" and hmac.compare_digest(presented.strip(), self._token):
            return await self.app(scope, receive, send)
        challenge = b'Bearer realm="ipython-mcp"' + (b', error="invalid_token"' if credentials else b"")
        await respond(send, 401, [(b"content-type", b"text/plain; charset=utf-8"), (b"www-authenticate", challenge)], UNAUTHORIZED_BODY)


def write_token_file(directory: Path, port: int, token: str) -> Path:
    """<port>.token, 0600, replaced in one step so no reader sees half a token."""
    replace_file(path := directory / f"{port}.token", (token + "\n").encode(), mode=0o600)
    return path


def remove_token_file(directory: Path, path: Path | None, token: str) -> None:
    """Remove it unless another server on this port (another address) has replaced it; then the directory if empty."""
    if path is not None:
        with suppress(OSError):  # gone already
            if hmac.compare_digest(path.read_bytes().strip(), token.encode()):
                path.unlink()
    with suppress(OSError):  # not empty: another server's files are in it
        directory.rmdir()


def announce(binds: list[str], config: Config, token: str | None, names: list[str], token_path: Path | None, supplied: bool = False) -> None:
    """The start-up lines on stderr: where to connect, the token (a token the user supplied shows as ...,
    as Jupyter shows it: they know where it is), and a line to paste into Claude Code."""
    endpoints = [bind + "/mcp" for bind in binds]
    # A client names a wildcard bind by a loopback address; 0.0.0.0 is not a Host anyone allows.
    url = endpoints[0].replace("://0.0.0.0:", "://127.0.0.1:").replace("://[::]:", "://[::1]:")
    print(f"ipython-mcp: serving MCP over streamable HTTP at {', '.join(endpoints)}", file=sys.stderr)
    if not is_loopback(config.host) or config.allowed_hosts:
        print(f"ipython-mcp: requests must name this server as one of {', '.join(names)} (add names with --allowed-host)", file=sys.stderr)
    if token is None:
        print(f"ipython-mcp: WARNING: --no-auth: any user or process on this machine can run code as {getpass.getuser()} through {url}", file=sys.stderr)
        print(f"ipython-mcp: for Claude Code: claude mcp add --transport http ipython {url}", file=sys.stderr)
        return
    print(f"ipython-mcp: every request needs 'Authorization: Bearer <token>'; the token is in {token_path} (only you can read it; removed at exit)", file=sys.stderr)
    print(f'ipython-mcp: for Claude Code: claude mcp add --transport http ipython {url} --header "Authorization: Bearer {"..." if supplied else token}"', file=sys.stderr)


# ============================================================================
# The persistent server: sessions that outlive their clients
# ============================================================================
#
# --persist's other half (the relay is at the top of the file). One process
# per user and working directory owns the sessions exactly as a stdio server
# does, and serves each connection on its Unix socket as serve_stdio serves
# its one client: one MCP server for all of them, so every client sees every
# session, and each call goes through its session's owner as any other
# (busy, in order, one cell at a time). What differs:
#
# - A client leaving stops nothing. Its connection's end marks the
#   connection's ClientLink lost before the calls it carried are cancelled,
#   and cut_off() tells that from a client's own cancel: the cell goes on,
#   and its output waits for the next wait().
# - Its life is its own: detached (the relay starts it in a session of its
#   own), it ends after --linger with no client connected and no cell
#   running, on --stop, or on SIGTERM; whatever ends it, every kernel goes.
# - Only its user gets in: the private directory is 0700, and each
#   connection's peer credentials are checked.
# - Its state file lists its sessions while it lives and goes when it ends
#   as it should. A server that finds one at start says that the sessions in
#   it were lost with a server that did not (SIGKILL, a crash, a reboot).

HELLO_WAIT_S = 10.0  # a connection says what it wants, in its first line, within this or is dropped
FIRST_CLIENT_WAIT_S = 10.0  # a new server lingers at least this long for its first client, the relay that started it, whatever --linger says
LISTEN_BACKLOG = 64  # connections waiting to be accepted: many relays starting at once
ACCEPT_RETRY_S = 0.1  # after accept() fails for lack of file descriptors or memory, as trio's own listeners wait


def peer_uid(sock: trio.socket.SocketType | socket.socket) -> int | None:
    """The uid of the process at the other end of a Unix socket (SO_PEERCRED, Linux); None where the platform
    cannot tell, which leaves the private directory's mode as the only guard."""
    if not hasattr(socket, "SO_PEERCRED"):
        return None
    _pid, uid, _gid = struct.unpack("3i", sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i")))
    return uid


def lost_with_predecessor(place: PersistPlace) -> dict[str, str]:
    """The sessions of the server that left its state file behind (it died without ending as it should), and how
    they were lost. Read once, at start, before this server writes its own."""
    try:
        state = json.loads(place.state.read_text())
        pid, started, sessions = state["pid"], float(state["started"]), [s["name"] for s in state["sessions"]]
    except (OSError, ValueError, KeyError, TypeError):
        return {}
    why = (
        f"lost with the previous persistent server for this directory (pid {pid}, started {_iso(started)}), which ended "
        "without shutting down (killed, or the machine restarted): its kernel and variables are gone"
    )
    return {name: why for name in sessions if isinstance(name, str)}


def _shown(value: object) -> str:
    if value is None or value == ():
        return "unset"
    if isinstance(value, tuple):
        return ",".join(value)
    return f"{value:g}" if isinstance(value, float) else str(value)


class PersistentServer:
    """The sessions of one working directory, served to every client that connects, for as long as they are wanted."""

    def __init__(self, config: Config, place: PersistPlace, sessions: Sessions, lock_fd: int) -> None:
        self.config = config
        self.place = place
        self.sessions = sessions
        self.lock_fd = lock_fd  # the lock that makes it the directory's one server; it says there what it is doing
        self.lowlevel = lowlevel_server(build_server(sessions))
        self.started = time.time()
        self.clients = 0
        self.served = False  # whether a client has connected yet
        self.stirred = trio.Event()  # set and replaced when a client comes or goes
        self.ended: str | None = None  # why it ends, once it does
        self._stop = trio.Event()
        self._stoppers: list[trio.SocketStream] = []  # --stop's connections, closed once every kernel is gone
        self._state_written = False

    def stop(self, why: str) -> None:
        if self.ended is None:
            self.ended = why
            self._stop.set()

    async def serve(self, start_fd: int) -> None:
        """Listen, let go of the start lock (start_fd: the relays waiting for it connect now, the one that started
        this server among them, if it still lives), and serve until stopped. Ending, the socket goes first, so that
        a relay coming meanwhile starts a new server (which waits for this one's lock) rather than reach this one."""
        listener = trio.socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        with suppress(FileNotFoundError):
            self.place.socket.unlink()  # left by a server that died: this one holds the lock, so none other lives
        try:
            await listener.bind(str(self.place.socket))
            listener.listen(LISTEN_BACKLOG)
            self.write_state()
            declare(self.lock_fd, "listening")
            os.close(start_fd)
            print(
                f"ipython-mcp {__version__}: persistent server pid {os.getpid()} for {self.place.directory} listens on"
                f" {self.place.socket}; it exits after {duration(self.config.linger_s)} with no client and no cell running",
                file=sys.stderr, flush=True,
            )
            async with trio.open_nursery() as nursery:
                nursery.start_soon(_stop_on_signals, partial(self.stop, "a signal asked it to"))
                nursery.start_soon(self._linger)
                nursery.start_soon(self._keep_state)
                nursery.start_soon(self._accept, listener, nursery)
                await self._stop.wait()
                nursery.cancel_scope.cancel()
        finally:
            declare(self.lock_fd, "ending")
            with suppress(OSError):
                self.place.socket.unlink()
            listener.close()

    async def wind_up(self) -> None:
        """Every kernel is gone: the state file goes (this server ended as it should), then --stop hears so."""
        if self._state_written:
            with suppress(OSError):
                self.place.state.unlink()
        print(f"ipython-mcp: persistent server pid {os.getpid()} ended ({self.ended or 'an error'}); every kernel is gone", file=sys.stderr, flush=True)
        with trio.CancelScope(shield=True):
            for stream in self._stoppers:
                await stream.aclose()

    # -- clients -------------------------------------------------------------

    async def _accept(self, listener: trio.socket.SocketType, nursery: trio.Nursery) -> None:
        while True:
            try:
                sock, _ = await listener.accept()
            except OSError as exc:  # out of file descriptors or memory: let a connection end, then try again
                log.warning("accepting a connection failed: %s", exc)
                await trio.sleep(ACCEPT_RETRY_S)
                continue
            uid = peer_uid(sock)
            if uid is not None and uid != os.getuid():
                log.warning("refused a connection from uid %d: only uid %d may use this server", uid, os.getuid())
                sock.close()
                continue
            nursery.start_soon(self._serve_connection, trio.SocketStream(sock))

    async def _serve_connection(self, stream: trio.SocketStream) -> None:
        """One connection: its first line says what it wants (a relay's MCP wire, --status, --stop)."""
        link = ClientLink()
        lines = _LineReader(stream, link)
        try:
            hello: object = None
            with trio.move_on_after(HELLO_WAIT_S), suppress(StopAsyncIteration, ValueError):
                hello = json.loads(await lines.__anext__())
            kind = hello.get("ipython-mcp") if isinstance(hello, dict) else None
            if kind == "relay":
                await self._relay(hello, lines, stream, link)
            elif kind == "status":
                await stream.send_all(json.dumps({"text": self.status()}).encode() + b"\n")
            elif kind == "stop":
                count = len(list(self.sessions))
                said = f"stopped the persistent server for {self.place.directory} (pid {os.getpid()}): {count} session(s) shut down, every kernel gone"
                await stream.send_all(json.dumps({"pid": os.getpid(), "text": said}).encode() + b"\n")
                self._stoppers.append(stream)
                self.stop("--stop")
            else:
                log.info("dropped a connection that did not say what it wants")
        except Exception:  # one client's broken connection must not take every session down with it
            log.info("a client's connection failed", exc_info=True)
        finally:
            if stream not in self._stoppers:
                with trio.CancelScope(shield=True):
                    await stream.aclose()

    async def _relay(self, hello: dict[str, Any], lines: "_LineReader", stream: trio.SocketStream, link: ClientLink) -> None:
        """A relay's client: its settings compared with this server's, then MCP as serve_stdio serves it."""
        try:
            theirs, _ = read_command(list(hello["argv"]), dict(hello["environ"]))
        except (ValueError, SystemExit, KeyError, TypeError) as exc:
            await stream.send_all(json.dumps({"pid": os.getpid(), "refused": str(exc)}).encode() + b"\n")
            return
        await stream.send_all(json.dumps({"pid": os.getpid(), "differences": self.differences(hello, theirs)}).encode() + b"\n")
        self._stir(+1)
        token = _CLIENT_LINK.set(link)  # every call on this connection inherits it
        try:
            async with stdio_over(lines, _LineWriter(stream, link)) as (read, write):
                await self.lowlevel.run(read, write, self.lowlevel.create_initialization_options())
        finally:
            _CLIENT_LINK.reset(token)
            self._stir(-1)

    def differences(self, hello: dict[str, Any], theirs: Config) -> list[str]:
        """How a relay's settings (and code) differ from this server's, one sentence each."""
        said = []
        if hello.get("version") != __version__:
            said.append(f"this client runs ipython-mcp {hello.get('version')}, the running persistent server {__version__}")
        if hello.get("module") != MODULE_FILE:
            said.append(f"this client runs {hello.get('module')}, the running persistent server {MODULE_FILE}")
        for item, _ in Config.settings():
            mine, yours = getattr(self.config, item.name), getattr(theirs, item.name)
            if isinstance(mine, Path) and isinstance(yours, Path):  # relative to the one working directory both share
                mine, yours = mine.absolute(), yours.absolute()
            if mine == yours:
                continue
            flag = item.metadata["flag"] or item.metadata["variable"]
            if item.metadata["secret"]:
                said.append(f"{flag} differs from the running server's (the values are not shown)")
            else:
                said.append(f"{flag} is {_shown(yours)} for this client, but {_shown(mine)} in the running server")
        if said:
            said.append(
                f"this client uses the running persistent server (pid {os.getpid()}) as it is: "
                "`ipython-mcp --persist --stop` ends it, and the next start applies the new settings"
            )
        return said

    def status(self) -> str:
        """--status: pid, socket, uptime, linger, one line per session."""
        lines = [
            f"persistent server for {self.place.directory}: pid {os.getpid()}, ipython-mcp {__version__}",
            f"socket {self.place.socket}",
            f"log {self.place.log}",
            f"up {duration(time.time() - self.started)}; {self.clients} client(s) connected;"
            f" exits after {duration(self.config.linger_s)} with no client and no cell running (--linger)",
        ]
        for session in self.sessions:
            pid = f"; kernel pid {session.kernel.pid}" if session.kernel is not None and session.kernel.pid else ""
            lines.append(f"session {session.name!r}: {session.summary()}{pid}")
        lines += [f"session {name!r}: {why}" for name, why in self.sessions.lost.items()]
        if len(lines) == 4:
            lines.append("no sessions")
        return "\n".join(lines)

    def _stir(self, change: int) -> None:
        self.clients += change
        self.served = self.served or change > 0
        self.stirred.set()
        self.stirred = trio.Event()

    # -- its own life --------------------------------------------------------

    async def _linger(self) -> None:
        """Stop after --linger with no client connected and no cell running; a client who comes starts it over. Not
        before the first client came, or FIRST_CLIENT_WAIT_S passed: --linger 0 must not end a server before the
        relay that started it could connect."""
        while True:
            stirred = self.stirred
            running = [session.cell for session in self.sessions if session.cell is not None]
            linger = self.config.linger_s if self.served else max(self.config.linger_s, FIRST_CLIENT_WAIT_S)
            if self.clients:
                await stirred.wait()
            elif running:  # a client who comes meanwhile is counted once the cell has ended
                await running[0].done.wait()
            else:
                with trio.move_on_after(linger) as idle:
                    await stirred.wait()
                if idle.cancelled_caught:
                    self.stop(f"no client and no running cell for {duration(linger)} (--linger)")
                    return

    async def _keep_state(self) -> None:
        """The state file follows the sessions: made or shut down, they are in it at once."""
        while True:
            changed = self.sessions.changed
            self.write_state()
            await changed.wait()

    def write_state(self) -> None:
        state = {
            "pid": os.getpid(),
            "directory": self.place.directory,
            "started": self.started,
            "version": __version__,
            "sessions": [{"name": s.name, "env": s.source.label} for s in self.sessions],
        }
        try:
            replace_file(self.place.state, json.dumps(state).encode())
        except OSError as exc:
            log.warning("could not write %s: %s", self.place.state, exc)
            return
        self._state_written = True


async def serve_persistent(config: Config, place: PersistPlace, start_fd: int, lock_fd: int) -> None:
    server: PersistentServer | None = None
    try:
        async with open_sessions(config) as sessions:
            sessions.lost = lost_with_predecessor(place)  # before this server writes its own state
            server = PersistentServer(config, place, sessions, lock_fd)
            await server.serve(start_fd)
    finally:
        if server is not None:
            await server.wind_up()


def take_log(place: PersistPlace) -> None:
    """Once this server holds the lock, the log is its own: the previous server's moves to .log.1, and stderr goes to
    a fresh .log. (Only the lock's holder moves it, so a live server's log never moves under it.)"""
    with suppress(FileNotFoundError):
        os.replace(place.log, place.log.with_suffix(".log.1"))
    log_fd = os.open(place.log, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o600)
    os.dup2(log_fd, 2)
    os.close(log_fd)


def run_persistent_server(config: Config, start_fd: int) -> None:
    """The persistent server's process, as a relay starts it: one per directory, which its lock makes sure of.
    start_fd is the relay's start lock, which it shares until it listens."""
    os.set_inheritable(start_fd, False)  # a kernel that inherited it would hold every relay off for its life
    place = persist_place(working_directory())
    busy = f"another persistent server for {place.directory} holds {place.lock} and did not let go within {PERSIST_STOP_WAIT_S:g} s"
    with _locked(place.lock, PERSIST_STOP_WAIT_S, busy) as lock_fd:  # a predecessor still ending has this long
        declare(lock_fd, "starting")
        try:
            take_log(place)
            trio.run(serve_persistent, config, place, start_fd, lock_fd)
        finally:
            os.ftruncate(lock_fd, 0)  # what it said no longer holds: an empty lock file says nothing of any pid


# ============================================================================
# main()
# ============================================================================


class _Parser(argparse.ArgumentParser):
    """argparse that raises its complaint (ValueError) instead of exiting: a persistent server tells a relay why."""

    def error(self, message: str) -> typing.NoReturn:
        raise ValueError(message)


def _parser() -> _Parser:
    parser = _Parser(
        prog="ipython-mcp",
        description="MCP server giving each named session a stateful IPython kernel.",
        epilog="Every flag is also a variable: IPYTHON_MCP_ and its name (--max-sessions: IPYTHON_MCP_MAX_SESSIONS). "
        + " ".join(f"{item.metadata['variable']}: {item.metadata['help']}." for item, _ in Config.settings() if item.metadata["flag"] is None),
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    Config.add_arguments(parser)
    # Commands, not settings: no variable makes every start print a status.
    commands = parser.add_mutually_exclusive_group()
    commands.add_argument("--status", dest="action", action="store_const", const="status",
                          help="with --persist: print the persistent server's pid, socket, uptime, linger and sessions (exit 1 when none runs)")
    commands.add_argument("--stop", dest="action", action="store_const", const="stop",
                          help="with --persist: shut the persistent server down, every kernel with it, and wait until it is gone")
    parser.add_argument(SERVE_PERSISTENT, type=int, metavar="FD", help=argparse.SUPPRESS)
    return parser


def read_command(argv: list[str], environ: dict[str, str] | os._Environ[str] = os.environ) -> tuple[Config, argparse.Namespace]:
    """The settings (defaults, then the environment, then these flags) and the command; ValueError says why they cannot work."""
    args = _parser().parse_args(argv)
    config = Config.from_environ(environ, **{item.name: getattr(args, item.name, None) for item, _ in Config.settings()})
    config.check()
    if args.action and not config.persist:
        raise ValueError(f"--{args.action} goes with --persist (or IPYTHON_MCP_PERSIST=1)")
    return config, args


def parse_args(argv: list[str] | None = None) -> tuple[Config, argparse.Namespace]:
    """read_command for the console script: what cannot work is refused as argparse refuses (usage, the complaint, exit 2)."""
    try:
        return read_command(sys.argv[1:] if argv is None else argv)
    except ValueError as exc:
        argparse.ArgumentParser.error(_parser(), str(exc))


async def _stop_on_signals(stop: Callable[[], object]) -> None:
    with trio.open_signal_receiver(signal.SIGTERM, signal.SIGINT, signal.SIGHUP) as signals:
        async for signum in signals:
            log.info("received %s: shutting down", signal.Signals(signum).name)
            stop()
            return


class _LineReader:
    """The MCP wire's input, read by trio itself so that a signal can cancel the read.

    (The SDK's default stdin reader blocks a worker thread that no cancel reaches,
    so SIGTERM would wait for the client to close stdin.) A persistent server's
    connection has a link, which the reader and its _LineWriter mark lost as the
    wire ends (EOF, a reset, a write that fails): before the end reaches the
    calls it carried, so that they know it was no cancel of the client's. The
    reader notes each cancel in the link as it reads it, so that a cancel the
    client sent before it left still counts as the client's.
    """

    def __init__(self, stream: trio.abc.ReceiveStream, link: ClientLink | None = None) -> None:
        self._stream = stream
        self._link = link or ClientLink()
        self._buffer = bytearray()
        self._scanned = 0  # bytes already searched for a newline: a 10 MB line is scanned once

    def __aiter__(self) -> "_LineReader":
        return self

    async def __anext__(self) -> str:
        while (end := self._buffer.find(b"\n", self._scanned)) < 0:
            self._scanned = len(self._buffer)
            try:
                chunk = await self._stream.receive_some(1 << 16)
            except (trio.BrokenResourceError, trio.ClosedResourceError):
                self._link.lost = True
                raise
            if not chunk:
                self._link.lost = True
                if not self._buffer:
                    raise StopAsyncIteration
                end = len(self._buffer)
                break
            self._buffer += chunk
        line = bytes(self._buffer[:end])
        del self._buffer[: end + 1]
        self._scanned = 0
        self._link.heard(line)
        return line.decode("utf-8", errors="replace")


class _LineWriter:
    """The MCP wire's output, written by trio."""

    def __init__(self, stream: trio.abc.SendStream, link: ClientLink | None = None) -> None:
        self._stream = stream
        self._link = link or ClientLink()

    async def write(self, text: str) -> None:
        try:
            await self._stream.send_all(text.encode("utf-8"))
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            self._link.lost = True
            raise

    async def flush(self) -> None:
        pass


def _claim_stdio() -> tuple[int, int]:
    """Take fds 0 and 1 for the protocol; leave /dev/null and stderr in their place.

    Anything else in this process that reads stdin or prints then cannot corrupt the wire.
    """
    wire_in, wire_out = os.dup(0), os.dup(1)
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)
    os.dup2(2, 1)
    return wire_in, wire_out


async def serve_stdio(config: Config) -> None:
    wire_in, wire_out = _claim_stdio()
    async with open_sessions(config) as sessions:
        lowlevel = lowlevel_server(build_server(sessions))
        async with trio.open_nursery() as nursery:
            nursery.start_soon(_stop_on_signals, nursery.cancel_scope.cancel)
            async with stdio_over(_LineReader(trio.lowlevel.FdStream(wire_in)), _LineWriter(trio.lowlevel.FdStream(wire_out))) as (read, write):
                await lowlevel.run(read, write, lowlevel.create_initialization_options())
            nursery.cancel_scope.cancel()


async def serve_http(
    config: Config, token: str | None, *, supplied: bool = False, task_status: trio.TaskStatus[list[str]] = trio.TASK_STATUS_IGNORED
) -> None:
    """Serve the SDK's streamable-HTTP app with hypercorn's trio backend, on this event loop."""
    try:
        from hypercorn.config import Config as HypercornConfig
        from hypercorn.trio import serve
    except ImportError:
        raise SystemExit(
            "--transport streamable-http needs hypercorn: install ipython-mcp[http], or run "
            "`uv run --with hypercorn ipython_mcp.py ...` for a vendored copy"
        ) from None
    host, port = config.host, config.port
    hypercorn = HypercornConfig()
    hypercorn.bind = [f"{_host_header_form(host)}:{port}"]
    hypercorn.accesslog = None
    hypercorn.certfile = str(config.certfile) if config.certfile else None
    hypercorn.keyfile = str(config.keyfile) if config.keyfile else None
    hypercorn.loglevel = config.log_level  # hypercorn logs at INFO by default, whatever ours says
    guard_hypercorn_h2()
    try:
        hypercorn.create_ssl_context()  # what hypercorn will load, loaded now so a bad file stops us before any kernel starts
    except (OSError, ValueError) as exc:  # ssl.SSLError is an OSError
        raise SystemExit(f"ipython-mcp: cannot use --certfile {config.certfile} --keyfile {config.keyfile}: {exc}") from None
    directory = make_private_dir() if token is not None else None  # the token file goes there
    names = host_names(host, config.allowed_hosts)
    token_path = None
    try:
        async with open_sessions(config) as sessions:
            app = build_server(sessions).streamable_http_app(
                host=host, transport_security=transport_security(names), max_request_body_size=config.max_body_bytes
            )
            if token is not None:
                app = RequireToken(app, token)
            sessions.pages.scheme = "https" if config.certfile else "http"
            app = PageRoute(app, sessions.pages)  # ahead of the token: a page's URL is its own credential
            stop = trio.Event()
            async with trio.open_nursery() as nursery:
                nursery.start_soon(_stop_on_signals, stop.set)
                binds = await nursery.start(partial(serve, app, hypercorn, shutdown_trigger=stop.wait))
                if directory is not None:
                    token_path = write_token_file(directory, int(binds[0].rsplit(":", 1)[1]), token)
                announce(binds, config, token, names, token_path, supplied)
                task_status.started(binds)
            # serve() returned: the signal asked for it
    finally:
        if directory is not None:
            remove_token_file(directory, token_path, token)


def main(argv: list[str] | None = None) -> None:
    config, args = parse_args(argv)
    if config.persist and args.serve_persistent is None:  # the relay, --status, --stop: as the top of the file runs them
        sys.exit(persist_command(sys.argv[1:] if argv is None else argv, args.action or "relay"))
    for item, _ in Config.settings():  # read: a cell printing os.environ must not show a secret
        if item.metadata["secret"]:
            os.environ.pop(item.metadata["variable"], None)
    # stdout is the protocol channel: logs go to stderr only.
    logging.basicConfig(stream=sys.stderr, level=config.log_level, format="%(asctime)s ipython-mcp %(levelname)s %(message)s")
    if config.gateway_url:
        secrets_ = redact_url(config.gateway_url)[1] + ([config.gateway_token] if config.gateway_token else [])
        for handler in logging.getLogger().handlers:
            handler.addFilter(Redact(secrets_))
    if config.notebook_dir is not None:
        config = dataclasses.replace(config, notebook_dir=config.notebook_dir.absolute())
        try:
            config.notebook_dir.mkdir(parents=True, exist_ok=True)  # type: ignore[union-attr]
        except FileExistsError:
            raise SystemExit(f"ipython-mcp: --notebook-dir {config.notebook_dir}: not a directory") from None
        except OSError as exc:  # a path no directory can be made at
            raise SystemExit(f"ipython-mcp: --notebook-dir {config.notebook_dir}: {exc.strerror or exc}") from None
    try:
        if config.transport == "streamable-http":
            token, supplied = (None, False) if config.no_auth else resolve_token(config.token or "", config.token_file)
            trio.run(partial(serve_http, config, token, supplied=supplied))
        elif args.serve_persistent is not None:
            run_persistent_server(config, args.serve_persistent)
        else:
            say_waiting()
            trio.run(serve_stdio, config)
    except SandboxUnavailable as exc:
        raise SystemExit(f"ipython-mcp: {exc}. Without confinement every session runs with all of your rights; start without --sandbox"
                         " (and --memory-limit) to accept that.") from None


if __name__ == "__main__":
    main()
