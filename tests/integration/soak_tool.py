#!/usr/bin/env python3
"""soak_tool.py: loads for the memory-budget soak (test_limits.sh).

  slowget HOST N SECONDS   N connections that each ask for /64m and read
                           nothing for SECONDS (the data piles up towards
                           the client), then close; prints opened=N
  getall HOST N SECONDS    the same, with all N connects started at once
                           (non-blocking; the GET goes out as each one
                           connects, those not connected within 30 s are
                           dropped); prints opened=K once they settled
  udpports HOST PORT N     one datagram from each of N source ports
  rss PID SECONDS OUT      samples PID's VmRSS every 0.1 s into OUT
                           ("seconds kB" lines) for SECONDS
  burst HOST PORT N        N non-blocking connects started at once; prints
                           connected=K all=SECONDS slowest=SECONDS (the
                           time until every one, and the longest one, took)
"""
import resource
import select
import socket
import sys
import time


def slowget(host, n, seconds):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, n + 256)), hard))
    socks = []
    for _ in range(n):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.settimeout(10)
        try:
            s.connect((host, 80))
            s.sendall(b"GET /64m HTTP/1.1\r\nHost: x\r\n\r\n")
            socks.append(s)
        except OSError:
            s.close()
    print("opened=%d" % len(socks), flush=True)
    time.sleep(seconds)
    for s in socks:
        s.close()


def getall(host, n, seconds):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, n + 256)), hard))
    ep = select.epoll()
    socks, opened = {}, []
    for _ in range(n):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setblocking(False)
        try:
            s.connect((host, 80))
        except BlockingIOError:
            pass
        except OSError:
            s.close()
            continue
        socks[s.fileno()] = s
        ep.register(s.fileno(), select.EPOLLOUT)
    t0 = time.monotonic()
    while socks and time.monotonic() - t0 < 30:
        for fd, _ in ep.poll(0.5):
            ep.unregister(fd)
            s = socks.pop(fd)
            try:
                if s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) != 0:
                    raise OSError
                s.send(b"GET /64m HTTP/1.1\r\nHost: x\r\n\r\n")
                opened.append(s)
            except OSError:
                s.close()
    for s in socks.values():
        s.close()
    print("opened=%d" % len(opened), flush=True)
    time.sleep(seconds)
    for s in opened:
        s.close()


def udpports(host, port, n):
    socks = []
    for i in range(n):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.sendto(b"soak %d" % i, (host, port))
        socks.append(s)
        if len(socks) >= 500:
            for t in socks:
                t.close()
            socks = []
    for t in socks:
        t.close()


def rss(pid, seconds, out):
    t0 = time.time()
    with open(out, "w") as f:
        while time.time() - t0 < seconds:
            try:
                with open("/proc/%d/status" % pid) as st:
                    for line in st:
                        if line.startswith("VmRSS:"):
                            f.write("%.1f %s\n" % (time.time() - t0, line.split()[1]))
                            f.flush()
            except OSError:
                return
            time.sleep(0.1)


def burst(host, port, n):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, n + 256)), hard))
    ep = select.epoll()
    socks, started = {}, {}
    t0 = time.monotonic()
    for _ in range(n):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setblocking(False)
        try:
            s.connect((host, port))
        except BlockingIOError:
            pass
        socks[s.fileno()] = s
        started[s.fileno()] = time.monotonic()
        ep.register(s.fileno(), select.EPOLLOUT)
    done, slowest = 0, 0.0
    while done < n and time.monotonic() - t0 < 30:
        for fd, _ in ep.poll(0.5):
            ep.unregister(fd)
            if socks[fd].getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) == 0:
                done += 1
                slowest = max(slowest, time.monotonic() - started[fd])
    print("connected=%d all=%.2f slowest=%.2f" % (done, time.monotonic() - t0, slowest))
    for s in socks.values():
        s.close()


if __name__ == "__main__":
    cmd = sys.argv[1]
    if cmd == "slowget":
        slowget(sys.argv[2], int(sys.argv[3]), float(sys.argv[4]))
    elif cmd == "getall":
        getall(sys.argv[2], int(sys.argv[3]), float(sys.argv[4]))
    elif cmd == "udpports":
        udpports(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
    elif cmd == "burst":
        burst(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
    elif cmd == "rss":
        rss(int(sys.argv[2]), float(sys.argv[3]), sys.argv[4])
    else:
        sys.exit("unknown command " + cmd)
