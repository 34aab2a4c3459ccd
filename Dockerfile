# One image for every process of the farm; docker-compose.yml picks the command.
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
WORKDIR /srv/layer2
COPY setup.cfg pyproject.toml README.md ./
COPY app ./app
COPY tasks ./tasks
COPY planning ./planning
COPY scheduling ./scheduling
COPY migrations ./migrations
COPY examples ./examples
RUN pip install --no-cache-dir . && groupadd --gid 10001 layer2 && useradd --uid 10001 --gid 10001 --create-home layer2
# Never root: a numeric user, so Kubernetes' runAsNonRoot can check it (deploy/k8s runs it as 10001 too).
USER 10001:10001
# gunicorn's workers (and a worker's pool children) add up their metrics here (app/metrics.py); each
# container has its own, emptied when it starts (compose: a tmpfs; Kubernetes: an emptyDir).
ENV PROMETHEUS_MULTIPROC_DIR=/tmp/layer2-metrics
EXPOSE 8082 9090 5555
CMD ["gunicorn", "-c", "python:app.gunicorn_conf", "--bind", "0.0.0.0:8082", "--workers", "2", \
     "--worker-class", "gthread", "--threads", "4", "app:create_app()"]
