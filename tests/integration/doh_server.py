#!/usr/bin/env python3
"""doh_server.py: a DNS-over-HTTPS endpoint's back end, for nginx to front.

POST /dns-query with an application/dns-message body (RFC 8484), or GET
/dns-query?dns=BASE64URL: the message goes to --upstream HOST:PORT over
UDP and the answer comes back as application/dns-message. Plain HTTP/1.1
on --bind:--port (nginx does TLS and HTTP/2 in front). Logs one line per
query to stderr. Runs until killed.
"""
import argparse
import base64
import socket
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bind", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--upstream", required=True)
    a = ap.parse_args()
    host, port = a.upstream.rsplit(":", 1)

    def ask(msg):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.settimeout(3)
        s.sendto(msg, (host, int(port)))
        data, _ = s.recvfrom(65535)
        s.close()
        return data

    class H(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def answer(self, msg):
            try:
                data = ask(msg)
            except OSError as e:
                self.send_error(502, str(e))
                return
            self.send_response(200)
            self.send_header("Content-Type", "application/dns-message")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_POST(self):
            n = int(self.headers.get("Content-Length", "0"))
            body = self.rfile.read(n)
            if urlparse(self.path).path != "/dns-query" or \
                    self.headers.get("Content-Type") != "application/dns-message":
                self.send_error(415)
                return
            self.answer(body)

        def do_GET(self):
            u = urlparse(self.path)
            q = parse_qs(u.query).get("dns")
            if u.path != "/dns-query" or not q:
                self.send_error(400)
                return
            s = q[0]
            self.answer(base64.urlsafe_b64decode(s + "=" * (-len(s) % 4)))

        def log_message(self, fmt, *args):
            sys.stderr.write("doh: %s %s\n" % (self.command, fmt % args))
            sys.stderr.flush()

    ThreadingHTTPServer((a.bind, a.port), H).serve_forever()


if __name__ == "__main__":
    main()
