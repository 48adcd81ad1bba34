#!/usr/bin/env python3
"""Tiny, dependency-free MongoDB wire-protocol readiness probe.

Usage: mongo_ping.py HOST PORT [TIMEOUT_SECONDS]

Sends one OP_MSG `{hello: 1, $db: "admin"}` and exits 0 only if the reply is
an OP_MSG whose body document has `ok: 1`. Used by scripts/testbed to wait for
the SecantusDB test server; it only needs the Python standard library.
"""
import socket
import struct
import sys

OP_MSG = 2013


def bson_doc(pairs):
    """Encode a flat document of int32 / string values as BSON."""
    body = b""
    for key, value in pairs:
        k = key.encode() + b"\x00"
        if isinstance(value, int):
            body += b"\x10" + k + struct.pack("<i", value)
        else:
            v = value.encode() + b"\x00"
            body += b"\x02" + k + struct.pack("<i", len(v)) + v
    return struct.pack("<i", len(body) + 5) + body + b"\x00"


def recv_exact(sock, n):
    buf = b""
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise ConnectionError("connection closed by server")
        buf += chunk
    return buf


def top_level_ok(doc):
    """Return the numeric value of the top-level `ok` field, or None."""
    i = 4
    end = len(doc) - 1
    while i < end:
        etype = doc[i]
        i += 1
        nul = doc.index(b"\x00", i)
        name = doc[i:nul]
        i = nul + 1
        if etype == 0x01:  # double
            val = struct.unpack_from("<d", doc, i)[0]
            i += 8
        elif etype == 0x10:  # int32
            val = struct.unpack_from("<i", doc, i)[0]
            i += 4
        elif etype in (0x12, 0x09, 0x11):  # int64 / datetime / timestamp
            val = struct.unpack_from("<q", doc, i)[0]
            i += 8
        elif etype == 0x08:  # bool
            val = doc[i]
            i += 1
        elif etype in (0x02, 0x0D, 0x0E):  # string-like
            i += 4 + struct.unpack_from("<i", doc, i)[0]
            continue
        elif etype in (0x03, 0x04):  # document / array
            i += struct.unpack_from("<i", doc, i)[0]
            continue
        elif etype == 0x05:  # binary
            i += 5 + struct.unpack_from("<i", doc, i)[0]
            continue
        elif etype == 0x07:  # ObjectId
            i += 12
            continue
        elif etype == 0x13:  # decimal128
            i += 16
            continue
        elif etype in (0x0A, 0x06, 0xFF, 0x7F):  # null / undefined / min / max
            continue
        else:
            return None
        if name == b"ok":
            return val
    return None


def main():
    host = sys.argv[1]
    port = int(sys.argv[2])
    timeout = float(sys.argv[3]) if len(sys.argv) > 3 else 5.0
    body = bson_doc([("hello", 1), ("$db", "admin")])
    payload = struct.pack("<I", 0) + b"\x00" + body  # flagBits, section kind 0
    header = struct.pack("<iiii", 16 + len(payload), 1, 0, OP_MSG)
    with socket.create_connection((host, port), timeout=timeout) as sock:
        sock.settimeout(timeout)
        sock.sendall(header + payload)
        length, _req, _resp_to, opcode = struct.unpack("<iiii", recv_exact(sock, 16))
        rest = recv_exact(sock, length - 16)
    if opcode != OP_MSG:
        print(f"unexpected reply opcode {opcode}", file=sys.stderr)
        return 1
    if rest[4] != 0:
        print("unexpected first section kind", file=sys.stderr)
        return 1
    doc_len = struct.unpack_from("<i", rest, 5)[0]
    ok = top_level_ok(rest[5 : 5 + doc_len])
    if ok != 1:
        print(f"hello reply has ok={ok!r}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except (OSError, ValueError, struct.error) as exc:
        print(f"mongo_ping: {exc}", file=sys.stderr)
        sys.exit(1)
