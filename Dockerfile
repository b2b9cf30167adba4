# The keybroker image the manifests under deploy/ name: a static binary
# (CGO_ENABLED=0) on distroless static, running as its non-root user.
#
#   docker build --build-arg VERSION=v1.0.0 -t registry.example.com/keybroker:1.0 .
#
# cmd/keybroker/dockerfile_test.go runs the build command below as written
# and runs the binary it makes, so the image's build stays true without a
# container engine in CI.
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=
RUN CGO_ENABLED=0 go build -trimpath -buildvcs=false -ldflags "-s -w -X main.version=${VERSION}" -o /out/keybroker ./cmd/keybroker

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/keybroker /usr/local/bin/keybroker
# 65532 is distroless's nonroot user; deploy/kubernetes/sidecar.yaml gives
# the pod the same group so the app may use the broker's 0660 socket.
USER 65532:65532
EXPOSE 50051 9464
ENTRYPOINT ["/usr/local/bin/keybroker"]
CMD ["serve"]
