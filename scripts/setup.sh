#!/usr/bin/env bash
# Installs everything PLIP-TS needs on a fresh Debian machine: OpenBLAS (apt), npm packages,
# and the native OpenBLAS addon. Idempotent. PyTorch is NOT needed (only to regenerate fixtures
# and for the benchmark peer: `apt-get install python3-torch`).
set -euo pipefail
cd "$(dirname "$0")/.."
SUDO=""
if [ "$(id -u)" != "0" ] && command -v sudo >/dev/null; then SUDO="sudo"; fi
if ! dpkg -s libopenblas-dev >/dev/null 2>&1; then
  echo "setup: installing libopenblas-dev (apt)"
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libopenblas-dev >/dev/null
fi
# headless Chromium for the report/viewer browser tests (driven by playwright-core; no browser download)
if ! dpkg -s chromium >/dev/null 2>&1; then
  echo "setup: installing chromium (apt)"
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi
# sandboxed execution of generated tests (plip score, src/sandbox): bubblewrap, Debian's rustc, python3
for pkg in bubblewrap rustc python3; do
  if ! dpkg -s "$pkg" >/dev/null 2>&1; then
    echo "setup: installing $pkg (apt)"
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$pkg" >/dev/null
  fi
done
echo "setup: npm ci"
npm ci --no-audit --no-fund --loglevel=error
PLIP_REQUIRE_BLAS=1 node scripts/build-native.mjs
echo "setup: done"
