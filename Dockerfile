# Build: docker build -t fleettickets .
FROM rust:1-slim-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY src src
COPY migrations migrations
COPY gazetteer gazetteer
COPY benches benches
RUN cargo build --release --locked --bin fleettickets

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates tzdata \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --home /app fleettickets
ENV TZ=Africa/Nairobi LISTEN_ADDR=0.0.0.0:8080
WORKDIR /app
COPY --from=build /src/target/release/fleettickets /usr/local/bin/fleettickets
USER fleettickets
EXPOSE 8080
ENTRYPOINT ["fleettickets", "serve"]
