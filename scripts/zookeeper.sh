#!/usr/bin/env bash
# Throwaway standalone ZooKeeper for graykit's tests, demo and benchmarks.
#
#   scripts/zookeeper.sh install            make sure Debian's zookeeper package is there (installs it as root)
#   scripts/zookeeper.sh start DIR [PORT]   start a server with its data in DIR on 127.0.0.1:PORT (a free port
#                                           when PORT is omitted); waits for ruok -> imok; prints host:port
#   scripts/zookeeper.sh stop DIR           stop the server started in DIR (by the pid it recorded) and wait
#   scripts/zookeeper.sh ruok HOST:PORT     exit 0 when the server answers imok
#
# It never touches a ZooKeeper it did not start: `stop` only kills the pid written in DIR/zookeeper.pid.
set -euo pipefail

ZK_HOME=${ZK_HOME:-/usr/share/zookeeper}
ZK_SERVER="$ZK_HOME/bin/zkServer.sh"

die() { echo "zookeeper.sh: $*" >&2; exit 1; }

install_zookeeper() {
  if [ -x "$ZK_SERVER" ] && command -v java >/dev/null 2>&1; then return 0; fi
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "zookeeper.sh: installing Debian's zookeeper package (and a Java runtime if missing)" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >&2
    apt-get install -y -qq zookeeper >&2
    [ -x "$ZK_SERVER" ] || die "apt-get installed zookeeper but $ZK_SERVER is missing"
    return 0
  fi
  die "ZooKeeper is not installed. Install Debian's package as root: 'apt-get install -y zookeeper' (it brings Java), or set ZK_CONNECT=host:port to use a running server."
}

free_port() {
  node -e "const s=require('net').createServer();s.listen(0,'127.0.0.1',()=>{process.stdout.write(String(s.address().port));s.close()})"
}

# Four-letter word over bash's /dev/tcp: no nc needed.
ruok() {
  local host=${1%:*} port=${1##*:} answer=""
  answer=$( (exec 3<>"/dev/tcp/$host/$port" && printf ruok >&3 && timeout 2 cat <&3) 2>/dev/null || true)
  [ "$answer" = imok ]
}

start() {
  local dir=$1 port=${2:-}
  install_zookeeper
  mkdir -p "$dir/data"
  dir=$(cd "$dir" && pwd)
  [ -n "$port" ] || port=$(free_port)
  cat >"$dir/zoo.cfg" <<CFG
tickTime=500
minSessionTimeout=1000
maxSessionTimeout=60000
initLimit=10
syncLimit=5
dataDir=$dir/data
clientPort=$port
clientPortAddress=127.0.0.1
maxClientCnxns=0
admin.enableServer=false
4lw.commands.whitelist=ruok,srvr,stat,mntr,cons
CFG
  # start-foreground execs java, so $! is the server's own pid and `stop` can end exactly it.
  SERVER_JVMFLAGS="-Xmx256m -Dzookeeper.root.logger=WARN,CONSOLE -Dzookeeper.console.threshold=WARN" \
    setsid nohup "$ZK_SERVER" start-foreground "$dir/zoo.cfg" >"$dir/zookeeper.out" 2>&1 </dev/null &
  echo $! >"$dir/zookeeper.pid"
  local deadline=$((SECONDS + 30))
  until ruok "127.0.0.1:$port"; do
    if ! kill -0 "$(cat "$dir/zookeeper.pid")" 2>/dev/null; then
      tail -20 "$dir/zookeeper.out" >&2
      die "ZooKeeper in $dir exited during start"
    fi
    [ $SECONDS -lt $deadline ] || { stop "$dir"; die "ZooKeeper in $dir did not answer imok within 30 s"; }
    sleep 0.2
  done
  echo "127.0.0.1:$port"
}

stop() {
  local dir=$1 pid
  [ -f "$dir/zookeeper.pid" ] || return 0
  pid=$(cat "$dir/zookeeper.pid")
  if kill -0 "$pid" 2>/dev/null; then
    kill "$pid" 2>/dev/null || true
    local deadline=$((SECONDS + 15))
    while kill -0 "$pid" 2>/dev/null; do
      if [ $SECONDS -ge $deadline ]; then kill -9 "$pid" 2>/dev/null || true; fi
      sleep 0.1
    done
  fi
  rm -f "$dir/zookeeper.pid"
}

case "${1:-}" in
  install) install_zookeeper ;;
  start) [ $# -ge 2 ] || die "usage: start DIR [PORT]"; start "$2" "${3:-}" ;;
  stop) [ $# -ge 2 ] || die "usage: stop DIR"; stop "$2" ;;
  ruok) [ $# -ge 2 ] || die "usage: ruok HOST:PORT"; ruok "$2" ;;
  *) die "usage: $0 install | start DIR [PORT] | stop DIR | ruok HOST:PORT" ;;
esac
