#!/usr/bin/env python3
"""Measuring harness for scripts/bench: talks newline-delimited JSON-RPC to the server over its
stdin/stdout, standard library only.

    stdio_bench.py cold    --bin BIN --runs 30 --out cold.json
    stdio_bench.py session --bin BIN --label postgres --url-env DE_BENCH_SERVER_URL \
                           --warmup 20 --calls 1000 --out pg.json
    stdio_bench.py report  --cold cold.json --session pg.json --session sqlite.json --out bench.md

Every read has a deadline, every child is killed on the way out, and the servers' stderr goes to
a log file so a full pipe can never stall them. The server URL is read from an environment
variable rather than argv so it does not show up in process listings.
"""

import argparse
import json
import math
import os
import platform
import selectors
import signal
import statistics
import subprocess
import sys
import tempfile
import time

PROTOCOL = "2025-11-25"
INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 0,
    "method": "initialize",
    "params": {
        "protocolVersion": PROTOCOL,
        "capabilities": {},
        "clientInfo": {"name": "data-engineer-mcp-bench", "version": "0"},
    },
}
INITIALIZED = {"jsonrpc": "2.0", "method": "notifications/initialized"}


class BenchError(Exception):
    pass


def child_env(url):
    """The environment without anything that would pick a database behind our back."""
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "DATA_ENGINEER_CONFIG")}
    if url is not None:
        env["DATABASE_URL"] = url
    return env


class Server:
    """One server process with a line reader that never blocks past its deadline."""

    def __init__(self, binary, cwd, env, stderr):
        self.proc = subprocess.Popen(
            [binary, "serve"],
            cwd=cwd,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=stderr,
            bufsize=0,
        )
        self.fd = self.proc.stdout.fileno()
        os.set_blocking(self.fd, False)
        self.selector = selectors.DefaultSelector()
        self.selector.register(self.fd, selectors.EVENT_READ)
        self.buffer = b""

    def send(self, message):
        self.proc.stdin.write(json.dumps(message, separators=(",", ":")).encode() + b"\n")

    def read_line(self, timeout):
        deadline = time.perf_counter() + timeout
        while b"\n" not in self.buffer:
            left = deadline - time.perf_counter()
            if left <= 0:
                raise BenchError(f"no answer from the server within {timeout:.0f} s")
            if not self.selector.select(left):
                continue
            try:
                chunk = os.read(self.fd, 1 << 20)
            except BlockingIOError:
                continue
            if not chunk:
                try:
                    code = self.proc.wait(timeout=2)
                except subprocess.TimeoutExpired:
                    code = None
                raise BenchError(f"the server closed stdout (exit code {code})")
            self.buffer += chunk
        line, self.buffer = self.buffer.split(b"\n", 1)
        return line

    def response(self, request_id, timeout):
        """The raw line answering request_id; notifications and other traffic are skipped."""
        while True:
            line = self.read_line(timeout)
            try:
                message = json.loads(line)
            except ValueError as e:
                raise BenchError(f"not JSON on stdout: {line[:200]!r}") from e
            if message.get("id") == request_id and ("result" in message or "error" in message):
                return line, message

    def rss_kib(self):
        with open(f"/proc/{self.proc.pid}/status") as f:
            for row in f:
                if row.startswith("VmRSS:"):
                    return int(row.split()[1])
        raise BenchError("no VmRSS in /proc status")

    def close(self):
        """Close stdin (the MCP way to stop a stdio server), then insist."""
        try:
            self.proc.stdin.close()
        except OSError:
            pass
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=3)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.selector.close()
        self.proc.stdout.close()
        return self.proc.returncode


def summary(samples_ms):
    ordered = sorted(samples_ms)
    rank = max(1, math.ceil(0.95 * len(ordered)))  # nearest-rank p95
    return {
        "n": len(ordered),
        "median_ms": statistics.median(ordered),
        "p95_ms": ordered[rank - 1],
        "min_ms": ordered[0],
        "max_ms": ordered[-1],
    }


def cmd_cold(args):
    samples = []
    with tempfile.TemporaryDirectory(prefix="de-bench-cold-") as workdir, open(args.stderr_log, "ab") as log:
        # One unrecorded run first so every recorded run finds the binary in the page cache.
        for i in range(args.runs + 1):
            started = time.perf_counter()
            server = Server(args.bin, workdir, child_env(None), log)
            try:
                server.send(INITIALIZE)
                _, message = server.response(0, args.timeout)
                elapsed = (time.perf_counter() - started) * 1000
            finally:
                server.close()
            if "error" in message:
                raise BenchError(f"initialize failed: {message['error']}")
            if i > 0:
                samples.append(elapsed)
    result = {"kind": "cold", "protocol": PROTOCOL, **summary(samples)}
    write_json(args.out, result)


def call_tool(server, request_id, name, arguments, timeout):
    server.send({"jsonrpc": "2.0", "id": request_id, "method": "tools/call",
                 "params": {"name": name, "arguments": arguments}})
    _, message = server.response(request_id, timeout)
    if "error" in message:
        return f"JSON-RPC error {message['error']}"
    if message["result"].get("isError"):
        texts = [c.get("text", "") for c in message["result"].get("content", [])]
        return "tool error: " + " ".join(texts)[:500]
    return None


def cmd_session(args):
    url = os.environ.get(args.url_env) if args.url_env else None
    if args.url_env and not url:
        raise BenchError(f"{args.url_env} is not set")
    with tempfile.TemporaryDirectory(prefix=f"de-bench-{args.label}-") as scratch, open(args.stderr_log, "ab") as log:
        workdir = args.cwd or scratch
        server = Server(args.bin, workdir, child_env(url), log)
        try:
            server.send(INITIALIZE)
            _, init = server.response(0, args.timeout)
            if "error" in init:
                raise BenchError(f"initialize failed: {init['error']}")
            server.send(INITIALIZED)
            server.send({"jsonrpc": "2.0", "id": 1, "method": "tools/list"})
            tools_line, tools = server.response(1, args.timeout)
            if "error" in tools:
                raise BenchError(f"tools/list failed: {tools['error']}")
            time.sleep(args.settle)
            rss_idle = server.rss_kib()

            arguments = {"sql": args.sql}
            errors = []
            request_id = 2
            first_call_ms = None
            for _ in range(args.warmup):
                started = time.perf_counter()
                problem = call_tool(server, request_id, "run-sql", arguments, args.timeout)
                if first_call_ms is None:
                    first_call_ms = (time.perf_counter() - started) * 1000
                request_id += 1
                if problem:
                    errors.append(problem)
            samples = []
            for _ in range(args.calls):
                started = time.perf_counter()
                problem = call_tool(server, request_id, "run-sql", arguments, args.timeout)
                samples.append((time.perf_counter() - started) * 1000)
                request_id += 1
                if problem:
                    errors.append(problem)
            rss_loaded = server.rss_kib()
        finally:
            exit_code = server.close()
    result = {
        "kind": "session",
        "label": args.label,
        "sql": args.sql,
        "server": init["result"].get("serverInfo", {}),
        "protocol": init["result"].get("protocolVersion"),
        "tools": [t["name"] for t in tools["result"]["tools"]],
        "tools_list_bytes": len(tools_line),
        "rss_idle_kib": rss_idle,
        "rss_loaded_kib": rss_loaded,
        "warmup": args.warmup,
        "first_call_ms": first_call_ms,
        "errors": len(errors),
        "first_error": errors[0] if errors else None,
        "exit_code": exit_code,
        **summary(samples),
    }
    write_json(args.out, result)


def write_json(path, value):
    with open(path, "w") as f:
        json.dump(value, f, indent=2)
        f.write("\n")


def mib(kib):
    return f"{kib / 1024:.1f} MiB"


def ms(value):
    return f"{value:.2f} ms"


def cmd_report(args):
    cold = json.load(open(args.cold))
    sessions = [json.load(open(p)) for p in args.session]
    by_label = {s["label"]: s for s in sessions}
    lines = [
        "# data-engineer-mcp benchmark",
        "",
        f"{time.strftime('%Y-%m-%d %H:%M:%S %Z')} · {args.revision} · release build · "
        f"{platform.system()} {platform.machine()}, {os.cpu_count()} CPUs · stdio, protocol {PROTOCOL}",
        "",
        "| Measurement | Median | p95 |",
        "|---|---:|---:|",
        f"| Cold start: spawn → `initialize` response ({cold['n']} runs) | {ms(cold['median_ms'])} | {ms(cold['p95_ms'])} |",
    ]
    for s in sessions:
        lines.append(
            f"| `tools/call run-sql {{\"sql\":\"{s['sql']}\"}}`, {s['label']} "
            f"({s['n']} calls after {s['warmup']} warm-up) | {ms(s['median_ms'])} | {ms(s['p95_ms'])} |"
        )
    lines += ["", "| Measurement | Value |", "|---|---:|"]
    idle = by_label.get("postgres", sessions[0] if sessions else None)
    if idle:
        lines.append(f"| Idle RSS after `initialize` + `tools/list` ({idle['label']}) | {mib(idle['rss_idle_kib'])} |")
    for s in sessions:
        lines.append(f"| RSS after {s['warmup'] + s['n']} run-sql calls, {s['label']} | {mib(s['rss_loaded_kib'])} |")
    if sessions:
        lines.append(f"| `tools/list` response (one JSON line, {len(sessions[0]['tools'])} tools) | {sessions[0]['tools_list_bytes']:,} bytes |")
    for s in sessions:
        if s["first_call_ms"] is not None:
            lines.append(f"| First run-sql call (connects), {s['label']} | {ms(s['first_call_ms'])} |")
    notes = []
    for s in sessions:
        if s["errors"]:
            notes.append(f"- {s['label']}: {s['errors']} of {s['warmup'] + s['n']} calls failed; first: {s['first_error']}")
        if s["exit_code"] not in (0, None):
            notes.append(f"- {s['label']}: the server exited with code {s['exit_code']} when stdin closed")
    for extra in args.note or []:
        notes.append(f"- {extra}")
    if notes:
        lines += ["", "Notes:", ""] + notes
    text = "\n".join(lines) + "\n"
    with open(args.out, "w") as f:
        f.write(text)
    sys.stdout.write(text)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)

    cold = sub.add_parser("cold", help="time spawn → initialize response, repeatedly")
    cold.add_argument("--bin", required=True)
    cold.add_argument("--runs", type=int, default=30)
    cold.add_argument("--timeout", type=float, default=10.0)
    cold.add_argument("--stderr-log", default=os.devnull)
    cold.add_argument("--out", required=True)
    cold.set_defaults(func=cmd_cold)

    session = sub.add_parser("session", help="one server: initialize, tools/list, RSS, run-sql latency")
    session.add_argument("--bin", required=True)
    session.add_argument("--label", required=True)
    session.add_argument("--url-env", help="environment variable holding the database URL (default: embedded SQLite)")
    session.add_argument("--cwd", help="working directory of the server (default: a new temp dir)")
    session.add_argument("--sql", default="SELECT 1")
    session.add_argument("--warmup", type=int, default=20)
    session.add_argument("--calls", type=int, default=1000)
    session.add_argument("--settle", type=float, default=0.5, help="seconds to wait before the idle RSS reading")
    session.add_argument("--timeout", type=float, default=30.0)
    session.add_argument("--stderr-log", default=os.devnull)
    session.add_argument("--out", required=True)
    session.set_defaults(func=cmd_session)

    report = sub.add_parser("report", help="render the JSON results as Markdown")
    report.add_argument("--cold", required=True)
    report.add_argument("--session", action="append", default=[])
    report.add_argument("--revision", default="unknown revision")
    report.add_argument("--note", action="append")
    report.add_argument("--out", required=True)
    report.set_defaults(func=cmd_report)

    args = parser.parse_args()
    # Turn SIGTERM (the bench script's trap) into an exception so `finally` reaps the servers.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    if getattr(args, "bin", None):
        args.bin = os.path.abspath(args.bin)  # the servers run in other directories
    try:
        args.func(args)
    except (BenchError, OSError) as e:
        print(f"stdio_bench: {args.command}: {e}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
