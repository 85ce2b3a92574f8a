#!/usr/bin/env python3
"""Writes small geodata files for tests, from the formats' documentation:

  mmdb     MaxMind DB format 2.0 (maxmind.github.io/MaxMind-DB): a binary
           search tree of 32-bit records over IPv6 (IPv4 at ::a.b.c.d), 16
           zero bytes, the data section, then "\\xab\\xcd\\xefMaxMind.com"
           and the metadata map.
  geosite  v2ray's GeoSiteList protobuf (mihomo component/geodata/router/
           config.proto): entry=1 { country_code=1, domain=2 { type=1,
           value=2, attribute=3 { key=1, bool_value=2 } } }.
  geoip    GeoIPList: entry=1 { country_code=1, cidr=2 { ip=1, prefix=2 } }.

Usage (one file per call):
  geo_gen.py country OUT TYPE NET=CODE[,CODE...] ...
        TYPE: maxmind (GeoLite2-Country: {country:{iso_code}}), sing
        (sing-geoip: a string), meta (Meta-geoip0: a string or a list)
  geo_gen.py asn OUT NET=ASN:ORG ...              (GeoLite2-ASN)
  geo_gen.py geosite OUT CODE=TYPE:VALUE[@attr] ...  TYPE full|domain|plain|regex
  geo_gen.py geoip OUT CODE=NET ...
Never a third-party database: every file is built from the arguments.
"""
import ipaddress
import struct
import sys


# --- MaxMind DB data section ------------------------------------------------

def ctrl(typ, size):
    """Control byte(s) for a type number and a payload size."""
    if size < 29:
        sb, extra = size, b""
    elif size < 285:
        sb, extra = 29, bytes([size - 29])
    elif size < 65821:
        sb, extra = 30, struct.pack(">H", size - 285)
    else:
        sb, extra = 31, struct.pack(">I", size - 65821)[1:]
    if typ <= 7:
        return bytes([(typ << 5) | sb]) + extra
    return bytes([sb, typ - 7]) + extra


def uint_bytes(v):
    b = v.to_bytes((v.bit_length() + 7) // 8, "big") if v else b""
    return b


def enc(v, typ=None):
    if isinstance(v, bool):
        return ctrl(14, int(v))
    if isinstance(v, str):
        b = v.encode()
        return ctrl(2, len(b)) + b
    if isinstance(v, dict):
        out = ctrl(7, len(v))
        for k, x in v.items():
            out += enc(k) + (enc(x[1], x[0]) if isinstance(x, tuple) else enc(x))
        return out
    if isinstance(v, list):
        out = ctrl(11, len(v))
        for x in v:
            out += enc(x)
        return out
    if isinstance(v, int):
        t = typ or 6  # uint32 unless told
        b = uint_bytes(v)
        return ctrl(t, len(b)) + b
    raise TypeError(v)


def mmdb(path, dbtype, nets):
    """nets: list of (ipaddress network, data value)."""
    # Binary trie over 128 bits; a node is [left, right], each None, an
    # int (node index) or ("d", data index).
    nodes = [[None, None]]
    datas = []
    for net, val in nets:
        if net.version == 4:
            bits = int(net.network_address) | 0  # ::a.b.c.d
            plen = 96 + net.prefixlen
        else:
            bits = int(net.network_address)
            plen = net.prefixlen
        datas.append(enc(val))
        leaf = ("d", len(datas) - 1)
        n = 0
        for i in range(plen):
            b = (bits >> (127 - i)) & 1
            if i == plen - 1:
                nodes[n][b] = leaf
                break
            nxt = nodes[n][b]
            if not isinstance(nxt, int):
                nodes.append([nxt, nxt])  # a leaf above is pushed down
                nxt = len(nodes) - 1
                nodes[n][b] = nxt
            n = nxt
    offsets, data = [], b""
    for d in datas:
        offsets.append(len(data))
        data += d
    count = len(nodes)
    tree = b""
    for l, r in nodes:
        for rec in (l, r):
            if rec is None:
                v = count
            elif isinstance(rec, int):
                v = rec
            else:
                v = count + 16 + offsets[rec[1]]
            tree += struct.pack(">I", v)
    meta = enc({
        "node_count": (6, count),
        "record_size": (5, 32),
        "ip_version": (5, 6),
        "database_type": dbtype,
        "languages": ["en"],
        "binary_format_major_version": (5, 2),
        "binary_format_minor_version": (5, 0),
        "build_epoch": (9, 1700000000),
        "description": {"en": "tun2socks test data"},
    })
    with open(path, "wb") as f:
        f.write(tree + bytes(16) + data + b"\xab\xcd\xefMaxMind.com" + meta)


# --- protobuf ----------------------------------------------------------------

def varint(v):
    out = b""
    while True:
        b = v & 0x7F
        v >>= 7
        if v:
            out += bytes([b | 0x80])
        else:
            return out + bytes([b])


def field(num, wt, payload):
    if wt == 0:
        return varint(num << 3) + varint(payload)
    return varint(num << 3 | 2) + varint(len(payload)) + payload


def main(argv):
    kind, out, rest = argv[1], argv[2], argv[3:]
    if kind == "country":
        typ, rest = rest[0], rest[1:]
        nets = []
        for a in rest:
            net, codes = a.split("=")
            codes = codes.split(",")
            if typ == "maxmind":
                val = {"country": {"iso_code": codes[0].upper()}}
            elif typ == "sing":
                val = codes[0]
            else:
                val = codes[0] if len(codes) == 1 else codes
            nets.append((ipaddress.ip_network(net), val))
        name = {"maxmind": "GeoLite2-Country", "sing": "sing-geoip", "meta": "Meta-geoip0"}[typ]
        mmdb(out, name, nets)
    elif kind == "asn":
        nets = []
        for a in rest:
            net, v = a.split("=")
            asn, org = v.split(":", 1)
            nets.append((ipaddress.ip_network(net), {
                "autonomous_system_number": (6, int(asn)),
                "autonomous_system_organization": org}))
        mmdb(out, "GeoLite2-ASN", nets)
    elif kind == "geosite":
        sites = {}
        for a in rest:
            code, v = a.split("=", 1)
            typ, value = v.split(":", 1)
            attrs = []
            if "@" in value:
                value, *attrs = value.split("@")
            t = {"plain": 0, "regex": 1, "domain": 2, "full": 3}[typ]
            d = field(1, 0, t) + field(2, 2, value.encode())
            for at in attrs:
                d += field(3, 2, field(1, 2, at.encode()) + field(2, 0, 1))
            sites.setdefault(code, b"")
            sites[code] += field(2, 2, d)
        body = b"".join(field(1, 2, field(1, 2, c.encode()) + d) for c, d in sites.items())
        open(out, "wb").write(body)
    elif kind == "geoip":
        ents = {}
        for a in rest:
            code, net = a.split("=")
            n = ipaddress.ip_network(net)
            ents.setdefault(code, b"")
            ents[code] += field(2, 2, field(1, 2, n.network_address.packed) +
                                field(2, 0, n.prefixlen))
        body = b"".join(field(1, 2, field(1, 2, c.encode()) + d) for c, d in ents.items())
        open(out, "wb").write(body)
    else:
        sys.exit("unknown kind " + kind)


if __name__ == "__main__":
    main(sys.argv)
