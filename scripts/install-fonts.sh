#!/usr/bin/env bash
# Installs what the letters crate (crates/letters) needs on a Debian machine:
#   fonts-noto-cjk  Noto Sans CJK (Regular and Bold, .ttc): Chinese, Latin and punctuation;
#                   /usr/share/fonts/opentype/noto/NotoSansCJK-{Regular,Bold}.ttc
#   fonts-hanazono  HanaMinA/HanaMinB (.ttf): the fallback for rare characters, HanaMinB
#                   covers CJK Extension B (e.g. U+20BB7);
#                   /usr/share/fonts/truetype/hanazono/HanaMin{A,B}.ttf
#   poppler-utils   pdftotext/pdfinfo/pdftoppm, used by the crate's tests.
# Idempotent: prints nothing and touches nothing when all of it is already installed.
# Usage: scripts/install-fonts.sh        (as root, or with sudo available)
set -euo pipefail

packages=(fonts-noto-cjk fonts-hanazono poppler-utils fontconfig)
missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

sudo=""
if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
echo "install-fonts: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
# The package lists may be absent on a fresh machine; update once if the install fails.
if ! $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" > /dev/null; then
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" > /dev/null
fi

# The check that matters for letters: some installed font covers U+20BB7 (𠮷).
if command -v fc-list > /dev/null && [ -z "$(fc-list ':charset=20bb7' file)" ]; then
  echo "install-fonts: no installed font covers U+20BB7 (expected HanaMinB)" >&2
  exit 1
fi
echo "install-fonts: done"
