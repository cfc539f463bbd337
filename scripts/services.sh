#!/usr/bin/env bash
# Makes sure Postgres and Redis answer. On a machine where they are installed but stopped, starts
# them (Debian/Ubuntu layout: pg_ctlcluster, redis-server). Prints one line per service.
# Exit 0 when both answer, 1 otherwise. Honours DATABASE_URL and REDIS_URL (host/port only).
set -u

db_url=${DATABASE_URL:-postgresql://postgres@127.0.0.1:5432/docbatch}
redis_url=${REDIS_URL:-redis://127.0.0.1:6379}

hostport() { # URL default_port -> "host port"
  local rest=${1#*://}; rest=${rest#*@}; rest=${rest%%/*}; rest=${rest%%\?*}
  local host=${rest%%:*} port=$2
  [[ $rest == *:* ]] && port=${rest##*:}
  echo "$host $port"
}
read -r pg_host pg_port < <(hostport "$db_url" 5432)
read -r rd_host rd_port < <(hostport "$redis_url" 6379)

pg_up() { command -v pg_isready >/dev/null && pg_isready -q -h "$pg_host" -p "$pg_port" -t 2; }
pg_up_tcp() { (exec 3<>"/dev/tcp/$pg_host/$pg_port") 2>/dev/null; }
redis_up() {
  if command -v redis-cli >/dev/null; then
    [ "$(redis-cli -h "$rd_host" -p "$rd_port" ping 2>/dev/null)" = PONG ]
  else (exec 3<>"/dev/tcp/$rd_host/$rd_port") 2>/dev/null; fi
}
wait_for() { local i; for i in $(seq 1 30); do "$@" && return 0; sleep 0.5; done; return 1; }
is_local() { [[ $1 == 127.* || $1 == localhost || $1 == ::1 ]]; }

ok=0
if pg_up || { ! command -v pg_isready >/dev/null && pg_up_tcp; }; then
  echo "postgres: up at $pg_host:$pg_port"
elif is_local "$pg_host" && command -v pg_ctlcluster >/dev/null && [ -d /etc/postgresql ]; then
  for v in $(ls /etc/postgresql); do pg_ctlcluster --skip-systemctl-redirect "$v" main start >/dev/null 2>&1 || true; done
  if wait_for pg_up; then echo "postgres: started at $pg_host:$pg_port"; else
    echo "postgres: could not start it at $pg_host:$pg_port; start it by hand (pg_ctlcluster <version> main start) or set DATABASE_URL" >&2; ok=1; fi
else
  echo "postgres: not reachable at $pg_host:$pg_port and not installed here; start it (docker compose up -d postgres) or set DATABASE_URL" >&2; ok=1
fi

if redis_up; then
  echo "redis: up at $rd_host:$rd_port"
elif is_local "$rd_host" && command -v redis-server >/dev/null; then
  mkdir -p /var/lib/redis /var/log/redis 2>/dev/null || true
  redis-server --daemonize yes --bind 127.0.0.1 -::1 --port "$rd_port" --save "" --appendonly no \
    --maxmemory-policy noeviction --dir /var/lib/redis --logfile /var/log/redis/docbatch.log >/dev/null 2>&1 ||
    redis-server --daemonize yes --bind 127.0.0.1 --port "$rd_port" --save "" --appendonly no >/dev/null 2>&1 || true
  if wait_for redis_up; then echo "redis: started at $rd_host:$rd_port"; else
    echo "redis: could not start it at $rd_host:$rd_port; start it by hand (redis-server) or set REDIS_URL" >&2; ok=1; fi
else
  echo "redis: not reachable at $rd_host:$rd_port and not installed here; start it (docker compose up -d redis) or set REDIS_URL" >&2; ok=1
fi
exit $ok
