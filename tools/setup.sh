#!/usr/bin/env bash
# One command from a fresh Debian 12 machine (Node 20.19+ only) to a built ciop workspace:
#   system packages (SoftHSM2, OpenSC, the independent verifiers), the pinned pnpm, the native
#   PKCS#11 addon, and the build. Safe to run again; it only does what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '\033[1m[setup]\033[0m %s\n' "$*" >&2; }
need_pkgs=()
command -v softhsm2-util >/dev/null || need_pkgs+=(softhsm2)
command -v pkcs11-tool >/dev/null || need_pkgs+=(opensc)
command -v openssl >/dev/null || need_pkgs+=(openssl)
command -v curl >/dev/null || need_pkgs+=(curl)
command -v wrk >/dev/null || need_pkgs+=(wrk)
command -v redis-server >/dev/null || need_pkgs+=(redis-server)   # xks-proxy's [fleet] tests start a throw-away one
# `p11-kit server` + p11-kit-client.so: the tests and bench reach SoftHSM out of process through p11-kit's RPC
command -v p11-kit >/dev/null || need_pkgs+=(p11-kit)
ls /usr/lib/*/pkcs11/p11-kit-client.so /usr/lib*/pkcs11/p11-kit-client.so >/dev/null 2>&1 || need_pkgs+=(p11-kit-modules)
# NSS softokn (libsoftokn3.so, in libnss3): the tests' second token; its database is made without certutil
ls /usr/lib/*/libsoftokn3.so /usr/lib*/libsoftokn3.so >/dev/null 2>&1 || need_pkgs+=(libnss3)
/usr/bin/python3 -c 'import cryptography' 2>/dev/null || need_pkgs+=(python3-cryptography)
/usr/bin/python3 -c 'import jwcrypto' 2>/dev/null || need_pkgs+=(python3-jwcrypto)
for tool in make g++; do command -v "$tool" >/dev/null || need_pkgs+=(build-essential); done
if [ ${#need_pkgs[@]} -gt 0 ]; then
  say "installing Debian packages: ${need_pkgs[*]}"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need_pkgs[@]}" >/dev/null
fi

want_pnpm=$(node -p 'require("./package.json").packageManager.split("@")[1]')
if [ "$(pnpm --version 2>/dev/null || true)" != "$want_pnpm" ]; then
  say "installing pnpm $want_pnpm"
  npm install -g --silent "pnpm@$want_pnpm"
fi

# node-gyp builds pkcs11js against the local Node headers (no network download).
if [ -f /usr/include/node/node.h ]; then export npm_config_nodedir=/usr; fi
export TURBO_TELEMETRY_DISABLED=1

say "installing workspace dependencies"
pnpm install --frozen-lockfile
node -e 'require("pkcs11js")' 2>/dev/null || (cd packages/hsm && node -e 'require("pkcs11js")') \
  || { echo "pkcs11js native addon did not build" >&2; exit 1; }
# The fault-injecting PKCS#11 module the fault tests load (make rebuilds it only when its source changed).
make -s -C tools/pkcs11-fault
say "building"
pnpm build
say "done: run 'pnpm test'"
