# Sourced by every Procfile line (`. scripts/farm-env.sh && ...`): settings all the farm's processes on
# this host share.
#
# Metrics: one multiprocess directory per `honcho start`, fresh (empty) for each, shared by gunicorn's
# workers, the Celery workers and their pool children: the API's /metrics adds them all up
# (docs/architecture.md, "Metrics"). honcho runs each line's shell under a process of its own, itself a
# child of honcho, so the directory is named after this shell's grandparent: honcho's pid, the same for
# every line of one run, new for the next. Set PROMETHEUS_MULTIPROC_DIR to choose it (empty at start).
if [ -z "$PROMETHEUS_MULTIPROC_DIR" ]; then
    run=$(ps -o ppid= -p "$PPID" 2>/dev/null | tr -d ' ')
    [ -n "$run" ] || run=$(awk '{print $4}' "/proc/$PPID/stat" 2>/dev/null)
    PROMETHEUS_MULTIPROC_DIR="${TMPDIR:-/tmp}/layer2-metrics-${run:-$PPID}"
fi
export PROMETHEUS_MULTIPROC_DIR
# Logs: readable lines for the person watching honcho; LOG_FORMAT=json for a log collector.
export LOG_FORMAT="${LOG_FORMAT:-text}"
