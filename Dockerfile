# imbot container image: `docker build -t imbot .` (see "Container" in the README).
# Two stages: the first installs the locked dependencies and the bot into a virtual
# environment, checks that every language catalog is complete and compiles it (kept beside the
# installed .po as imbot.<hash>.mo, which the bot then reads at start: `python -P` imports the
# installed package, not /src), and checks the example configuration;
# the second stage copies only that environment.

FROM python:3.11-slim AS build

ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PYTHONDONTWRITEBYTECODE=1

WORKDIR /src
RUN python -m venv /opt/imbot

# The locked dependencies first (runtime and PostgreSQL driver, every file checked against its
# hash), so that a change to the bot's code does not reinstall them.
COPY requirements/lock.txt requirements/lock.txt
RUN /opt/imbot/bin/pip install --no-cache-dir --require-hashes -r requirements/lock.txt

COPY . .
# The bot itself, without resolving anything again: everything it needs is in the lock.
RUN /opt/imbot/bin/pip install --no-cache-dir --no-deps . \
    && /opt/imbot/bin/pip check \
    && /opt/imbot/bin/imbot i18n check \
    && /opt/imbot/bin/python -P -c "from i18n import LANGUAGES, translations; [translations(x) for x in LANGUAGES]" \
    && /opt/imbot/bin/imbot check-config config/example.yaml


FROM python:3.11-slim

ENV PATH=/opt/imbot/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    IMBOT_CONFIG=/etc/imbot/imbot.yaml \
    DATABASE_URL=sqlite:////var/lib/imbot/imbot.sqlite3

RUN groupadd --system --gid 10001 imbot \
    && useradd --system --uid 10001 --gid imbot --home-dir /var/lib/imbot --create-home \
       --shell /usr/sbin/nologin imbot \
    && mkdir -p /etc/imbot

COPY --from=build /opt/imbot /opt/imbot
# The example configuration, so that the image starts as shipped; mount your own file at
# /etc/imbot/imbot.yaml (or set IMBOT_CONFIG).
COPY --from=build /src/config/example.yaml /etc/imbot/imbot.yaml

USER 10001:10001
WORKDIR /var/lib/imbot
VOLUME ["/var/lib/imbot"]
EXPOSE 8080

# The HTTP server listens on all interfaces inside the container: /healthz, /readyz, /metrics
# and, in webhook mode, Telegram's POSTs.
HEALTHCHECK --interval=15s --timeout=5s --start-period=60s --retries=3 \
    CMD ["imbot", "healthcheck", "--url", "http://127.0.0.1:8080/readyz", "--timeout", "4"]

# SIGTERM (docker stop) lets the running sweep finish its messages; give it time with
# `docker stop --time 60` or the compose file's stop_grace_period.
STOPSIGNAL SIGTERM
ENTRYPOINT ["imbot"]
CMD ["run", "--listen", "0.0.0.0", "--port", "8080"]
