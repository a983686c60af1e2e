# Image for the Python side of Tandem: `tandem migrate`, `tandem gateway`, `tandem worker`.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    # shared/validation.py finds the JSON Schemas next to the source tree (../schemas), which
    # a site-packages install does not carry: import the packages from /app instead.
    PYTHONPATH=/app

WORKDIR /app

# Dependencies first, in their own layer, so editing the code does not reinstall them:
# exactly the locked versions, hashes checked (`make lock` writes the lock).
COPY requirements.lock ./
RUN pip install --require-hashes -r requirements.lock

COPY pyproject.toml ./
COPY shared ./shared
COPY services ./services
COPY simulation ./simulation
COPY schemas ./schemas
# --no-deps: nothing is resolved again; everything it needs came from the lock.
RUN pip install --no-deps . && rm -rf build *.egg-info

# Faust keeps its local table state under .state/faust (TANDEM_WORKER_DATADIR).
RUN useradd --system --uid 10001 --home-dir /app tandem \
 && mkdir -p /app/.state \
 && chown tandem /app/.state
USER tandem

EXPOSE 8000
CMD ["tandem", "gateway", "--host", "0.0.0.0"]
