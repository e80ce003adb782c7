# The platform image: every gRPC service and the gateway; `--target` picks what a container runs.
#   docker build -t arc-reactor .
#   docker run --rm -p 8080:8080 -p 50051:50051 arc-reactor          # everything, embedded PostgreSQL
#   docker run --rm arc-reactor serve --target runs                  # one service (Kubernetes: k8s/)
# The orchestrator (Nextflow + supervisor, run by Cloud Batch) has its own image:
# orchestrator/Dockerfile.orchestrator.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app

# Dependencies first (pinned): this layer is rebuilt only when requirements.txt changes.
COPY requirements.txt ./
RUN pip install --no-cache-dir -r requirements.txt

# Only what start-up, the services and the gateway import or read at run time: the catalog, the
# templates and the migrations live under services/.
COPY protos ./protos
COPY gen ./gen
COPY arc_core ./arc_core
COPY arc_platform ./arc_platform
COPY services ./services
COPY gateway ./gateway

# Bytecode compiled now, as root: the root filesystem is read-only in a pod.
RUN python -m compileall -q arc_core arc_platform gen services gateway

# A numeric non-root user (Kubernetes' runAsNonRoot can only verify a numeric UID). ARC_DATA_DIR is the
# one writable place for `serve --target all` in a plain `docker run` (embedded PostgreSQL, local storage);
# in Kubernetes it points at the /tmp emptyDir instead.
RUN groupadd --gid 10001 arc \
    && useradd --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin arc \
    && mkdir -p /var/lib/arc \
    && chown 10001:10001 /var/lib/arc

ENV PYTHONPATH=/app:/app/gen \
    ARC_BIND_HOST=0.0.0.0 \
    ARC_DATA_DIR=/var/lib/arc

USER 10001:10001
EXPOSE 50051 8080

ENTRYPOINT ["python", "-m", "arc_platform"]
CMD ["serve", "--target", "all"]
