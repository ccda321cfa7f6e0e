# The generic node image: faultline's binary on Debian, with iptables and
# iproute2 for partitions and packet loss. Targets that bring no Dockerfile
# of their own run on it. BASE is the base image (the project builds one
# from Debian's packages when none can be pulled); INPUTS names the inputs.
ARG BASE=debian:bookworm-slim
FROM ${BASE}
RUN set -eu; export DEBIAN_FRONTEND=noninteractive; \
    apt-get update -qq; \
    apt-get install -y -qq --no-install-recommends iptables iproute2 >/dev/null; \
    apt-get clean; rm -rf /var/lib/apt/lists/*; \
    iptables --version; ip -V
COPY faultline /usr/local/bin/faultline
ARG INPUTS
LABEL faultline=1 faultline.role=node faultline.inputs=${INPUTS}
