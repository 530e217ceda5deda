/**
 * Fault 1: one of three providers dies by SIGKILL under ~200 GET/s. Its znode lingers until its ZooKeeper session
 * expires; meanwhile failover retries what it refuses or resets, and outlier ejection takes it out of rotation.
 */
import type { ProviderProcess } from './children';
import { idOf, note, report, seconds, startConsumer, startLoad, startProviders, untilSnapshot, PROVIDER_SESSION_TIMEOUT, expectRealLoad, type Consumer } from './harness';
import type { LoadGenerator } from './load';
import { StandaloneZooKeeper } from './zookeeper';

describe('fault: a provider is killed with SIGKILL', () => {
  const zk = new StandaloneZooKeeper();
  let providers: ProviderProcess[] = [];
  let consumer: Consumer | undefined;
  let load: LoadGenerator | undefined;

  afterAll(async () => {
    await load?.stop();
    consumer?.gray.close();
    await Promise.all(providers.map((provider) => provider.kill()));
    await zk.destroy();
  });

  test('no client request fails; the dead instance is ejected, then dropped when its session expires', async () => {
    const connect = await zk.start();
    providers = await startProviders(connect, 3);
    consumer = startConsumer(connect);
    await untilSnapshot(consumer, providers.map(idOf));
    load = startLoad(consumer);
    await load.untilAnswered(400); // two seconds of steady traffic first

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
