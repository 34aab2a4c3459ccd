# Sourced by every Procfile line (`. scripts/farm-env.sh && ...`): settings all the farm's processes on
# this host share. $PPID is honcho's pid, the same for every line of one `honcho start`.
#
# Metrics: one multiprocess directory per `honcho start`, fresh (empty) for each, shared by gunicorn's
# workers, the Celery workers and their pool children: the API's /metrics adds them all up
# (docs/architecture.md, "Metrics"). Set PROMETHEUS_MULTIPROC_DIR to choose it (it must be empty at start).
export PROMETHEUS_MULTIPROC_DIR="${PROMETHEUS_MULTIPROC_DIR:-${TMPDIR:-/tmp}/layer2-metrics-$PPID}"
# Logs: readable lines for the person watching honcho; LOG_FORMAT=json for a log collector.
export LOG_FORMAT="${LOG_FORMAT:-text}"
