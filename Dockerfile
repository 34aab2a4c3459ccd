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
RUN pip install --no-cache-dir . && useradd --create-home layer2
USER layer2
EXPOSE 8082 5555
CMD ["gunicorn", "--bind", "0.0.0.0:8082", "--workers", "2", "app:create_app()"]
