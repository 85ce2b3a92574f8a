#!/usr/bin/env python3
"""tls_client.py: an HTTPS GET whose ClientHello is cut where we say.

The TLS handshake runs over an ssl.SSLObject and memory BIOs, so the
ClientHello's bytes are ours to send: the first --split bytes, a pause,
then the rest (two TCP segments, TCP_NODELAY). --pad-alpn N offers ALPN
names adding about N bytes, so the ClientHello grows past one packet.
Prints the response body. The certificate is not checked (test servers).

  tls_client.py HOST PORT --sni NAME [--split K] [--pad-alpn N] [--path P]
  tls_client.py HOST PORT --silent S --path P   plain HTTP/1.0 without
      Host, sent only after S seconds of silence
"""
import argparse
import socket
import ssl
import sys
import time


def pump_out(sock, out, split, first):
    data = out.read()
    if not data:
        return
    if first and split and len(data) > split:
        sock.sendall(data[:split])
        time.sleep(0.3)
        data = data[split:]
    sock.sendall(data)


def https_get(a):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    if a.pad_alpn:
        names = ["x%03d" % i + "p" * 195 for i in range(a.pad_alpn // 200 + 1)]
        ctx.set_alpn_protocols(names + ["http/1.1"])
    inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
    tls = ctx.wrap_bio(inc, out, server_hostname=a.sni)
    sock = socket.create_connection((a.host, a.port), timeout=10)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    first = True
    while True:
        try:
            tls.do_handshake()
            pump_out(sock, out, a.split, first)
            break
        except ssl.SSLWantReadError:
            pump_out(sock, out, a.split, first)
            first = False
            data = sock.recv(65536)
            if not data:
                raise SystemExit("connection closed in the handshake")
            inc.write(data)
    tls.write(("GET %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n"
               % (a.path, a.sni)).encode())
    pump_out(sock, out, 0, False)
    resp = b""
    while True:
        try:
            chunk = tls.read(65536)
            if not chunk:
                break
            resp += chunk
        except ssl.SSLWantReadError:
            data = sock.recv(65536)
            if not data:
                break
            inc.write(data)
        except (ssl.SSLZeroReturnError, ssl.SSLEOFError):
            break
    return resp


def silent_get(a):
    sock = socket.create_connection((a.host, a.port), timeout=10)
    time.sleep(a.silent)
    sock.sendall(("GET %s HTTP/1.0\r\n\r\n" % a.path).encode())
    resp = b""
    while True:
        data = sock.recv(65536)
        if not data:
            break
        resp += data
    return resp


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("host")
    ap.add_argument("port", type=int)
    ap.add_argument("--sni")
    ap.add_argument("--split", type=int, default=0)
    ap.add_argument("--pad-alpn", type=int, default=0)
    ap.add_argument("--path", default="/whoami")
    ap.add_argument("--silent", type=float)
    a = ap.parse_args()
    resp = silent_get(a) if a.silent is not None else https_get(a)
    head, _, body = resp.partition(b"\r\n\r\n")
    sys.stdout.write(body.decode(errors="replace"))
    return 0 if head.startswith(b"HTTP/1.1 200") or head.startswith(b"HTTP/1.0 200") else 1


if __name__ == "__main__":
    sys.exit(main())
