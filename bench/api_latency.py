#!/usr/bin/env python3
"""Save-to-live latency of the write API (run by bench/api.sh).

    bench/api_latency.py API_URL TOKEN S3_ENDPOINT BUCKET DISTRIBUTION_ID EDITS

Makes EDITS sequential price edits of one product through the api. For each,
measures from sending the PUT until (a) the product's page in the bucket
carries the new price and (b) CloudFront (moto) has a new invalidation.
Prints every latency and the p50 and p95. Standard library only.
"""

import json
import re
import sys
import time
import urllib.request

api, token, s3, bucket, distribution, edits = sys.argv[1:7]
edits = int(edits)


def http(method, url, body=None, headers=None):
    req = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    with urllib.request.urlopen(req, timeout=30) as r:
        return r.status, dict(r.headers), r.read()


# moto picks the service from the credential scope; it checks no signature.
CLOUDFRONT = {"Authorization": "AWS4-HMAC-SHA256 Credential=bench/20260101/us-east-1/cloudfront/aws4_request, "
              "SignedHeaders=host, Signature=0"}


S3 = {"Authorization": CLOUDFRONT["Authorization"].replace("/cloudfront/", "/s3/")}


def invalidations():
    _, _, body = http("GET", f"{s3}/2020-05-31/distribution/{distribution}/invalidation", headers=CLOUDFRONT)
    m = re.search(rb"<Quantity>(\d+)</Quantity>", body)
    return int(m.group(1)) if m else 0


def page(slug):
    try:
        _, _, body = http("GET", f"{s3}/{bucket}/products/{slug}/index.html", headers=S3)
        return body.decode()
    except urllib.error.HTTPError as e:
        return f"HTTP {e.code} for {e.url}"


_, headers, body = http("GET", f"{api}/api/products/1")
product = json.loads(body)
latencies = []
for n in range(edits):
    price = f"{200 + n}.{n % 100:02d}"
    _, headers, body = http("GET", f"{api}/api/products/1")
    product = json.loads(body)
    before = invalidations()
    payload = {k: product[k] for k in ["slug", "name", "description", "image_url", "category", "stock_quantity"]}
    payload["price"] = price
    started = time.monotonic()
    http(
        "PUT",
        f"{api}/api/products/1",
        json.dumps(payload).encode(),
        {"Authorization": f"Bearer {token}", "If-Match": headers["etag"] if "etag" in headers else headers["ETag"],
         "Content-Type": "application/json"},
    )
    needle = f'"price": "{price}"'
    while True:
        live = page(product["slug"])
        if (needle in live or f'"price":"{price}"' in live) and invalidations() > before:
            break
        if time.monotonic() - started > 30:
            found = re.findall(r'"price": ?"[0-9.]+"', live)[:2] or live[:200]
            sys.exit(f"edit {n}: the new price {price} was not live within 30 s "
                     f"(the page has {found}; invalidations {before} -> {invalidations()})")
        time.sleep(0.005)
    latencies.append(time.monotonic() - started)

latencies.sort()
p50 = latencies[len(latencies) // 2]
p95 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.95))]
print("latencies (ms): " + " ".join(f"{x * 1000:.0f}" for x in latencies))
print(f"p50 {p50 * 1000:.0f} ms (target < 500), p95 {p95 * 1000:.0f} ms (target < 1500): "
      + ("PASS" if p50 < 0.5 and p95 < 1.5 else "FAIL"))
sys.exit(0 if p50 < 0.5 and p95 < 1.5 else 1)
