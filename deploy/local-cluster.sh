#!/usr/bin/env bash
# Two stateless API processes and one background worker on one PostgreSQL database, behind
# HAProxy on 127.0.0.1:8100; then the cart mix through the balancer (benchmarks/cart_load.py),
# and HAProxy's count of what each process answered. Everything it started is stopped, and the
# database it made is dropped, when it exits (Ctrl+C and failures included).
#
#   deploy/local-cluster.sh                     # the mix at 64, 256 and 1000 connections
#   deploy/local-cluster.sh --carts 500 --duration 5 --runs 1 --connections 64
#
# Arguments go to cart_load.py (--scenarios view,add,mix for all three). Needs PostgreSQL,
# haproxy and wrk; the project's .venv is made with `make .venv/.synced` if it is missing.
# Environment:
#   AIMALL_CART_DATABASE_URL  use this database instead of a throwaway one: it is migrated and
#                             seeded, never dropped, and its stock is left as it is
#   BENCH_POSTGRES_DSN        where the throwaway database is made
#                             (default postgresql://postgres@127.0.0.1:5432/postgres)
#   PROJECT_DIR               serve another checkout of the service (default: this one)
#   LB_PORT, STATS_PORT       HAProxy's ports (8100, 8199); API_PORTS the API processes' ("8101 8102")
set -euo pipefail

start_dir=$PWD  # where relative paths among the arguments (--json) are meant from
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
project=$(cd "${PROJECT_DIR:-$here}" && pwd)
lb_port=${LB_PORT:-8100}
stats_port=${STATS_PORT:-8199}
read -r -a api_ports <<< "${API_PORTS:-8101 8102}"
admin_dsn=${BENCH_POSTGRES_DSN:-postgresql://postgres@127.0.0.1:5432/postgres}

for tool in haproxy wrk; do
    command -v "$tool" > /dev/null || { echo "$tool is needed: sudo apt-get install $tool" >&2; exit 1; }
done
make -C "$here" --no-print-directory .venv/.synced
[ "$project" = "$here" ] || make -C "$project" --no-print-directory .venv/.synced

py="$here/.venv/bin/python"
cart="$project/.venv/bin/aimall-cart"
run_dir=$(mktemp -d "${TMPDIR:-/tmp}/aimall-cluster.XXXXXX")
pids=()
throwaway=""

sql() {  # sql DSN STATEMENTS: through asyncpg, so psql need not be installed
    "$py" -c '
import asyncio, sys
import asyncpg

async def main() -> None:
    connection = await asyncpg.connect(sys.argv[1])
    try:
        await connection.execute(sys.argv[2])
    finally:
        await connection.close()

asyncio.run(main())' "$1" "$2"
}

ready() {  # ready URL: until URL/readyz answers 200, at most 90 s
    "$py" -c '
import sys, time
import httpx

deadline = time.monotonic() + 90
while time.monotonic() < deadline:
    try:
        if httpx.get(sys.argv[1] + "/readyz", timeout=2, trust_env=False).status_code == 200:
            sys.exit(0)
    except httpx.TransportError:
        pass
    time.sleep(0.25)
sys.exit(f"{sys.argv[1]}/readyz did not answer 200 within 90 s")' "$1"
}

cleanup() {
    local status=$?
    trap - EXIT INT TERM
    for pid in "${pids[@]}"; do kill -TERM "$pid" 2> /dev/null || true; done
    for pid in "${pids[@]}"; do
        # Up to 15 s to finish what is in flight, then no more waiting.
        for _ in $(seq 1 30); do kill -0 "$pid" 2> /dev/null || break; sleep 0.5; done
        kill -KILL "$pid" 2> /dev/null || true
    done
    if [ "$status" -ne 0 ]; then
        for log in "$run_dir"/*.log; do
            [ -s "$log" ] && { echo "--- $(basename "$log"), last lines:"; tail -n 20 "$log"; } >&2
        done
    fi
    if [ -n "$throwaway" ]; then
        sql "$admin_dsn" "DROP DATABASE IF EXISTS \"$throwaway\" WITH (FORCE)" \
            || echo "could not drop the database $throwaway" >&2
    fi
    rm -rf "$run_dir"
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

if [ -z "${AIMALL_CART_DATABASE_URL:-}" ]; then
    throwaway="aimall_cluster_$(od -An -N4 -tx1 /dev/urandom | tr -d ' \n')"
    sql "$admin_dsn" "CREATE DATABASE \"$throwaway\""
    server=${admin_dsn%/*}
    export AIMALL_CART_DATABASE_URL="postgresql+asyncpg://${server#*://}/$throwaway"
    echo "throwaway database: $throwaway"
fi
export AIMALL_CART_RATE_LIMIT_ENABLED=false
export AIMALL_CART_LOG_LEVEL="${AIMALL_CART_LOG_LEVEL:-warning}"
# Every process holds its own pool. Two API processes at 10 + 10 and the worker's few stay well
# under PostgreSQL's default max_connections of 100 (docs/deploy.md has the budget).
export AIMALL_CART_DATABASE_POOL_SIZE="${AIMALL_CART_DATABASE_POOL_SIZE:-10}"
export AIMALL_CART_DATABASE_MAX_OVERFLOW="${AIMALL_CART_DATABASE_MAX_OVERFLOW:-10}"

(cd "$project" && "$cart" migrate && "$cart" seed --demo)
if [ -n "$throwaway" ]; then
    # Stock and line caps no run can exhaust (benchmarks/bench_catalog.sql says why).
    sql "$server/$throwaway" "$(cat "$here/benchmarks/bench_catalog.sql")"
fi

cd "$project"
for port in "${api_ports[@]}"; do
    "$cart" serve --host 127.0.0.1 --port "$port" --workers 1 --no-worker \
        > "$run_dir/serve-$port.log" 2>&1 &
    pids+=("$!")
done
# The one background worker; its jobs are safe to run in several copies (worker.py), so a
# second one elsewhere would only be for availability.
"$cart" worker > "$run_dir/worker.log" 2>&1 &
pids+=("$!")
for port in "${api_ports[@]}"; do ready "http://127.0.0.1:$port"; done

config="$run_dir/haproxy.cfg"
cp "$here/deploy/haproxy.cfg" "$config"
number=0
for port in "${api_ports[@]}"; do
    number=$((number + 1))
    echo "    server api$number 127.0.0.1:$port" >> "$config"
done
export AIMALL_LB_BIND="127.0.0.1:$lb_port" AIMALL_LB_STATS="127.0.0.1:$stats_port"
haproxy -c -q -f "$config"
haproxy -db -f "$config" > "$run_dir/haproxy.log" 2>&1 &
pids+=("$!")
ready "http://127.0.0.1:$lb_port"
echo "HAProxy on 127.0.0.1:$lb_port (statistics on 127.0.0.1:$stats_port) -> ${api_ports[*]}"

cd "$start_dir"
# In the background and waited for, so a signal to this script is handled at once (a foreground
# child would make bash wait for the whole run first); cleanup stops it with the rest.
"$py" "$here/benchmarks/cart_load.py" --target "http://127.0.0.1:$lb_port" --scenarios mix \
    --no-pgbench --database-url "$AIMALL_CART_DATABASE_URL" --project-dir "$project" "$@" &
load=$!
pids+=("$load")
wait "$load"

# What each API process answered, from HAProxy's own count: the load was shared.
"$py" -c '
import csv, io, sys
import httpx

text = httpx.get(sys.argv[1], timeout=5, trust_env=False).text.lstrip("# ")
line = "%-8s %-6s %9s %9s %6s %6s"
print(line % ("server", "status", "requests", "2xx", "4xx", "5xx"))
for row in csv.DictReader(io.StringIO(text)):
    if row["pxname"] == "api" and row["svname"] not in ("FRONTEND", "BACKEND"):
        fields = ("svname", "status", "stot", "hrsp_2xx", "hrsp_4xx", "hrsp_5xx")
        print(line % tuple(row[name] for name in fields))' "http://127.0.0.1:$stats_port/;csv"
