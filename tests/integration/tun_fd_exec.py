#!/usr/bin/env python3
"""Runs the daemon on a TUN it did not open: the --tun-fd case of a program
that opened the device in its own way. Opens /dev/net/tun as IFF_TUN |
IFF_NO_PI without IFF_VNET_HDR (so no offload header, no checksum or
segmentation offload either way), configures it as the daemon would have
(name, MTU, addresses, up), and execs the daemon on the descriptor.

Used as T2S_BIN by tests (lib.sh's daemon_start passes its usual arguments):
  T2S_REAL_BIN=build/tun2socks tun_fd_exec.py --proxy ... --tun NAME
      --tun-addr A/P --tun-addr6 B/Q [--mtu N] [other daemon arguments]
--tun, --tun-addr and --tun-addr6 are taken here; the rest goes to the
daemon, followed by --tun-fd N.
"""
import fcntl
import os
import struct
import subprocess
import sys

TUNSETIFF = 0x400454CA
IFF_TUN = 0x0001
IFF_NO_PI = 0x1000


def main():
    real = os.environ.get("T2S_REAL_BIN")
    if not real:
        sys.exit("tun_fd_exec: T2S_REAL_BIN is not set")
    args, rest = sys.argv[1:], []
    name, a4, a6, mtu = "tun0", None, None, "8500"
    i = 0
    while i < len(args):
        a = args[i]
        if a in ("--tun", "--tun-addr", "--tun-addr6") and i + 1 < len(args):
            v = args[i + 1]
            if a == "--tun":
                name = v
            elif a == "--tun-addr":
                a4 = v
            else:
                a6 = v
            i += 2
            continue
        if a == "--mtu" and i + 1 < len(args):
            mtu = args[i + 1]
        rest.append(a)
        i += 1
    fd = os.open("/dev/net/tun", os.O_RDWR)
    ifr = struct.pack("16sH22x", name.encode(), IFF_TUN | IFF_NO_PI)
    fcntl.ioctl(fd, TUNSETIFF, ifr)
    os.set_inheritable(fd, True)
    subprocess.run(["ip", "link", "set", "dev", name, "mtu", mtu, "up"], check=True)
    if a4:
        subprocess.run(["ip", "addr", "add", a4, "dev", name], check=True)
    if a6:
        subprocess.run(["ip", "-6", "addr", "add", a6, "dev", name, "nodad"], check=True)
    print("tun_fd_exec: %s opened without IFF_VNET_HDR, fd %d" % (name, fd),
          file=sys.stderr, flush=True)
    os.execv(real, [real] + rest + ["--tun-fd", str(fd)])


if __name__ == "__main__":
    main()
