#!/usr/bin/env python3
"""explain-analyze's overhead over a raw EXPLAIN of the same statement on the same server.

Usage: explain_overhead.py BIN URL [CALLS]

Starts one read-write server on URL (PostgreSQL) and times, over stdio, alternating calls of
  - run-sql with the raw `EXPLAIN (ANALYZE, BUFFERS, SETTINGS, FORMAT JSON) <query>` and
  - explain-analyze of `<query>` (transaction, timeouts, plan model, findings, rollback).
Prints one Markdown table row per measurement. Standard library only.
"""
import json
import statistics
import subprocess
import sys
import time

QUERY = "SELECT count(*) FROM generate_series(1, 200000) g WHERE g % 7 = 3"


def main():
    binary, url = sys.argv[1], sys.argv[2]
    calls = int(sys.argv[3]) if len(sys.argv) > 3 else 100
    server = subprocess.Popen([binary, "--database-url", url, "--mode", "read-write"],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    next_id = [0]

    def request(method, params):
        next_id[0] += 1
        server.stdin.write((json.dumps({"jsonrpc": "2.0", "id": next_id[0], "method": method, "params": params}) + "\n").encode())
        server.stdin.flush()
        while True:
            line = server.stdout.readline()
            if not line:
                raise SystemExit("server closed stdout")
            reply = json.loads(line)
            if reply.get("id") == next_id[0]:
                return reply

    try:
        request("initialize", {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "bench", "version": "0"}})
        server.stdin.write(b'{"jsonrpc":"2.0","method":"notifications/initialized"}\n')
        raw_args = {"sql": "EXPLAIN (ANALYZE, BUFFERS, SETTINGS, FORMAT JSON) " + QUERY}
        tool_args = {"sql": QUERY}
        raw, tool = [], []
        for i in range(calls + 5):
            for name, args, out in (("run-sql", raw_args, raw), ("explain-analyze", tool_args, tool)):
                started = time.perf_counter()
                reply = request("tools/call", {"name": name, "arguments": args})
                elapsed = (time.perf_counter() - started) * 1000
                if reply.get("result", {}).get("isError"):
                    raise SystemExit(f"{name} failed: {reply}")
                if i >= 5:
                    out.append(elapsed)
        raw_ms, tool_ms = statistics.median(raw), statistics.median(tool)
        print(f"| raw `EXPLAIN (ANALYZE, ...)` via run-sql, {calls} calls | {raw_ms:.2f} ms |")
        print(f"| `explain-analyze` of the same query, {calls} calls | {tool_ms:.2f} ms |")
        print(f"| explain-analyze overhead (target < 10%) | {(tool_ms - raw_ms) * 100 / raw_ms:+.1f}% |")
    finally:
        server.stdin.close()
        server.wait(timeout=10)


if __name__ == "__main__":
    main()
