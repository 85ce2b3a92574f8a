#!/usr/bin/env python3
"""quic_initial.py: a QUIC client's first flight, built as a client would.

A TLS 1.3 ClientHello naming SNI, carried in CRYPTO frames of QUIC version 1
(or 2) Initial packets, protected with the keys RFC 9001 section 5.2 derives
from the destination connection ID (python3-cryptography: HKDF-SHA256,
AES-128-GCM, AES-ECB header protection). With --split the ClientHello is
padded past one packet and spread over two Initials, one per datagram, as
clients with post-quantum key shares send it.

  quic_initial.py --sni NAME [--split] [--v2] --hex FILE
      one datagram per line, in hex (unit-test data)
  quic_initial.py --sni NAME [--split] [--v2] --send HOST PORT [--wait S]
      sends the datagrams from one socket; prints "reply N" for the first
      datagram answered within S seconds, or "no reply"
"""
import argparse
import os
import socket
import struct
import sys

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDFExpand
from cryptography.hazmat.primitives import hmac

SALT_V1 = bytes.fromhex("38762cf7f55934b34d179ae6a4c80cadccbb7f0a")
SALT_V2 = bytes.fromhex("0dede3def700a6db819381be6e269dcbf9bd2ed9")


def hkdf_extract(salt, ikm):
    h = hmac.HMAC(salt, hashes.SHA256())
    h.update(ikm)
    return h.finalize()


def expand_label(secret, label, length):
    full = b"tls13 " + label.encode()
    info = struct.pack(">HB", length, len(full)) + full + b"\x00"
    return HKDFExpand(hashes.SHA256(), length, info).derive(secret)


def client_keys(dcid, v2):
    initial = hkdf_extract(SALT_V2 if v2 else SALT_V1, dcid)
    client = expand_label(initial, "client in", 32)
    p = "quicv2 " if v2 else "quic "
    return (expand_label(client, p + "key", 16), expand_label(client, p + "iv", 12),
            expand_label(client, p + "hp", 16))


def ext(kind, body):
    return struct.pack(">HH", kind, len(body)) + body


def client_hello(sni, pad):
    name = sni.encode()
    exts = ext(0, struct.pack(">HBH", len(name) + 3, 0, len(name)) + name)
    exts += ext(43, b"\x02\x03\x04")  # supported_versions: TLS 1.3
    exts += ext(10, b"\x00\x02\x00\x1d")  # supported_groups: x25519
    exts += ext(51, struct.pack(">HHH", 36, 0x1D, 32) + os.urandom(32))  # key_share
    exts += ext(0x39, b"\x01\x02\x40\x64")  # quic_transport_parameters
    if pad:
        exts += ext(21, b"\x00" * pad)  # padding
    body = b"\x03\x03" + os.urandom(32) + b"\x00"  # version, random, no session id
    body += b"\x00\x06\x13\x01\x13\x02\x13\x03" + b"\x01\x00"
    body += struct.pack(">H", len(exts)) + exts
    return b"\x01" + struct.pack(">I", len(body))[1:] + body


def varint(v):
    if v < 64:
        return bytes([v])
    if v < 16384:
        return struct.pack(">H", 0x4000 | v)
    return struct.pack(">I", 0x80000000 | v)


def initial(dcid, scid, pn, frames, v2):
    key, iv, hp = client_keys(dcid, v2)
    pn_len = 2
    payload = frames + b"\x00" * max(0, 1162 - len(frames))  # PADDING to 1200 B
    ptype = 1 if v2 else 0
    first = 0xC0 | ptype << 4 | (pn_len - 1)
    version = 0x6B3343CF if v2 else 1
    hdr = bytes([first]) + struct.pack(">I", version)
    hdr += bytes([len(dcid)]) + dcid + bytes([len(scid)]) + scid + varint(0)
    hdr += struct.pack(">H", 0x4000 | (pn_len + len(payload) + 16))
    pn_off = len(hdr)
    hdr += pn.to_bytes(pn_len, "big")
    nonce = bytearray(iv)
    for i in range(8):
        nonce[11 - i] ^= (pn >> (8 * i)) & 0xFF
    ct = AESGCM(key).encrypt(bytes(nonce), payload, hdr)
    sample = ct[4 - pn_len:20 - pn_len]
    enc = Cipher(algorithms.AES(hp), modes.ECB()).encryptor()
    mask = enc.update(sample) + enc.finalize()
    out = bytearray(hdr + ct)
    out[0] ^= mask[0] & 0x0F
    for i in range(pn_len):
        out[pn_off + i] ^= mask[1 + i]
    return bytes(out)


def crypto_frame(off, data):
    return b"\x06" + varint(off) + varint(len(data)) + data


def flight(sni, split, v2):
    dcid, scid = os.urandom(8), os.urandom(8)
    hello = client_hello(sni, 1500 if split else 0)
    if not split:
        return [initial(dcid, scid, 0, crypto_frame(0, hello), v2)]
    cut = 1000
    return [initial(dcid, scid, 0, crypto_frame(0, hello[:cut]), v2),
            initial(dcid, scid, 1, crypto_frame(cut, hello[cut:]), v2)]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sni", required=True)
    ap.add_argument("--split", action="store_true")
    ap.add_argument("--v2", action="store_true")
    ap.add_argument("--hex")
    ap.add_argument("--send", nargs=2, metavar=("HOST", "PORT"))
    ap.add_argument("--wait", type=float, default=3.0)
    a = ap.parse_args()
    dgrams = flight(a.sni, a.split, a.v2)
    if a.hex:
        with open(a.hex, "w") as f:
            for d in dgrams:
                f.write(d.hex() + "\n")
    if a.send:
        host, port = a.send[0], int(a.send[1])
        fam = socket.AF_INET6 if ":" in host else socket.AF_INET
        s = socket.socket(fam, socket.SOCK_DGRAM)
        for d in dgrams:
            s.sendto(d, (host, port))
        s.settimeout(a.wait)
        try:
            data, _ = s.recvfrom(65535)
            print("reply %d" % len(data))
        except socket.timeout:
            print("no reply")
    return 0


if __name__ == "__main__":
    sys.exit(main())
