# The redis-pair test target's image: redis-server from Debian's packages
# (the package creates the account redis), iptables and iproute2 for the
# network faults, and faultline. The service the package would start is
# kept from starting during the build.
ARG BASE=debian:bookworm-slim
FROM ${BASE}
RUN set -eu; export DEBIAN_FRONTEND=noninteractive; \
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d; chmod 755 /usr/sbin/policy-rc.d; \
    apt-get update -qq; \
    apt-get install -y -qq --no-install-recommends redis-server iptables iproute2 >/dev/null; \
    apt-get clean; rm -rf /var/lib/apt/lists/* /usr/sbin/policy-rc.d; \
    redis-server --version; iptables --version; ip -V
COPY faultline /usr/local/bin/faultline
ARG INPUTS
LABEL faultline=1 faultline.role=node faultline.target=redis-pair faultline.inputs=${INPUTS}
