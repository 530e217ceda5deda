/**
 * graykit's public surface: a contract. It exports the entry points users call, their option and result types, the
 * errors, and the few building blocks users compose. Everything else is internal and may change in any release.
 *
 * Deliberately not exported:
 * - the router (`route`, `buildRoutingTable`, `createBalancer`, `pickLane`) and the lane policy (`decideLane`,
 *   `compileLanePolicy`, `bucketOf`): consumers use them through `createConsumer`; their shapes follow the hot path;
 * - the codec and the znode paths: they live behind the documented subpath `graykit/layout` for tools that read or
 *   write the registry directly (the layout is a contract; the functions that implement it are not the package's);
 * - the rollout's statistics (`judge`, `zScore`, `normalQuantile`), the exposition parser and the CLI's argument
 *   parsers: `runRollout` and the `graykit` command are the interface to them;
 * - the context backends' registry (`contextBackend`): `grayContext`, `runInLane` and `bindLane` take a kind.
 */

// Provider
export { grayRegister } from './provider/gray-register';
export type { GrayRegisterMiddleware } from './provider/gray-register';
export type { GrayRegisterOptions } from './provider/options';
export type { ProviderRegistration } from './provider/registration';
export type { ProviderMetrics, ProviderMetricsOptions } from './provider/metrics';

// Consumer
export { grayRoute } from './consumer/gray-route';
export type { GrayRouteOptions, GrayRouteInterceptor, GrayRequestConfig } from './consumer/gray-route';
export { createConsumer } from './consumer/consumer';
export type { GrayConsumer, GrayConsumerOptions, RouteOptions, OutlierEvent } from './consumer/consumer';
export { useGray } from './consumer/use-gray';
export type { UseGrayOptions, GrayInterceptors } from './consumer/use-gray';
export type { RetryEvent } from './consumer/failover-policy';
export { grayDispatcher, installGrayDispatcher } from './consumer/dispatcher';
export type { GrayDispatcher, GrayDispatcherOptions, InstalledGrayDispatcher } from './consumer/dispatcher';
export type { OutlierOptions, EjectionInfo } from './consumer/outlier';
// Building blocks for other HTTP clients and custom agents (README "Failover").
export { isConnectionError, withConnectTimeout, ConnectTimeoutError } from './consumer/failover';
export type { FailoverOptions } from './consumer/failover';
export { consumerMetrics } from './consumer/metrics';
export type { ConsumerMetrics, ConsumerMetricsOptions } from './consumer/metrics';
export type { Outcome, OutcomeEvent } from './consumer/outcome';
export type { RouteDecision } from './router';
export type { ServiceSnapshot } from './registry/catalog';

// Lanes
export { grayContext } from './context/gray-context';
export type { GrayContextOptions } from './context/gray-context';
export { runInLane, bindLane, currentLane, CLS_NAMESPACE } from './context/lane-context';
export type { ContextBackend, ContextKind, LaneStore, LaneSource } from './context/lane-context';
// The lane outside HTTP: message headers (a Kafka record's, a job's), and the W3C baggage member it travels in.
export { injectLane, extractLane, BAGGAGE_LANE_KEY } from './context/propagation';
export type { LanePropagation, LaneCarrierOptions } from './context/propagation';
export type { HashBy, LanePolicy, LaneRuleMatcher, RequestView } from './router/lane-policy';

// Control plane
export { createAdmin } from './admin/admin';
export type { GrayAdmin, AdminOptions, ServiceStatus, InstanceStatus, VersionedConfig, InitOptions, InitResult, UnvouchedInstance, RolloutStatus } from './admin/admin';
// Operators compute provider identities for `init` with it (README "Security").
export { digestId } from './registry/acl';
export { runRollout, resumeRollout } from './rollout/rollout';
export type { RolloutOptions, ResumeOptions, RolloutHooks, RolloutReport, RolloutEvent, RolloutOutcome, StepResult, ServiceStep, ServiceEnd } from './rollout/rollout';
export { abortRollout } from './rollout/abort';
export type { AbortOptions, AbortReport } from './rollout/abort';
export type { Webhook, WebhookKind, WebhookPayload } from './rollout/webhooks';
export type { LatencyStats } from './rollout/latency';
export type { RolloutDocument, RolloutState, RolloutActor, RecordedStep, RecordedLane, RecordedOptions, RolloutLease, OnCrash } from './registry/rollout-state';
export type { Verdict, VerdictResult } from './rollout/judge';
export type { LaneStats } from './rollout/scrape';

// Console: the browser view and steering of gray releases (README "Console").
export { createConsole } from './console/console';
export type { GrayConsole, ConsoleAddress } from './console/console';
export type { ConsoleOptions } from './console/options';
export type { ConsoleHandler } from './console/server';

// Shared: the defaults, connection options, metric names (a contract with dashboards and rollouts), types, logging,
// errors. The defaults are one frozen object rather than a constant per option: one name to find them all by, and
// read-only copies, since changing them would change nothing.
export { defaults } from './defaults';
export type { ConnectionOptions } from './registry/connection';
export { PROVIDER_REQUESTS, PROVIDER_DURATION, CONSUMER_OUTCOMES } from './metrics';
export type { Lane, Instance, InstanceMeta, InstanceOverride, LaneRule, ServiceConfig, Logger } from './types';
export { defaultLogger, silentLogger } from './logger';
export {
  GrayKitError,
  InvalidOptionError,
  NoInstanceError,
  RegistryUnavailableError,
  ZooKeeperError,
  AccessDeniedError,
  NativeAddonError,
  MissingDependencyError,
  ClosedError,
  InvalidConfigError,
  ConflictError,
  NotFoundError,
  RolloutBusyError,
} from './errors';
export type { GrayKitErrorCode } from './errors';

// Java services on the same ZooKeeper (Curator / Spring Cloud ZooKeeper): the options' types. The codec of Curator's
// JSON stays internal: its decoder takes resolved options, and the layout is documented in the README instead.
export type { CuratorOptions, CuratorKeys } from './registry/curator';
export type { JavaLaneOptions } from './context/java-lane';
