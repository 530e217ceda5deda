/**
 * Lane shares: how much of the traffic that no rule steers goes to each lane, and which user buckets each lane owns.
 * Pure; no I/O.
 *
 * A service config's `ratio` is the share of `gray`, its `lanes` the shares of named lanes; what is left is the base
 * lane's. The random draw walks the shares in one fixed order (gray, then named lanes by name).
 *
 * Per-user bucketing gives each lane a set of the 100 buckets. Independent hashes per lane would move users between
 * lanes when one share changes; instead each lane keeps its set, and a change of shares moves only buckets between
 * a lane and the base lane (`nextBuckets`): raising a share takes free buckets, lowering one gives its last-taken
 * buckets back. The admin API writes the sets into the config document (`buckets`) with compare-and-set, so that
 * every consumer assigns the same. Without them, `gray` owns the buckets below `ratio` (the assignment from before
 * lanes) and named lanes the next ones, in name order.
 */
import { BASE_LANE, GRAY_LANE, laneEntry, type Lane } from '../types';

/** Buckets of per-user bucketing: a user's bucket is a stable hash of the key modulo this. */
export const BUCKETS = 100;

/** One lane's share, 0-100. */
export interface LaneShare {
  readonly lane: Lane;
  readonly share: number;
}

/** The shares of a config in draw order (gray, then named lanes by name); lanes of share 0 are left out. */
export function laneShares(ratio: number, lanes: Readonly<Record<Lane, number>> | undefined): readonly LaneShare[] {
  const list: LaneShare[] = ratio > 0 ? [{ lane: GRAY_LANE, share: ratio }] : [];
  if (lanes) for (const lane of Object.keys(lanes).sort()) if (lanes[lane] > 0) list.push({ lane, share: lanes[lane] });
  return list;
}

/** Sum of the shares of `ratio` and `lanes`; a config whose sum is above 100 is invalid. */
export function totalShare(ratio: number | undefined, lanes: Readonly<Record<Lane, number>> | undefined): number {
  let total = ratio ?? 0;
  if (lanes) for (const lane of Object.keys(lanes)) total += lanes[lane];
  return total;
}

/**
 * How many buckets the shares ask for. At most 100 whenever the shares add up to at most 100, but for float
 * rounding (`ratio` 5e-324 beside a lane at 100 adds up to exactly 100): such a config is invalid too.
 */
export function bucketDemand(ratio: number | undefined, lanes: Readonly<Record<Lane, number>> | undefined): number {
  let demand = bucketCount(GRAY_LANE, ratio ?? 0);
  if (lanes) for (const lane of Object.keys(lanes)) demand += bucketCount(lane, lanes[lane]);
  return demand;
}

/** Draws a lane by shares: `random` in [0, 1) against the shares laid end to end; past them, the base lane. */
export function drawLane(shares: readonly LaneShare[], random: () => number = Math.random): Lane {
  if (shares.length === 0) return BASE_LANE;
  let point = random() * 100;
  for (const { lane, share } of shares) {
    if (point < share) return lane;
    point -= share;
  }
  return BASE_LANE;
}

/**
 * How many buckets a lane's share owns. Gray: ceil(s), the buckets below s of the assignment from before lanes.
 * A named lane: floor(s), so that all lanes together never ask for more than the 100 buckets (ceil(r) + floor of
 * the rest is at most 100 whenever the shares add up to at most 100).
 */
export function bucketCount(lane: Lane, share: number): number {
  const count = lane === GRAY_LANE ? Math.ceil(share) : Math.floor(share);
  return Math.min(BUCKETS, Math.max(0, count));
}

/** Bucket sets as the config document holds them. */
export type BucketSets = Readonly<Record<Lane, readonly number[]>>;

/**
 * The bucket sets after a change of shares, from the sets before it: a lane whose share fell gives back its
 * last-taken buckets, a lane whose share rose takes the lowest free buckets (those free before this change first, so
 * that a user never moves from one named lane straight into another). Lanes not in `shares` have share 0.
 */
export function nextBuckets(previous: BucketSets, shares: readonly LaneShare[]): Record<Lane, number[]> {
  const want = new Map(shares.map(({ lane, share }) => [lane, bucketCount(lane, share)]));
  const next: Record<Lane, number[]> = {};
  const owned = new Set<number>();
  const released: number[] = [];
  for (const lane of Object.keys(previous).sort()) {
    const keep = Math.min(previous[lane].length, want.get(lane) ?? 0);
    const list = previous[lane].slice(0, keep);
    released.push(...previous[lane].slice(keep));
    if (list.length > 0) next[lane] = list;
    for (const bucket of list) owned.add(bucket);
  }
  const fresh: number[] = [];
  for (let bucket = 0; bucket < BUCKETS; bucket++) if (!owned.has(bucket) && !released.includes(bucket)) fresh.push(bucket);
  const free = [...fresh, ...released.sort((a, b) => a - b)];
  for (const { lane } of shares) {
    const list = laneEntry(next, lane) ?? [];
    while (list.length < (want.get(lane) ?? 0) && free.length > 0) list.push(free.shift() as number);
    if (list.length > 0) next[lane] = list;
  }
  return next;
}

/**
 * The bucket sets in force: the document's `buckets` when they match the shares (each lane holds as many buckets as
 * its share asks), else the assignment from shares alone (gray the lowest buckets, as before lanes).
 */
export function bucketSets(shares: readonly LaneShare[], written: BucketSets | undefined): BucketSets {
  if (!written) return nextBuckets({}, shares);
  const matches = shares.every(({ lane, share }) => (laneEntry(written, lane)?.length ?? 0) === bucketCount(lane, share));
  const noStray = Object.keys(written).every((lane) => written[lane].length === 0 || shares.some((entry) => entry.lane === lane));
  if (matches && noStray) return written;
  return nextBuckets({}, shares);
}

/** Bucket -> lane (undefined: base), for a lookup per request. */
export function bucketTable(sets: BucketSets): readonly (Lane | undefined)[] {
  const table: (Lane | undefined)[] = new Array(BUCKETS).fill(undefined);
  for (const lane of Object.keys(sets)) for (const bucket of sets[lane]) table[bucket] = lane;
  return table;
}

/** A service's split in force: the shares the random draw walks and the bucket of each lane. Build one per config. */
export interface LaneSplit {
  readonly shares: readonly LaneShare[];
  /** Bucket -> lane; undefined: base. */
  readonly buckets: readonly (Lane | undefined)[];
}

/** The split of a gray share alone (no named lanes): the assignment from before lanes. */
export function laneSplit(ratio: number, lanes?: Readonly<Record<Lane, number>>, written?: BucketSets): LaneSplit {
  const shares = laneShares(ratio, lanes);
  return { shares, buckets: bucketTable(bucketSets(shares, written)) };
}

/** The split without one lane's share and buckets (a crashed rollout of that lane routes it at 0): others keep theirs. */
export function withoutLane(split: LaneSplit, without: Lane = GRAY_LANE): LaneSplit {
  if (!split.shares.some((entry) => entry.lane === without)) return split;
  return { shares: split.shares.filter((entry) => entry.lane !== without), buckets: split.buckets.map((lane) => (lane === without ? undefined : lane)) };
}

/** What of a service config shares and bucket sets are made of. */
export interface ShareConfig {
  ratio?: number;
  lanes?: Record<Lane, number>;
  buckets?: Record<Lane, number[]>;
}

/**
 * A config with `lane`'s share set (`gray`: `ratio`), and bucket sets that move users only between that lane and
 * the base lane (nextBuckets from the sets in force). The sets are written only while a named lane has a share or
 * the sets differ from the assignment from before lanes, so that a config of `ratio` alone stays as it was (and
 * readable by consumers that know no `lanes`). The caller validates the sum.
 */
export function withShare<T extends ShareConfig>(config: T, lane: Lane, share: number): T {
  const before = bucketSets(laneShares(config.ratio ?? 0, config.lanes), config.buckets);
  const next: T = { ...config };
  if (lane === GRAY_LANE) next.ratio = share;
  else {
    const lanes = { ...config.lanes };
    if (share > 0) lanes[lane] = share;
    else delete lanes[lane];
    if (Object.keys(lanes).length > 0) next.lanes = lanes;
    else delete next.lanes;
  }
  const shares = laneShares(next.ratio ?? 0, next.lanes);
  const sets = nextBuckets(before, shares);
  const plain = nextBuckets({}, laneShares(next.ratio ?? 0, undefined));
  if (next.lanes === undefined && sameSets(sets, plain)) delete next.buckets;
  else next.buckets = sets;
  return next;
}

function sameSets(a: BucketSets, b: BucketSets): boolean {
  const lanes = Object.keys(a);
  if (lanes.length !== Object.keys(b).length) return false;
  return lanes.every((lane) => {
    const other = laneEntry(b, lane);
    return other !== undefined && a[lane].length === other.length && a[lane].every((bucket) => other.includes(bucket));
  });
}
