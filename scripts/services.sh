#!/usr/bin/env bash
# Make sure the local Redis, PostgreSQL and RabbitMQ the integration tests use are up.
# Starts a stopped one the way this kind of machine starts it; never stops anything.
set -u
redis_up() { redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; }
pg_up() { pg_isready -h 127.0.0.1 -p 5432 -q >/dev/null 2>&1; }
rabbitmq_up() { (exec 3<>/dev/tcp/127.0.0.1/5672) 2>/dev/null; }

if ! redis_up && command -v redis-server >/dev/null 2>&1; then
  mkdir -p /var/lib/redis /var/log/redis 2>/dev/null
  redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
    --dir /var/lib/redis --logfile /var/log/redis/ci.log >/dev/null 2>&1 || true
fi
if ! pg_up && command -v pg_ctlcluster >/dev/null 2>&1 && [ -d /etc/postgresql ]; then
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -1)" main start >/dev/null 2>&1 || true
fi
if ! rabbitmq_up && command -v rabbitmq-server >/dev/null 2>&1; then
  # Debian's wrapper runs the node as the rabbitmq user; -detached returns at once.
  rabbitmq-server -detached >/dev/null 2>&1 || true
fi
for _ in $(seq 1 40); do
  if redis_up && pg_up && rabbitmq_up; then exit 0; fi
  sleep 0.5
done
redis_up || echo "services: Redis is not reachable on 127.0.0.1:6379" >&2
pg_up || echo "services: PostgreSQL is not reachable on 127.0.0.1:5432" >&2
rabbitmq_up || echo "services: RabbitMQ is not reachable on 127.0.0.1:5672" >&2
exit 0
