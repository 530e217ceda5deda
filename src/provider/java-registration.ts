/**
 * A graykit provider's registration in the Curator layout (registry/curator.ts), for Java services that discover
 * through Curator or Spring Cloud ZooKeeper: the same InstanceRegistration as graykit's own znode (same session,
 * so the same lifetime: ephemeral, re-created after a session loss, deleted before the server stops accepting),
 * with Curator's path and JSON.
 */
import { randomUUID } from 'node:crypto';
import { encodeCuratorInstance, type ResolvedCurator } from '../registry/curator';
import { InstanceRegistration } from '../registry/registration';
import type { ZkSession } from '../registry/zk-session';
import type { InstanceMeta, Logger } from '../types';

export interface JavaRegistrationOptions {
  session: ZkSession;
  root: string;
  service: string;
  host: string;
  port: number;
  /** The metadata as consumers see it (the operator's override laid over the instance's own). */
  meta: InstanceMeta;
  curator: ResolvedCurator;
  logger: Logger;
}

export function javaRegistration(options: JavaRegistrationOptions): InstanceRegistration {
  const { service, host, port, curator } = options;
  // Curator and Spring name an instance by a UUID; one per process start, as theirs.
  const id = randomUUID();
  const registeredAt = Date.now();
  const dir = `${curator.basePath}/${service}`;
  return new InstanceRegistration({
    session: options.session,
    root: options.root,
    service,
    id,
    meta: options.meta,
    logger: options.logger,
    znode: {
      path: `${dir}/${id}`,
      dir,
      encode: (meta) => encodeCuratorInstance({ service, id, host, port, gray: meta.gray, lane: meta.lane, weight: meta.weight, version: meta.version, registeredAt }, curator.keys),
      missingDir: `the Curator directory of service "${service}" (with \`auth\` set, a provider creates only its own instance znode: create ${dir} as the operator, with an ACL that lets the provider create children and Java services read)`,
    },
  });
}
