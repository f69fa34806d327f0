# The service alone: docker build -t fleettickets .   The whole stack: docker compose up --build
# The map's files are embedded in the binary at compile time: no npm stage, nothing to
# copy beside it.
FROM rust:1-slim-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
# The workspace's other member (the test-snapshot generator): resolved, not built.
COPY crates crates
COPY src src
COPY migrations migrations
COPY gazetteer gazetteer
COPY static static
COPY benches benches
RUN cargo build --release --locked --bin fleettickets

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates tzdata \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --home /app fleettickets
ENV TZ=Africa/Nairobi LISTEN_ADDR=0.0.0.0:8080 BUCKET_DIR=/app/data/bucket
WORKDIR /app
COPY --from=build /src/target/release/fleettickets /usr/local/bin/fleettickets
# The local-folder bucket (used when S3_ENDPOINT is unset) lives under /app/data.
RUN mkdir -p /app/data && chown fleettickets /app/data
USER fleettickets
EXPOSE 8080
ENTRYPOINT ["fleettickets", "serve"]
