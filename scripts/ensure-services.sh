#!/usr/bin/env bash
# Makes sure PostgreSQL (127.0.0.1:5432) and Redis (127.0.0.1:6379) answer before the
# integration tests run: starts them when installed but down, otherwise says what to install.
set -u

pg_up() { pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null || (echo > /dev/tcp/127.0.0.1/5432) 2>/dev/null; }
redis_up() { redis-cli -h 127.0.0.1 -p 6379 ping 2>/dev/null | grep -q PONG || (exec 3<>/dev/tcp/127.0.0.1/6379 && printf 'PING\r\n' >&3 && head -c 5 <&3 | grep -q PONG) 2>/dev/null; }

wait_for() {  # name, check function
  for _ in $(seq 1 30); do "$2" && return 0; sleep 1; done
  echo "ensure-services: $1 did not come up within 30 s" >&2; return 1
}

status=0
if ! pg_up; then
  if command -v pg_ctlcluster >/dev/null && [ -d /etc/postgresql ]; then
    echo "ensure-services: starting PostgreSQL"
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -1)" main start || true
    wait_for PostgreSQL pg_up || status=1
  else
    echo "ensure-services: PostgreSQL is not running on 127.0.0.1:5432 and is not installed." >&2
    echo "  install it with: apt-get install postgresql" >&2
    status=1
  fi
fi
if ! redis_up; then
  if command -v redis-server >/dev/null; then
    echo "ensure-services: starting Redis"
    mkdir -p /var/lib/redis /var/log/redis 2>/dev/null || true
    redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
      --dir /var/lib/redis --logfile /var/log/redis/ci.log || true
    wait_for Redis redis_up || status=1
  else
    echo "ensure-services: Redis is not running on 127.0.0.1:6379 and is not installed." >&2
    echo "  install it with: apt-get install redis-server" >&2
    status=1
  fi
fi
[ $status -eq 0 ] && echo "ensure-services: PostgreSQL and Redis are up"
exit $status
