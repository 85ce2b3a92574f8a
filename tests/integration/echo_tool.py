#!/usr/bin/env python3
"""A TCP echo service and a client session, for connections made *to* the
machine under test (tests/integration/test_auto_route.sh).

serve:   listen on --bind:--port (IPv4 or IPv6) and echo every connection
         until it closes.
session: connect from --src to --dst:--port, print "connected", then for
         every line read on stdin send it and print "echo LINE" when it
         comes back, or "error REASON" (each round bounded by --timeout).
         Ends at EOF or on the line "close".
"""
import argparse
import socket
import sys
import threading


def family_of(host):
    return socket.AF_INET6 if ":" in host else socket.AF_INET


def cmd_serve(a):
    s = socket.socket(family_of(a.bind))
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((a.bind, a.port))
    s.listen(16)

    def echo(c):
        with c:
            while True:
                d = c.recv(4096)
                if not d:
                    return
                c.sendall(d)

    while True:
        c, _ = s.accept()
        threading.Thread(target=echo, args=(c,), daemon=True).start()


def cmd_session(a):
    c = socket.socket(family_of(a.dst))
    c.bind((a.src, 0))
    c.settimeout(a.timeout)
    try:
        c.connect((a.dst, a.port))
    except OSError as e:
        print("error", e, flush=True)
        return 1
    print("connected", flush=True)
    for line in sys.stdin:
        line = line.strip()
        if line == "close":
            break
        try:
            c.sendall(line.encode() + b"\n")
            got = b""
            while not got.endswith(b"\n"):
                d = c.recv(4096)
                if not d:
                    raise OSError("closed by the server")
                got += d
            print("echo", got.decode().strip(), flush=True)
        except OSError as e:
            print("error", e, flush=True)
    c.close()
    return 0


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("serve")
    s.add_argument("--bind", required=True)
    s.add_argument("--port", type=int, required=True)
    c = sub.add_parser("session")
    c.add_argument("--src", required=True)
    c.add_argument("--dst", required=True)
    c.add_argument("--port", type=int, required=True)
    c.add_argument("--timeout", type=float, default=3)
    a = p.parse_args()
    return cmd_serve(a) if a.cmd == "serve" else cmd_session(a)


if __name__ == "__main__":
    sys.exit(main())
