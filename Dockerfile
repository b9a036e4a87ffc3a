# The citydata image: every citydata program (collector, api, derive, simulate, db init...) as
# `citydata SUBCOMMAND`; docker-compose.yml runs one service per program from it (docs/compose.md).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    CITYDATA_DATA_DIR=/var/lib/citydata

WORKDIR /app

# The packages first (their layer is reused while only the code changes), then the code.
COPY pyproject.toml requirements-image.lock README.md ./
COPY citydata/ citydata/
COPY collector/ collector/
COPY api/ api/
COPY simulators/ simulators/
COPY dashboards/ dashboards/
COPY alerts/ alerts/
# requirements-image.lock pins the project's packages and its grafana extra with their hashes,
# as bootstrap.sh installs requirements.lock: pip refuses a file whose hash differs, and
# --no-deps installs nothing the lock does not name; then the project itself (a local directory,
# which cannot be hash-checked). grafana-client's urllib3-future must not replace the real urllib3
# that the other packages import: its maintainers' way is URLLIB3_NO_OVERRIDE=1 and a source
# build (the lock holds its sdist's hash).
RUN URLLIB3_NO_OVERRIDE=1 pip install --no-compile --no-binary urllib3-future \
        --require-hashes --no-deps -r requirements-image.lock \
    && pip install --no-compile --no-deps . \
    && rm -rf citydata collector api simulators dashboards alerts build ./*.egg-info

# The shipped alert rules and the compose scripts (healthchecks, demo, dashboards copy).
COPY deploy/ deploy/

# A user of its own; the spool, dead letters and registry live in the data volume, and the
# dashboards service writes Grafana's copy of the dashboards to a volume of its own.
RUN groupadd --system --gid 10001 citydata \
    && useradd --system --uid 10001 --gid 10001 --home-dir /var/lib/citydata \
        --shell /usr/sbin/nologin citydata \
    && mkdir -p /var/lib/citydata /var/lib/citydata-dashboards \
    && chown citydata:citydata /var/lib/citydata /var/lib/citydata-dashboards
VOLUME ["/var/lib/citydata"]
# Numeric, so a platform that requires a non-root user (runAsNonRoot) can tell.
USER 10001:10001

# docker-compose.yml gives each service its own check; this one fits any long-running command.
HEALTHCHECK --interval=30s --timeout=10s --start-period=30s --retries=3 \
    CMD ["python", "/app/deploy/compose/healthcheck.py", "process"]

ENTRYPOINT ["citydata"]
CMD ["--help"]
