#!/usr/bin/env python3
"""WebSocket and raw-socket clients for the control API tests (run in the
client namespace, against the daemon's controller on loopback).

ws URL [--token T] [--n N] [--timeout S]
    Connects (python3-websockets), prints each of the first N text
    messages on a line, exits 0 once N arrived; 3 if the handshake was
    refused (prints "refused STATUS").
noread HOST PORT PATH [--token T] [--secs S]
    Opens a WebSocket by hand (the upgrade request only, a small receive
    buffer) and never reads for S seconds; then reads and prints "closed"
    when the server had dropped it, "open" when data still flows after
    30 s.
Every wait is bounded.
"""
import argparse
import asyncio
import base64
import os
import socket
import sys
import time

import websockets


async def ws_main(a):
    headers = {}
    try:
        async with websockets.connect(a.url, extra_headers=headers, open_timeout=a.timeout,
                                      max_size=1 << 24) as ws:
            for _ in range(a.n):
                msg = await asyncio.wait_for(ws.recv(), a.timeout)
                print(msg, flush=True)
    except websockets.exceptions.InvalidStatusCode as e:
        print("refused %d" % e.status_code, flush=True)
        return 3
    except (websockets.exceptions.InvalidHandshake, ConnectionError, OSError) as e:
        print("refused %s" % e, flush=True)
        return 3
    return 0


def noread(a):
    s = socket.create_connection((a.host, a.port), timeout=5)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    key = base64.b64encode(os.urandom(16)).decode()
    req = ("GET %s HTTP/1.1\r\nHost: %s:%d\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
           "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n\r\n" % (a.path, a.host, a.port,
                                                                        key))
    s.sendall(req.encode())
    print("upgraded-request-sent", flush=True)
    time.sleep(a.secs)
    # Now read: a dropped client meets the end of the stream (or a reset)
    # within the deadline; a live one keeps getting data. Reads wait long
    # enough for the server's zero-window probes, which back off.
    s.settimeout(8)
    total = 0
    deadline = time.time() + 30
    while time.time() < deadline:
        try:
            d = s.recv(1 << 20)
        except socket.timeout:
            break
        except OSError:
            print("closed %d reset" % total, flush=True)
            return 0
        if not d:
            print("closed %d" % total, flush=True)
            return 0
        total += len(d)
    print("open %d" % total, flush=True)
    return 0


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    w = sub.add_parser("ws")
    w.add_argument("url")
    w.add_argument("--n", type=int, default=1)
    w.add_argument("--timeout", type=float, default=10)
    n = sub.add_parser("noread")
    n.add_argument("host")
    n.add_argument("port", type=int)
    n.add_argument("path")
    n.add_argument("--secs", type=float, default=10)
    a = ap.parse_args()
    if a.cmd == "ws":
        return asyncio.run(ws_main(a))
    return noread(a)


if __name__ == "__main__":
    sys.exit(main())
