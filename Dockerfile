# Build: docker build -t fleettickets .
FROM rust:1-slim-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY src src
COPY migrations migrations
COPY gazetteer gazetteer
COPY benches benches
RUN cargo build --release --locked --bin fleettickets

# The live map's libraries (Leaflet, leaflet.markercluster) from the committed lockfile.
FROM node:20-bookworm-slim AS web
WORKDIR /web
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates tzdata \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --home /app fleettickets
ENV TZ=Africa/Nairobi LISTEN_ADDR=0.0.0.0:8080 \
    STATIC_DIR=/app/static NODE_MODULES_DIR=/app/node_modules
WORKDIR /app
COPY --from=build /src/target/release/fleettickets /usr/local/bin/fleettickets
COPY --from=web /web/node_modules/leaflet /app/node_modules/leaflet
COPY --from=web /web/node_modules/leaflet.markercluster /app/node_modules/leaflet.markercluster
COPY static /app/static
# The local-folder bucket (used when S3_ENDPOINT is unset) lives under ./data.
RUN mkdir -p /app/data && chown fleettickets /app/data
USER fleettickets
EXPOSE 8080
ENTRYPOINT ["fleettickets", "serve"]
