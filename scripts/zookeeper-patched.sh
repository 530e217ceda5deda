#!/usr/bin/env bash
# Builds a copy of the installed `zookeeper` addon with patches/zookeeper-<version>-poll-handle.patch applied, in
# node_modules/.cache/graykit/ (never in node_modules/zookeeper itself: graykit's tests exercise the addon users
# install), and prints the copy's package directory. Built once per patch, addon version and Node.js ABI.
#
# Why: the addon keeps a libuv poll handle on the C client's socket, but the C client closes that socket inside
# zoo_a* calls and zookeeper_process (a failed send or read) without telling it. Closed later, the stale handle's
# EPOLL_CTL_DEL / queued EPOLL_CTL_ADD hits whatever reused the fd number, and libuv aborts the process in
# uv__epoll_ctl_prep. The patch drops the handle in the same native call that closed the socket. See README.md,
# "ZooKeeper outages". `npm run bench:scale -- --addon=patched` and test/integration/zookeeper-addon.test.ts use
# the copy; graykit itself guards the installed addon (src/registry/zk-handle.ts, afterRequest).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
installed="$root/node_modules/zookeeper"
version=$(node -p "require('$installed/package.json').version")
patch="$root/patches/zookeeper-$version-poll-handle.patch"
if [ ! -f "$patch" ]; then
  echo "zookeeper-patched: no patch for zookeeper $version in patches/ (have: $(ls "$root/patches" | tr '\n' ' ')); run bench:scale with --addon=installed, or port the patch" >&2
  exit 2
fi
key=$(cat "$patch" <(echo "$version $(node -p process.versions.modules)") | sha256sum | cut -c1-12)
dest="$root/node_modules/.cache/graykit/zookeeper-patched-$key"
if [ ! -f "$dest/zookeeper/build/Release/zookeeper.node" ]; then
  rm -rf "$dest"
  mkdir -p "$dest"
  cp -a "$installed" "$dest/zookeeper"
  rm -rf "$dest/zookeeper/build"
  (cd "$dest/zookeeper" && patch -p1 --silent < "$patch" && npm run --silent build > "$dest/build.log" 2>&1) || {
    echo "zookeeper-patched: building the patched addon failed; see $dest/build.log" >&2
    exit 1
  }
fi
echo "$dest/zookeeper"
