#!/usr/bin/env python3
"""Test-only servers that run inside the server namespace.

sink:  HTTP/1.1 on --port for every --bind address. PUT or POST streams the
       body (Content-Length or chunked) into sha256 and answers with the hex
       digest and the byte count: "<hex> <bytes>\n". GET /health answers "ok".
hold:  --hold-port accepts TCP connections and keeps them open without
       answering, reading and discarding whatever arrives, until the peer
       closes (then it closes too), so an idle-flow benchmark can hold
       thousands of flows. At most --hold-max connections.
eof:   --eof-port reads until the client half-closes (FIN), then answers
       "<sha256> <bytes>\n" and closes.

Runs until SIGTERM/SIGINT. Never connects anywhere.
"""
import argparse
import hashlib
import http.server
import resource
import selectors
import signal
import socket
import socketserver
import sys
import threading

CHUNK = 256 * 1024


class SinkHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "t2s-sink/1"

    def log_message(self, fmt, *args):  # quiet; the test log stays readable
        if self.server.verbose:
            sys.stderr.write("sink: " + (fmt % args) + "\n")

    def _reply(self, code, body):
        data = body.encode()
        self.send_response(code)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(data)
        self.close_connection = True

    def do_GET(self):
        if self.path.startswith("/health"):
            self._reply(200, "ok\n")
        else:
            self._reply(404, "not found\n")

    def _consume(self):
        h = hashlib.sha256()
        total = 0
        te = self.headers.get("Transfer-Encoding", "").lower()
        if "chunked" in te:
            while True:
                line = self.rfile.readline(1024)
                if not line:
                    raise ConnectionError("eof in chunk size")
                size = int(line.split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    # trailers until an empty line
                    while True:
                        t = self.rfile.readline(1024)
                        if t in (b"\r\n", b"\n", b""):
                            break
                    break
                left = size
                while left:
                    b = self.rfile.read(min(CHUNK, left))
                    if not b:
                        raise ConnectionError("eof in chunk")
                    h.update(b)
                    total += len(b)
                    left -= len(b)
                self.rfile.readline(16)  # CRLF after the chunk
        else:
            left = int(self.headers.get("Content-Length", "0"))
            while left:
                b = self.rfile.read(min(CHUNK, left))
                if not b:
                    raise ConnectionError("eof after %d bytes, %d missing" % (total, left))
                h.update(b)
                total += len(b)
                left -= len(b)
        return h.hexdigest(), total

    def _upload(self):
        try:
            digest, total = self._consume()
        except (ConnectionError, ValueError, OSError) as e:
            sys.stderr.write("sink: upload failed: %s\n" % e)
            self.close_connection = True
            return
        sys.stderr.write("sink: %s %s %d bytes sha256 %s\n"
                         % (self.command, self.path, total, digest))
        self._reply(200, "%s %d\n" % (digest, total))

    do_PUT = _upload
    do_POST = _upload


class Sink4(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 1024


class Sink6(Sink4):
    address_family = socket.AF_INET6


def hold_loop(addrs, port, maxconn, stop):
    sel = selectors.DefaultSelector()
    for a in addrs:
        fam = socket.AF_INET6 if ":" in a else socket.AF_INET
        ls = socket.socket(fam, socket.SOCK_STREAM)
        ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        ls.bind((a, port))
        ls.listen(4096)
        ls.setblocking(False)
        sel.register(ls, selectors.EVENT_READ, "listen")
    n = 0
    while not stop.is_set():
        for key, _ in sel.select(timeout=0.5):
            s = key.fileobj
            if key.data == "listen":
                try:
                    c, _ = s.accept()
                except OSError:
                    continue
                if n >= maxconn:
                    c.close()
                    continue
                c.setblocking(False)
                sel.register(c, selectors.EVENT_READ, "conn")
                n += 1
            else:
                try:
                    b = s.recv(65536)
                except OSError:
                    b = b""
                if not b:
                    sel.unregister(s)
                    s.close()
                    n -= 1


def eof_loop(addrs, port, stop):
    """Reads until the peer half-closes, then answers "<sha256> <bytes>\n"
    and closes: a client whose FIN is passed on as a full close gets nothing."""
    def serve(c):
        h = hashlib.sha256()
        n = 0
        try:
            c.settimeout(30)
            while True:
                b = c.recv(CHUNK)
                if not b:
                    break
                h.update(b)
                n += len(b)
            c.sendall(("%s %d\n" % (h.hexdigest(), n)).encode())
            sys.stderr.write("sink: eof-port got %d bytes\n" % n)
        except OSError as e:
            sys.stderr.write("sink: eof-port: %s after %d bytes\n" % (e, n))
        finally:
            c.close()

    lss = []
    for a in addrs:
        fam = socket.AF_INET6 if ":" in a else socket.AF_INET
        ls = socket.socket(fam, socket.SOCK_STREAM)
        ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        ls.bind((a, port))
        ls.listen(128)
        lss.append(ls)
    sel = selectors.DefaultSelector()
    for ls in lss:
        sel.register(ls, selectors.EVENT_READ)
    while not stop.is_set():
        for key, _ in sel.select(timeout=0.5):
            try:
                c, _ = key.fileobj.accept()
            except OSError:
                continue
            threading.Thread(target=serve, args=(c,), daemon=True).start()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bind", action="append", default=[], help="address (repeatable)")
    ap.add_argument("--port", type=int, default=8080)
    ap.add_argument("--hold-port", type=int, default=0)
    ap.add_argument("--hold-max", type=int, default=10000)
    ap.add_argument("--eof-port", type=int, default=0)
    ap.add_argument("-v", "--verbose", action="store_true")
    a = ap.parse_args()
    if not a.bind:
        ap.error("--bind is required")

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = min(hard, max(soft, 2 * a.hold_max + 256))
    resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))

    stop = threading.Event()
    servers = []
    for addr in a.bind:
        cls = Sink6 if ":" in addr else Sink4
        srv = cls((addr, a.port), SinkHandler)
        srv.verbose = a.verbose
        servers.append(srv)
        threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.2},
                         daemon=True).start()
    if a.hold_port:
        threading.Thread(target=hold_loop, args=(a.bind, a.hold_port, a.hold_max, stop),
                         daemon=True).start()

    if a.eof_port:
        threading.Thread(target=eof_loop, args=(a.bind, a.eof_port, stop),
                         daemon=True).start()

    def on_signal(signum, frame):
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    sys.stderr.write("sink: listening on %s port %d%s\n"
                     % (",".join(a.bind), a.port,
                        (" hold %d" % a.hold_port) if a.hold_port else ""))
    sys.stderr.flush()
    while not stop.wait(0.5):
        pass
    for srv in servers:
        srv.shutdown()
        srv.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
