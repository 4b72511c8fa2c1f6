#!/usr/bin/env bash
# Installs, with apt, exactly the Debian packages dnnc needs that are missing.
# Idempotent and quiet when everything is there.
set -euo pipefail

packages=(
  cmake ninja-build g++ python3
  llvm-14-dev llvm-14-tools clang-14
  libmlir-14-dev mlir-14-tools
  libhalide14-0-dev
  libgtest-dev
  zlib1g-dev
  dataset-fashion-mnist
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "bootstrap: installing ${missing[*]}"
if ! command -v apt-get >/dev/null 2>&1; then
  echo "bootstrap: error: apt-get is not available; install these Debian packages by hand:" >&2
  echo "  ${missing[*]}" >&2
  exit 1
fi
sudo=()
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then
    sudo=(sudo)
  else
    echo "bootstrap: error: not root and no sudo; as root run:" >&2
    echo "  apt-get update && apt-get install -y ${missing[*]}" >&2
    exit 1
  fi
fi
apt=("${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 -q)
# A fresh machine has no package lists yet.
"${apt[@]}" update >/dev/null
# libmlir-14-dev conflicts with newer libmlir-*-dev packages: never pull those.
"${apt[@]}" install -y --no-install-recommends "${missing[@]}" >/dev/null
echo "bootstrap: done"
