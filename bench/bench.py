"""Benchmark ipython-mcp against baselines measured in the same run.

    uv run python bench/bench.py [--quick]

Every number that has a fair baseline is printed as a ratio to it, because
the machines this runs on are shared and noisy: absolute times drift, ratios
taken minutes apart on the same machine much less.
"""

import argparse
import contextlib
import json
import math
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from functools import partial
from pathlib import Path

import trio
from mcp import Client
from mcp.client.stdio import StdioServerParameters

SERVER = [shutil.which("ipython-mcp", path=os.path.dirname(sys.executable)) or "ipython-mcp"]


def rss_kib(pid: int, field: str = "VmRSS") -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise KeyError(field)


def server_pid() -> int:
    """The console script's pid: the newest process running it that is our child."""
    me = os.getpid()
    for entry in sorted(Path("/proc").glob("[0-9]*"), key=lambda p: -int(p.name)):
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == me and b"ipython-mcp" in cmdline:
            return int(entry.name)
    raise RuntimeError("server process not found")


def bare_zmq_round_trips(n: int) -> list[float]:
    """execute -> reply + idle straight over ZeroMQ to a stock ipykernel, IPC transport."""
    from jupyter_client.manager import KernelManager

    km = KernelManager(transport="ipc")
    km.start_kernel()
    kc = km.client()
    kc.start_channels()
    kc.wait_for_ready(timeout=60)
    try:
        times = []
        for _ in range(n + 5):
            started = time.perf_counter()
            msg_id = kc.execute("1", store_history=True)
            reply = idle = False
            while not (reply and idle):
                if not reply and kc.shell_channel.msg_ready():
                    reply = kc.get_shell_msg()["parent_header"].get("msg_id") == msg_id
                    continue
                msg = kc.get_iopub_msg(timeout=10)
                if msg["parent_header"].get("msg_id") == msg_id and msg["msg_type"] == "status":
                    idle = msg["content"]["execution_state"] == "idle"
                if idle and not reply:
                    kc.get_shell_msg(timeout=10)
                    reply = True
            times.append(time.perf_counter() - started)
        return times[5:]
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)


class RawClient:
    """The console script on pipes, spoken to in bare newline-delimited JSON-RPC.

    The SDK's own client costs about a millisecond per call by itself; this
    one costs next to nothing, so what it times is the server.
    """

    def __init__(self, process: trio.Process) -> None:
        self.process = process
        self._buffer = b""
        self._next_id = 0

    @classmethod
    async def start(cls, nursery: trio.Nursery, *args: str, **options) -> "RawClient":
        process = await trio.lowlevel.open_process([*SERVER, *args], stdin=subprocess.PIPE, stdout=subprocess.PIPE, **options)
        nursery.start_soon(process.wait)
        client = cls(process)
        await client.request("initialize", {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "bench", "version": "0"}})
        await client.process.stdin.send_all(b'{"jsonrpc": "2.0", "method": "notifications/initialized"}\n')
        return client

    async def request(self, method: str, params: dict) -> dict:
        self._next_id += 1
        await self.process.stdin.send_all(json.dumps({"jsonrpc": "2.0", "id": self._next_id, "method": method, "params": params}).encode() + b"\n")
        while True:
            while b"\n" not in self._buffer:
                self._buffer += await self.process.stdout.receive_some()
            line, self._buffer = self._buffer.split(b"\n", 1)
            message = json.loads(line)
            if message.get("id") == self._next_id:
                return message["result"]

    async def tool(self, name: str, **arguments) -> tuple[str, dict]:
        result = await self.request("tools/call", {"name": name, "arguments": arguments})
        body = "".join(block.get("text", "") for block in result["content"])
        return body, (result.get("_meta") or {}).get("ipython-mcp/execute", {})

    async def close(self) -> None:
        await self.process.stdin.aclose()
        await self.process.wait()


async def startup_vs_import(rounds: int) -> None:
    """Server start-up (spawn to initialize reply) vs Python importing the MCP SDK, alternated."""
    imports, startups = [], []
    for _ in range(rounds):
        t0 = time.perf_counter()
        # os._exit: time the start and the import, not the interpreter's teardown
        await trio.run_process([sys.executable, "-c", "import os, mcp.server.mcpserver; os._exit(0)"])
        imports.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        async with Client(StdioServerParameters(command=SERVER[0], args=["--spares", "0"])):
            startups.append(time.perf_counter() - t0)
    i_med, s_med = statistics.median(imports), statistics.median(startups)
    print(
        f"start-up to initialize reply: {ms(s_med)} vs `import mcp.server.mcpserver` {ms(i_med)}"
        f" -> +{ms(s_med - i_med)} (target <= +300 ms)"
    )


async def first_execute(spares: int) -> float:
    """A new server, 3 s to settle, then its first execute in a new default-env session."""
    async with Client(StdioServerParameters(command=SERVER[0], args=["--spares", str(spares)])) as client:
        await trio.sleep(3)
        t0 = time.perf_counter()
        await call(client, "first", "1")
        return time.perf_counter() - t0


def start_jupyter_server(root: str) -> tuple[subprocess.Popen, str, str]:
    """A Jupyter Server on a free loopback port with a random token; returns (process, url, token)."""
    import secrets
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    token = secrets.token_hex(16)
    process = subprocess.Popen(
        [sys.executable, "-m", "jupyter_server", "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={port}",
         f"--IdentityProvider.token={token}", "--ServerApp.open_browser=False", f"--ServerApp.root_dir={root}",
         "--ServerApp.allow_root=True"],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )
    for line in process.stderr:
        if f"127.0.0.1:{port}/" in line and "running at" not in line:
            break
    threading.Thread(target=process.stderr.read, daemon=True).start()
    return process, f"http://127.0.0.1:{port}", token


async def bare_websocket_round_trips(url: str, token: str, n: int) -> list[float]:
    """execute -> reply + idle straight over a Jupyter Server kernel websocket."""
    import httpx2
    from jupyter_client.jsonutil import json_default
    from jupyter_client.session import Session
    from trio_websocket import open_websocket_url

    headers = {"Authorization": f"token {token}"}
    async with httpx2.AsyncClient(base_url=url, headers=headers) as http:
        kernel_id = (await http.post("/api/kernels", json={})).json()["id"]
        session = Session(key=b"x", username="bench")
        ws_url = url.replace("http", "ws") + f"/api/kernels/{kernel_id}/channels?session_id=bench"
        times = []
        async with open_websocket_url(ws_url, extra_headers=[(b"Authorization", f"token {token}".encode())]) as ws:
            for _ in range(n + 5):
                msg = session.msg("execute_request", {"code": "1", "silent": False, "store_history": True})
                started = time.perf_counter()
                await ws.send_message(json.dumps({**msg, "channel": "shell"}, default=json_default))
                reply = idle = False
                while not (reply and idle):
                    got = json.loads(await ws.get_message())
                    if got["parent_header"].get("msg_id") != msg["header"]["msg_id"]:
                        continue
                    reply = reply or got["msg_type"] == "execute_reply"
                    idle = idle or (got["msg_type"] == "status" and got["content"]["execution_state"] == "idle")
                times.append(time.perf_counter() - started)
        await http.delete(f"/api/kernels/{kernel_id}")
    return times[5:]


async def remote(quick: bool) -> None:
    """Through a Jupyter Server: MCP execute vs a bare websocket round trip; 8 remote sessions at once."""
    n = 50 if quick else 200
    with tempfile.TemporaryDirectory() as root:
        process, url, token = start_jupyter_server(root)
        try:
            env = {**os.environ, "IPYTHON_MCP_GATEWAY_URL": url, "IPYTHON_MCP_GATEWAY_TOKEN": token}
            async with Client(StdioServerParameters(command=SERVER[0], args=[], env=env)) as client:
                await call(client, "remote", "1")
                bare = await bare_websocket_round_trips(url, token, n)
                through = []
                for _ in range(n):
                    t0 = time.perf_counter()
                    await call(client, "remote", "1")
                    through.append(time.perf_counter() - t0)
                m_med, b_med = statistics.median(through), statistics.median(bare)
                print(
                    f"remote round trip `1`: MCP stdio via Jupyter Server {ms(m_med)} vs bare websocket {ms(b_med)}"
                    f" -> ratio {m_med / b_med:.2f}x (target <= 1.15x)"
                )
                wall = await sleep_at_once(client, [f"r{i}" for i in range(8)])
                print(f"8 remote sessions x sleep(1) at once: wall {wall:.2f} s")
        finally:
            process.terminate()
            process.wait(timeout=30)


async def round_trip_vs_zmq(n: int) -> None:
    """A trivial execute through the server (a raw JSON-RPC client over stdio) vs a bare ZeroMQ
    execute-to-idle round trip to a stock ipykernel, interleaved in blocks so drift hits both alike."""
    mcp_times: list[float] = []
    zmq_times: list[float] = []
    async with trio.open_nursery() as nursery:
        client = await RawClient.start(nursery, "--spares", "0")
        await client.tool("execute", session="warm", code="1")
        for _ in range(10):
            zmq_times += await trio.to_thread.run_sync(bare_zmq_round_trips, n // 10)
            for _ in range(n // 10):
                t0 = time.perf_counter()
                await client.tool("execute", session="warm", code="1")
                mcp_times.append(time.perf_counter() - t0)
        await client.close()
    m_med, z_med = statistics.median(mcp_times), statistics.median(zmq_times)
    print(f"round trip `1`: MCP stdio (raw JSON-RPC client) median {ms(m_med)} vs bare ZeroMQ {ms(z_med)} -> ratio {m_med / z_med:.2f}x (target <= 1.10x)")


async def persistent(n: int, starts: int) -> None:
    """--persist: a round trip through the relay vs straight over stdio (alternating), a relay's start to its
    initialize answer while the server runs, and a new client's first execute on an existing session."""
    runtime = tempfile.mkdtemp(prefix="xdg-")  # a private runtime directory: its own persistent server
    project = tempfile.mkdtemp(prefix="bench-project-")
    options = {"cwd": project, "env": {**os.environ, "XDG_RUNTIME_DIR": runtime}}
    try:
        async with trio.open_nursery() as nursery:
            direct = await RawClient.start(nursery, "--spares", "0", cwd=project)
            relayed = await RawClient.start(nursery, "--persist", "--spares", "0", **options)
            direct_times, relay_times = [], []
            for client in (direct, relayed):
                await client.tool("execute", session="warm", code="1")
            for _ in range(n):  # call by call, alternating, so that drift hits both alike
                for client, times in ((direct, direct_times), (relayed, relay_times)):
                    t0 = time.perf_counter()
                    await client.tool("execute", session="warm", code="1")
                    times.append(time.perf_counter() - t0)
            await direct.close()
            r_med, d_med = statistics.median(relay_times), statistics.median(direct_times)
            print(f"round trip `1` through the --persist relay: median {ms(r_med)} vs straight over stdio {ms(d_med)} -> ratio {r_med / d_med:.2f}x (target <= 1.10x)")
            answers, firsts = [], []
            for _ in range(starts):
                t0 = time.perf_counter()
                client = await RawClient.start(nursery, "--persist", "--spares", "0", **options)  # returns once initialize is answered
                answers.append(time.perf_counter() - t0)
                t0 = time.perf_counter()
                await client.tool("execute", session="warm", code="1")
                firsts.append(time.perf_counter() - t0)
                await client.close()
            print(f"a relay's start to its initialize answer, the server running: median {ms(statistics.median(answers))} (target < 300 ms)")
            print(f"a new client's first execute on an existing session: median {ms(statistics.median(firsts))} (target < 50 ms)")
            await relayed.close()
    finally:
        await trio.run_process([*SERVER, "--persist", "--stop"], capture_stdout=True, check=False, **options)
        shutil.rmtree(runtime, ignore_errors=True)
        shutil.rmtree(project, ignore_errors=True)


async def cells_that_outlive_their_call(quick: bool) -> None:
    """reset with a warm spare vs a cold one; wait's reply after the kernel's idle; output --grep on a 100 MB spool."""
    async with trio.open_nursery() as nursery:
        for spares, label in ((1, "with a warm spare"), (0, "cold")):
            client = await RawClient.start(nursery, "--spares", str(spares))
            await client.tool("execute", session="r", code="1")
            times = []
            for _ in range(3 if quick else 5):
                await trio.sleep(3)  # the spare taken by the last reset is started again meanwhile
                t0 = time.perf_counter()
                body, _ = await client.tool("reset", session="r")
                times.append(time.perf_counter() - t0)
                assert "fresh kernel" in body, body
            await client.close()
            print(f"reset {label}: median {ms(statistics.median(times))}" + (" (target < 100 ms)" if spares else ""))

        client = await RawClient.start(nursery, "--spares", "0")
        await client.tool("execute", session="w", code="import time")
        lags = []
        for _ in range(5 if quick else 15):
            _, record = await client.tool("execute", session="w", code="time.sleep(0.3)\ntime.time()", wait_s=0)
            assert record["status"] == "running", record
            body, record = await client.tool("wait", session="w")
            lags.append(time.time() - float(body.splitlines()[-1]))
        print(f"wait on a cell that finishes: reply {ms(statistics.median(lags))} after the cell's last line (target < 20 ms)")

        megabytes = 20 if quick else 100
        lines = megabytes * 1024 * 1024 // 73
        pid = client.process.pid
        _, record = await client.tool("execute", session="w", code=f"for i in range({lines}):\n    print(f'{{i:07d}} ' + 'x' * 64)", wait_s=0)
        while record["status"] == "running":
            _, record = await client.tool("wait", session="w", timeout_s=60)
        cell = record["cell"]
        spool = next(Path(tempfile.gettempdir()).glob(f"ipython-mcp-{pid}-*/s*/cell-{cell}.txt"))
        await grep_against_gnu_grep(client, pid, cell, spool, lines, quick)
        await client.close()

    # a pattern only Python's re runs, which backtracks: stopped at --grep-timeout while other calls go on
    async with Client(StdioServerParameters(command=SERVER[0], args=["--spares", "0", "--grep-timeout", "2"])) as client:
        await call(client, "p", "print('a' * 40 + 'b')")
        await call(client, "q", "1")
        stalls = []

        async def meanwhile(done: trio.Event) -> None:
            while not done.is_set():
                t0 = time.perf_counter()
                await client.call_tool("list_sessions", {})
                stalls.append(time.perf_counter() - t0)
                await trio.sleep(0.05)

        async def output(pattern: str) -> tuple[str, float]:
            t0 = time.perf_counter()
            result = await client.call_tool("output", {"session": "p", "grep": pattern})
            return "".join(block.text for block in result.content), time.perf_counter() - t0

        await client.call_tool("list_sessions", {})  # the first list_sessions of an SDK client takes about 2 s whatever runs meanwhile: not measured
        body, linear_s = await output("(a+)+$")
        assert "0 line(s) matching" in body, body
        done = trio.Event()
        async with trio.open_nursery() as nursery:
            nursery.start_soon(meanwhile, done)
            body, stopped_s = await output("(a+)+(?=c)")
            done.set()
        assert "was stopped after 2 s" in body, body
        print(
            f"output(grep='(a+)+$') on 'a'*40+'b': {ms(linear_s)} (RE2, linear); grep='(a+)+(?=c)' (Python's re, backtracking):"
            f" stopped after {stopped_s:.2f} s (--grep-timeout 2); list_sessions meanwhile: at most {ms(max(stalls))} over {len(stalls)} calls"
        )


async def grep_against_gnu_grep(client: "RawClient", pid: int, cell: int, spool: Path, lines: int, quick: bool) -> None:
    """output(grep=...) over the spool vs GNU grep on the same file, interleaved: a literal and an anchored pattern.

    GNU grep is timed two ways: `grep -c` (counts, prints nothing) and `grep -n -m 200`, which does what
    output does: number the matching lines, and stop after the first 200.
    """
    last = f"{lines - 1:07d}"
    cases = [("a literal", f"{last} x", ["-F", f"{last} x"]), ("an anchored pattern", f"^{last} ", [f"^{last} "])]
    rounds = 3 if quick else 7
    before = rss_kib(pid)
    Path(f"/proc/{pid}/clear_refs").write_text("5")
    for label, pattern, gnu in cases:
        ours, counting, numbering = [], [], []
        for _ in range(rounds):
            t0 = time.perf_counter()
            body, _ = await client.tool("output", session="w", cell=cell, grep=pattern)
            ours.append(time.perf_counter() - t0)
            assert f"{lines:>6}  {last} " in body, body[:300]
            for args, times in ((["-c", *gnu], counting), (["-n", "-m", "200", *gnu], numbering)):
                t0 = time.perf_counter()
                found = await trio.run_process(["grep", *args, str(spool)], capture_stdout=True, check=False)
                times.append(time.perf_counter() - t0)
                assert found.returncode == 0
        o, c, n = (statistics.median(t) for t in (ours, counting, numbering))
        print(
            f"output(grep) with {label} ({pattern!r}) over a {spool.stat().st_size / 2**20:.0f} MiB spool: {ms(o)};"
            f" GNU grep -c {ms(c)} -> ratio {o / c:.2f}x, grep -n -m 200 {ms(n)} -> ratio {o / n:.2f}x (target <= 2x)"
        )
    peak = rss_kib(pid, "VmHWM")
    print(f"server RSS while grepping: {before / 1024:.0f} MiB -> peak {peak / 1024:.0f} MiB (+{(peak - before) / 1024:.1f} MiB)")


async def confinement_costs(quick: bool) -> None:
    """--sandbox and --memory-limit against unconfined kernels in the same run: a kernel's start (each round starts
    one of each, in turn, and the cost is the median of the rounds' differences, so that drift in the machine's
    load hits all alike), what the spawn is made of, and a trivial round trip in sessions of every kind, all open
    at once, called in turn. A second unconfined kind is the control: how far two kernels alike differ here."""
    import ipython_mcp

    kinds = {
        "unconfined": {},
        "unconfined again": {},
        "--sandbox --memory-limit 2G": {"sandbox": True, "memory_limit": ipython_mcp.Size("2G")},
        "--sandbox": {"sandbox": True},
        "--memory-limit 2G": {"memory_limit": ipython_mcp.Size("2G")},
    }
    async with contextlib.AsyncExitStack() as stack:
        registries = {kind: await stack.enter_async_context(ipython_mcp.open_sessions(ipython_mcp.Config(spares=0, **settings)))
                      for kind, settings in kinds.items()}
        starting = {kind: registries[kind] for kind in ("unconfined", "unconfined again", "--sandbox --memory-limit 2G")}
        await kernel_starts(ipython_mcp, starting, 6 if quick else 20)
        await spawn_parts(ipython_mcp, registries["--sandbox --memory-limit 2G"], 10 if quick else 30)
        await confined_round_trips(ipython_mcp, registries, 100 if quick else 600)


def spread(values: list[float]) -> str:
    return f"{ms(statistics.median(values))} (fastest {ms(min(values))})"


def paired(differences: list[float]) -> str:
    """The median of paired differences, and the middle half of them: how sure the median is."""
    q1, _, q3 = statistics.quantiles(differences, n=4)
    return f"{ms(statistics.median(differences))} (middle half {ms(q1)} .. {ms(q3)})"


def process_cpu(pid: int) -> float:
    """The CPU time a process has used, every thread's (those gone too), to the nanosecond: its CPU clock (Linux)."""
    return time.clock_gettime((~pid << 3) | 2)  # CPUCLOCK_SCHED of the process, as glibc's clock_getcpuclockid makes it


async def kernel_starts(ipython_mcp, registries: dict, rounds: int) -> None:
    """The spawn (until the kernel's own interpreter runs, confined; for a confined kernel, with the start of the
    next kernel's launcher, while this one boots), the CPU it takes from the server, the CPU the kernel has used
    when it first answers (a confined kernel's counts its launcher's, started ahead; and then without that), and
    the whole start (until it answers), against the first kind. The whole start is the number the target names,
    but a loaded machine spreads it over hundreds of ms; CPU times much less."""
    measures = ("spawn", "server CPU", "kernel CPU", "kernel CPU from its launcher's job", "start")
    kinds = list(registries)
    taken: dict[str, dict[str, list[float]]] = {kind: {m: [] for m in measures} for kind in kinds}
    original, become = ipython_mcp.LocalKernel._spawn, ipython_mcp.Launcher.become
    starting = kinds[0]
    before_job: dict[int, float] = {}  # a launcher's CPU when it was given its job, by pid

    async def timed_become(launcher, *args, **kwargs):
        before_job[launcher.process.pid] = process_cpu(launcher.process.pid)
        return await become(launcher, *args, **kwargs)

    async def timed_spawn(kernel):
        t0, cpu0 = time.perf_counter(), time.process_time()
        try:
            return await original(kernel)
        finally:
            taken[starting]["spawn"].append(time.perf_counter() - t0)
            taken[starting]["server CPU"].append(time.process_time() - cpu0)

    ipython_mcp.LocalKernel._spawn, ipython_mcp.Launcher.become = timed_spawn, timed_become
    try:
        for round_ in range(rounds):
            for starting in kinds[round_ % len(kinds):] + kinds[: round_ % len(kinds)]:
                sessions = registries[starting]
                env = ipython_mcp.resolve_env(None, sessions.config.envs_dir)
                t0 = time.perf_counter()
                kernel = await sessions.start_kernel(env, os.getcwd(), sessions.nursery)
                taken[starting]["start"].append(time.perf_counter() - t0)
                taken[starting]["kernel CPU"].append(process_cpu(kernel.pid))
                taken[starting]["kernel CPU from its launcher's job"].append(taken[starting]["kernel CPU"][-1] - before_job.get(kernel.pid, 0.0))
                kernel.stop("measured")
                await kernel.gone.wait()  # its teardown takes no CPU from the next start
    finally:
        ipython_mcp.LocalKernel._spawn, ipython_mcp.Launcher.become = original, become
    base = kinds[0]
    print(f"kernel start against {base} (median and fastest; added: the median of the rounds' differences, {rounds} rounds):")
    for measure in measures:
        print(f"  {measure}: {base} {spread(taken[base][measure])}" + " (target: added < 20 ms)" * (measure == "start"))
        for kind in kinds[1:]:
            added = paired([c - u for c, u in zip(taken[kind][measure], taken[base][measure])])
            print(f"    {kind}: {spread(taken[kind][measure])}, added {added}")


async def spawn_parts(ipython_mcp, sessions, rounds: int) -> None:
    """Where a confined spawn's time goes: /bin/true started plainly; through a launcher started there and then,
    with nothing to apply and with a kernel's policy (its cgroups too); and through a launcher started ahead, as
    kernels get theirs (Confinement.launch), timed from its job to the exec. In turn."""
    workdir = sessions.runtime_dir / "bench"
    (workdir / "tmp").mkdir(parents=True)
    ways = ("plain", "launcher started now", "launcher started now + policy", "launcher started ahead + policy")
    spawned: dict[str, list[float]] = {way: [] for way in ways}
    for _ in range(rounds):
        for way in ways:
            cgroups = sessions.confinement.kernel_cgroups(workdir.name) if way.endswith("policy") else None
            policy = sessions.confinement.policy(workdir, str(workdir), sys.prefix, sys.executable, cgroups) if cgroups else ipython_mcp.Policy()
            launcher = None
            if way.startswith("launcher started ahead"):
                launcher = await ipython_mcp.Launcher.start()
                await trio.sleep(0.2)  # as the last kernel's boot gives it time to be ready
            t0 = time.perf_counter()
            if way == "plain":
                process = await trio.lowlevel.open_process(["/bin/true"])
            else:
                process = await (launcher or await ipython_mcp.Launcher.start()).become(policy, ["/bin/true"])
            spawned[way].append(time.perf_counter() - t0)
            await process.wait()
            if cgroups is not None:
                await cgroups.remove()
    plain, now, now_policy, ahead = (statistics.median(spawned[way]) for way in ways)
    print(
        f"  of which, through a launcher started now: its interpreter +{ms(now - plain)} (`python -I -S`, ctypes), the"
        f" confinement's own system calls +{ms(now_policy - now)}; through one started ahead +{ms(ahead - plain)} in all"
    )
    print("    /bin/true, median (fastest) of " + f"{rounds}: " + ", ".join(f"{way} {spread(spawned[way])}" for way in ways))


def median_with_bounds(values: list[float]) -> tuple[float, float, float]:
    """The median and a 95% confidence interval for it, from the order statistics (no assumption on the spread)."""
    ordered, n = sorted(values), len(values)
    half = 0.98 * math.sqrt(n)  # 1.96 * sqrt(n) / 2
    return statistics.median(ordered), ordered[max(0, int(n / 2 - half))], ordered[min(n - 1, math.ceil(n / 2 + half))]


async def confined_round_trips(ipython_mcp, registries: dict, n: int) -> None:
    """A trivial round trip in a session of each kind, called in turn, the order shifted every round. Each round's
    ratio to the unconfined call next to it, and the CPU each kernel and the server used per call: confinement acts
    on what a kernel does, and a busy machine's queueing delays, which spread the wall times, hardly move a CPU count."""
    runs = {
        kind: partial(sessions.execute, "rt", "1", env=None, cwd=None, timeout=None, wait_s=10, budget=20_000, user=ipython_mcp.UserInput(None))
        for kind, sessions in registries.items()
    }
    for run in runs.values():
        for _ in range(20):
            await run()
    kinds = list(runs)
    pids = {kind: registries[kind].get("rt").kernel.pid for kind in kinds}
    cpu = {kind: process_cpu(pids[kind]) for kind in kinds}
    times: dict[str, list[float]] = {kind: [] for kind in kinds}
    server_cpu = {kind: 0.0 for kind in kinds}
    for i in range(n):
        for kind in kinds[i % len(kinds):] + kinds[: i % len(kinds)]:
            t0, cpu0 = time.perf_counter(), time.process_time()
            await runs[kind]()
            times[kind].append(time.perf_counter() - t0)
            server_cpu[kind] += (time.process_time() - cpu0) / n
    cpu = {kind: (process_cpu(pids[kind]) - cpu[kind]) / n for kind in kinds}
    base = statistics.median(times["unconfined"])
    print(
        f"round trip `1` in-process, unconfined {ms(base)}, its kernel's CPU {ms(cpu['unconfined'])} a call, the server's"
        f" {ms(server_cpu['unconfined'])}; against them, in the same run ({n} rounds; target <= 1.02x):"
    )
    for kind in kinds[1:]:
        ratio, low, high = median_with_bounds([c / u for c, u in zip(times[kind], times["unconfined"])])
        print(
            f"  {kind}: {ms(statistics.median(times[kind]))} -> ratio {ratio:.3f}x (95% interval {low:.3f}x .. {high:.3f}x);"
            f" CPU a call: kernel {cpu[kind] / cpu['unconfined']:.3f}x, server {server_cpu[kind] / server_cpu['unconfined']:.3f}x"
        )


async def sleep_at_once(client, names: list[str]) -> float:
    """Start the sessions, then time them all sleeping 1 s at once."""
    async with trio.open_nursery() as nursery:
        for name in names:
            nursery.start_soon(call, client, name, "import time")
    t0 = time.perf_counter()
    async with trio.open_nursery() as nursery:
        for name in names:
            nursery.start_soon(call, client, name, "time.sleep(1)")
    return time.perf_counter() - t0


async def call(client, session, code, **kwargs):
    return await client.call_tool("execute", {"session": session, "code": code, **kwargs})


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


async def main(quick: bool, only: str | None = None) -> None:
    if only == "sandbox":
        await confinement_costs(quick)
        return
    n = 50 if quick else 300
    print(f"# ipython-mcp benchmark — {time.strftime('%Y-%m-%d')}")
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, {platform.system()} {platform.release()}")
    import ipykernel
    import mcp

    print(f"ipykernel {ipykernel.__version__}, mcp {getattr(mcp, '__version__', '2.x')}, trio {trio.__version__}\n")

    await startup_vs_import(3 if quick else 7)
    warm = statistics.median([await first_execute(1) for _ in range(3)])
    cold = statistics.median([await first_execute(0) for _ in range(3)])
    print(f"first execute 3 s after start-up: with the warm spare {ms(warm)}, without {ms(cold)} (target < 150 ms)")

    await round_trip_vs_zmq(n)
    await persistent(n, 5 if quick else 15)
    await cells_that_outlive_their_call(quick)
    await confinement_costs(quick)

    params = StdioServerParameters(command=SERVER[0], args=[])
    async with Client(params) as client:
        pid = server_pid()
        await call(client, "warm", "1")

        # 1. a trivial round trip: the SDK client over stdio, and the session layer in-process
        sdk_times = []
        for _ in range(n // 3):
            t0 = time.perf_counter()
            await call(client, "warm", "1")
            sdk_times.append(time.perf_counter() - t0)
        import ipython_mcp

        inner_times = []
        async with ipython_mcp.open_sessions(ipython_mcp.Config(spares=0)) as sessions:
            inner = partial(sessions.execute, "inner", "1", env=None, cwd=None, timeout=None, wait_s=10, budget=20_000, user=ipython_mcp.UserInput(None))
            await inner()
            for _ in range(n // 3):
                t0 = time.perf_counter()
                await inner()
                inner_times.append(time.perf_counter() - t0)
        print(f"round trip `1` through the SDK's Python client: {ms(statistics.median(sdk_times))}; through the session layer alone, in-process: {ms(statistics.median(inner_times))}")

        # 2. sessions sleeping 1 s at once
        for count in (4, 16):
            wall = await sleep_at_once(client, [f"s{count}-{i}" for i in range(count)])
            target = 1.3 if count == 4 else 2.0
            print(f"{count} sessions x sleep(1) at once: wall {wall:.2f} s (target <= {target} s)")
        for i in range(4):
            await client.call_tool("shutdown", {"session": f"s4-{i}"})
        await client.call_tool("shutdown", {"session": "warm"})
        print(f"server RSS with 16 idle sessions: {rss_kib(pid) / 1024:.1f} MiB")
        for i in range(16):
            await client.call_tool("shutdown", {"session": f"s16-{i}"})

        # 3. interrupt latency and timeout overshoot
        await call(client, "warm", "import time")
        latencies = []
        for _ in range(3 if quick else 5):
            async with trio.open_nursery() as nursery:
                done = trio.Event()
                stamps = {}

                async def cell():
                    await call(client, "warm", "time.sleep(30)")
                    stamps["returned"] = time.perf_counter()
                    done.set()

                nursery.start_soon(cell)
                while True:
                    listing = (await client.call_tool("list_sessions", {})).structured_content["result"]
                    if any(s["name"] == "warm" and s["status"] == "busy" for s in listing):
                        break
                    await trio.sleep(0.01)
                await trio.sleep(0.2)
                stamps["sent"] = time.perf_counter()
                await client.call_tool("interrupt", {"session": "warm"})
                await done.wait()
            latencies.append(stamps["returned"] - stamps["sent"])
        print(f"interrupt -> in-flight execute returns: median {ms(statistics.median(latencies))} (target < 600 ms)")
        overshoots = []
        for _ in range(3):
            t0 = time.perf_counter()
            await call(client, "warm", "time.sleep(30)", timeout_s=2)
            overshoots.append(time.perf_counter() - t0)
        print(f"timeout_s=2 returns after: median {statistics.median(overshoots):.2f} s (target < 2.6 s)")

        # 4. a 2,000,000-line flood: reply time vs the kernel's own print time, peak RSS
        lines = 200_000 if quick else 2_000_000
        code = f"import sys, time\nt0 = time.perf_counter()\nfor i in range({lines}):\n    print(i)\nsys.stdout.flush()\nkernel_s = time.perf_counter() - t0"
        await call(client, "flood", "1")
        before = rss_kib(pid)
        Path(f"/proc/{pid}/clear_refs").write_text("5")
        t0 = time.perf_counter()
        await call(client, "flood", code, timeout_s=300)
        reply_s = time.perf_counter() - t0
        peak = rss_kib(pid, "VmHWM")
        kernel_s = float((await call(client, "flood", "kernel_s")).content[0].text)
        print(
            f"{lines:,}-line flood: reply {reply_s:.2f} s vs kernel print {kernel_s:.2f} s -> ratio {reply_s / kernel_s:.2f}x"
            f" (target <= 1.5x); server RSS {before / 1024:.0f} MiB -> peak {peak / 1024:.0f} MiB"
            f" (+{(peak - before) / 1024:.1f} MiB, target < 50)"
        )

    await remote(quick)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer iterations, a smaller flood")
    parser.add_argument("--only", choices=["sandbox"], help="only this part: sandbox, what confinement costs")
    arguments = parser.parse_args()
    trio.run(main, arguments.quick, arguments.only)
