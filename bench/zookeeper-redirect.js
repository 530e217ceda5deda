// Loaded with `node -r` (through NODE_OPTIONS, so every process of a benchmark gets it): `require('zookeeper')`
// resolves to the package directory in GRAYKIT_ZOOKEEPER_ADDON instead of node_modules/zookeeper. Set by
// bench/zookeeper-addon.ts; a no-op without the variable.
'use strict';
const Module = require('node:module');

const dir = process.env.GRAYKIT_ZOOKEEPER_ADDON;
if (dir) {
  const resolve = Module._resolveFilename;
  Module._resolveFilename = function resolveZooKeeperAddon(request, ...rest) {
    return resolve.call(this, request === 'zookeeper' ? dir : request, ...rest);
  };
}
