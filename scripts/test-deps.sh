#!/usr/bin/env bash
# The system packages the whole test suite needs, installed when missing (Debian/Ubuntu, as root):
# Chromium for the dashboard's browser tests (driven by playwright-core; nothing downloads a
# browser), python3 with venv for the Python SDK's tests, PostgreSQL for the Postgres store
# suite, nginx for the load-balancer test, and Slurm with munge for the slurm provider's tests.
# `npm test` runs this first, so the README's test command works on a fresh machine; without
# root or apt it says what is missing.
set -euo pipefail
missing=()
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
python3 -c 'import venv, ensurepip' >/dev/null 2>&1 || missing+=(python3 python3-venv)
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing+=(postgresql)
{ command -v slurmctld && command -v slurmd && command -v munged; } >/dev/null 2>&1 || missing+=(slurm-wlm munge)
# test/ha/nginx.test.ts: the documented load balancer (deploy/nginx) in front of two servers.
{ [ -x /usr/sbin/nginx ] || command -v nginx; } >/dev/null 2>&1 || missing+=(nginx)
# test/net: namespaces and veth pairs (iproute2), NAT (nftables), self-signed TLS (openssl).
command -v ip >/dev/null 2>&1 || missing+=(iproute2)
command -v nft >/dev/null 2>&1 || missing+=(nftables)
command -v openssl >/dev/null 2>&1 || missing+=(openssl)
# Toxiproxy (latency for test/net; the kernel here has no netem), built from the Go module proxy
# into .tools/bin when Go is installed; test/net says so and skips that scenario without it.
if [ ! -x .tools/bin/toxiproxy-server ] && command -v go >/dev/null 2>&1; then
  echo "test-deps: building toxiproxy-server v2.5.0 into .tools/bin" >&2
  mkdir -p .tools/bin
  (GOFLAGS=-mod=mod GOBIN="$PWD/.tools/go-bin" go install github.com/Shopify/toxiproxy/v2/cmd/server@v2.5.0 \
    && mv .tools/go-bin/server .tools/bin/toxiproxy-server) || echo "test-deps: could not build toxiproxy (test/net skips its latency scenario)" >&2
fi
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "test-deps: installing ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq -o DPkg::Lock::Timeout=300 "${missing[@]}" >/dev/null
  exit 0
fi
echo "test-deps: the test suite needs these packages: ${missing[*]}" >&2
echo "test-deps: install them (Debian/Ubuntu: sudo apt-get install ${missing[*]}) and run npm test again." >&2
exit 1
