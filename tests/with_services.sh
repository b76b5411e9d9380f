#!/usr/bin/env bash
# Run a command against PostgreSQL and Redis if they answer (always, and required, under CI).
set -uo pipefail
PG_URL="${DAIHOI_TEST_POSTGRES_URL:-postgresql://postgres@127.0.0.1:5432/postgres}"
REDIS_URL="${DAIHOI_TEST_REDIS_URL:-redis://127.0.0.1:6379/0}"
py="$(dirname "$1")/python"
if ! "$py" - "$PG_URL" "$REDIS_URL" <<'PYEOF'
import sys
import psycopg, redis
try:
    psycopg.connect(sys.argv[1].replace("postgresql+psycopg://", "postgresql://"), connect_timeout=3).close()
    redis.Redis.from_url(sys.argv[2], socket_timeout=3).ping()
except Exception as exc:
    print(f"PostgreSQL/Redis not reachable: {exc}", file=sys.stderr)
    sys.exit(1)
PYEOF
then
  if [ "${CI:-}" = "true" ]; then
    echo "FAIL: the PostgreSQL and Redis pass is required under CI" >&2
    exit 1
  fi
  echo "skipped the PostgreSQL + Redis pass (servers not reachable)"
  exit 0
fi
echo "== PostgreSQL + Redis pass"
export DAIHOI_TEST_DATABASE_URL="$PG_URL" DAIHOI_TEST_REDIS_URL="$REDIS_URL"
exec "$@"
