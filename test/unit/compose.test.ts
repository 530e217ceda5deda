/**
 * docker-compose.yml cannot be started here (no Docker engine), so this checks what would break it without one:
 * the files and modules it runs, the image it builds, its ports, the environment it sets against what the code
 * reads, and the ZooKeeper it points at.
 */
import { createRequire } from 'node:module';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';

const ROOT = join(__dirname, '..', '..');

interface ComposeService {
  image?: string;
  build?: string | { context?: string; dockerfile?: string };
  command?: string | string[];
  environment?: Record<string, string | number | boolean | null> | string[];
  ports?: (string | number | { target: number; published?: string | number })[];
  depends_on?: string[] | Record<string, unknown>;
}

function loadServices(): Record<string, ComposeService> {
  // merge: compose files share settings through YAML merge keys (`<<: *anchor`), a YAML 1.1 feature.
  const compose = parse(readFileSync(join(ROOT, 'docker-compose.yml'), 'utf8'), { merge: true }) as { services?: Record<string, ComposeService> };
  return compose.services ?? {};
}

/** `environment` as a map, from either of compose's two spellings. */
function environmentOf(service: ComposeService): Record<string, string> {
  const env = service.environment ?? {};
  if (Array.isArray(env)) {
    return Object.fromEntries(env.map((entry) => [entry.split('=')[0], entry.slice(entry.indexOf('=') + 1)]));
  }
  return Object.fromEntries(Object.entries(env).map(([name, value]) => [name, String(value ?? '')]));
}

interface PortMapping {
  host: number;
  container: number;
}

/** `ports` entries: `"8080"`, `"8080:8080"`, `"127.0.0.1:8080:8080"`, `"8080:8080/tcp"` or the long form. */
function portsOf(service: ComposeService): PortMapping[] {
  return (service.ports ?? []).map((entry) => {
    if (typeof entry === 'object') return { host: Number(entry.published ?? entry.target), container: entry.target };
    const parts = String(entry).replace(/\/(tcp|udp)$/, '').split(':');
    const container = Number(parts[parts.length - 1]);
    return { host: parts.length > 1 ? Number(parts[parts.length - 2]) : container, container };
  });
}

function dependsOn(service: ComposeService): string[] {
  const deps = service.depends_on ?? [];
  return Array.isArray(deps) ? deps : Object.keys(deps);
}

/** The instructions of a Dockerfile, continuation lines joined, comments dropped. */
function dockerfileInstructions(path: string): { instruction: string; args: string }[] {
  const joined = readFileSync(path, 'utf8').replace(/\\\r?\n/g, ' ');
  return joined
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'))
    .map((line) => {
      const [instruction, ...rest] = line.split(/\s+/);
      return { instruction: instruction.toUpperCase(), args: rest.join(' ') };
    });
}

/** An exec-form (`["a", "b"]`) or shell-form argument list. */
function argumentList(text: string | string[]): string[] {
  if (Array.isArray(text)) return text;
  const trimmed = text.trim();
  return trimmed.startsWith('[') ? (JSON.parse(trimmed) as string[]) : trimmed.split(/\s+/);
}

function dockerfileOf(service: ComposeService): string | undefined {
  if (service.build === undefined) return undefined;
  const build = typeof service.build === 'string' ? { context: service.build } : service.build;
  return join(ROOT, build.context ?? '.', build.dockerfile ?? 'Dockerfile');
}

/** The command a container runs: the service's own, else its Dockerfile's CMD. */
function commandOf(service: ComposeService): string[] {
  if (service.command !== undefined) return argumentList(service.command);
  const dockerfile = dockerfileOf(service);
  const cmd = dockerfile ? dockerfileInstructions(dockerfile).filter((i) => i.instruction === 'CMD').pop() : undefined;
  return cmd ? argumentList(cmd.args) : [];
}

/** Repository files a command runs: arguments that name a script by its extension. */
function scriptsIn(command: readonly string[]): string[] {
  return command.filter((arg) => /\.(ts|js|sh)$/.test(arg));
}

/** Modules preloaded with `-r`/`--require`. */
function preloadsIn(command: readonly string[]): string[] {
  return command.flatMap((arg, i) => (i > 0 && (command[i - 1] === '-r' || command[i - 1] === '--require') ? [arg] : []));
}

/** The paths (relative to the repository) that do not exist. */
function missing(paths: readonly string[]): string[] {
  return paths.filter((path) => !existsSync(join(ROOT, path)));
}

function sourceFiles(dir: string): string[] {
  return (readdirSync(join(ROOT, dir), { recursive: true }) as string[]).filter((file) => file.endsWith('.ts')).map((file) => join(ROOT, dir, file));
}

/** Environment variables a set of files reads: `process.env.NAME`, `env.NAME`, `process.env['NAME']`. */
function envNamesRead(files: readonly string[]): Set<string> {
  const names = new Set<string>();
  for (const file of files) {
    const text = readFileSync(file, 'utf8');
    for (const match of text.matchAll(/\benv\.([A-Z][A-Z0-9_]*)\b|\benv\[['"]([A-Z][A-Z0-9_]*)['"]\]/g)) names.add(match[1] ?? match[2]);
  }
  return names;
}

const services = loadServices();
const serviceEntries = Object.entries(services);
const zookeeper = serviceEntries.find(([, service]) => service.image?.startsWith('zookeeper'));
/** The services that run the demo's code: every one but ZooKeeper. */
const appServices = serviceEntries.filter(([, service]) => service !== zookeeper?.[1]);
const runs = (script: string) => ([, service]: [string, ComposeService]) => scriptsIn(commandOf(service)).includes(script);
const providers = appServices.filter(runs('demo/provider.ts'));
const consumers = appServices.filter(runs('demo/consumer.ts'));

describe('docker-compose.yml', () => {
  test('has ZooKeeper as the official zookeeper:3.8 image, three providers and a consumer', () => {
    expect(zookeeper).toBeDefined();
    expect(zookeeper?.[1].image).toMatch(/^zookeeper:3\.8(\.\d+)?$/);
    expect(providers).toHaveLength(3);
    expect(consumers).toHaveLength(1);
    expect(appServices).toHaveLength(providers.length + consumers.length);
  });

  test.each(appServices)('%s runs files that exist, through modules that resolve', (_name, service) => {
    const command = commandOf(service);
    expect(command[0]).toBe('node');
    expect(scriptsIn(command).length).toBeGreaterThan(0);
    expect(missing(scriptsIn(command))).toEqual([]);
    const requireFromRoot = createRequire(join(ROOT, 'package.json'));
    for (const preload of preloadsIn(command)) expect(() => requireFromRoot.resolve(preload)).not.toThrow();
  });

  test.each(appServices)('%s is built from a node:24 Dockerfile (a supported Node.js) whose COPY sources and CMD exist', (_name, service) => {
    const dockerfile = dockerfileOf(service);
    expect(dockerfile).toBeDefined();
    expect(existsSync(dockerfile as string)).toBe(true);
    const instructions = dockerfileInstructions(dockerfile as string);
    expect(instructions[0]).toEqual({ instruction: 'FROM', args: expect.stringMatching(/^node:24(\b|$)/) });
    // COPY [--flags] SOURCE... DEST
    const copySources = instructions
      .filter((i) => i.instruction === 'COPY')
      .flatMap((copy) => argumentList(copy.args).filter((arg) => !arg.startsWith('--')).slice(0, -1));
    expect(copySources.length).toBeGreaterThan(0);
    expect(missing(copySources)).toEqual([]);
    const cmd = instructions.filter((i) => i.instruction === 'CMD').pop();
    expect(missing(scriptsIn(argumentList(cmd?.args ?? '[]')))).toEqual([]);
  });

  test('host ports are distinct, and each service listens (PORT) on the port its mapping targets', () => {
    const hostPorts = serviceEntries.flatMap(([, service]) => portsOf(service).map((mapping) => mapping.host));
    expect(new Set(hostPorts).size).toBe(hostPorts.length);
    for (const [name, service] of appServices) {
      const ports = portsOf(service);
      expect({ name, ports: ports.length }).toEqual({ name, ports: 1 });
      expect({ name, PORT: environmentOf(service).PORT }).toEqual({ name, PORT: String(ports[0].container) });
    }
  });

  test.each(appServices)('%s sets only environment variables that its entry file or graykit reads', (_name, service) => {
    // A missing entry file is the other test's failure; here it just reads nothing.
    const entryFiles = scriptsIn(commandOf(service)).map((script) => join(ROOT, script)).filter((file) => existsSync(file));
    const read = envNamesRead([...entryFiles, ...sourceFiles('src')]);
    const unread = Object.keys(environmentOf(service)).filter((name) => !read.has(name));
    expect(unread).toEqual([]);
  });

  test.each(appServices)('%s points ZK_CONNECT at the zookeeper service and waits for it', (_name, service) => {
    const [zookeeperName] = zookeeper as [string, ComposeService];
    expect(environmentOf(service).ZK_CONNECT).toBe(`${zookeeperName}:2181`);
    expect(dependsOn(service)).toContain(zookeeperName);
  });

  test('providers advertise their compose service name, and everyone agrees on the graykit service', () => {
    for (const [name, service] of providers) expect(environmentOf(service).GRAYKIT_HOST).toBe(name);
    const graykitServices = new Set(appServices.map(([, service]) => environmentOf(service).GRAYKIT_SERVICE ?? 'demo'));
    expect([...graykitServices]).toEqual(['demo']);
  });

  test('one provider is a gray canary, the others formal', () => {
    const grayFlags = providers.map(([, service]) => environmentOf(service).GRAY);
    expect(grayFlags.filter((flag) => flag === 'true')).toHaveLength(1);
    expect(grayFlags.filter((flag) => flag === 'false')).toHaveLength(providers.length - 1);
  });
});
