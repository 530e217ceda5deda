/**
 * Loads optional and heavy dependencies when a feature first needs them, not at import: an app that never asks
 * for the `'cls'` context, metrics or a provider does not pay for cls-hooked's async hooks, prom-client or express,
 * and need not install the optional ones.
 */
import { createRequire } from 'node:module';
import { MissingDependencyError } from '../errors';

// The CommonJS build has `require`; the ESM build is given `__filename` by the bundler's shim.
const load: NodeJS.Require = typeof require === 'function' ? require : createRequire(__filename);

/** `require(name)`, or MissingDependencyError naming the package and `feature` when it is not installed. */
export function loadOptional<T>(name: string, feature: string): T {
  try {
    return load(name) as T;
  } catch (error) {
    if ((error as NodeJS.ErrnoException)?.code === 'MODULE_NOT_FOUND' && String((error as Error).message).includes(`'${name}'`)) {
      throw new MissingDependencyError(name, feature, { cause: error });
    }
    throw error;
  }
}

/** `require(name)` of a module resolved from graykit's own location (the zookeeper addon). */
export function loadModule<T>(name: string): T {
  return load(name) as T;
}
