#!/usr/bin/env python3
"""Test clients run inside the client namespace (through the tunnel).

concurrent: open N HTTP connections at once (threads; all connect, meet at a
            barrier so N are open together), then each sends GET PATH and
            reads the whole answer; every body must have the expected sha256.
            Prints "ok=N fail=M concurrent=K" and exits 0 only if all N pass.
idle:       open N TCP connections to HOST:PORT and hold them. Prints
            "open N" once they are open, then waits for a line on stdin (or
            --hold seconds), closes them all and prints "closed".
reuse:      connect from the same local port to the same destination several
            times in a row (server closes first each time); every connect
            must succeed within --max-connect seconds.
halfclose:  send bytes, shut the write side, read the server's answer (the
            sink's --eof-port) and check it.
idlewait:   connect and wait until the connection ends; prints how long.
holdget:    open N connections one after another, each sending GET PATH
            (keep-alive) and checking the body's sha256, and keep the served
            ones open; then GET once more on every served one. Prints
            "served=N refused=N eof=N other=N again_ok=N" (refused: reset or
            refused; eof: closed before an answer; other: anything else).

Every wait is bounded by --timeout / --hold.
"""
import argparse
import hashlib
import resource
import select
import socket
import sys
import threading
import time


def raise_nofile(n):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = min(hard, max(soft, n))
    resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))


def family_of(host):
    return socket.AF_INET6 if ":" in host else socket.AF_INET


def http_get(sock, host, port, path, deadline):
    hosthdr = ("[%s]" % host if ":" in host else host) + ":%d" % port
    sock.sendall(("GET %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n"
                  "User-Agent: t2s-tclient\r\n\r\n" % (path, hosthdr)).encode())
    buf = bytearray()
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("read deadline after %d bytes" % len(buf))
        sock.settimeout(left)
        b = sock.recv(65536)
        if not b:
            break
        buf += b
    head, sep, body = bytes(buf).partition(b"\r\n\r\n")
    if not sep:
        raise ValueError("no header end in %d bytes" % len(buf))
    lines = head.split(b"\r\n")
    status = lines[0].split(b" ", 2)
    if len(status) < 2 or status[1] != b"200":
        raise ValueError("status line %r" % lines[0][:60])
    for l in lines[1:]:
        k, _, v = l.partition(b":")
        if k.strip().lower() == b"content-length" and int(v) != len(body):
            raise ValueError("body %d bytes, content-length %d" % (len(body), int(v)))
    return body


def cmd_concurrent(a):
    raise_nofile(a.n + 64)
    barrier = threading.Barrier(a.n)
    results = [None] * a.n
    connected = [0]
    lock = threading.Lock()
    start = time.monotonic()
    deadline = start + a.timeout

    def worker(i):
        s = None
        try:
            s = socket.socket(family_of(a.host), socket.SOCK_STREAM)
            s.settimeout(max(0.1, deadline - time.monotonic()))
            s.connect((a.host, a.port))
            with lock:
                connected[0] += 1
            try:
                barrier.wait(timeout=max(0.1, min(a.barrier_timeout, deadline - time.monotonic())))
            except threading.BrokenBarrierError:
                pass
            body = http_get(s, a.host, a.port, a.path, deadline)
            got = hashlib.sha256(body).hexdigest()
            if a.sha256 and got != a.sha256:
                raise ValueError("sha256 %s... != expected" % got[:12])
            results[i] = "ok"
        except Exception as e:  # noqa: BLE001 - every failure is a result
            results[i] = "%s: %s" % (type(e).__name__, e)
            barrier.abort()
        finally:
            if s is not None:
                s.close()

    threads = [threading.Thread(target=worker, args=(i,), daemon=True) for i in range(a.n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(max(0.1, deadline + 1 - time.monotonic()))
    elapsed = time.monotonic() - start
    ok = sum(1 for r in results if r == "ok")
    fails = [r if r is not None else "timeout: thread still running" for r in results if r != "ok"]
    concurrent = a.n if not barrier.broken else connected[0]
    print("ok=%d fail=%d concurrent=%d elapsed=%.2fs" % (ok, len(fails), concurrent, elapsed))
    seen = {}
    for f in fails:
        seen[f] = seen.get(f, 0) + 1
    for f, c in sorted(seen.items(), key=lambda x: -x[1])[:5]:
        print("  %dx %s" % (c, f))
    return 0 if ok == a.n and not barrier.broken else 1


def cmd_idle(a):
    raise_nofile(a.n + 64)
    socks = []
    deadline = time.monotonic() + a.timeout
    fam = family_of(a.host)
    try:
        for _ in range(a.n):
            if time.monotonic() > deadline:
                print("timeout after %d connections" % len(socks), flush=True)
                return 1
            s = socket.socket(fam, socket.SOCK_STREAM)
            s.settimeout(max(0.1, deadline - time.monotonic()))
            s.connect((a.host, a.port))
            socks.append(s)
        print("open %d" % len(socks), flush=True)
        # wait for "close" on stdin, bounded by --hold
        r, _, _ = select.select([sys.stdin], [], [], a.hold)
        if r:
            sys.stdin.readline()
    except OSError as e:
        print("error after %d connections: %s" % (len(socks), e), flush=True)
        return 1
    finally:
        for s in socks:
            s.close()
    print("closed", flush=True)
    return 0


def get_keepalive(sock, host, port, path, timeout):
    """One GET on a kept-alive connection: the body (raises on errors; EOF
    before the answer is EOFError)."""
    sock.settimeout(timeout)
    sock.sendall(("GET %s HTTP/1.1\r\nHost: %s:%d\r\nConnection: keep-alive\r\n"
                  "User-Agent: t2s-tclient\r\n\r\n" % (path, host, port)).encode())
    buf = b""
    while b"\r\n\r\n" not in buf:
        b = sock.recv(65536)
        if not b:
            raise EOFError("closed after %d bytes" % len(buf))
        buf += b
    head, _, body = buf.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    if b" 200 " not in lines[0] + b" ":
        raise ValueError("status line %r" % lines[0][:60])
    clen = None
    for l in lines[1:]:
        k, _, v = l.partition(b":")
        if k.strip().lower() == b"content-length":
            clen = int(v)
    if clen is None:
        raise ValueError("no content-length")
    while len(body) < clen:
        b = sock.recv(65536)
        if not b:
            raise EOFError("closed in the body")
        body += b
    return body


def cmd_holdget(a):
    raise_nofile(a.n + 64)
    served = []
    refused = eof = other = 0
    reasons = {}
    for _ in range(a.n):
        s = socket.socket(family_of(a.host), socket.SOCK_STREAM)
        try:
            s.settimeout(a.timeout)
            s.connect((a.host, a.port))
            body = get_keepalive(s, a.host, a.port, a.path, a.timeout)
            if a.sha256 and hashlib.sha256(body).hexdigest() != a.sha256:
                raise ValueError("sha256 mismatch")
            served.append(s)
            continue
        except (ConnectionResetError, ConnectionRefusedError, BrokenPipeError):
            refused += 1
        except EOFError:
            eof += 1
        except Exception as e:  # noqa: BLE001 - every failure is a result
            other += 1
            r = "%s: %s" % (type(e).__name__, e)
            reasons[r] = reasons.get(r, 0) + 1
        s.close()
    again = 0
    for s in served:
        try:
            get_keepalive(s, a.host, a.port, a.path, a.timeout)
            again += 1
        except Exception as e:  # noqa: BLE001
            r = "again: %s: %s" % (type(e).__name__, e)
            reasons[r] = reasons.get(r, 0) + 1
    for s in served:
        s.close()
    print("served=%d refused=%d eof=%d other=%d again_ok=%d"
          % (len(served), refused, eof, other, again), flush=True)
    for r, c in sorted(reasons.items(), key=lambda x: -x[1])[:5]:
        print("  %dx %s" % (c, r), flush=True)
    return 0


def cmd_reuse(a):
    """Same local port, same destination, one connection after another: the
    server closes first each time, so the tunnel's stack holds the previous
    connection in TIME_WAIT while the client's kernel does not."""
    fam = family_of(a.host)
    worst = 0.0
    for i in range(a.count):
        # the previous socket on this port must be fully closed (bounded)
        s = None
        t_end = time.monotonic() + 2
        while True:
            try:
                s = socket.socket(fam, socket.SOCK_STREAM)
                s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                s.bind(("" if fam == socket.AF_INET6 else "0.0.0.0", a.local_port))
                break
            except OSError as e:
                s.close()
                if time.monotonic() > t_end:
                    print("round %d: bind: %s" % (i, e))
                    return 1
                time.sleep(0.02)
        t0 = time.monotonic()
        try:
            s.settimeout(a.timeout)
            s.connect((a.host, a.port))
            took = time.monotonic() - t0
            body = http_get(s, a.host, a.port, a.path, time.monotonic() + a.timeout)
        except Exception as e:  # noqa: BLE001
            print("round %d: %s after %.2fs: %s" % (i, type(e).__name__, time.monotonic() - t0, e))
            return 1
        finally:
            s.close()
        worst = max(worst, took)
        if a.sha256 and hashlib.sha256(body).hexdigest() != a.sha256:
            print("round %d: sha256 mismatch" % i)
            return 1
        print("round %d: connected in %.3fs" % (i, took), flush=True)
        time.sleep(a.pause)
    print("ok rounds=%d worst_connect=%.3fs" % (a.count, worst))
    return 0 if worst < a.max_connect else 1


def cmd_halfclose(a):
    """Send --bytes, shutdown(SHUT_WR), then read the server's answer."""
    import os
    data = os.urandom(a.bytes)
    want = "%s %d" % (hashlib.sha256(data).hexdigest(), len(data))
    deadline = time.monotonic() + a.timeout
    s = socket.socket(family_of(a.host), socket.SOCK_STREAM)
    try:
        s.settimeout(a.timeout)
        s.connect((a.host, a.port))
        s.sendall(data)
        s.shutdown(socket.SHUT_WR)
        buf = b""
        while True:
            s.settimeout(max(0.1, deadline - time.monotonic()))
            b = s.recv(4096)
            if not b:
                break
            buf += b
    except Exception as e:  # noqa: BLE001
        print("%s: %s" % (type(e).__name__, e))
        return 1
    finally:
        s.close()
    got = buf.decode(errors="replace").strip()
    if got != want:
        print("answer %r, want %r" % (got[:80], want[:20] + "..."))
        return 1
    print("ok %d bytes, answer after half-close" % a.bytes)
    return 0


def cmd_idlewait(a):
    """Connect, send nothing, report when the connection ends."""
    s = socket.socket(family_of(a.host), socket.SOCK_STREAM)
    t0 = time.monotonic()
    try:
        s.settimeout(5)
        s.connect((a.host, a.port))
        t0 = time.monotonic()
        s.settimeout(a.timeout)
        b = s.recv(1)
        how = "eof" if not b else "data"
    except socket.timeout:
        print("still open after %.1fs" % (time.monotonic() - t0))
        return 1
    except OSError as e:
        how = type(e).__name__
    finally:
        s.close()
    print("ended (%s) after %.2fs" % (how, time.monotonic() - t0))
    return 0


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("concurrent")
    c.add_argument("--host", required=True)
    c.add_argument("--port", type=int, default=80)
    c.add_argument("--path", default="/1k")
    c.add_argument("--n", type=int, default=500)
    c.add_argument("--sha256", default="")
    c.add_argument("--timeout", type=float, default=60)
    c.add_argument("--barrier-timeout", type=float, default=30)
    i = sub.add_parser("idle")
    i.add_argument("--host", required=True)
    i.add_argument("--port", type=int, required=True)
    i.add_argument("--n", type=int, default=2000)
    i.add_argument("--timeout", type=float, default=60)
    i.add_argument("--hold", type=float, default=120)
    r = sub.add_parser("reuse")
    r.add_argument("--host", required=True)
    r.add_argument("--port", type=int, default=80)
    r.add_argument("--path", default="/1k")
    r.add_argument("--local-port", type=int, default=40000)
    r.add_argument("--count", type=int, default=3)
    r.add_argument("--pause", type=float, default=0.2)
    r.add_argument("--sha256", default="")
    r.add_argument("--timeout", type=float, default=5)
    r.add_argument("--max-connect", type=float, default=1.0)
    h = sub.add_parser("halfclose")
    h.add_argument("--host", required=True)
    h.add_argument("--port", type=int, required=True)
    h.add_argument("--bytes", type=int, default=1 << 20)
    h.add_argument("--timeout", type=float, default=10)
    w = sub.add_parser("idlewait")
    w.add_argument("--host", required=True)
    w.add_argument("--port", type=int, required=True)
    w.add_argument("--timeout", type=float, default=10)
    g = sub.add_parser("holdget")
    g.add_argument("--host", required=True)
    g.add_argument("--port", type=int, default=80)
    g.add_argument("--path", default="/1k")
    g.add_argument("--n", type=int, default=2000)
    g.add_argument("--sha256", default="")
    g.add_argument("--timeout", type=float, default=10)
    a = ap.parse_args()
    return {"concurrent": cmd_concurrent, "idle": cmd_idle, "reuse": cmd_reuse,
            "halfclose": cmd_halfclose, "idlewait": cmd_idlewait,
            "holdget": cmd_holdget}[a.cmd](a)


if __name__ == "__main__":
    sys.exit(main())
