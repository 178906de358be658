# The same build as natively: `cargo build --release --locked` (bundled SQLite, bundled
# libpq, vendored OpenSSL — no system libraries needed).
FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY .cargo ./.cargo
COPY src ./src
COPY migrations ./migrations
RUN cargo build --release --locked

FROM debian:bookworm-slim
# pg_dump and pg_restore for `sidak backup` / `sidak restore` on PostgreSQL (major version 15,
# the compose file's database).
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates postgresql-client \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --home-dir /var/lib/sidak --create-home sidak
COPY --from=build /src/target/release/sidak /usr/local/bin/sidak
USER sidak
ENV SIDAK_BIND=0.0.0.0:8080 \
    SIDAK_DATA_DIR=/var/lib/sidak \
    SIDAK_ENV=production \
    SIDAK_LOG_FORMAT=json
VOLUME /var/lib/sidak
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/sidak"]
CMD ["serve"]
