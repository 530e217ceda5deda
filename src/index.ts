/** graykit's public surface. Everything a user imports comes from here. */
export { grayRegister, ProviderRegistration, DEFAULT_REGISTER_OPTIONS, defaultAdvertisedHost } from './provider/gray-register';
export type { GrayRegisterOptions, GrayRegisterMiddleware } from './provider/gray-register';
export { grayRoute } from './consumer/gray-route';
export type { GrayRouteOptions, GrayRouteInterceptor, GrayRequestConfig } from './consumer/gray-route';
export { GrayConsumer, createConsumer, DEFAULT_CONSUMER_OPTIONS } from './consumer/consumer';
export type { GrayConsumerOptions } from './consumer/consumer';
export { useGray } from './consumer/use-gray';
export type { UseGrayOptions, GrayInterceptors, RetryEvent } from './consumer/use-gray';
export type { RouteOptions, OutlierEvent } from './consumer/consumer';
export { DEFAULT_OUTLIER_OPTIONS } from './consumer/outlier';
export type { OutlierOptions, EjectionInfo } from './consumer/outlier';
export {
  DEFAULT_FAILOVER_OPTIONS,
  CONNECTION_ERROR_CODES,
  isConnectionError,
  withConnectTimeout,
  ConnectTimeoutError,
} from './consumer/failover';
export type { FailoverOptions } from './consumer/failover';
export { grayContext, DEFAULT_CONTEXT_OPTIONS } from './context/gray-context';
export type { GrayContextOptions } from './context/gray-context';
export { runInLane, bindLane, contextBackend, CLS_NAMESPACE } from './context/lane-context';
export { bucketOf, bucketLane, decideLane, compileLanePolicy } from './router/lane-policy';
export type { HashBy, LanePolicy, RequestView } from './router/lane-policy';
export type { ContextBackend, ContextKind, LaneStore } from './context/lane-context';
export { route, buildRoutingTable, pickLane, createBalancer, isValidRatio } from './router';
export type { RouteDecision, RouteInput, RoutingTable, Balancer } from './router';
export { decodeInstance, encodeInstance, decodeConfig, encodeConfig, MAX_DATA_BYTES } from './registry/codec';
export { DEFAULT_ROOT, configPath, instancePath, instancesPath, servicePath, servicesPath, isValidServiceName } from './registry/paths';
export { DEFAULT_ZK_CONNECT, DEFAULT_SESSION_TIMEOUT } from './registry/connection';
export type { ConnectionOptions } from './registry/connection';
export type { ServiceSnapshot } from './registry/catalog';
export { createAdmin, GrayAdmin, DEFAULT_ADMIN_OPTIONS } from './admin/admin';
export type { AdminOptions, ServiceStatus, InstanceStatus, VersionedConfig } from './admin/admin';
export type { InitOptions, InitResult } from './admin/admin';
export { digestId } from './registry/acl';
export { validateConfig, decodeOverride } from './registry/codec';
export { overridePath, overridesPath } from './registry/paths';
export {
  GrayKitError,
  InvalidConfigError,
  ConflictError,
  NotFoundError,
  InvalidOptionError,
  NoInstanceError,
  RegistryUnavailableError,
  ZooKeeperError,
  InvalidMetadataError,
  ClosedError,
  AccessDeniedError,
} from './errors';
export type { GrayKitErrorCode } from './errors';
export { defaultLogger, silentLogger } from './logger';
export { DEFAULT_LANE_HEADER, parseLane } from './types';
export type { Lane, Instance, InstanceMeta, InstanceOverride, LaneRule, ServiceConfig, Logger } from './types';
export { createProviderMetrics, checkMetricsPath } from './metrics/provider-metrics';
export type { ProviderMetrics, ProviderMetricsOptions } from './metrics/provider-metrics';
export { consumerMetrics } from './metrics/consumer-metrics';
export type { ConsumerMetrics, ConsumerMetricsOptions } from './metrics/consumer-metrics';
export { PROVIDER_REQUESTS, PROVIDER_DURATION, CONSUMER_OUTCOMES, DEFAULT_DURATION_BUCKETS } from './metrics/names';
export { parseExposition } from './metrics/exposition';
export type { Sample } from './metrics/exposition';
export type { Outcome, OutcomeEvent } from './consumer/outcome';
export { runRollout, rollbackVerified, DEFAULT_ROLLOUT_OPTIONS, ROLLOUT_EXIT } from './rollout/rollout';
export type { RolloutOptions, RolloutHooks, RolloutReport, RolloutEvent, RolloutOutcome, StepResult } from './rollout/rollout';
export { judge, errorRate, zScore, normalQuantile } from './rollout/judge';
export type { LaneCounts, JudgeOptions, Verdict, VerdictResult } from './rollout/judge';
export { parseDuration, parsePercent, parseSteps } from './rollout/parse';
export type { LaneStats } from './rollout/scrape';
