#!/usr/bin/env python3
"""The api under attack (run by bench/attack.sh): memory and answers.

    bench/attack.py API_URL API_PID OWNER_EMAIL OWNER_PASSWORD

1. Bodies far over their limit: 50 MiB to /admin/login, /api/products,
   /api/images and /admin/import without credentials, each sent whole and
   with "Expect: 100-continue". Target: every answer 413, and the api's peak
   RSS grows by less than 10 MiB.
2. A burst of 300 concurrent wrong-password logins for the owner from one
   address, then 300 from 300 addresses (X-Forwarded-For; the api believes
   127.0.0.1). Target: peak RSS under 300 MiB; the owner then logs in from
   another address.

Prints each figure; exit status 1 if a target fails. Standard library only.
"""

import http.client
import json
import socket
import sys
import threading
import time
from collections import Counter
from urllib.parse import urlparse

api, pid, email, password = sys.argv[1:5]
host, port = urlparse(api).hostname, urlparse(api).port
failed = False


def rss():
    """(VmRSS, VmHWM) of the api in KiB."""
    fields = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            name, _, value = line.partition(":")
            fields[name] = value.strip()
    return int(fields["VmRSS"].split()[0]), int(fields["VmHWM"].split()[0])


def request(method, path, body=None, headers=None):
    conn = http.client.HTTPConnection(host, port, timeout=60)
    conn.request(method, path, body=body, headers=headers or {})
    r = conn.getresponse()
    data = r.read()
    cookie = r.getheader("Set-Cookie")
    conn.close()
    return r.status, data, cookie


def send_large(path, length, expect):
    s = socket.create_connection((host, port), timeout=60)
    head = f"POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\nContent-Length: {length}\r\n"
    if expect:
        head += "Expect: 100-continue\r\n"
    s.sendall((head + "\r\n").encode())
    if not expect:
        chunk, sent = b"x" * 65536, 0
        try:
            while sent < length:
                n = min(len(chunk), length - sent)
                s.sendall(chunk[:n])
                sent += n
        except OSError:
            pass
    line = s.recv(4096).split(b"\r\n", 1)[0].decode()
    s.close()
    return line


def check(ok, what):
    global failed
    print(f"  {'PASS' if ok else 'FAIL'}  {what}")
    failed |= not ok


def owner_login():
    status, body, cookie = request("GET", "/api/session/login-token")
    token, cookie = json.loads(body)["csrf_token"], cookie.split(";")[0]
    return request("POST", "/api/session", json.dumps({"email": email, "password": password}), {
        "Content-Type": "application/json", "Cookie": cookie, "X-CSRF-Token": token,
        "X-Forwarded-For": "198.51.100.4"})[0]


print("(1) bodies far over their limit, without credentials")
for _ in range(3):
    request("GET", "/api/products")
    send_large("/api/products", 100, False)
_, before = rss()
started = time.monotonic()
statuses = []
for path in ["/admin/login", "/api/products", "/api/images", "/admin/import"]:
    for expect in (False, True):
        statuses.append(send_large(path, 50 << 20, expect))
took = time.monotonic() - started
_, after = rss()
print(f"  8 bodies of 50 MiB in {took:.1f} s: {Counter(s.split(' ')[1] if ' ' in s else s for s in statuses)}")
print(f"  peak RSS {before // 1024} MiB before, {after // 1024} MiB after: grew by {after - before} KiB")
check(all(" 413 " in s for s in statuses), "every one answered 413")
check(after - before < 10 * 1024, "peak RSS grew by less than 10 MiB")

print()
print("(2) 300 concurrent wrong-password logins, twice")
status, body, cookie = request("GET", "/api/session/login-token")
token = json.loads(body)["csrf_token"]
cookie = cookie.split(";")[0]


def burst(address):
    results, go = [None] * 300, threading.Barrier(300)

    def one(i):
        go.wait()
        payload = json.dumps({"email": email, "password": "not the password at all"})
        try:
            results[i] = request("POST", "/api/session", payload, {
                "Content-Type": "application/json", "Cookie": cookie,
                "X-CSRF-Token": token, "X-Forwarded-For": address(i)})[0]
        except OSError as e:
            results[i] = f"no answer ({e})"

    threads = [threading.Thread(target=one, args=(i,)) for i in range(300)]
    started = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return Counter(results), time.monotonic() - started


check(owner_login() == 200, "the owner logs in before (their address is known)")
for name, address in [("one address", lambda i: "203.0.113.9"),
                      ("300 addresses", lambda i: f"10.77.{i // 200}.{i % 200 + 1}")]:
    counts, took = burst(address)
    now, peak = rss()
    print(f"  {name}: {dict(counts)} in {took:.2f} s; RSS {now // 1024} MiB, peak {peak // 1024} MiB")
    check(set(counts) <= {401, 429, 503}, f"{name}: every attempt answered 401, 429 or 503")
check(peak < 300 * 1024, "peak RSS under 300 MiB")
status = owner_login()
check(status == 200, f"the owner, from the address they use, logs in right after ({status})")
sys.exit(1 if failed else 0)
