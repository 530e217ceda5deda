#!/usr/bin/env bash
# The real servers graykit's tests start themselves, from Debian's packages: ZooKeeper (every integration test),
# nginx (the benchmark smoke test), Prometheus (the rollout tests), Redis (the message test), Chromium (the
# console's browser tests), and a JDK with Apache Curator (the Java interop tests compile a Curator program). `npm test` runs this first (npm's `pretest`), so the README's test command works on a
# fresh machine: what is missing is installed when running as root with apt-get, in one visible step; otherwise it
# stops with the command to run.
#
#   bash scripts/test-packages.sh          install what is missing (root), or say what is missing
#   bash scripts/test-packages.sh --check  only say what is missing (exit 1 when something is)
set -euo pipefail

need=()
{ [ -x "${ZK_HOME:-/usr/share/zookeeper}/bin/zkServer.sh" ] && command -v java >/dev/null; } || need+=(zookeeper)
{ command -v nginx >/dev/null || [ -x /usr/sbin/nginx ]; } || need+=(nginx-light)
[ -x /usr/bin/prometheus ] || need+=(prometheus)
command -v redis-server >/dev/null || need+=(redis-server)
[ -n "${GRAYKIT_CHROMIUM:-}" ] || [ -x /usr/bin/chromium ] || need+=(chromium)
command -v javac >/dev/null || need+=(default-jdk-headless)
[ -f /usr/share/java/curator-x-discovery.jar ] || need+=(libcurator-discovery-java)
[ -f /usr/share/java/curator-recipes.jar ] || need+=(libcurator-recipes-java)
[ ${#need[@]} -gt 0 ] || exit 0

if [ "${1:-}" = --check ]; then
  echo "graykit tests: missing Debian packages: ${need[*]}" >&2
  exit 1
fi
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
  echo "graykit tests need real servers from Debian's packages that are missing here: ${need[*]}." >&2
  echo "Install them as root: apt-get install -y ${need[*]}" >&2
  exit 1
fi
echo "graykit tests: installing Debian packages ${need[*]} (the tests start real servers; once per machine)" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null
# The packages' own services are not wanted (the image's policy-rc.d keeps them from starting); tests run theirs.
apt-get install -y -qq "${need[@]}" >/dev/null
