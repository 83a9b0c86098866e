# One image per function, picked by a build argument:
#
#   docker build --build-arg FUNCTION=acquire -t acquire .
#
# Stages: chef (toolchain + cargo-chef) -> planner (dependency recipe) ->
# cook (dependencies only: the cached layer, shared by every function) ->
# build (the workspace, one package) -> runtime (distroless, non-root).
# Cloud Build builds the `cook` target once and reuses it for every function
# (cloudbuild.yaml).

ARG RUST_VERSION=1.95

FROM rust:${RUST_VERSION}-slim-bookworm AS chef
RUN cargo install cargo-chef --locked --version 0.1.77
WORKDIR /app

FROM chef AS planner
COPY . .
RUN cargo chef prepare --recipe-path recipe.json

# Depends only on Cargo.toml / Cargo.lock contents, so source edits keep this
# layer cached. It builds the dependencies of the whole workspace, so one
# layer serves every function.
FROM chef AS cook
COPY --from=planner /app/recipe.json recipe.json
RUN cargo chef cook --release --locked --recipe-path recipe.json

FROM cook AS build
# Declared after `cook` so a different FUNCTION never invalidates the cache.
ARG FUNCTION
# The functions this image can be built for (`local` is the all-in-one dev
# server: buildable, not deployed by cloudbuild.yaml).
RUN case "${FUNCTION}" in \
      acquire|heartbeat|release|stripe-webhook|admin|cleanup|local) ;; \
      *) echo "FUNCTION must be one of acquire heartbeat release stripe-webhook admin cleanup local, got '${FUNCTION}'" >&2; exit 1 ;; \
    esac
COPY . .
RUN cargo build --release --locked -p "${FUNCTION}" --bin "${FUNCTION}" \
 && install -D -m 0755 "target/release/${FUNCTION}" /out/service

# glibc + libgcc + CA certificates, no shell, no package manager; uid 65532.
FROM gcr.io/distroless/cc-debian12:nonroot AS runtime
ARG FUNCTION
LABEL org.opencontainers.image.title="coditect-${FUNCTION}"
COPY --from=build /out/service /usr/local/bin/service
# Cloud Run sets PORT; this is the default for `docker run`.
ENV PORT=8080
EXPOSE 8080
USER nonroot:nonroot
ENTRYPOINT ["/usr/local/bin/service"]
