#!/usr/bin/env python3
"""soak_tool.py: loads for the memory-budget soak (test_limits.sh).

  slowget HOST N SECONDS   N connections that each ask for /64m and read
                           nothing for SECONDS (the data piles up towards
                           the client), then close; prints opened=N
  udpports HOST PORT N     one datagram from each of N source ports
  rss PID SECONDS OUT      samples PID's VmRSS every 0.1 s into OUT
                           ("seconds kB" lines) for SECONDS
"""
import socket
import sys
import time


def slowget(host, n, seconds):
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


if __name__ == "__main__":
    cmd = sys.argv[1]
    if cmd == "slowget":
        slowget(sys.argv[2], int(sys.argv[3]), float(sys.argv[4]))
    elif cmd == "udpports":
        udpports(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
    elif cmd == "rss":
        rss(int(sys.argv[2]), float(sys.argv[3]), sys.argv[4])
    else:
        sys.exit("unknown command " + cmd)
