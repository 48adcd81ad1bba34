#!/usr/bin/env python3
"""The server's own CPU per `run-sql SELECT 1` call, in instructions (valgrind's callgrind).

    callgrind.py BIN URL [CALLS]

Runs the server under callgrind twice: initialize + 20 warm-up calls, then once more with
CALLS further calls. The difference of the two instruction totals divided by CALLS is the cost
of one call in the server process (every thread), without start-up and connection set-up.
Prints one Markdown table row. The URL is passed through the environment, not argv.
"""

import json
import os
import re
import subprocess
import sys
import tempfile

WARMUP = 20


def total_instructions(bin_path, url, calls):
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "cg.out")
        env = dict(os.environ, DATABASE_URL=url)
        server = subprocess.Popen(
            ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", "--trace-children=no", bin_path],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env=env,
        )

        def rpc(method, params, ident):
            message = {"jsonrpc": "2.0", "id": ident, "method": method, "params": params}
            server.stdin.write((json.dumps(message) + "\n").encode())
            server.stdin.flush()
            line = server.stdout.readline()
            if not line:
                raise SystemExit("callgrind.py: the server closed its output")
            reply = json.loads(line)
            if reply.get("error") or reply.get("result", {}).get("isError"):
                raise SystemExit(f"callgrind.py: {method} failed: {line[:300]!r}")
            return reply

        init = {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "cg", "version": "1"}}
        rpc("initialize", init, 0)
        server.stdin.write(b'{"jsonrpc":"2.0","method":"notifications/initialized"}\n')
        server.stdin.flush()
        args = {"name": "run-sql", "arguments": {"sql": "SELECT 1"}}
        for i in range(WARMUP + calls):
            rpc("tools/call", args, i + 1)
        server.stdin.close()
        server.wait(timeout=300)
        with open(out) as f:
            text = f.read()
        match = re.search(r"^(?:summary|totals): (\d+)", text, re.M)
        if not match:
            raise SystemExit("callgrind.py: no instruction total in the callgrind output")
        return int(match.group(1))


def main():
    bin_path, url = sys.argv[1], sys.argv[2]
    calls = int(sys.argv[3]) if len(sys.argv) > 3 else 200
    base = total_instructions(bin_path, url, 0)
    more = total_instructions(bin_path, url, calls)
    per_call = (more - base) / calls
    print(f"| Server instructions per `run-sql SELECT 1` call (callgrind, {calls} calls) | {per_call / 1000:,.0f}k |")


if __name__ == "__main__":
    main()
