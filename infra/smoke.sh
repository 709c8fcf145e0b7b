#!/usr/bin/env bash
# infra/smoke.sh URL: checks a deployed shop from the outside.
#
#   infra/smoke.sh https://shop.example.com
#   infra/smoke.sh https://shop.example.com --api https://api.example.com --admin https://admin.example.com
#
# URL is the shop's https URL; the api's and the admin's default to it with
# the leading "shop." replaced by "api." and "admin.". Any path on a URL is
# ignored (the stack's outputs ShopUrl, ApiUrl and AdminUrl can be passed as
# they are). Every check runs, each printing `ok   <name>` or
# `FAIL <name>: <what was seen>`; the exit status is 1 if any failed, 2 for
# bad usage.
#
# Options (and the environment variables they override):
#   --api URL          SMOKE_API_URL     the api's https URL
#   --admin URL        SMOKE_ADMIN_URL   the admin's https URL
#   --cacert FILE      SMOKE_CACERT      trust this CA (a local stand-in's)
#   --resolve H:P:A    (repeatable)      passed to curl, e.g. before DNS is live
#   --http-port N      SMOKE_HTTP_PORT   where plain HTTP is served (default 80)
#   --timeout SECS     SMOKE_TIMEOUT     per request (default 20)
#
# Checks:
#   <host> redirect      http://<host>/<path>?<query> answers 301 or 308 to the
#                        https URL of the same path and query (shop, api, admin)
#   <host> hsts          Strict-Transport-Security with max-age >= 1 year
#   shop x-content-type-options, shop x-frame-options, shop referrer-policy
#                        the CloudFront SecurityHeaders policy (edge.yaml)
#   admin content-security-policy (with frame-ancestors), admin
#   x-content-type-options, admin x-frame-options (DENY)
#   api x-content-type-options
#   shop product page    the first product's page: 200 HTML
#   shop 404 page        a missing path: 404 with the body of /404.html
#   api products         /api/products: 200 JSON
#   api readyz           /readyz: 200
set -euo pipefail

usage() {
    sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0" >&2
    exit 2
}

shop_url=""
api_url="${SMOKE_API_URL:-}"
admin_url="${SMOKE_ADMIN_URL:-}"
cacert="${SMOKE_CACERT:-}"
http_port="${SMOKE_HTTP_PORT:-80}"
timeout="${SMOKE_TIMEOUT:-20}"
curl_opts=()

while [[ $# -gt 0 ]]; do
    case "$1" in
        --api) api_url="${2:?--api needs a URL}"; shift 2 ;;
        --admin) admin_url="${2:?--admin needs a URL}"; shift 2 ;;
        --cacert) cacert="${2:?--cacert needs a file}"; shift 2 ;;
        --resolve) curl_opts+=(--resolve "${2:?--resolve needs host:port:address}"); shift 2 ;;
        --http-port) http_port="${2:?--http-port needs a port}"; shift 2 ;;
        --timeout) timeout="${2:?--timeout needs seconds}"; shift 2 ;;
        -h | --help) usage ;;
        -*) echo "smoke.sh: unknown option $1" >&2; usage ;;
        *)
            [[ -z "$shop_url" ]] || { echo "smoke.sh: one URL only" >&2; usage; }
            shop_url="$1"; shift ;;
    esac
done
[[ -n "$shop_url" ]] || usage
[[ "$http_port" =~ ^[0-9]+$ ]] || { echo "smoke.sh: --http-port must be a number" >&2; exit 2; }
if [[ -n "$cacert" ]]; then
    [[ -r "$cacert" ]] || { echo "smoke.sh: cannot read the CA file $cacert" >&2; exit 2; }
    curl_opts+=(--cacert "$cacert")
fi

# https://host[:port][/path] -> https://host[:port]
origin() {
    local url="$1" rest
    if [[ "$url" != https://* ]]; then
        echo "smoke.sh: $url is not an https:// URL" >&2
        exit 2
    fi
    rest="${url#https://}"
    rest="${rest%%/*}"
    rest="${rest%%\?*}"
    [[ -n "$rest" ]] || { echo "smoke.sh: $url has no host" >&2; exit 2; }
    printf 'https://%s' "$rest"
}
# https://host[:port] -> host
host_of() {
    local rest="${1#https://}"
    printf '%s' "${rest%:*}"
}

shop="$(origin "$shop_url")"
shop_host="$(host_of "$shop")"
if [[ -z "$api_url" || -z "$admin_url" ]] && [[ "$shop_host" != shop.* ]]; then
    echo "smoke.sh: $shop_host does not start with shop.; give --api and --admin" >&2
    exit 2
fi
api="$(origin "${api_url:-https://api.${shop#https://shop.}}")"
admin="$(origin "${admin_url:-https://admin.${shop#https://shop.}}")"

work="$(mktemp -d "${TMPDIR:-/tmp}/smoke.XXXXXX")"
trap 'rm -rf "$work"' EXIT

failures=0
ok() { printf 'ok   %s\n' "$1"; }
fail() {
    printf 'FAIL %s: %s\n' "$1" "$2"
    failures=$((failures + 1))
}

# fetch NAME URL: one request, no redirects followed. Sets status (000 when
# no answer; err then says why), and leaves the headers in $work/NAME.h and
# the body in $work/NAME.b.
status=""
err=""
fetch() {
    local name="$1" url="$2"
    : >"$work/$name.h"
    : >"$work/$name.b"
    err=""
    if ! status="$(curl -sS --max-time "$timeout" --connect-timeout 10 \
        ${curl_opts[@]+"${curl_opts[@]}"} \
        -D "$work/$name.h" -o "$work/$name.b" -w '%{http_code}' "$url" 2>"$work/$name.err")"; then
        status="000"
        err="$(tr '\n' ' ' <"$work/$name.err")"
    fi
}
# header NAME HEADER: the value of HEADER in $work/NAME.h (the last one), or "".
header() {
    awk -v want="$(printf '%s' "$2" | tr '[:upper:]' '[:lower:]')" '
        { sub(/\r$/, "") }
        index($0, ":") {
            name = tolower(substr($0, 1, index($0, ":") - 1))
            if (name == want) { v = substr($0, index($0, ":") + 1); sub(/^[ \t]+/, "", v); sub(/[ \t]+$/, "", v); found = v }
        }
        END { printf "%s", found }
    ' "$work/$1.h"
}
# seen: what a failed request answered, for the messages.
seen() {
    if [[ "$status" == "000" ]]; then
        printf 'no answer (%s)' "$err"
    else
        printf 'HTTP %s' "$status"
    fi
}

# --- HTTP -> HTTPS ------------------------------------------------------------------
# https://host[:port] -> the same with an explicit port (443 when none)
with_port() {
    local rest="${1#https://}" host port path=""
    if [[ "$rest" == */* ]]; then
        path="/${rest#*/}"
        rest="${rest%%/*}"
    fi
    host="${rest%:*}"
    port=443
    [[ "$rest" == *:* ]] && port="${rest##*:}"
    printf 'https://%s:%s%s' "$host" "$port" "$path"
}
check_redirect() {
    local who="$1" base="$2" host path="/smoke-check/redirect?from=http" want location
    host="$(host_of "$base")"
    local plain="http://$host"
    [[ "$http_port" == 80 ]] || plain="http://$host:$http_port"
    want="$base$path"
    fetch "redirect-$who" "$plain$path"
    location="$(header "redirect-$who" location)"
    if [[ "$status" != 301 && "$status" != 308 ]]; then
        fail "$who redirect" "$plain$path answered $(seen) (Location: ${location:-none}), not a 301/308 to $want"
    elif [[ "$(with_port "$location")" != "$(with_port "$want")" ]]; then
        fail "$who redirect" "$plain$path answered $status to ${location:-nowhere}, not to $want"
    else
        ok "$who redirect"
    fi
}

# --- headers ------------------------------------------------------------------------
check_hsts() {
    local who="$1" res="$2" value age
    value="$(header "$res" strict-transport-security)"
    if [[ -z "$value" ]]; then
        fail "$who hsts" "no Strict-Transport-Security header ($(seen))"
        return
    fi
    age="$(printf '%s' "$value" | tr '[:upper:]' '[:lower:]' | sed -n 's/.*max-age="\{0,1\}\([0-9][0-9]*\).*/\1/p')"
    if [[ -z "$age" ]]; then
        fail "$who hsts" "Strict-Transport-Security has no max-age: $value"
    elif ((${#age} > 12)) || ((10#$age >= 31536000)); then
        ok "$who hsts"
    else
        fail "$who hsts" "Strict-Transport-Security max-age=$age is under a year (31536000): $value"
    fi
}
# check_header WHO RES HEADER REGEX DESCRIPTION: HEADER matches REGEX (case-insensitive).
check_header() {
    local who="$1" res="$2" name="$3" regex="$4" what="$5" value lname
    lname="$(printf '%s' "$name" | tr '[:upper:]' '[:lower:]')"
    value="$(header "$res" "$name")"
    if [[ -z "$value" ]]; then
        fail "$who $lname" "no $name header ($(seen)); want $what"
    elif ! printf '%s' "$value" | grep -Eiq -- "$regex"; then
        fail "$who $lname" "$name: $value; want $what"
    else
        ok "$who $lname"
    fi
}

# --- run ----------------------------------------------------------------------------
echo "smoke: shop $shop, api $api, admin $admin"

check_redirect shop "$shop"
check_redirect api "$api"
check_redirect admin "$admin"

fetch shop-home "$shop/"
if [[ "$status" == 200 ]]; then ok "shop home"; else fail "shop home" "$shop/ answered $(seen)"; fi
check_hsts shop shop-home
check_header shop shop-home X-Content-Type-Options '^nosniff$' nosniff
check_header shop shop-home X-Frame-Options '^(DENY|SAMEORIGIN)$' 'DENY or SAMEORIGIN'
check_header shop shop-home Referrer-Policy \
    '(^|,)[[:space:]]*(no-referrer|same-origin|strict-origin|strict-origin-when-cross-origin)[[:space:]]*$' \
    'no-referrer, same-origin, strict-origin or strict-origin-when-cross-origin'

fetch admin-login "$admin/admin/login"
if [[ "$status" == 200 ]]; then
    ok "admin login page"
else
    fail "admin login page" "$admin/admin/login answered $(seen)"
fi
check_hsts admin admin-login
check_header admin admin-login Content-Security-Policy "frame-ancestors[[:space:]]+('none'|'self')" \
    "a policy with frame-ancestors 'none' or 'self'"
check_header admin admin-login X-Content-Type-Options '^nosniff$' nosniff
check_header admin admin-login X-Frame-Options '^DENY$' DENY

fetch api-products "$api/api/products"
ctype="$(header api-products content-type)"
first="$(head -c 1 "$work/api-products.b")"
if [[ "$status" == 200 && "$ctype" == application/json* && ("$first" == "{" || "$first" == "[") ]]; then
    ok "api products"
else
    fail "api products" "$api/api/products answered $(seen), Content-Type ${ctype:-none}, body starting ${first:-empty}"
fi
check_hsts api api-products
check_header api api-products X-Content-Type-Options '^nosniff$' nosniff

fetch api-readyz "$api/readyz"
if [[ "$status" == 200 ]]; then
    ok "api readyz"
else
    fail "api readyz" "$api/readyz answered $(seen): $(head -c 200 "$work/api-readyz.b" | tr '\n' ' ')"
fi

# The first product: from the api, else from the shop's products.json.
product_path=""
slug="$(grep -o '"slug":"[^"]*"' "$work/api-products.b" | head -n 1 | cut -d '"' -f 4 || true)"
if [[ -n "$slug" ]]; then
    product_path="/products/$slug/"
else
    fetch shop-products-json "$shop/products.json"
    product_path="$(grep -o '"url":"/products/[^"]*"' "$work/shop-products-json.b" | head -n 1 | cut -d '"' -f 4 || true)"
fi
if [[ -z "$product_path" ]]; then
    fail "shop product page" "no product found in $api/api/products or $shop/products.json"
else
    fetch shop-product "$shop$product_path"
    ctype="$(header shop-product content-type)"
    if [[ "$status" == 200 && "$ctype" == text/html* ]] && grep -qi '<html' "$work/shop-product.b"; then
        ok "shop product page"
    else
        fail "shop product page" "$shop$product_path answered $(seen), Content-Type ${ctype:-none}"
    fi
fi

fetch shop-404-page "$shop/404.html"
missing="/smoke-check-no-such-page-$$"
fetch shop-missing "$shop$missing"
ctype="$(header shop-missing content-type)"
if [[ "$status" != 404 ]]; then
    fail "shop 404 page" "$shop$missing answered $(seen), not 404"
elif [[ "$ctype" != text/html* ]]; then
    fail "shop 404 page" "$shop$missing answered 404 with Content-Type ${ctype:-none}, not HTML"
elif [[ ! -s "$work/shop-404-page.b" ]] || ! cmp -s "$work/shop-missing.b" "$work/shop-404-page.b"; then
    fail "shop 404 page" "$shop$missing answered 404, but not with the body of $shop/404.html"
else
    ok "shop 404 page"
fi

if ((failures > 0)); then
    echo "smoke: $failures check(s) failed"
    exit 1
fi
echo "smoke: every check passed"
