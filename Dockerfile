# Multi-stage build of the one catat binary; every role runs from this image.
FROM rust:1-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked --bin catat

FROM debian:bookworm-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates curl \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --home /var/lib/catat --create-home catat
COPY --from=build /src/target/release/catat /usr/local/bin/catat
USER catat
WORKDIR /var/lib/catat
ENV CATAT_LISTEN=0.0.0.0:8080
EXPOSE 8080
ENTRYPOINT ["catat"]
CMD ["serve"]
