#!/usr/bin/env python3
"""A loopback HTTP server for tests/unit/test_http_client.c.

Prints its port on the first line of stdout, then serves until killed:
  /plain        "hello"
  /gzip         "compressed body" gzip-encoded (only if the client accepts it)
  /chunked      "abc" x 3 in chunked transfer encoding
  /redirect     302 to /plain
  /loop         302 to itself
  /big          1 MiB of "x"
  /slow         sleeps 10 s before answering
  /status/N     status N, body "status"
  /echo         POST: the request body back, with the method in X-Method
  /rules        a text domain rule list; /rules.gz the same gzip-encoded
  /proxies      a Clash proxies list (socks5 and ss)
  /garbage      YAML that does not parse
Requests with an absolute URL (as an HTTP proxy sees them) get
"proxied <URL>": the server doubles as a forward proxy that proves the
client went through it.
"""
import gzip
import http.server
import socket
import socketserver
import threading
import sys
import time


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def send(self, code, body, headers=()):
        self.send_response(code)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def do_HEAD(self):
        self.do_GET()

    def do_GET(self):
        p = self.path
        if p.startswith("http://"):
            return self.send(200, ("proxied " + p).encode())
        if p == "/plain":
            return self.send(200, b"hello")
        if p == "/gzip":
            if "gzip" not in self.headers.get("Accept-Encoding", ""):
                return self.send(406, b"no gzip")
            return self.send(200, gzip.compress(b"compressed body"),
                             [("Content-Encoding", "gzip")])
        if p == "/chunked":
            self.send_response(200)
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for _ in range(3):
                self.wfile.write(b"3\r\nabc\r\n")
                self.wfile.flush()
            self.wfile.write(b"0\r\n\r\n")
            return None
        if p == "/redirect":
            return self.send(302, b"", [("Location", "/plain")])
        if p == "/loop":
            return self.send(302, b"", [("Location", "/loop")])
        if p == "/big":
            return self.send(200, b"x" * (1 << 20))
        if p == "/slow":
            time.sleep(10)
            return self.send(200, b"late")
        if p == "/rules":
            return self.send(200, b"+.ads.test\n")
        if p == "/proxies":
            return self.send(200, b"proxies:\n"
                             b"  - {name: a, type: socks5, server: 192.0.2.1, port: 1}\n"
                             b"  - {name: s, type: ss, server: 192.0.2.1, port: 2}\n")
        if p == "/garbage":
            return self.send(200, b"payload: [\n")
        if p.startswith("/status/"):
            return self.send(int(p[8:]), b"status")
        return self.send(404, b"not found")

    def do_POST(self):
        n = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(n)
        return self.send(200, body, [("X-Method", self.command)])


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True


class Server6(Server):
    address_family = socket.AF_INET6


def main():
    srv = Server(("127.0.0.1", 0), Handler)
    port = srv.server_address[1]
    # "localhost" is ::1 first on an installed Debian (its /etc/hosts):
    # answer there too, on the same port, where the machine has IPv6.
    try:
        srv6 = Server6(("::1", port), Handler)
        threading.Thread(target=srv6.serve_forever, daemon=True).start()
    except OSError:
        pass
    print(port, flush=True)
    srv.serve_forever()


if __name__ == "__main__":
    sys.exit(main())
