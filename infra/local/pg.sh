#!/usr/bin/env bash
# The local PostgreSQL pair: a primary and a streaming replica on loopback,
# for development and tests. Mirrors RDS (primary + read replica, with
# rds.force_ssl): both servers speak TLS only, with a certificate from a CA
# made when the pair is first started ($PG_DATA/tls/ca.crt), and refuse plain
# connections. The URLs it prints verify that certificate (sslmode=verify-full).
#
#   infra/local/pg.sh start    # idempotent; prints the two URLs as shell exports
#   infra/local/pg.sh stop [primary|replica]   # both by default
#   infra/local/pg.sh status
#   infra/local/pg.sh urls     # the exports again
#   infra/local/pg.sh reset    # stop and delete the data
#
# Settings: PG_DATA (default infra/local/.data/pg), PG_PRIMARY_PORT (54321),
# PG_REPLICA_PORT (54322), PG_PASSWORD (shopfront-local), PG_BIN (the server
# binaries; found with pg_config or under /usr/lib/postgresql).
# As root, the servers run as the `postgres` user, since PostgreSQL refuses root.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
data=${PG_DATA:-$root/infra/local/.data/pg}
primary_port=${PG_PRIMARY_PORT:-54321}
replica_port=${PG_REPLICA_PORT:-54322}
password=${PG_PASSWORD:-shopfront-local}
user=postgres

die() { printf 'pg.sh: %s\n' "$*" >&2; exit 1; }

find_bin() {
  if [ -n "${PG_BIN:-}" ]; then echo "$PG_BIN"; return; fi
  local dir
  for dir in $(printf '%s\n' /usr/lib/postgresql/*/bin | sort -V -r); do
    [ -x "$dir/postgres" ] && { echo "$dir"; return; }
  done
  if command -v pg_config >/dev/null && [ -x "$(pg_config --bindir)/postgres" ]; then
    pg_config --bindir; return
  fi
  die "PostgreSQL server binaries not found; install them (Debian: apt-get install postgresql) or set PG_BIN"
}
bin=$(find_bin)

# Runs a command as the cluster owner.
as_owner() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

tls=$data/tls
url() { echo "postgres://$user:$password@127.0.0.1:$1/postgres?sslmode=verify-full&sslrootcert=$tls/ca.crt"; }

print_urls() {
  echo "export DATABASE_URL='$(url "$primary_port")'"
  echo "export DATABASE_REPLICA_URL='$(url "$replica_port")'"
  echo "export PG_CA_CERT='$tls/ca.crt'"
}

# A CA of the pair's own and the servers' certificate, valid for localhost
# and 127.0.0.1 (and ::1). The key stays with the cluster owner.
make_certificates() {
  [ -f "$tls/server.crt" ] && return 0
  command -v openssl >/dev/null || die "openssl is missing; install it (Debian: apt-get install openssl)"
  mkdir -p "$tls"
  (
    cd "$tls"
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 365 \
      -keyout ca.key -out ca.crt -subj "/CN=Shopfront local PostgreSQL CA" \
      -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
    openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
      -keyout server.key -out server.csr -subj "/CN=localhost" 2>/dev/null
    printf '%s\n' "subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1" "basicConstraints=CA:FALSE" \
      "keyUsage=critical,digitalSignature,keyEncipherment" "extendedKeyUsage=serverAuth" >server.ext
    openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 365 \
      -extfile server.ext -out server.crt 2>/dev/null
    rm -f server.csr server.ext ca.srl
    chmod 600 ca.key server.key
    chmod 644 ca.crt server.crt
  ) || die "could not make the TLS certificates in $tls"
  if [ "$(id -u)" = 0 ]; then chown postgres: "$tls/server.key" "$tls/server.crt"; fi
}

running() { as_owner "$bin/pg_ctl" -D "$1" status >/dev/null 2>&1; }

start_cluster() { # dir
  running "$1" && return 0
  local _attempt
  for _attempt in 1 2; do
    as_owner "$bin/pg_ctl" -D "$1" -l "$1/server.log" -w -t 30 start >/dev/null 2>&1 && return 0
    running "$1" && return 0
    sleep 1
  done
  tail -n 20 "$1/server.log" >&2 || true
  die "could not start the server in $1 (its log is above, and in $1/server.log)"
}

init_primary() {
  local dir=$data/primary pwfile
  [ -f "$dir/PG_VERSION" ] && return 0
  mkdir -p "$data"
  if [ "$(id -u)" = 0 ]; then chown postgres: "$data"; fi
  pwfile=$(as_owner mktemp)
  printf '%s\n' "$password" | as_owner tee "$pwfile" >/dev/null
  as_owner "$bin/initdb" -D "$dir" -U "$user" --pwfile="$pwfile" --auth=scram-sha-256 \
    --encoding=UTF8 --locale=C.UTF-8 >/dev/null
  as_owner rm -f "$pwfile"
  as_owner cp "$tls/server.crt" "$tls/server.key" "$dir/"
  as_owner chmod 600 "$dir/server.key"
  as_owner tee -a "$dir/postgresql.conf" >/dev/null <<CONF
listen_addresses = '127.0.0.1'
port = $primary_port
unix_socket_directories = '$data'
wal_level = replica
max_wal_senders = 10
hot_standby = on
fsync = off
synchronous_commit = off
full_page_writes = off
ssl = on
ssl_cert_file = 'server.crt'
ssl_key_file = 'server.key'
ssl_min_protocol_version = 'TLSv1.2'
CONF
  # TLS or nothing: no plain host lines, no Unix socket logins.
  as_owner tee "$dir/pg_hba.conf" >/dev/null <<HBA
# TYPE   DATABASE     USER   ADDRESS        METHOD
hostssl  all          all    127.0.0.1/32   scram-sha-256
hostssl  all          all    ::1/128        scram-sha-256
hostssl  replication  $user  127.0.0.1/32   scram-sha-256
HBA
}

init_replica() {
  local dir=$data/replica
  [ -f "$dir/PG_VERSION" ] && return 0
  # -R writes the connection, TLS settings included, into the replica's
  # primary_conninfo: the replica streams over verified TLS too.
  as_owner env PGPASSWORD="$password" PGSSLMODE=verify-full PGSSLROOTCERT="$tls/ca.crt" \
    "$bin/pg_basebackup" -h 127.0.0.1 -p "$primary_port" -U "$user" \
    -D "$dir" -R -X stream -c fast >/dev/null
  as_owner tee -a "$dir/postgresql.conf" >/dev/null <<CONF
port = $replica_port
unix_socket_directories = '$data'
CONF
}

# As root, the postgres user must be able to reach the data folder; when the
# checkout lives somewhere it cannot (under /root, say), use /tmp instead.
if [ "$(id -u)" = 0 ] && [ -z "${PG_DATA:-}" ] && id postgres >/dev/null 2>&1; then
  mkdir -p "$(dirname "$data")"
  if ! runuser -u postgres -- test -x "$(dirname "$data")"; then
    data=/tmp/shopfront-pg-$(printf '%s' "$root" | cksum | cut -d' ' -f1)
  fi
fi

cmd=${1:-start}
case $cmd in
  start)
    [ "$(id -u)" = 0 ] && ! id postgres >/dev/null 2>&1 && die "there is no postgres user to run the servers; install postgresql"
    if [ -f "$data/primary/PG_VERSION" ] && ! grep -q "^ssl = on" "$data/primary/postgresql.conf"; then
      die "the pair in $data was made before it spoke TLS; run infra/local/pg.sh reset, then start"
    fi
    make_certificates
    init_primary
    start_cluster "$data/primary"
    init_replica
    start_cluster "$data/replica"
    print_urls
    ;;
  stop)
    nodes="replica primary"
    [ -n "${2:-}" ] && nodes=$2
    for node in $nodes; do
      dir=$data/$node
      case $node in primary|replica) ;; *) die "unknown node $node; use primary or replica" ;; esac
      [ -f "$dir/PG_VERSION" ] && running "$dir" && as_owner "$bin/pg_ctl" -D "$dir" -m fast -w stop >/dev/null
    done
    true
    ;;
  status)
    for name in primary replica; do
      if [ -f "$data/$name/PG_VERSION" ] && running "$data/$name"; then echo "$name: running"; else echo "$name: stopped"; fi
    done
    ;;
  urls) print_urls ;;
  reset)
    "$0" stop
    rm -rf "$data"
    ;;
  *) die "unknown command $cmd; use start, stop, status, urls or reset" ;;
esac
