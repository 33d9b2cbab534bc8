# Multi-stage build of the boxoffice release binary.
# Build:  docker build -t boxoffice .
#         docker build --build-arg FEATURES=mysql,redis,kafka -t boxoffice:scale .
# Run:    docker run -p 8080:8080 -v boxoffice-data:/data -e BOXOFFICE_ADMIN_TOKEN=change-me boxoffice

FROM rust:1-bookworm AS build
# Cargo features to build with, comma-separated (mysql, redis, kafka); none by default.
# kafka compiles the bundled librdkafka, with the gcc and make this image has.
ARG FEATURES=""
WORKDIR /src
# Dependencies first, so source edits do not rebuild them.
COPY Cargo.toml Cargo.lock ./
# The manifest names the benchmark, so its file must exist for cargo to read the manifest.
COPY benches ./benches
RUN mkdir src && echo 'fn main() {}' > src/main.rs && touch src/lib.rs \
    && cargo build --release --locked --features "$FEATURES" \
    && rm -rf src
COPY schema.sql schema.mysql.sql ./
COPY migrations ./migrations
COPY src ./src
RUN touch src/main.rs src/lib.rs && cargo build --release --locked --features "$FEATURES"

FROM debian:bookworm-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates curl \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --home /data --create-home boxoffice
COPY --from=build /src/target/release/boxoffice /usr/local/bin/boxoffice
USER boxoffice
WORKDIR /data
ENV BOXOFFICE_LISTEN=0.0.0.0:8080 \
    BOXOFFICE_DB=/data/boxoffice.db
EXPOSE 8080
VOLUME ["/data"]
HEALTHCHECK --interval=10s --timeout=3s CMD ["curl", "-fsS", "http://127.0.0.1:8080/ready"]
ENTRYPOINT ["boxoffice"]
CMD ["serve"]
