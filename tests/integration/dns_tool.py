#!/usr/bin/env python3
"""DNS clients for tests/integration/test_dns.sh (no third-party modules).

cycle:   ask COUNT distinct names (n<i>.<SUFFIX>, type A) of SERVER over
         UDP, WINDOW queries in flight. Every answer must be NOERROR with
         exactly one A record inside --range. No name may be handed
         --pinned-addr (a live flow holds it), and after the cycle --pinned
         must still map to it. Prints "asked=N answered=N bad=N
         pinned_changed=N collisions=N distinct=N" and exits 0 only when
         everything held.
garbage: sends COUNT malformed messages (random bytes, truncated headers,
         a response, bad label lengths) to SERVER over UDP and one over TCP;
         reads what comes back (bounded). Prints "sent=N replies=N
         formerr=N other=N". Exits 0 (the shell checks the daemon survived).
latency: COUNT stop-and-wait A queries over UDP to SERVER (names cycle
         through --names distinct ones); prints "n=N p50_us=X p99_us=Y
         lost=N" of the round-trip times.
tcpflood: one TCP connection to SERVER:53; writes COUNT framed queries
         without reading (until the socket stays blocked for 2 s), then
         reads answers until 5 s pass without one. Prints "sent=N
         answered=N".
flood:   for --seconds, send queries of --qtype for distinct names
         (f<i>.<SUFFIX>) to SERVER:53 over UDP from --sockets sockets, as
         fast as they take them (at most --rate a second when given),
         reading answers meanwhile; then waits --drain seconds for the
         rest. Prints "sent=N answered=N servfail=N noerror=N other=N
         p50_ms=X max_ms=Y". Exits 0 (the shell judges).
churn:   asks SERVER for the A records of --targets names (t<i>.<SUFFIX>),
         then of --churn other names (c<k>.<CHURN_SUFFIX>), then connects
         to each target's answer on --port and GETs --path with the
         target's name as Host, expecting a body of --sha256. Prints
         "targets=N resolved=N churn=N churn_servfail=N ok=N wrong=N
         failed=N" (wrong: reset, refused or another body: the address
         led somewhere else). Exit 0 only when every target was ok.
hold:    connect to HOST:PORT (TCP), print "connected", then every second
         send a line and expect it back (the sink's echo port) until
         --seconds pass. Prints "rounds=N ok=N". Exit 0 if all ok.
"""
import argparse
import ipaddress
import os
import random
import select
import socket
import struct
import sys
import time


def build_query(qid, name, qtype=1):
    q = struct.pack("!HHHHHH", qid, 0x0100, 1, 0, 0, 0)
    for label in name.split("."):
        q += bytes([len(label)]) + label.encode()
    return q + b"\x00" + struct.pack("!HH", qtype, 1)


def skip_name(msg, off):
    while True:
        n = msg[off]
        if n == 0:
            return off + 1
        if n & 0xC0 == 0xC0:
            return off + 2
        off += 1 + n


def parse_answer(msg):
    """(id, rcode, [ipv4 strings])"""
    qid, flags, qd, an = struct.unpack("!HHHH", msg[:8])
    off = 12
    for _ in range(qd):
        off = skip_name(msg, off) + 4
    addrs = []
    for _ in range(an):
        off = skip_name(msg, off)
        rtype, _cls, _ttl, rdlen = struct.unpack("!HHIH", msg[off:off + 10])
        off += 10
        if rtype == 1 and rdlen == 4:
            addrs.append(str(ipaddress.IPv4Address(msg[off:off + 4])))
        off += rdlen
    return qid, flags & 0xF, addrs


def cmd_cycle(a):
    net = ipaddress.ip_network(a.range)
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.connect((a.server, 53))
    inflight = {}          # id -> (name, sent_at, tries)
    owner = {}             # address -> name, as last handed out
    todo = [f"n{i}.{a.suffix}" for i in range(a.count)]
    asked = answered = bad = pinned_changed = collisions = 0
    pinned_addr = a.pinned_addr
    final = False
    nid = 1
    t0 = time.time()
    deadline = t0 + a.timeout
    while (todo or inflight or (a.pinned and not final)) and time.time() < deadline:
        if not todo and not inflight:
            todo.append(a.pinned)   # the cycle is over: ask it once more
            final = True
        while todo and len(inflight) < a.window:
            name = todo.pop(0)
            nid = (nid + 1) & 0xFFFF or 1
            inflight[nid] = (name, time.time(), 0)
            s.send(build_query(nid, name))
            asked += 1
        r, _, _ = select.select([s], [], [], 0.2)
        now = time.time()
        if not r:
            for qid, (name, t, tries) in list(inflight.items()):
                if now - t > 1.0:
                    if tries >= 3:
                        del inflight[qid]
                        bad += 1
                    else:
                        inflight[qid] = (name, now, tries + 1)
                        s.send(build_query(qid, name))
            continue
        msg = s.recv(4096)
        qid, rcode, addrs = parse_answer(msg)
        if qid not in inflight:
            continue
        name = inflight.pop(qid)[0]
        answered += 1
        if rcode != 0 or len(addrs) != 1 or ipaddress.ip_address(addrs[0]) not in net:
            bad += 1
            print(f"bad answer for {name}: rcode={rcode} {addrs}", file=sys.stderr)
            continue
        addr = addrs[0]
        if name == a.pinned:
            if addr != pinned_addr:
                pinned_changed += 1
                print(f"{name} moved from {pinned_addr} to {addr}", file=sys.stderr)
        elif pinned_addr is not None and addr == pinned_addr:
            collisions += 1
            print(f"{name} got the pinned address {addr}", file=sys.stderr)
        owner[addr] = name
    bad += len(inflight)
    print(f"asked={asked} answered={answered} bad={bad} "
          f"pinned_changed={pinned_changed} collisions={collisions} distinct={len(owner)} "
          f"seconds={time.time() - t0:.1f}")
    ok = bad == 0 and pinned_changed == 0 and collisions == 0
    return 0 if ok else 1


def cmd_garbage(a):
    rnd = random.Random(a.seed)
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.connect((a.server, 53))
    msgs = []
    for i in range(a.count):
        kind = i % 5
        if kind == 0:
            m = bytes(rnd.getrandbits(8) for _ in range(rnd.randint(0, 300)))
        elif kind == 1:
            m = build_query(i, "x.example.test")[:rnd.randint(0, 16)]
        elif kind == 2:   # a response: must be dropped
            m = bytearray(build_query(i, "r.example.test"))
            m[2] |= 0x80
            m = bytes(m)
        elif kind == 3:   # label length running past the end
            m = struct.pack("!HHHHHH", i, 0x0100, 1, 0, 0, 0) + b"\x3fabc"
        else:             # two questions
            m = bytearray(build_query(i, "two.example.test"))
            m[5] = 2
            m = bytes(m)
        msgs.append(m)
    replies = formerr = other = 0
    # All of them at once, then whatever comes back until a second of
    # silence: most get no answer (responses and unparseable messages are
    # dropped), and a wait per message made this 200 timeouts long.
    for m in msgs:
        s.send(m if m else b"\x00")
    s.settimeout(1.0)
    while True:
        try:
            r = s.recv(4096)
        except socket.timeout:
            break
        except ConnectionRefusedError:
            continue
        replies += 1
        if len(r) >= 4 and r[3] & 0xF == 1:
            formerr += 1
        else:
            other += 1
    # TCP: a zero-length frame, then garbage
    try:
        t = socket.create_connection((a.server, 53), timeout=3)
        t.sendall(b"\x00\x05hello\x00\x00")
        t.settimeout(2)
        try:
            t.recv(100)
        except (socket.timeout, ConnectionResetError):
            pass
        t.close()
    except OSError as e:
        print(f"tcp: {e}", file=sys.stderr)
    print(f"sent={len(msgs)} replies={replies} formerr={formerr} other={other}")
    return 0


def cmd_latency(a):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.connect((a.server, a.port))
    s.settimeout(1.0)
    names = [f"l{i}.{a.suffix}" for i in range(a.names)]
    rtts = []
    lost = 0
    for i in range(a.count + 100):
        qid = (i % 65535) + 1
        q = build_query(qid, names[i % len(names)])
        t = time.perf_counter()
        s.send(q)
        try:
            while True:
                r = s.recv(4096)
                if struct.unpack("!H", r[:2])[0] == qid:
                    break
        except socket.timeout:
            lost += 1
            continue
        if i >= 100:      # the first round warms caches and the pool
            rtts.append(time.perf_counter() - t)
    rtts.sort()
    if not rtts:
        print(f"n=0 lost={lost}")
        return 1
    p = lambda f: rtts[min(len(rtts) - 1, int(f * len(rtts)))] * 1e6
    print(f"n={len(rtts)} p50_us={p(0.5):.0f} p99_us={p(0.99):.0f} lost={lost}")
    return 0


def cmd_tcpflood(a):
    c = socket.create_connection((a.server, 53), timeout=5)
    c.setblocking(False)
    sent = 0
    pending = b""
    stuck_since = None
    while sent < a.count:
        if not pending:
            q = build_query((sent % 65535) + 1, f"f{sent}.example.test")
            pending = struct.pack("!H", len(q)) + q
        try:
            n = c.send(pending)
            pending = pending[n:]
            if not pending:
                sent += 1
            stuck_since = None
        except BlockingIOError:
            stuck_since = stuck_since or time.time()
            if time.time() - stuck_since > 2:
                break
            select.select([], [c], [], 0.1)
    answered = 0
    buf = b""
    c.setblocking(True)
    # a loaded machine may pause the daemon for seconds between answers
    c.settimeout(15)
    try:
        while True:
            d = c.recv(65536)
            if not d:
                break
            buf += d
            while len(buf) >= 2:
                n = struct.unpack("!H", buf[:2])[0]
                if len(buf) < 2 + n:
                    break
                buf = buf[2 + n:]
                answered += 1
            if answered >= sent:
                break
    except (socket.timeout, ConnectionResetError):
        pass
    print(f"sent={sent} answered={answered}")
    return 0


def cmd_flood(a):
    qtype = {"A": 1, "MX": 15, "TXT": 16, "AAAA": 28, "HTTPS": 65}[a.qtype]
    socks = []
    for _ in range(a.sockets):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.connect((a.server, 53))
        s.setblocking(False)
        socks.append(s)
    sent_at = {}           # (socket index, id) -> time sent
    rtts = []
    sent = answered = servfail = noerror = other = 0
    t0 = time.time()
    end = t0 + a.seconds
    interval = 1.0 / a.rate if a.rate > 0 else 0.0
    next_send = t0

    def read_all(timeout):
        nonlocal answered, servfail, noerror, other
        r, _, _ = select.select(socks, [], [], timeout)
        for s in r:
            i = socks.index(s)
            while True:
                try:
                    msg = s.recv(4096)
                except (BlockingIOError, ConnectionRefusedError):
                    break
                if len(msg) < 12:
                    continue
                qid, flags = struct.unpack("!HH", msg[:4])
                t = sent_at.pop((i, qid), None)
                if t is None:
                    continue
                answered += 1
                rtts.append(time.time() - t)
                rcode = flags & 0xF
                if rcode == 2:
                    servfail += 1
                elif rcode == 0:
                    noerror += 1
                else:
                    other += 1

    while time.time() < end:
        now = time.time()
        if now >= next_send:
            i = sent % len(socks)
            qid = (sent // len(socks)) % 65535 + 1
            try:
                socks[i].send(build_query(qid, f"f{sent}.{a.suffix}", qtype))
                sent_at[(i, qid)] = now
                sent += 1
            except (BlockingIOError, ConnectionRefusedError):
                pass
            next_send = now + interval
        read_all(0 if interval == 0 else max(0.0, next_send - time.time()))
    end = time.time() + a.drain
    while sent_at and time.time() < end:
        read_all(0.1)
    rtts.sort()
    p50 = rtts[len(rtts) // 2] * 1000 if rtts else 0
    mx = rtts[-1] * 1000 if rtts else 0
    print(f"sent={sent} answered={answered} servfail={servfail} noerror={noerror} "
          f"other={other} p50_ms={p50:.1f} max_ms={mx:.1f}", flush=True)
    return 0


def ask_a(s, qid, name, tries=3):
    """(rcode, [addresses]) of one A query over the connected socket s."""
    for _ in range(tries):
        s.send(build_query(qid, name))
        end = time.time() + 1.0
        while time.time() < end:
            r, _, _ = select.select([s], [], [], max(0.0, end - time.time()))
            if not r:
                break
            got, rcode, addrs = parse_answer(s.recv(4096))
            if got == qid:
                return rcode, addrs
    return -1, []


def http_get(addr, port, host, path, timeout):
    """sha256 hex of the body, or raises OSError."""
    import hashlib
    c = socket.create_connection((addr, port), timeout=timeout)
    try:
        c.sendall(f"GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
                  .encode())
        data = b""
        while True:
            d = c.recv(65536)
            if not d:
                break
            data += d
    finally:
        c.close()
    head, _, body = data.partition(b"\r\n\r\n")
    if not head.startswith(b"HTTP/1.1 200"):
        raise OSError(f"status {head[:40]!r}")
    return hashlib.sha256(body).hexdigest()


def cmd_churn(a):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.connect((a.server, 53))
    qid = 1
    targets = []
    for i in range(a.targets):
        name = f"t{i}.{a.suffix}"
        rcode, addrs = ask_a(s, qid, name)
        qid += 1
        if rcode == 0 and len(addrs) == 1:
            targets.append((name, addrs[0]))
        else:
            print(f"target {name}: rcode={rcode} {addrs}", file=sys.stderr)
    servfail = 0
    for k in range(a.churn):
        rcode, _ = ask_a(s, qid & 0xFFFF or 1, f"c{k}.{a.churn_suffix}")
        qid += 1
        servfail += rcode == 2
    ok = wrong = failed = 0
    for name, addr in targets:
        try:
            got = http_get(addr, a.port, name, a.path, a.timeout)
            if got == a.sha256:
                ok += 1
            else:
                wrong += 1
                print(f"{name} at {addr}: another body", file=sys.stderr)
        except (ConnectionResetError, ConnectionRefusedError, BrokenPipeError) as e:
            wrong += 1
            print(f"{name} at {addr}: {e!r}", file=sys.stderr)
        except OSError as e:
            failed += 1
            print(f"{name} at {addr}: {e!r}", file=sys.stderr)
    print(f"targets={a.targets} resolved={len(targets)} churn={a.churn} "
          f"churn_servfail={servfail} ok={ok} wrong={wrong} failed={failed}", flush=True)
    return 0 if ok == a.targets else 1


def cmd_hold(a):
    c = socket.create_connection((a.host, a.port), timeout=5)
    print("connected", flush=True)
    rounds = ok = 0
    end = time.time() + a.seconds
    while time.time() < end:
        line = f"ping {rounds}\n".encode()
        c.sendall(line)
        got = b""
        c.settimeout(5)
        try:
            while len(got) < len(line):
                d = c.recv(len(line) - len(got))
                if not d:
                    break
                got += d
        except socket.timeout:
            pass
        rounds += 1
        ok += got == line
        time.sleep(1)
    print(f"rounds={rounds} ok={ok}", flush=True)
    return 0 if rounds == ok and rounds > 0 else 1


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("cycle")
    c.add_argument("--server", required=True)
    c.add_argument("--suffix", default="cycle.example.test")
    c.add_argument("--count", type=int, default=10000)
    c.add_argument("--window", type=int, default=64)
    c.add_argument("--range", required=True)
    c.add_argument("--pinned")
    c.add_argument("--pinned-addr")
    c.add_argument("--timeout", type=float, default=120)
    g = sub.add_parser("garbage")
    g.add_argument("--server", required=True)
    g.add_argument("--count", type=int, default=200)
    g.add_argument("--seed", type=int, default=1)
    l = sub.add_parser("latency")
    l.add_argument("--server", required=True)
    l.add_argument("--port", type=int, default=53)
    l.add_argument("--suffix", default="example.test")
    l.add_argument("--count", type=int, default=20000)
    l.add_argument("--names", type=int, default=100)
    t = sub.add_parser("tcpflood")
    t.add_argument("--server", required=True)
    t.add_argument("--count", type=int, default=20000)
    fl = sub.add_parser("flood")
    fl.add_argument("--server", required=True)
    fl.add_argument("--suffix", default="flood.example.test")
    fl.add_argument("--qtype", default="MX")
    fl.add_argument("--seconds", type=float, default=5)
    fl.add_argument("--sockets", type=int, default=8)
    fl.add_argument("--rate", type=float, default=0)
    fl.add_argument("--drain", type=float, default=5)
    ch = sub.add_parser("churn")
    ch.add_argument("--server", required=True)
    ch.add_argument("--suffix", default="example.test")
    ch.add_argument("--churn-suffix", default="churn.example.test")
    ch.add_argument("--targets", type=int, default=20)
    ch.add_argument("--churn", type=int, default=300)
    ch.add_argument("--port", type=int, default=80)
    ch.add_argument("--path", default="/1k")
    ch.add_argument("--sha256", required=True)
    ch.add_argument("--timeout", type=float, default=10)
    h = sub.add_parser("hold")
    h.add_argument("--host", required=True)
    h.add_argument("--port", type=int, required=True)
    h.add_argument("--seconds", type=float, default=10)
    a = p.parse_args()
    return {"cycle": cmd_cycle, "garbage": cmd_garbage, "latency": cmd_latency,
            "tcpflood": cmd_tcpflood, "hold": cmd_hold, "flood": cmd_flood,
            "churn": cmd_churn}[a.cmd](a)


if __name__ == "__main__":
    sys.exit(main())
