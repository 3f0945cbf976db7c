#!/usr/bin/env bash
# Installs every build, test and plotting dependency of sdpo-harness from Debian's packages.
# Used by the README's first command and by .ci/run; nothing else is fetched at build or run time.
set -euo pipefail
pkgs=(
  build-essential cmake pkg-config   # compiler and build
  check                              # unit tests (Check)
  libcsv-dev                         # CSV reading
  libjansson-dev                     # configs, safetensors headers
  libpng-dev libjpeg62-turbo-dev     # images, JPEG rewards
  libopenblas-dev                    # sgemm for linear/conv
  gnuplot-nox                        # figures
  libfreetype-dev fonts-dejavu-core  # labels on image grids
  fonts-noto-color-emoji             # the micro world: 45 animal emoji (FreeType colour bitmaps)
)
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "install-deps: installing ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
else
  echo "install-deps: all packages present"
fi
