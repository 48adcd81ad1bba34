#!/usr/bin/env python3
"""load-csv against psql on PostgreSQL: a 1,000,000-row (~80 MB) CSV into a table with a primary
key and two indexes.

Usage: load_csv.py BIN URL [ROWS]

URL is a PostgreSQL URL of a role that may create databases; a scratch database is created and
dropped. Each case starts from the same table state (truncated or refilled, vacuumed, analyzed,
checkpointed; autovacuum off on the table so it never runs during a measurement), and psql and
load-csv alternate, DE_BENCH_LOAD_REPS times (default 3); the medians are compared
(DE_BENCH_LOAD_CASES picks cases, default insert,upsert,reload):
  - insert: `psql \\copy` of the file vs load-csv mode insert (target: load-csv >= 0.8x the speed)
  - upsert: ROWS/2 rows whose values changed + ROWS/2 new rows. `\\copy` into a temporary table
    plus `INSERT ... ON CONFLICT DO UPDATE` in one psql transaction vs load-csv mode upsert
    (target: no slower)
  - reload: the unchanged original file upserted again, the same two ways (load-csv leaves rows
    whose values are the same alone; psql by hand rewrites them)
  - the server's peak RSS (VmHWM) after the loads.
  - flat (only when DE_BENCH_LOAD_CASES names it): a ~1 GB file (DE_BENCH_FLAT_ROWS, default
    11,500,000 rows) loaded by a fresh server into a table with only its primary key, then
    reloaded as an upsert; time and the server's peak RSS, which must stay flat (tens of MB).
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


def write_csv(path, first, rows, changed_below=0):
    """Rows first..first+rows; those with an id below `changed_below` carry other values than the
    original file's (an upsert really updates them)."""
    with open(path, "w") as f:
        f.write("id,email,name,city,amount,created_at,note\n")
        for i in range(first, first + rows):
            v = 2 if i < changed_below else 1
            f.write(
                f"{i},user{i}@example.com,Name {i % 50000},City {i % 97},{(i % 100000) / 100 + v - 1:.2f},"
                f"2024-{i % 12 + 1:02d}-{i % 28 + 1:02d} {i % 24:02d}:{i % 60:02d}:00+00,note {i % 1000} v{v}\n"
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


def median(xs):
    xs = sorted(xs)
    n = len(xs)
    return xs[n // 2] if n % 2 else (xs[n // 2 - 1] + xs[n // 2]) / 2


def main():
    binary, admin = sys.argv[1], sys.argv[2]
    rows = int(sys.argv[3]) if len(sys.argv) > 3 else 1_000_000
    reps = int(os.environ.get("DE_BENCH_LOAD_REPS", "3"))
    name = f"de_bench_load_{os.getpid()}"
    url = with_database(admin, name)
    times = {}
    with tempfile.TemporaryDirectory() as tmp:
        base, upsert = os.path.join(tmp, "base.csv"), os.path.join(tmp, "upsert.csv")
        write_csv(base, 0, rows)
        write_csv(upsert, rows // 2, rows, changed_below=rows)
        size_mb = os.path.getsize(base) / 1e6
        psql(admin, f"create database {name}")
        mcp = None
        try:
            psql(url, TABLE + "alter table bench set (autovacuum_enabled = off);\n")
            fill = f"\\copy bench ({COLUMNS}) from '{base}' with (format csv, header true)\n"

            def reset(filled):
                psql(url, "truncate bench;\n" + (fill if filled else "") + "vacuum analyze bench;\ncheckpoint;\n")
                # The checkpoint's writes still sit in the page cache: flush them now (when the
                # server is on this machine) rather than during the next measurement.
                os.sync()

            def check(expected):
                got = int(scalar(url, "select count(*) from bench"))
                if got != expected:
                    raise SystemExit(f"expected {expected} rows, found {got}")

            updates = ", ".join(f"{c} = excluded.{c}" for c in COLUMNS.split(", ")[1:])

            def by_hand(file):
                return (
                    "begin;\n"
                    "create temp table stage (like bench including defaults) on commit drop;\n"
                    f"\\copy stage ({COLUMNS}) from '{file}' with (format csv, header true)\n"
                    f"insert into bench ({COLUMNS}) select {COLUMNS} from stage on conflict (id) do update set {updates};\n"
                    "commit;\n"
                )

            mcp = Mcp(binary, url, tmp)
            cases = [
                ("insert", False, rows, lambda: psql(url, fill), lambda: mcp.load(base, "insert")),
                ("upsert", True, rows + rows // 2, lambda: psql(url, by_hand(upsert)), lambda: mcp.load(upsert, "upsert")),
                ("reload", True, rows, lambda: psql(url, by_hand(base)), lambda: mcp.load(base, "upsert")),
            ]
            wanted = os.environ.get("DE_BENCH_LOAD_CASES", "insert,upsert,reload").split(",")
            cases = [c for c in cases if c[0] in wanted]
            for rep in range(reps):
                for case, filled, expected, manual, ours in cases:
                    # Alternate which goes first, so neither always follows the other.
                    order = [("psql", manual), ("load-csv", ours)]
                    if rep % 2:
                        order.reverse()
                    for who, action in order:
                        reset(filled)
                        times.setdefault((case, who), []).append(timed(action))
                        check(expected)
                print(f"rep {rep + 1}/{reps}: " + ", ".join(f"{k[0]} {k[1]} {v[-1]:.2f} s" for k, v in times.items()),
                      file=sys.stderr, flush=True)
            peak = mcp.peak_rss_kib()
            flat = []
            if "flat" in wanted:
                mcp.close()
                mcp = None
                big = os.path.join(tmp, "big.csv")
                write_csv(big, 0, int(os.environ.get("DE_BENCH_FLAT_ROWS", "11500000")))
                big_mb = os.path.getsize(big) / 1e6
                psql(url, "drop table bench;\n" + TABLE.split(";")[0] + ";\n")
                mcp = Mcp(binary, url, tmp)
                for mode in ["insert", "upsert"]:
                    flat.append((mode, big_mb, timed(lambda: mcp.load(big, mode)), mcp.peak_rss_kib()))
                os.remove(big)
        finally:
            if mcp:
                mcp.close()
            psql(admin, f"drop database if exists {name}")

    def row(label, case, who):
        if (case, who) not in times:
            return f"| {label} | not run | | | |"
        t = median(times[(case, who)])
        spread = f"{min(times[(case, who)]):.2f}–{max(times[(case, who)]):.2f}"
        ratio = median(times[(case, "psql")]) / t
        return f"| {label} | {t:.2f} s | {spread} s | {rows / t:,.0f} | {ratio:.2f}x |"

    print(f"\n| load-csv, {rows:,} rows ({size_mb:.0f} MB), PK + 2 indexes, median of {reps} | time | range | rows/s | vs psql |")
    print("|---|---:|---:|---:|---:|")
    print(row("psql `\\copy`", "insert", "psql"))
    print(row("load-csv mode insert (target >= 0.8x)", "insert", "load-csv"))
    print(row(f"psql `\\copy` to temp + `INSERT ... ON CONFLICT DO UPDATE` ({rows // 2:,} changed, {rows // 2:,} new)",
              "upsert", "psql"))
    print(row("load-csv mode upsert (target >= 1.0x)", "upsert", "load-csv"))
    print(row("psql, the same by hand, reloading the unchanged file", "reload", "psql"))
    print(row("load-csv mode upsert, reloading the unchanged file", "reload", "load-csv"))
    print(f"| load-csv server peak RSS (VmHWM) | {peak / 1024:.1f} MiB | | | |")
    for mode, mb, t, kib in flat:
        print(f"| flat memory: a {mb:,.0f} MB file, mode {mode} (primary key only) | {t:.1f} s | peak RSS "
              f"{kib / 1024:.1f} MiB | | |")


if __name__ == "__main__":
    main()
