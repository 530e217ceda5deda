/** The checks before a rollout takes its leases: each refusal changes nothing. */
import type { GrayAdmin } from '../admin/admin';
import { describeActor } from '../admin/rollout-record';
import { InvalidOptionError, NotFoundError, RolloutBusyError } from '../errors';
import type { ResolvedOptions } from './options';
import { metricsUrl, rolloutRole } from './scrape';

/** Refuses to start (nothing written) without an instance of the lane and a normal one, or when one of the lane's has no metrics. */
async function checkStartable(admin: GrayAdmin, service: string, needsMetricsPath: boolean, lane: string): Promise<{ gray: string[]; normal: string[] }> {
  const initial = await admin.status(service);
  const gray = initial.instances.filter((i) => rolloutRole(i, lane) === 'gray').map((i) => i.id);
  const normal = initial.instances.filter((i) => rolloutRole(i, lane) === 'normal').map((i) => i.id);
  if (gray.length === 0) throw new NotFoundError(lane === 'gray' ? `a gray instance of service "${service}"` : `an instance of lane ${lane} of service "${service}"`, initial.instances[0]?.path.replace(/\/[^/]*$/, '') ?? service);
  if (normal.length === 0) {
    throw new InvalidOptionError('service', `service "${service}" has no normal instance: with one lane empty every instance takes every request, so the ratio changes nothing`);
  }
  const blind = initial.instances.filter((i) => rolloutRole(i, lane) === 'gray' && metricsUrl(i) === undefined).map((i) => i.id);
  if (needsMetricsPath && blind.length > 0) {
    throw new InvalidOptionError('service', `gray instance(s) ${blind.join(', ')} of "${service}" advertise no metricsPath: start them with grayRegister({ metricsPath: '/metrics' })`);
  }
  return { gray, normal };
}

/** Checks every service and refuses early when one is busy, so that a refusal changes nothing. */
export async function checkAll(admin: GrayAdmin, o: ResolvedOptions, resume: boolean): Promise<{ gray: string[]; normal: string[] }> {
  const lanes = { gray: [] as string[], normal: [] as string[] };
  const prefix = (service: string, ids: string[]) => (o.services.length > 1 ? ids.map((id) => `${service}/${id}`) : ids);
  for (const service of o.services) {
    const found = await checkStartable(admin, service, o.prometheus === undefined, o.lane);
    lanes.gray.push(...prefix(service, found.gray));
    lanes.normal.push(...prefix(service, found.normal));
    const current = await admin.rollout(service);
    if (current.leaseHeld) throw new RolloutBusyError(service, current.path, `a rollout is running${current.lease ? `, run by ${describeActor(current.lease.by)}` : ''}; stop it with \`graykit abort ${service}\` first`);
    if (!resume && current.crashed) {
      throw new RolloutBusyError(service, current.path, `a rollout crashed at step ${current.document?.step}/${current.document?.steps.length} (its lease is gone); continue it with \`graykit rollout --resume ${service}\` or stop it with \`graykit abort ${service}\``);
    }
  }
  return lanes;
}
