#!/usr/bin/env python3
"""UDP echo server and clients for tests/integration/test_udp.sh.

server: echo every datagram back to its sender, from the socket it came in
        on. One socket per --bind address on --port, and (with --alt-port) a
        second one on the alt port, which echoes too. A datagram to the main
        port that starts with b"CONE:" is echoed from the main socket AND
        sent again from the alt socket (a reply from a remote the client
        never sent to: full-cone NAT behaviour). Logs "rx SRC:PORT -> :PORT
        LEN" per datagram to --log. Runs until SIGTERM.
echo:   stop-and-wait: COUNT datagrams of varied sizes (1..--max-size
        bytes, random content) to TARGET:PORT from one socket; each reply
        must equal what was sent and come from TARGET:PORT. Gives up after
        --max-lost losses in a row (the rest count as lost). Prints
        "sent=N ok=N lost=N bad=N wrongsrc=N late=N sport=P" and exits 0
        only if every datagram came back intact.
cone:   from one socket, send b"CONE:..." to TARGET:PORT; expects the echo
        from TARGET:PORT and the copy from TARGET:ALT. With --two-targets,
        instead sends one plain datagram to each of PORT and ALT from the
        same socket and expects both echoes. Prints "main=0|1 alt=0|1
        sport=P"; exit 0 if both arrived.
multi:  SOCKETS sockets (distinct source ports) send COUNT rounds of tagged
        datagrams to TARGET:PORT; every socket must get back exactly its own
        datagrams (gives up after --max-lost-rounds bad rounds). Prints "ports=P1,P2,.. ok=N lost=N cross=N".

Every wait is bounded (--timeout per datagram / round).
"""
import argparse
import os
import random
import select
import signal
import socket
import sys
import time


def fam(host):
    return socket.AF_INET6 if ":" in host else socket.AF_INET


def norm(addr):
    """(host, port) of a recvfrom address, IPv6 without scope/flow."""
    return (addr[0].split("%")[0].lower(), addr[1])


def ep(addr):
    h, p = norm(addr)
    return ("[%s]:%d" % (h, p)) if ":" in h else ("%s:%d" % (h, p))


def client_socket(host, sport=0):
    s = socket.socket(fam(host), socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
    s.bind(("::" if ":" in host else "0.0.0.0", sport))
    return s


def recv_until(sock, deadline, bufsize=65536):
    """One datagram (data, addr) or None when the deadline passes."""
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return None
        r, _, _ = select.select([sock], [], [], left)
        if r:
            return sock.recvfrom(bufsize)


# ---- server -------------------------------------------------------------------
def serve(a):
    socks = {}  # fileno -> (sock, kind, alt-sock)
    for host in a.bind:
        f = fam(host)
        main = socket.socket(f, socket.SOCK_DGRAM)
        main.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
        main.bind((host, a.port))
        alt = None
        if a.alt_port:
            alt = socket.socket(f, socket.SOCK_DGRAM)
            alt.bind((host, a.alt_port))
            socks[alt.fileno()] = (alt, "alt", None)
        socks[main.fileno()] = (main, "main", alt)
    log = open(a.log, "a", buffering=1) if a.log else None
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    while not stop:
        try:
            r, _, _ = select.select(list(socks), [], [], 1.0)
        except InterruptedError:
            continue
        for fd in r:
            s, kind, alt = socks[fd]
            try:
                data, addr = s.recvfrom(65536)
            except OSError:
                continue
            if log:
                log.write("rx %s -> :%d %d\n" % (ep(addr), s.getsockname()[1], len(data)))
            try:
                s.sendto(data, addr)
                if kind == "main" and alt is not None and data.startswith(b"CONE:"):
                    alt.sendto(b"ALT:" + data[5:], addr)
            except OSError as e:
                if log:
                    log.write("tx error to %s: %s\n" % (ep(addr), e))
    return 0


# ---- clients ------------------------------------------------------------------
def sizes(count, max_size, rnd):
    fixed = [1, 2, 3, 8, 100, 512, 1000, 1200, 1252, 1272, 1400, 1452, 1472,
             1473, 1500, 2000, 4096, 7999, 8000]
    out = [n for n in fixed if n <= max_size][:count]
    while len(out) < count:
        out.append(rnd.randint(1, max_size))
    rnd.shuffle(out)
    return out


def echo(a):
    rnd = random.Random(a.seed if a.seed is not None else os.getpid())
    sock = client_socket(a.target, a.sport)
    want_src = (a.target.lower(), a.port)
    sent = set()
    ok = lost = bad = wrongsrc = late = run = 0
    aborted = 0
    for n in sizes(a.count, a.max_size, rnd):
        if a.max_lost and run >= a.max_lost:
            # that many in a row: the path is broken, do not wait out the rest
            aborted += 1
            lost += 1
            continue
        payload = rnd.randbytes(n)
        sock.sendto(payload, (a.target, a.port))
        sent.add(payload)
        deadline = time.monotonic() + a.timeout
        while True:
            got = recv_until(sock, deadline)
            if got is None:
                lost += 1
                run += 1
                if a.verbose:
                    print("lost: %d bytes" % n, file=sys.stderr)
                break
            data, addr = got
            if norm(addr) != want_src:
                wrongsrc += 1
                print("reply from %s, want %s" % (ep(addr), ep(want_src)), file=sys.stderr)
                continue
            if data == payload:
                ok += 1
                run = 0
                break
            if data in sent:
                late += 1
                continue
            bad += 1
            print("corrupt reply: %d bytes for %d sent" % (len(data), n), file=sys.stderr)
            break
        if a.gap:
            time.sleep(a.gap)
    print("sent=%d ok=%d lost=%d bad=%d wrongsrc=%d late=%d sport=%d%s" %
          (a.count - aborted, ok, lost, bad, wrongsrc, late, sock.getsockname()[1],
           " gave-up-after=%d-lost-in-a-row" % a.max_lost if aborted else ""))
    return 0 if ok == a.count and not (bad or wrongsrc) else 1


def cone(a):
    sock = client_socket(a.target, a.sport)
    main_src = (a.target.lower(), a.port)
    alt_src = (a.target.lower(), a.alt_port)
    tag = os.urandom(8).hex().encode()
    if a.two_targets:
        sock.sendto(b"ONE:" + tag, (a.target, a.port))
        sock.sendto(b"TWO:" + tag, (a.target, a.alt_port))
        want = {main_src: b"ONE:" + tag, alt_src: b"TWO:" + tag}
    else:
        sock.sendto(b"CONE:" + tag, (a.target, a.port))
        want = {main_src: b"CONE:" + tag, alt_src: b"ALT:" + tag}
    got = {}
    deadline = time.monotonic() + a.timeout
    while len(got) < 2:
        r = recv_until(sock, deadline)
        if r is None:
            break
        data, addr = r
        src = norm(addr)
        if src in want and data == want[src]:
            got[src] = 1
        else:
            print("unexpected %d bytes from %s" % (len(data), ep(addr)), file=sys.stderr)
    print("main=%d alt=%d sport=%d" % (got.get(main_src, 0), got.get(alt_src, 0),
                                       sock.getsockname()[1]))
    return 0 if len(got) == 2 else 1


def multi(a):
    socks = [client_socket(a.target, 0) for _ in range(a.sockets)]
    ports = [s.getsockname()[1] for s in socks]
    want_src = (a.target.lower(), a.port)
    ok = lost = cross = wrongsrc = bad_rounds = 0
    for rnd_i in range(a.count):
        if a.max_lost_rounds and bad_rounds >= a.max_lost_rounds:
            lost += a.sockets * (a.count - rnd_i)   # not sent: path broken
            print("gave up after %d rounds with losses in a row" % bad_rounds, file=sys.stderr)
            break
        pending = {}
        for i, s in enumerate(socks):
            msg = b"S%d:R%d:" % (i, rnd_i) + os.urandom(16 + 37 * i)
            s.sendto(msg, (a.target, a.port))
            pending[s.fileno()] = msg
        byfd = {s.fileno(): (i, s) for i, s in enumerate(socks)}
        deadline = time.monotonic() + a.timeout
        while pending:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            r, _, _ = select.select([byfd[fd][1] for fd in byfd], [], [], left)
            for s in r:
                data, addr = s.recvfrom(65536)
                i = byfd[s.fileno()][0]
                if norm(addr) != want_src:
                    wrongsrc += 1
                elif pending.get(s.fileno()) == data:
                    ok += 1
                    del pending[s.fileno()]
                else:
                    cross += 1
                    print("socket %d got %r" % (i, data[:12]), file=sys.stderr)
        lost += len(pending)
        bad_rounds = bad_rounds + 1 if pending else 0
    print("ports=%s ok=%d lost=%d cross=%d wrongsrc=%d" %
          (",".join(map(str, ports)), ok, lost, cross, wrongsrc))
    return 0 if ok == a.count * a.sockets and not (cross or wrongsrc) else 1


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="mode", required=True)
    s = sub.add_parser("server")
    s.add_argument("--bind", action="append", required=True)
    s.add_argument("--port", type=int, required=True)
    s.add_argument("--alt-port", type=int, default=0)
    s.add_argument("--log")
    for name in ("echo", "cone", "multi"):
        c = sub.add_parser(name)
        c.add_argument("--target", required=True)
        c.add_argument("--port", type=int, required=True)
        c.add_argument("--timeout", type=float, default=3.0)
        if name == "echo":
            c.add_argument("--count", type=int, default=200)
            c.add_argument("--max-size", type=int, default=8000)
            c.add_argument("--sport", type=int, default=0)
            c.add_argument("--seed", type=int)
            c.add_argument("--gap", type=float, default=0.0)
            c.add_argument("--max-lost", type=int, default=5,
                           help="give up after this many lost in a row (0: never)")
            c.add_argument("--verbose", action="store_true")
        elif name == "cone":
            c.add_argument("--alt-port", type=int, required=True)
            c.add_argument("--sport", type=int, default=0)
            c.add_argument("--two-targets", action="store_true")
        else:
            c.add_argument("--sockets", type=int, default=2)
            c.add_argument("--count", type=int, default=20)
            c.add_argument("--max-lost-rounds", type=int, default=3,
                           help="give up after this many rounds with losses in a row (0: never)")
    a = p.parse_args()
    return {"server": serve, "echo": echo, "cone": cone, "multi": multi}[a.mode](a)


if __name__ == "__main__":
    sys.exit(main())
