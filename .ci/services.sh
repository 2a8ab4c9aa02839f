# Shared by .ci/run and .ci/test: bring up the PostgreSQL and Redis the suite talks to.
# Sourced, not executed; expects `set -euo pipefail` from the caller.

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

wait_for() { # wait_for <what> <command...>: poll for up to 60 s
  local what=$1 i
  shift
  for i in $(seq 1 60); do
    if "$@" >/dev/null 2>&1; then return 0; fi
    sleep 1
  done
  echo "ci: $what is not answering after 60 s" >&2
  return 1
}

ensure_postgres() {
  if pg_isready -q -h 127.0.0.1; then return 0; fi
  echo "ci: starting PostgreSQL"
  # shellcheck disable=SC2046 # one cluster version directory, e.g. 15
  as_root pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start
  wait_for PostgreSQL pg_isready -q -h 127.0.0.1
}

ensure_redis() {
  if [ "$(redis-cli -h 127.0.0.1 ping 2>/dev/null)" = "PONG" ]; then return 0; fi
  echo "ci: starting Redis"
  as_root mkdir -p /var/lib/redis /var/log/redis
  as_root redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" \
    --appendonly no --dir /var/lib/redis --logfile /var/log/redis/ci.log
  wait_for Redis sh -c '[ "$(redis-cli -h 127.0.0.1 ping)" = PONG ]'
}

ensure_services() {
  ensure_postgres
  ensure_redis
}
