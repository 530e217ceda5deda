#!/usr/bin/env bash
# Run a command with ZK_CONNECT pointing at a ZooKeeper: the one in ZK_CONNECT when set, otherwise a throwaway
# server that this script starts on a free loopback port and stops when the command ends.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
if [ -n "${ZK_CONNECT:-}" ]; then exec "$@"; fi
dir=$(mktemp -d "${TMPDIR:-/tmp}/graykit-zk.XXXXXX")
cleanup() { bash "$here/zookeeper.sh" stop "$dir"; rm -rf "$dir"; }
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
ZK_CONNECT=$(bash "$here/zookeeper.sh" start "$dir")
export ZK_CONNECT
echo "graykit: started a throwaway ZooKeeper on $ZK_CONNECT (data in $dir)" >&2
"$@"
