/**
 * `graykit/layout`: the znode layout and the encoding of what lives in it, for tools that read or write the
 * registry directly (a migration script, an admission check, a dashboard). The layout itself is a contract
 * (README "Znode layout"); these functions are how graykit implements it, and they follow graykit's releases.
 */
export {
  DEFAULT_ROOT,
  servicesPath,
  servicePath,
  instancesPath,
  instancePath,
  configPath,
  overridesPath,
  overridePath,
  instanceId,
  isValidServiceName,
  rolloutPath,
  rolloutLeasePath,
} from './registry/paths';
export { decodeRolloutDocument, decodeRolloutLease, isCrashed, crashRollsBack, ROLLOUT_STATES } from './registry/rollout-state';
export {
  MAX_DATA_BYTES,
  MAX_WEIGHT,
  MAX_JSON_DEPTH,
  decodeInstance,
  encodeInstance,
  decodeOverride,
  effectiveInstance,
  isValidRatio,
} from './registry/codec';
export { decodeConfig, encodeConfig, validateConfig } from './registry/config-codec';
export type { Decoded, EffectiveInstance } from './registry/codec';
