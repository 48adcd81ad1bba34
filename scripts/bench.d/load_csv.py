#!/usr/bin/env python3
"""load-csv against psql on PostgreSQL: a 1,000,000-row (~80 MB) CSV into a table with a primary
key and two indexes.

Usage: load_csv.py BIN URL [ROWS]

URL is a PostgreSQL URL of a role that may create databases; a scratch database is created and
dropped. Measures, each on the same table state:
  - insert: `psql \\copy` of the file vs load-csv mode insert (target: load-csv >= 0.8x the speed)
  - upsert (ROWS/2 updates + ROWS/2 inserts): `\\copy` into a temporary table plus
    `INSERT ... ON CONFLICT DO UPDATE` in one psql transaction vs load-csv mode upsert
    (target: no slower)
  - the server's peak RSS (VmHWM) after the loads.
Prints Markdown table rows. Standard library plus the psql client.
"""
import json
import os
import subprocess
import sys
import tempfile
import time

TABLE = """
create table bench (
    id bigint primary key,
    email text not null,
    name text,
    city text,
    amount numeric(12, 2),
    created_at timestamptz,
    note text
);
create index bench_email on bench (email);
create index bench_city_created on bench (city, created_at);
"""
COLUMNS = "id, email, name, city, amount, created_at, note"


def write_csv(path, first, rows):
    with open(path, "w") as f:
        f.write("id,email,name,city,amount,created_at,note\n")
        for i in range(first, first + rows):
            f.write(
                f"{i},user{i}@example.com,Name {i % 50000},City {i % 97},{(i % 100000) / 100:.2f},"
                f"2024-{i % 12 + 1:02d}-{i % 28 + 1:02d} {i % 24:02d}:{i % 60:02d}:00+00,note {i % 1000}\n"
            )


def with_database(url, name):
    scheme, rest = url.split("://", 1)
    host = rest.split("/", 1)[0]
    query = rest[rest.index("?"):] if "?" in rest else ""
    return f"{scheme}://{host}/{name}{query}"


def psql(url, script):
    subprocess.run(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", url], input=script.encode(), check=True,
                   stdout=subprocess.DEVNULL)


def scalar(url, sql):
    out = subprocess.run(["psql", "-X", "-qAt", url, "-c", sql], check=True, capture_output=True)
    return out.stdout.decode().strip()


def timed(action):
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


class Mcp:
    def __init__(self, binary, url, files):
        self.proc = subprocess.Popen([binary, "--database-url", url, "--mode", "read-write", "--allow-dir", files],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        self.next_id = 0
        self.request("initialize", {"protocolVersion": "2025-11-25", "capabilities": {},
                                    "clientInfo": {"name": "bench", "version": "0"}})
        self.proc.stdin.write(b'{"jsonrpc":"2.0","method":"notifications/initialized"}\n')
        self.proc.stdin.flush()

    def request(self, method, params):
        self.next_id += 1
        self.proc.stdin.write((json.dumps({"jsonrpc": "2.0", "id": self.next_id, "method": method,
                                           "params": params}) + "\n").encode())
        self.proc.stdin.flush()
        while True:
            line = self.proc.stdout.readline()
            if not line:
                raise SystemExit("the server closed stdout")
            reply = json.loads(line)
            if reply.get("id") == self.next_id:
                return reply

    def load(self, file, mode):
        reply = self.request("tools/call", {"name": "load-csv",
                                            "arguments": {"table": "bench", "file": file, "mode": mode}})
        if reply.get("result", {}).get("isError") or "error" in reply:
            raise SystemExit(f"load-csv failed: {json.dumps(reply)[:1000]}")

    def peak_rss_kib(self):
        with open(f"/proc/{self.proc.pid}/status") as f:
            for row in f:
                if row.startswith("VmHWM:"):
                    return int(row.split()[1])
        return 0

    def close(self):
        self.proc.stdin.close()
        self.proc.wait(timeout=30)


def main():
    binary, admin = sys.argv[1], sys.argv[2]
    rows = int(sys.argv[3]) if len(sys.argv) > 3 else 1_000_000
    name = f"de_bench_load_{os.getpid()}"
    url = with_database(admin, name)
    with tempfile.TemporaryDirectory() as tmp:
        base, upsert = os.path.join(tmp, "base.csv"), os.path.join(tmp, "upsert.csv")
        write_csv(base, 0, rows)
        write_csv(upsert, rows // 2, rows)
        size_mb = os.path.getsize(base) / 1e6
        psql(admin, f"create database {name}")
        mcp = None
        try:
            psql(url, TABLE)
            fill = f"\\copy bench ({COLUMNS}) from '{base}' with (format csv, header true)\n"

            def reset(filled):
                psql(url, "truncate bench;\n" + (fill if filled else "") + "vacuum analyze bench;\ncheckpoint;\n")

            def check(expected):
                got = int(scalar(url, "select count(*) from bench"))
                if got != expected:
                    raise SystemExit(f"expected {expected} rows, found {got}")

            mcp = Mcp(binary, url, tmp)
            reset(False)
            copy_s = timed(lambda: psql(url, fill))
            check(rows)
            reset(False)
            insert_s = timed(lambda: mcp.load(base, "insert"))
            check(rows)

            updates = ", ".join(f"{c} = excluded.{c}" for c in COLUMNS.split(", ")[1:])
            by_hand = (
                "begin;\n"
                "create temp table stage (like bench including defaults) on commit drop;\n"
                f"\\copy stage ({COLUMNS}) from '{upsert}' with (format csv, header true)\n"
                f"insert into bench ({COLUMNS}) select {COLUMNS} from stage on conflict (id) do update set {updates};\n"
                "commit;\n"
            )
            reset(True)
            manual_s = timed(lambda: psql(url, by_hand))
            check(rows + rows // 2)
            reset(True)
            upsert_s = timed(lambda: mcp.load(upsert, "upsert"))
            check(rows + rows // 2)
            peak = mcp.peak_rss_kib()
        finally:
            if mcp:
                mcp.close()
            psql(admin, f"drop database if exists {name}")
    print(f"\n| load-csv, {rows:,} rows ({size_mb:.0f} MB), PK + 2 indexes | time | rows/s | vs psql |")
    print("|---|---:|---:|---:|")
    print(f"| psql `\\copy` | {copy_s:.2f} s | {rows / copy_s:,.0f} | 1.00x |")
    print(f"| load-csv mode insert (target >= 0.8x) | {insert_s:.2f} s | {rows / insert_s:,.0f} | {copy_s / insert_s:.2f}x |")
    print(f"| psql `\\copy` to temp + `INSERT ... ON CONFLICT DO UPDATE` | {manual_s:.2f} s | {rows / manual_s:,.0f} | 1.00x |")
    print(f"| load-csv mode upsert (target >= 1.0x) | {upsert_s:.2f} s | {rows / upsert_s:,.0f} | {manual_s / upsert_s:.2f}x |")
    print(f"| load-csv server peak RSS (VmHWM) | {peak / 1024:.1f} MiB | | |")


if __name__ == "__main__":
    main()
