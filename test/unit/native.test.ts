/**
 * A missing native build of the ZooKeeper client, simulated by the loader's seam (the real addon is left alone):
 * the error is graykit's, and says what to run.
 */
import { NativeAddonError } from '../../src/errors';
import { NATIVE_ADDON_FIX, loadNativeZooKeeper } from '../../src/registry/native';

function throwing(error: Error & { code?: string }): (name: string) => never {
  return () => {
    throw error;
  };
}

describe('loadNativeZooKeeper', () => {
  test('an install script that never ran (node-gyp-build finds no build): NativeAddonError naming the fix', () => {
    const loaderError = new Error('No native build was found for platform=linux arch=x64 runtime=node abi=115 uv=1 libc=glibc node=20.20.2\n    loaded from: /app/node_modules/zookeeper');
    let caught: unknown;
    try {
      loadNativeZooKeeper(throwing(loaderError));
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(NativeAddonError);
    const error = caught as NativeAddonError;
    expect(error.code).toBe('ERR_GRAYKIT_NATIVE_ADDON');
    expect(error.message).toContain(NATIVE_ADDON_FIX);
    expect(NATIVE_ADDON_FIX).toBe('npm approve-scripts zookeeper && npm rebuild zookeeper');
    expect(error.message).toContain('No native build was found'); // the loader's first line, for the record
    expect(error.message).not.toContain('loaded from'); // not its whole text
    expect(error.cause).toBe(loaderError);
  });

  test('a build for another Node.js (NODE_MODULE_VERSION mismatch): the same fix', () => {
    const loaderError = Object.assign(new Error('The module was compiled against a different Node.js version using NODE_MODULE_VERSION 115'), { code: 'ERR_DLOPEN_FAILED' });
    expect(() => loadNativeZooKeeper(throwing(loaderError))).toThrow(NATIVE_ADDON_FIX);
  });

  test('the package itself missing: says to install, not to rebuild', () => {
    const loaderError = Object.assign(new Error("Cannot find module 'zookeeper'"), { code: 'MODULE_NOT_FOUND' });
    expect(() => loadNativeZooKeeper(throwing(loaderError))).toThrow(/"zookeeper" .* is not installed: run `npm install`/);
  });

  test('the real addon loads (this checkout built it)', () => {
    expect(typeof loadNativeZooKeeper()).toBe('function');
  });
});
