/**
 * Fault 1: one of three providers dies by SIGKILL under ~200 GET/s. Its znode lingers until its ZooKeeper session
 * expires; meanwhile failover retries what it refuses or resets, and outlier ejection takes it out of rotation.
 */
import { expectRealLoad, faultScenario, idOf, note, PROVIDER_SESSION_TIMEOUT, report, seconds, untilSnapshot } from './harness';
import { StandaloneZooKeeper } from './zookeeper';

describe('fault: a provider is killed with SIGKILL', () => {
  const scenario = faultScenario(new StandaloneZooKeeper());

  test('no client request fails; the dead instance is ejected, then dropped when its session expires', async () => {
    const { providers, consumer, load } = await scenario.begin();

    const victim = providers[1];
    const killedAt = Date.now();
    await victim.kill();
    note(`SIGKILL ${victim.name} (${idOf(victim)})`);
    const convergedAt = await untilSnapshot(consumer, [idOf(providers[0]), idOf(providers[2])], PROVIDER_SESSION_TIMEOUT + 20_000);
    const answered = load.stats.succeeded + load.stats.failed;
    await load.untilAnswered(answered + 400);
    const result = await load.stop();
    const ejection = consumer.ejections.find((event) => event.instance.id === idOf(victim));
    const lastRetry = result.lastRetryAt ? seconds(result.lastRetryAt - killedAt) : 'none';
    report('sigkill', result, `in ${seconds(convergedAt - killedAt)}`, consumer, {
      ejectedAfter: ejection ? 'yes' : 'no',
      lastRetryAfterKill: lastRetry,
    });
    note(`sigkill: ejected ${ejection ? `for ${ejection.ms} ms` : 'never'}; last retry ${lastRetry} after the kill`);

    expect(result.failures).toEqual([]);
    expect(result.failed).toBe(0);
    expectRealLoad(result);
    // Failover did happen: the kill hit requests (in flight or on pooled connections).
    expect(result.retries).toBeGreaterThan(0);
    // Ejection kept it out of rotation until the registry dropped it: without it, about a third of the ~800
    // requests of the session timeout would have been retried.
    expect(ejection).toBeDefined();
    expect(result.retries).toBeLessThan(60);
  });
});
