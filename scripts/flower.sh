#!/bin/sh
# Flower as the Procfiles start it: basic auth always (FLOWER_BASIC_AUTH=user:password, which Flower reads
# itself; unset, a login is made for this run and printed once), on loopback unless FLOWER_ADDRESS says
# otherwise, and workers gone for FLOWER_PURGE_OFFLINE_WORKERS seconds dropped from its lists.
if [ -z "$FLOWER_BASIC_AUTH" ]; then
    FLOWER_BASIC_AUTH="layer2:$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')"
    echo "flower: FLOWER_BASIC_AUTH is not set; this run's login is $FLOWER_BASIC_AUTH" >&2
fi
export FLOWER_BASIC_AUTH
exec celery -A tasks.worker:celery_app flower --port="${FLOWER_PORT:-5555}" --address="${FLOWER_ADDRESS:-127.0.0.1}" \
    --purge_offline_workers="${FLOWER_PURGE_OFFLINE_WORKERS:-60}" "$@"
