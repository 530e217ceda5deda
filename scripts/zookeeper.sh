#!/usr/bin/env bash
# Throwaway standalone ZooKeeper for graykit's tests, demo and benchmarks.
#
#   scripts/zookeeper.sh install            make sure Debian's zookeeper package is there (installs it as root)
#   scripts/zookeeper.sh start DIR [PORT]   start a server with its data in DIR on 127.0.0.1:PORT (a free port
#                                           when PORT is omitted); waits for ruok -> imok; prints host:port
#   scripts/zookeeper.sh stop DIR           stop the server started in DIR (by the pid it recorded) and wait
#   scripts/zookeeper.sh ruok HOST:PORT     exit 0 when the server answers imok
#   scripts/zookeeper.sh srvr HOST:PORT     print the server's `srvr` answer (its Mode: leader, follower, standalone)
#   scripts/zookeeper.sh start-ensemble DIR start a 3-node ensemble, servers 1-3 in DIR/1..3 on free loopback ports
#                                           (client, quorum and election ports on 127.0.0.1, one myid each); waits
#                                           for a leader; prints the connect string host:port,host:port,host:port
#   scripts/zookeeper.sh stop-ensemble DIR  stop the ensemble's servers (each by its recorded pid)
#   scripts/zookeeper.sh relaunch DIR       start the stopped server in DIR again with its own zoo.cfg (same ports,
#                                           same data: an ensemble member rejoins); does not wait for a quorum
#
# It never touches a ZooKeeper it did not start: `stop` only kills the pid written in DIR/zookeeper.pid. One server
# of an ensemble is stopped with `stop DIR/N`.
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
  free_ports 1
}

# N distinct free loopback ports, space-separated (all held open together, so no two are the same), taken from below
# the kernel's ephemeral range (ip_local_port_range). The kernel hands out a port in that range to any socket bound to
# port 0 (another server listening on 0, a connection's local end) while its ZooKeeper server is down or has not bound
# it yet: a follower binds its quorum port only when it is elected leader, a relaunched server binds all three again.
# That bind then fails with EADDRINUSE, and the ensemble keeps electing the same server and failing, not serving,
# until the other socket closes. Below the range only an explicit bind can take a port.
free_ports() {
  node -e "
    const net = require('net');
    const fs = require('fs');
    const n = Number(process.argv[1]);
    let low = 32768; // Linux's default; macOS's range starts at 49152
    try { low = Number(fs.readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\\s+/)[0]) || low; } catch {}
    const FLOOR = 10000;
    const outside = low - FLOOR >= 1000;
    if (!outside) console.error('zookeeper.sh: the ephemeral port range starts at ' + low + '; ports come from inside it');
    const servers = [];
    let attempts = 0;
    const next = () => {
      if (servers.length === n) {
        process.stdout.write(servers.map((s) => s.address().port).join(' '));
        servers.forEach((s) => s.close());
        return;
      }
      if (++attempts > 500) { console.error('zookeeper.sh: no free port below ' + low + ' after 500 attempts'); process.exit(1); }
      const port = outside ? FLOOR + Math.floor(Math.random() * (low - FLOOR)) : 0;
      const s = net.createServer();
      s.once('error', next);
      s.listen(port, '127.0.0.1', () => { servers.push(s); next(); });
    };
    next();" "$1"
}

# Four-letter words over bash's /dev/tcp: no nc needed.
four_letters() {
  local host=${2%:*} port=${2##*:}
  (exec 3<>"/dev/tcp/$host/$port" && printf '%s' "$1" >&3 && timeout 2 cat <&3) 2>/dev/null || true
}

ruok() {
  [ "$(four_letters ruok "$1")" = imok ]
}

srvr() {
  four_letters srvr "$1"
}

# Mode of the server at HOST:PORT (leader, follower, standalone), or nothing when it is not serving.
mode() {
  srvr "$1" | sed -n 's/^Mode: //p'
}

start() {
  local dir=$1 port=${2:-}
  install_zookeeper
  mkdir -p "$dir/data"
  dir=$(cd "$dir" && pwd)
  [ -n "$port" ] || port=$(free_port)
  write_config "$dir" "$port"
  launch "$dir"
  wait_serving "$dir" "127.0.0.1:$port" ruok || exit 1
  echo "127.0.0.1:$port"
}

# zoo.cfg of a server in DIR with client port PORT; the ensemble adds its server.N lines.
write_config() {
  local dir=$1 port=$2
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
4lw.commands.whitelist=ruok,srvr,stat,mntr,cons,wchs
CFG
}

launch() {
  local dir=$1
  # start-foreground execs java, so $! is the server's own pid and `stop` can end exactly it.
  SERVER_JVMFLAGS="-Xmx256m -Dzookeeper.root.logger=WARN,CONSOLE -Dzookeeper.console.threshold=WARN" \
    setsid nohup "$ZK_SERVER" start-foreground "$dir/zoo.cfg" >"$dir/zookeeper.out" 2>&1 </dev/null &
  echo $! >"$dir/zookeeper.pid"
}

# Waits (30 s at most) until the server in DIR at HOST:PORT passes CHECK (ruok: it runs; serving: it is in a
# quorum); otherwise stops it, says why and returns 1.
wait_serving() {
  local dir=$1 address=$2 check=$3
  local deadline=$((SECONDS + 30))
  until { [ "$check" = ruok ] && ruok "$address"; } || { [ "$check" = serving ] && [ -n "$(mode "$address")" ]; }; do
    if ! kill -0 "$(cat "$dir/zookeeper.pid")" 2>/dev/null; then
      tail -20 "$dir/zookeeper.out" >&2
      echo "zookeeper.sh: ZooKeeper in $dir exited during start" >&2
      return 1
    fi
    if [ $SECONDS -ge $deadline ]; then
      stop "$dir"
      echo "zookeeper.sh: ZooKeeper in $dir did not start serving within 30 s" >&2
      return 1
    fi
    sleep 0.2
  done
}

start_ensemble() {
  local dir=$1 ports i
  install_zookeeper
  mkdir -p "$dir"
  dir=$(cd "$dir" && pwd)
  # Per server: a client port, a quorum port and an election port, all on 127.0.0.1.
  read -r -a ports <<<"$(free_ports 9)"
  local servers="" connect=""
  for i in 1 2 3; do
    servers+="server.$i=127.0.0.1:${ports[$((3 * i - 2))]}:${ports[$((3 * i - 1))]}"$'\n'
    connect+="${connect:+,}127.0.0.1:${ports[$((3 * i - 3))]}"
  done
  for i in 1 2 3; do
    mkdir -p "$dir/$i/data"
    echo "$i" >"$dir/$i/data/myid"
    write_config "$dir/$i" "${ports[$((3 * i - 3))]}"
    printf '%s' "$servers" >>"$dir/$i/zoo.cfg"
    launch "$dir/$i"
  done
  echo "$connect" >"$dir/connect"
  # A server answers srvr with a Mode only once it has joined a quorum with a leader.
  for i in 1 2 3; do
    wait_serving "$dir/$i" "127.0.0.1:${ports[$((3 * i - 3))]}" serving || { stop_ensemble "$dir"; exit 1; }
  done
  echo "$connect"
}

stop_ensemble() {
  local dir=$1 i
  for i in 1 2 3; do stop "$dir/$i"; done
}

relaunch() {
  local dir=$1
  [ -f "$dir/zoo.cfg" ] || die "no zoo.cfg in $dir: start it first"
  if [ -f "$dir/zookeeper.pid" ] && kill -0 "$(cat "$dir/zookeeper.pid")" 2>/dev/null; then die "the server in $dir is running"; fi
  launch "$dir"
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

# Closes every descriptor above stderr that this script inherited. ZooKeeper's C client (graykit's sessions) does
# not open its sockets close-on-exec: a server started from a process that holds sessions would keep copies of their
# sockets for its whole life, and a dropped connection would then stay open underneath that process's next one.
close_inherited_fds() {
  local fd
  for fd in /proc/self/fd/*; do
    fd=${fd##*/}
    if [ "$fd" -gt 2 ] 2>/dev/null; then eval "exec $fd>&-" 2>/dev/null || true; fi
  done
}
close_inherited_fds

case "${1:-}" in
  install) install_zookeeper ;;
  start) [ $# -ge 2 ] || die "usage: start DIR [PORT]"; start "$2" "${3:-}" ;;
  stop) [ $# -ge 2 ] || die "usage: stop DIR"; stop "$2" ;;
  ruok) [ $# -ge 2 ] || die "usage: ruok HOST:PORT"; ruok "$2" ;;
  srvr) [ $# -ge 2 ] || die "usage: srvr HOST:PORT"; srvr "$2" ;;
  start-ensemble) [ $# -ge 2 ] || die "usage: start-ensemble DIR"; start_ensemble "$2" ;;
  stop-ensemble) [ $# -ge 2 ] || die "usage: stop-ensemble DIR"; stop_ensemble "$2" ;;
  relaunch) [ $# -ge 2 ] || die "usage: relaunch DIR"; relaunch "$(cd "$2" && pwd)" ;;
  *) die "usage: $0 install | start DIR [PORT] | stop DIR | ruok HOST:PORT | srvr HOST:PORT | start-ensemble DIR | stop-ensemble DIR | relaunch DIR" ;;
esac
