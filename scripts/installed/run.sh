#!/usr/bin/env bash
# graykit "as installed": pack this checkout, install the tarball into fresh copies of the example apps the way a
# user does (from the npm registry for everything else, in npm's strict install-script mode), type-check the
# TypeScript apps with tsc (strict, skipLibCheck off), and run them against a throwaway ZooKeeper with real routed
# calls. Exits 0 only when every step passed.
#
#   bash scripts/installed/run.sh            (npm run test:installed)
#
# Apps (examples/<name>, standalone: they depend on graykit by version, the tarball replaces it here):
#   provider-only   ESM TypeScript, Express 5, no axios      -> `catalog` v1 (normal) and v2 (gray)
#   cjs-express4    CommonJS JavaScript, Express 4           -> `greeter` v1 (normal), calls catalog
#   esm-express5    ESM TypeScript (nodenext), Express 5     -> `greeter` v2 (gray), calls catalog
#   consumer-only   CommonJS TypeScript, no express          -> calls greeter and catalog, checks where calls went
#
# Needs Node >= 20.19, npm, python3/make/g++ (the zookeeper addon compiles at install), and ZooKeeper
# (scripts/zookeeper.sh; ZK_CONNECT=host:port uses a running server instead). KEEP=1 keeps the work dir.
# GRAYKIT_TARBALL=path/graykit-x.y.z.tgz tests that tarball instead of packing this checkout (CI packs once and hands
# the same tarball to every Node.js); INSTALLED_FULL=0 leaves out the missing-addon and git-install checks.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
WORK=$(mktemp -d "${TMPDIR:-/tmp}/graykit-installed.XXXXXX")
PIDS=()
ZK_STARTED=0
STATUS=1

log() { printf '== %s\n' "$*"; }
fail() { echo "installed: $*" >&2; exit 1; }

cleanup() {
  local pid
  for pid in "${PIDS[@]}"; do
    # SIGTERM: the apps' handleSignals() deregisters, drains and exits.
    kill -TERM "$pid" 2>/dev/null || true
  done
  for pid in "${PIDS[@]}"; do
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
  done
  if [ $ZK_STARTED = 1 ]; then bash "$ROOT/scripts/zookeeper.sh" stop "$WORK/zk" || true; fi
  if [ "${KEEP:-0}" = 1 ] || [ $STATUS != 0 ]; then echo "installed: work dir kept: $WORK" >&2; else rm -rf "$WORK"; fi
}
trap cleanup EXIT

node -e 'const [a, b] = process.versions.node.split(".").map(Number); process.exit(a > 20 || (a === 20 && b >= 19) ? 0 : 1)' ||
  fail "node $(node -v): graykit needs Node >= 20.19"

# node-gyp builds the addon against the headers in npm's `nodedir` when one is set (machines without internet set
# it, as this one does in ~/.npmrc); point it at the running Node's own headers, so the addon matches this Node.
NODE_PREFIX=$(node -p "require('path').resolve(process.execPath, '../..')")
if [ -f "$NODE_PREFIX/include/node/node_version.h" ]; then export npm_config_nodedir="$NODE_PREFIX"; fi

SECONDS=0
if [ -n "${GRAYKIT_TARBALL:-}" ]; then
  [ -f "$GRAYKIT_TARBALL" ] || fail "GRAYKIT_TARBALL=$GRAYKIT_TARBALL: no such file"
  cp "$GRAYKIT_TARBALL" "$WORK/"
  log "the given tarball $(basename "$GRAYKIT_TARBALL"), with node $(node -v), npm $(npm -v)"
else
  if [ ! -x "$ROOT/node_modules/.bin/tsdown" ]; then
    log "npm ci (a clean clone: the build needs the devDependencies)"
    (cd "$ROOT" && npm ci --no-audit --no-fund --loglevel=error) || fail "npm ci failed"
    echo "npm ci: ${SECONDS}s"
  fi
  log "npm pack (prepare builds dist/) with node $(node -v), npm $(npm -v)"
  (cd "$ROOT" && npm pack --pack-destination "$WORK" --loglevel=warn >"$WORK/pack.log" 2>&1) || { cat "$WORK/pack.log"; fail "npm pack failed"; }
fi
TARBALL=$(ls "$WORK"/graykit-*.tgz)
tar -tzf "$TARBALL" | sort >"$WORK/files.txt"
for f in package/dist/index.cjs package/dist/index.mjs package/dist/index.d.cts package/dist/index.d.mts package/dist/cli/main.cjs package/schema/service-config.schema.json; do
  grep -qx "$f" "$WORK/files.txt" || fail "the tarball lacks $f"
done
if grep -q '\.map$' "$WORK/files.txt"; then fail "the tarball ships source maps"; fi
echo "$(wc -l <"$WORK/files.txt") files, $(du -k "$TARBALL" | cut -f1) KiB: $(basename "$TARBALL") (${SECONDS}s)"

# Installs one example the way its README section says: from an empty directory, with the project's own approval
# of the zookeeper addon's install script (allowScripts in its package.json) and npm's strict mode on, so an
# unapproved script fails the install instead of being skipped.
install_app() {
  local name=$1 start=$SECONDS
  mkdir -p "$WORK/$name"
  (cd "$ROOT/examples/$name" && tar --exclude=node_modules --exclude=dist -cf - .) | (cd "$WORK/$name" && tar -xf -)
  cd "$WORK/$name"
  printf 'strict-allow-scripts=true\n' >.npmrc
  npm pkg set "allowScripts[file:$TARBALL]=true" --json # as in the README step above: the tarball's prepare
  npm install --no-audit --no-fund --loglevel=warn "$TARBALL" >install.log 2>&1 || { cat install.log; fail "$name: npm install failed"; }
  # The addon built (node-gyp-build finds build/Release/zookeeper.node) and loads in this Node.
  [ -f node_modules/zookeeper/build/Release/zookeeper.node ] || { cat install.log; fail "$name: the zookeeper addon was not built"; }
  node -e "require('zookeeper')" || fail "$name: the zookeeper addon does not load"
  echo "$name: installed in $((SECONDS - start))s (graykit $(node -p "require('graykit/package.json').version"), express $(node -p "try { require('express/package.json').version } catch { 'absent' }"), axios $(node -p "try { require('axios/package.json').version } catch { 'absent' }"))"
  cd "$ROOT"
}

log "README's install commands, from an empty directory (strict-allow-scripts=true; the tarball stands for graykit)"
mkdir -p "$WORK/readme" && cd "$WORK/readme"
printf 'strict-allow-scripts=true\n' >.npmrc
start=$SECONDS
# The one line the README does not have: graykit's own `prepare` (it builds git installs) counts as an install script
# when graykit comes from a tarball (a non-registry source; npm never runs it there), so the tarball is approved by its
# `file:` path. From the registry, prepare is not an install script and needs no approval.
{ npm init -y && npm pkg set allowScripts.zookeeper=true --json && npm pkg set "allowScripts[file:$TARBALL]=true" --json &&
  npm install --no-audit --no-fund --loglevel=warn "$TARBALL" express axios &&
  node -e "require('zookeeper')"; } >readme.log 2>&1 || { cat readme.log; fail "README install commands failed"; }
node -e "require('graykit')" || fail "README install: require('graykit') failed"
echo "readme: installed and loads in $((SECONDS - start))s"
cd "$ROOT"

log "install the example apps from the tarball (strict-allow-scripts=true), two at a time"
# Each install compiles the zookeeper addon (one core) and waits on the registry: two at once halve the wait.
for pair in "provider-only cjs-express4" "esm-express5 consumer-only"; do
  pids=()
  for app in $pair; do
    install_app "$app" &
    pids+=($!)
  done
  for pid in "${pids[@]}"; do wait "$pid" || fail "an example app did not install (its log is above)"; done
done
[ ! -e "$WORK/provider-only/node_modules/axios" ] || fail "provider-only: axios got installed"
[ ! -e "$WORK/consumer-only/node_modules/express" ] || fail "consumer-only: express got installed"

log "type-check and build the TypeScript apps (tsc; strict, skipLibCheck false)"
for app in provider-only esm-express5 consumer-only; do
  (cd "$WORK/$app" && grep -q '"skipLibCheck": false' tsconfig.json && npx tsc -p tsconfig.json) || fail "$app: tsc failed"
  echo "$app: tsc ok"
done

log "one copy of graykit for import and require (ESM wrapper over the CommonJS build)"
(cd "$WORK/esm-express5" && node --input-type=module -e "
  import * as esm from 'graykit';
  import { createRequire } from 'node:module';
  const cjs = createRequire(import.meta.url)('graykit');
  // Node >= 23 adds a 'module.exports' name to an ESM view of a CommonJS module; export * passes it on.
  const names = (m) => JSON.stringify(Object.keys(m).filter((k) => k !== 'default' && k !== 'module.exports').sort());
  if (names(esm) !== names(cjs)) throw new Error('import and require export different names');
  if (esm.createConsumer !== cjs.createConsumer || esm.runInLane !== cjs.runInLane) throw new Error('two copies of graykit');
  if (!(new cjs.NoInstanceError('s', '/p') instanceof esm.NoInstanceError)) throw new Error('error classes differ');
  // The documented subpaths.
  const layout = await import('graykit/layout');
  if (layout.instancePath('/graykit', 'demo', '10.0.0.5:8081') !== '/graykit/services/demo/instances/10.0.0.5:8081') throw new Error('graykit/layout');
  const schema = createRequire(import.meta.url)('graykit/schema/service-config.schema.json');
  if (schema.title !== 'graykit service config') throw new Error('graykit/schema');
  console.log('import/require: ' + Object.keys(cjs).length + ' exports, one module instance; graykit/layout and the schema resolve');

") || fail "import/require check failed"

if [ -n "${ZK_CONNECT:-}" ]; then
  log "ZooKeeper: $ZK_CONNECT (given)"
else
  log "ZooKeeper: throwaway server"
  ZK_STARTED=1
  ZK_CONNECT=$(bash "$ROOT/scripts/zookeeper.sh" start "$WORK/zk")
  echo "$ZK_CONNECT"
fi
export ZK_CONNECT
# Each run uses its own root, so a shared server's other data is never touched.
export GRAYKIT_ROOT="/graykit-installed-$$"
# The apps listen on 127.0.0.1; advertise that, not the machine's first non-loopback address (the default).
export GRAYKIT_HOST=127.0.0.1

# Starts an app in the background and waits (30 s at most) for its ready line (READY_LINE, a grep pattern).
start_app() {
  local label=$1 dir=$2 ready=${READY_LINE:-^READY}
  shift 2
  : >"$WORK/$label.log"
  (cd "$WORK/$dir" && exec env "$@" >"$WORK/$label.log" 2>&1) &
  PIDS+=($!)
  local pid=$!
  for _ in $(seq 1 300); do
    if grep -q "$ready" "$WORK/$label.log"; then echo "$label: $(grep "$ready" "$WORK/$label.log")"; return 0; fi
    kill -0 "$pid" 2>/dev/null || { cat "$WORK/$label.log"; fail "$label exited before it was ready"; }
    sleep 0.1
  done
  cat "$WORK/$label.log"
  fail "$label: not ready within 30 s"
}

log "start the providers"
start_app catalog-v1 provider-only GRAY=0 VERSION=v1 node dist/server.js
start_app catalog-v2 provider-only GRAY=1 VERSION=v2 node dist/server.js
start_app greeter-v1 cjs-express4 GRAY=0 VERSION=v1 node server.js
start_app greeter-v2 esm-express5 GRAY=1 VERSION=v2 node dist/server.js

log "the graykit bin (node_modules/.bin/graykit)"
(cd "$WORK/consumer-only" && [ -x node_modules/.bin/graykit ] && npx --no-install graykit status greeter) | tee "$WORK/status.txt"
[ "$(grep -c '^127\.0\.0\.1:' "$WORK/status.txt")" = 2 ] || fail "graykit status greeter: expected 2 instances"
(cd "$WORK/consumer-only" && npx --no-install graykit --version 2>"$WORK/version.err") | grep -qx "$(node -p "require('$ROOT/package.json').version")" || fail "graykit --version"
# The bin loads the library cleanly: no warning (a require cycle in the build shows up here as Node's warnings).
[ ! -s "$WORK/version.err" ] || { cat "$WORK/version.err"; fail "graykit --version wrote to stderr"; }
# An unreachable ZooKeeper: the address in the message, exit 5; with --json, the error as JSON.
code=0; (cd "$WORK/consumer-only" && npx --no-install graykit --zk 127.0.0.1:1 --timeout 1000 --json status greeter 2>"$WORK/unreachable.json") || code=$?
[ $code = 5 ] && node -e "const e = JSON.parse(require('fs').readFileSync(process.argv[1], 'utf8')).error; if (!/127\.0\.0\.1:1/.test(e.message) || e.exitCode !== 5) process.exit(1)" "$WORK/unreachable.json" ||
  { cat "$WORK/unreachable.json"; fail "graykit against an unreachable ZooKeeper: exit $code"; }
echo "graykit: --version, and an unreachable ZooKeeper named in a JSON error, exit 5"

log "the consumer calls through graykit"
(cd "$WORK/consumer-only" && node dist/main.js) || fail "consumer-only failed"

log "README's provider.mjs and consumer.mjs, as printed there, in the README install's directory"
node -e "
  // Each is the js block whose first line names the file.
  const fs = require('fs');
  const readme = fs.readFileSync(process.argv[1], 'utf8');
  for (const file of ['provider.mjs', 'consumer.mjs']) {
    const block = [...readme.matchAll(/\x60\x60\x60js\n(\/\/ ([\w.]+)[^\n]*\n[\s\S]*?)\x60\x60\x60/g)].find((m) => m[2] === file);
    if (!block) throw new Error('README has no js block starting // ' + file);
    fs.writeFileSync(process.argv[2] + '/' + file, block[1]);
  }
" "$ROOT/README.md" "$WORK/readme" || fail "README's code blocks"
read -r HELLO_V1 HELLO_V2 < <(node -e "
  const net = require('net');
  const free = () => new Promise((r) => { const s = net.createServer().listen(0, '127.0.0.1', () => { const p = s.address().port; s.close(() => r(p)); }); });
  Promise.all([free(), free()]).then((p) => console.log(p.join(' ')));")
READY_LINE='listening on' start_app hello-v1 readme node provider.mjs "$HELLO_V1" v1
READY_LINE='listening on' start_app hello-v2 readme GRAY=true node provider.mjs "$HELLO_V2" v2
# The consumer ends by itself once it closed its session; 30 s at most.
(cd "$WORK/readme" && timeout 30 node consumer.mjs) | tee "$WORK/readme/consumer.txt" || fail "README's consumer.mjs failed or did not end"
node -e "
  const lines = require('fs').readFileSync(process.argv[1], 'utf8').trim().split('\n');
  const calls = lines.slice(0, 6), pinned = lines[6];
  if (lines.length !== 7 || !calls.every((l) => l === 'v1 normal' || l === 'v2 gray')) process.exit(1);
  if (pinned !== \"{ version: 'v2', lane: 'gray' }\") process.exit(1);
" "$WORK/readme/consumer.txt" || fail "README's consumer.mjs printed something other than lanes and their versions"
echo "readme: consumer.mjs ended by itself; every call's version matched its lane"

if [ "${INSTALLED_FULL:-1}" = 1 ]; then
  log "an install whose scripts did not run: graykit loads, the first connection says what to run, and that fixes it"
  mkdir -p "$WORK/noscripts" && cd "$WORK/noscripts"
  { npm init -y && npm install --ignore-scripts --no-audit --no-fund --loglevel=warn "$TARBALL"; } >install.log 2>&1 || { cat install.log; fail "--ignore-scripts install failed"; }
  [ ! -f node_modules/zookeeper/build/Release/zookeeper.node ] || fail "the addon was built although scripts were ignored"
  node -e "
    const graykit = require('graykit');   // loads without the addon: it is needed at the first connection only
    const consumer = graykit.createConsumer({ services: ['demo'], logger: graykit.silentLogger });
    consumer.resolve('demo').then(() => process.exit(1), (error) => {
      console.log(error.code + ': ' + error.message);
      consumer.close();
      process.exit(error.code === 'ERR_GRAYKIT_NATIVE_ADDON' && error.message.includes('npm approve-scripts zookeeper && npm rebuild zookeeper') ? 0 : 1);
    });
  " | tee addon.txt || fail "a missing addon: no NativeAddonError naming the fix"
  # The fix, as the message says it.
  { npm approve-scripts zookeeper && npm rebuild zookeeper; } >fix.log 2>&1 || { cat fix.log; fail "the fix the message names failed"; }
  node -e "require('zookeeper')" || fail "the addon still does not load after the fix"
  echo "noscripts: the message's fix builds the addon"
  cd "$ROOT"

  log "npm install git+file:// of a clean clone (graykit builds itself in its prepare script)"
  git clone -q "$ROOT" "$WORK/clone"
  mkdir -p "$WORK/fromgit" && cd "$WORK/fromgit"
  start=$SECONDS
  { npm init -y && printf 'strict-allow-scripts=true\n' >.npmrc &&
    npm pkg set allowScripts.zookeeper=true "allowScripts[git+file://$WORK/clone]=true" --json &&
    npm install --no-audit --no-fund --loglevel=warn "git+file://$WORK/clone"; } >install.log 2>&1 || { cat install.log; fail "git install failed"; }
  node -e "require('graykit')" || fail "git install: require('graykit') failed"
  npx --no-install graykit --version >/dev/null 2>version.err || fail "git install: the bin does not run"
  [ ! -s version.err ] || { cat version.err; fail "git install: graykit --version wrote to stderr"; }
  echo "git+file: installed, loads, bin runs ($((SECONDS - start))s)"
  cd "$ROOT"
fi

STATUS=0
log "installed: all passed in ${SECONDS}s"
