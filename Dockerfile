# Dozor: a slim image that runs as a non-root user.
# Stage 1 builds wheels (compilers stay here); stage 2 installs them and nothing else.
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY bot ./bot
COPY handlers ./handlers
RUN pip wheel --no-cache-dir --wheel-dir /wheels .

FROM python:3.11-slim
ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    DOZOR_CONFIG=/app/feeds.yaml \
    DOZOR_DB=/app/data/dozor.db
RUN useradd --system --uid 10001 --user-group --home-dir /app --create-home dozor \
 && mkdir -p /app/data && chown dozor:dozor /app/data
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir /wheels/*.whl && rm -rf /wheels
WORKDIR /app
COPY --chown=dozor:dozor feeds.yaml ./feeds.yaml
USER dozor
VOLUME ["/app/data"]
EXPOSE 8080
# /healthz answers 200 while the store answers (503 otherwise); DOZOR_HTTP_PORT moves it.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
  CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:' + os.environ.get('DOZOR_HTTP_PORT', '8080') + '/healthz', timeout=4)"]
ENTRYPOINT ["dozor"]
CMD ["run"]
