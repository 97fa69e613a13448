# The picdrop server as a container image: the server-only install (no Qt) with the scale-out
# and metrics extras, run as an unprivileged user, data in a volume, configured by PICDROP_*
# environment variables (`picdrop-server settings` lists them; docs/DEPLOY.md walks through it).
#
#   docker build -t picdrop .
#   docker run -p 8000:8000 -v picdrop-data:/data \
#       -e PICDROP_PUBLIC_URL=https://img.example.org picdrop
#
# BASE: any Debian-based image with Python 3.11+ and its venv module. WHEELS: with a directory
# `wheelhouse/` in the build context (`pip wheel -c constraints.txt -w wheelhouse '.[scale,metrics]'`
# run by the base image's own Python, so markers match it: docs/DEPLOY.md), pip installs from it
# alone and nothing is fetched during the build (`docker build --network none` works).
ARG BASE=python:3.11-slim
FROM ${BASE}

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

COPY . /tmp/picdrop
RUN set -eu; \
    cd /tmp/picdrop; \
    if [ -d wheelhouse ]; then \
        what="--no-index --find-links wheelhouse picdrop[scale,metrics]"; \
    else \
        what=".[scale,metrics]"; \
    fi; \
    python3 -m venv /opt/picdrop; \
    /opt/picdrop/bin/pip install --quiet -c constraints.txt $what; \
    cd /; rm -rf /tmp/picdrop; \
    useradd --system --uid 10001 --user-group --home-dir /data --shell /usr/sbin/nologin picdrop; \
    mkdir -p /data; chown picdrop:picdrop /data; chmod 0750 /data

ENV PATH=/opt/picdrop/bin:$PATH \
    PICDROP_HOST=0.0.0.0 \
    PICDROP_PORT=8000 \
    PICDROP_DATA_DIR=/data
USER picdrop
WORKDIR /data
VOLUME /data
EXPOSE 8000
# /healthz reads the catalog; urlopen raises (exit 1) on anything but a 2xx.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python3", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('PICDROP_PORT', '8000'), timeout=4)"]
CMD ["picdrop-server", "serve"]
