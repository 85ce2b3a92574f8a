#!/usr/bin/env python3
"""A DNS server that answers late: every query over UDP is answered after
--delay seconds (each in a thread of its own, so queries overlap). A for
names under --zone get --addr; names under --fast-zone get --fast-addr at
once; anything else gets an empty NOERROR answer.
Used by test_reload.sh to stand for a slow system resolver (no third-party
modules)."""
import argparse
import socket
import struct
import threading
import time


def parse_question(msg):
    off = 12
    labels = []
    while off < len(msg) and msg[off] != 0:
        n = msg[off]
        labels.append(msg[off + 1:off + 1 + n].decode("ascii", "replace"))
        off += 1 + n
    qtype = struct.unpack("!H", msg[off + 1:off + 3])[0]
    return ".".join(labels).lower(), qtype, off + 5


def in_zone(name, zone):
    return zone is not None and (name == zone or name.endswith("." + zone))


def answer(msg, zones):
    qid = struct.unpack("!H", msg[:2])[0]
    name, qtype, qend = parse_question(msg)
    question = msg[12:qend]
    rr = b""
    for zone, addr in zones:
        if qtype == 1 and in_zone(name, zone):
            rr = b"\xc0\x0c" + struct.pack("!HHIH", 1, 1, 5, 4) + socket.inet_aton(addr)
            break
    head = struct.pack("!HHHHHH", qid, 0x8180, 1, 1 if rr else 0, 0, 0)
    return head + question + rr


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bind", required=True)
    ap.add_argument("--delay", type=float, default=3.0)
    ap.add_argument("--zone", required=True)
    ap.add_argument("--addr", required=True)
    ap.add_argument("--fast-zone")
    ap.add_argument("--fast-addr")
    ap.add_argument("--log")
    a = ap.parse_args()
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((a.bind, 53))
    log = open(a.log, "a", buffering=1) if a.log else None

    zones = [(a.zone, a.addr), (a.fast_zone, a.fast_addr)]

    def late(msg, peer):
        if not in_zone(parse_question(msg)[0], a.fast_zone):
            time.sleep(a.delay)
        try:
            s.sendto(answer(msg, zones), peer)
            if log:
                log.write("%.3f answered %s for %s\n" % (time.time(), parse_question(msg)[0], peer[0]))
        except Exception as e:  # a malformed query: no answer
            if log:
                log.write("error %s\n" % e)

    while True:
        msg, peer = s.recvfrom(4096)
        if log:
            log.write("%.3f query %s from %s\n" % (time.time(), parse_question(msg)[0], peer[0]))
        threading.Thread(target=late, args=(msg, peer), daemon=True).start()


if __name__ == "__main__":
    main()
