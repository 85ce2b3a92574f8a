#!/usr/bin/env python3
"""A misbehaving HTTP CONNECT proxy for tests/integration/test_http.sh.

Listens on --bind:--port; to every connection it reads the request header
and then, by --mode:
  403       "HTTP/1.1 403 Forbidden"
  407       "HTTP/1.1 407 Proxy Authentication Required"
  garbage   bytes that are not HTTP
  bigheader a 200 status line, then 20 KiB of headers that never end
  silent    nothing at all (holds the connection)
Logs one line per connection to stderr. Runs until SIGTERM.
"""
import argparse
import socket
import threading


def serve(conn, mode):
    try:
        conn.settimeout(30)
        buf = b""
        while b"\r\n\r\n" not in buf and len(buf) < 65536:
            d = conn.recv(4096)
            if not d:
                return
            buf += d
        if mode == "403":
            conn.sendall(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n")
        elif mode == "407":
            conn.sendall(b"HTTP/1.1 407 Proxy Authentication Required\r\n"
                         b"Proxy-Authenticate: Basic realm=\"t\"\r\n\r\n")
        elif mode == "garbage":
            conn.sendall(b"\x00\x01\x02 this is not HTTP at all\r\n\r\n")
        elif mode == "bigheader":
            conn.sendall(b"HTTP/1.1 200 OK\r\n" + b"X-Pad: " + b"a" * 20480 + b"\r\n")
        elif mode == "silent":
            pass
        # hold until the client goes away
        while conn.recv(4096):
            pass
    except OSError:
        pass
    finally:
        conn.close()


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--bind", required=True)
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--mode", required=True,
                   choices=["403", "407", "garbage", "bigheader", "silent"])
    a = p.parse_args()
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((a.bind, a.port))
    s.listen(64)
    while True:
        c, _ = s.accept()
        threading.Thread(target=serve, args=(c, a.mode), daemon=True).start()


if __name__ == "__main__":
    main()
