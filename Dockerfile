# Not built or run here (no container engine on the development machines); kept simple and conventional.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /app

# Dependencies first, so code changes do not re-install them.
COPY pyproject.toml README.md ./
RUN mkdir -p cube_models aggregates cube_server api \
    && touch cube_models/__init__.py aggregates/__init__.py cube_server/__init__.py api/__init__.py \
    && pip install .

COPY cube_models ./cube_models
COPY aggregates ./aggregates
COPY cube_server ./cube_server
COPY api ./api
COPY examples ./examples
RUN pip install --no-deps --force-reinstall . \
    && useradd --create-home --uid 10001 cube \
    && chown -R cube /app/examples

USER cube
EXPOSE 8000
# The demo generates its data on first start (about 10 s for 1M rows), then serves.
CMD ["cube-server", "demo", "--host", "0.0.0.0", "--port", "8000"]
