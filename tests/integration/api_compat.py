#!/usr/bin/env python3
"""Replays the requests a Clash dashboard (yacd: src/api/*.ts) makes, in
its forms (Bearer header; ?token= on WebSocket URLs; the delay query it
builds), against the daemon, and checks each answer carries the fields
the dashboard reads. Run with Debian's python3 (websockets) in the client
namespace: api_compat.py HOST:PORT SECRET GROUP MEMBER. Prints one line
per failed check and "compat ok N" when all passed.
"""
import asyncio
import json
import sys
import urllib.parse
import urllib.request

import websockets

base, secret, group, member = sys.argv[1:5]
H = {"Authorization": "Bearer " + secret, "Content-Type": "application/json"}
bad = []
n = 0


def req(method, path, body=None):
    r = urllib.request.Request("http://" + base + path, method=method, headers=H,
                               data=json.dumps(body).encode() if body is not None else None)
    try:
        with urllib.request.urlopen(r, timeout=10) as resp:
            data = resp.read()
            return resp.status, json.loads(data) if data else None
    except urllib.error.HTTPError as e:
        return e.code, None


def check(what, cond):
    global n
    n += 1
    if not cond:
        bad.append(what)
        print("FAILED " + what, flush=True)


st, v = req("GET", "/version")
check("version", st == 200 and isinstance(v.get("version"), str))
st, c = req("GET", "/configs")
check("configs fields", st == 200 and all(k in c for k in (
    "port", "socks-port", "redir-port", "mixed-port", "allow-lan", "mode", "log-level")))
st, _ = req("PATCH", "/configs", {"mode": c["mode"]})
check("configs patch", st == 204)
st, p = req("GET", "/proxies")
ok = st == 200 and all("type" in x and "name" in x and isinstance(x.get("history"), list)
                        for x in p["proxies"].values())
ok = ok and all(isinstance(x["all"], list) and x["now"] in x["all"]
                for x in p["proxies"].values() if "all" in x)
check("proxies", ok and "GLOBAL" in p["proxies"] and group in p["proxies"])
st, _ = req("PUT", "/proxies/" + urllib.parse.quote(group), {"name": member})
check("switch", st == 204)
st, _ = req("PUT", "/proxies/" + urllib.parse.quote(group), {"name": "no-such-member"})
check("switch to nothing is 400", st == 400)
qs = "timeout=5000&url=" + urllib.parse.quote(sys.argv[5] if len(sys.argv) > 5 else
                                              "http://203.0.113.80/health", safe="")
st, d = req("GET", "/proxies/" + urllib.parse.quote(member) + "/delay?" + qs)
check("delay", st == 200 and isinstance(d.get("delay"), int))
st, pp = req("GET", "/providers/proxies")
check("providers/proxies", st == 200 and isinstance(pp.get("providers"), dict))
st, rp = req("GET", "/providers/rules")
check("providers/rules", st == 200 and all(
    all(k in x for k in ("behavior", "name", "ruleCount", "type", "updatedAt", "vehicleType"))
    for x in rp["providers"].values()))
st, r = req("GET", "/rules")
check("rules", st == 200 and all(all(k in x for k in ("type", "payload", "proxy")) for x in r["rules"]))
st, cs = req("GET", "/connections")
item_keys = ("id", "metadata", "upload", "download", "start", "chains", "rule")
meta_keys = ("network", "type", "sourceIP", "destinationIP", "sourcePort", "destinationPort",
             "host", "processPath")
check("connections", st == 200 and "downloadTotal" in cs and "uploadTotal" in cs and all(
    all(k in x for k in item_keys) and all(k in x["metadata"] for k in meta_keys)
    for x in cs["connections"]))


async def streams():
    tok = "token=" + urllib.parse.quote(secret)
    for path, keys in (("/traffic?", ("up", "down")), ("/connections?", ("connections",)),
                       ("/logs?level=debug&", None), ("/memory?", ("inuse",))):
        try:
            async with websockets.connect("ws://" + base + path + tok, open_timeout=5) as ws:
                if keys is None:
                    check("ws logs open", True)
                    continue
                m = json.loads(await asyncio.wait_for(ws.recv(), 5))
                check("ws " + path, all(k in m for k in keys))
        except Exception as e:  # any failure is a failed check
            check("ws %s (%s)" % (path, e), False)

asyncio.run(streams())
st, _ = req("DELETE", "/connections")
check("close all", st == 204)
print("compat %s %d" % ("ok" if not bad else "bad", n), flush=True)
sys.exit(1 if bad else 0)
