// `spirt bench epoch --json --model M [--peers N] [--batch-size 64] [--train-limit N] [--epochs 2]`
//
// Where an epoch's time goes, on a fresh local stack: trains `epochs` epochs and reports the last one (the
// first pays for warm-up: model sessions, connections), without its evaluation.
//   epoch_ms    the epoch's wall time on the slowest peer, evaluation excluded: on the real clock, from the
//               peer's last update of the epoch before to its last update of this one (Redis entry ids of the
//               step metrics), so the epoch boundary (continueAsNew) is inside it whatever starts when;
//   workflow_epoch_ms  the same in workflow time (the peers' epoch records: from the run's first workflow
//               task to its last step); before 2026-12-07's fifth session this was epoch_ms;
//   compute_ms  the time the epoch's critical path spends inside gradient functions: per step, the longest
//               function call of any peer (from the step metrics each peer records in its own Redis);
//   updates_span_ms  the first to the last update of the epoch on the real clock (Redis entry ids): epoch_ms
//               should exceed it by about one step;
//   prestarted_calls  the epoch's first function calls started by the epoch before's last step chain
//               (activities/prestart.ts), all peers;
//   steps       per-phase totals over the epoch (the slowest peer's), from the same step metrics;
//   server_round_trips_per_step  workflow and activity tasks the Temporal server handed this peer's worker
//               per step (each is a poll answered and a completion sent back), read off p1's histories;
//   aof_rewrites  rewrites of the peers' append-only files during the run (all peers, all epochs);
//   workflow_tasks_timed_out / workflow_tasks_failed  in every peer's histories (a stall the phases do not show);
//               `workflow_task_troubles` then says, for each, its timeout or failure, its task queue (sticky or
//               not), when it was scheduled, started and ended, and the event it followed;
//   status_query_ms  how long p1's status query took, sampled every 200 ms during the run.
//   timeline    (--timeline) the tail of each step of the measured epoch, from the workers' real-clock
//               timeline (SPIRT_TRACE; bench/timeline.ts).
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Client } from '@temporalio/client';
import { optionalTsToMs } from '@temporalio/common/lib/time';
import { temporal } from '@temporalio/proto';
import { parseRunConfig } from '../lib/config';
import type { RunConfig } from '../lib/config/schema';
import { ConfigError } from '../lib/errors/config-error';
import { peerWorkflowId } from '../lib/protocol/names';
import { freePort, freePortRange } from '../lib/stack/ports';
import { startStack } from '../lib/stack/stack';
import { peerPersistenceInfo, results, startRun, stepMetrics, temporalClient } from './fault-run';
import { parseTrace, summarizeTimeline, type TimelineSummary } from './timeline';

interface Options {
  json: boolean;
  model: string;
  peers: number;
  batchSize: number;
  trainLimit: number;
  epochs: number;
  functions: number;
  eager: boolean;
  functionNice: number;
  /** The function threads' SCHED_IDLE policy (PeerConfig.functionIdle). */
  functionIdle: boolean;
  /** The peers' Redis forked children under SCHED_IDLE (PeerConfig.redisForkIdle). */
  redisForkIdle: boolean;
  timeline: boolean;
  set: Record<string, unknown>;
}

const USAGE =
  'usage: spirt bench epoch [--json] [--model lenet5] [--peers 4] [--batch-size 64] [--train-limit 16384] [--epochs 2] [--functions 2] [--eager] [--function-nice 19] [--function-idle true|false] [--redis-fork-idle true|false] [--timeline] [--set field=value]\n';

function parse(argv: string[]): Options {
  const opts: Options = {
    json: false,
    model: 'lenet5',
    peers: 4,
    batchSize: 64,
    trainLimit: 16384,
    epochs: 2,
    functions: 2,
    eager: false,
    functionNice: 19,
    functionIdle: true,
    redisForkIdle: true,
    timeline: false,
    set: {},
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = () => {
      const v = argv[++i];
      if (v === undefined) throw new ConfigError(`bench epoch: ${a} needs a value`);
      return v;
    };
    const int = (v: string, min: number) => {
      const n = Number(v);
      if (!Number.isInteger(n) || n < min) throw new ConfigError(`bench epoch: ${a} must be an integer >= ${min}`);
      return n;
    };
    const bool = (v: string) => {
      if (v !== 'true' && v !== 'false') throw new ConfigError(`bench epoch: ${a} must be true or false`);
      return v === 'true';
    };
    if (a === '--json') opts.json = true;
    else if (a === '--model') opts.model = value();
    else if (a === '--peers') opts.peers = int(value(), 1);
    else if (a === '--batch-size') opts.batchSize = int(value(), 1);
    else if (a === '--train-limit') opts.trainLimit = int(value(), 64);
    else if (a === '--epochs') opts.epochs = int(value(), 1);
    else if (a === '--functions') opts.functions = int(value(), 1);
    else if (a === '--eager') opts.eager = true;
    else if (a === '--timeline') opts.timeline = true;
    else if (a === '--function-nice') opts.functionNice = int(value(), 0);
    else if (a === '--function-idle') opts.functionIdle = bool(value());
    else if (a === '--redis-fork-idle') opts.redisForkIdle = bool(value());
    else if (a === '--set') {
      const v = value();
      const at = v.indexOf('=');
      if (at <= 0) throw new ConfigError(`bench epoch: --set ${v} is not field=value`);
      const raw = v.slice(at + 1);
      let parsed: unknown = raw;
      try {
        parsed = JSON.parse(raw);
      } catch {
        // a plain string
      }
      opts.set[v.slice(0, at)] = parsed;
    } else if (a === '--help' || a === '-h') {
      process.stdout.write(USAGE);
      process.exit(0);
    } else throw new ConfigError(`bench epoch: unknown option ${a}\n${USAGE}`);
  }
  return opts;
}

export interface EpochReport {
  suite: 'epoch';
  model: string;
  peers: number;
  batch_size: number;
  steps_per_epoch: number;
  epoch_ms: number;
  /** The epoch in workflow time (the slowest peer's epoch record, evaluation excluded). */
  workflow_epoch_ms: number;
  compute_ms: number;
  /** Function calls of the epoch's first step adopted from the epoch before's last chain (all peers). */
  prestarted_calls: number;
  /** Real-clock cross-check: the first to the last update of the epoch, from the metrics stream's entry ids. */
  updates_span_ms: number;
  overhead_ratio: number;
  non_compute_ms_per_step: number;
  compute_ms_per_step: number;
  steps: Record<string, number>;
  server_round_trips_per_step: number;
  /** Workflow tasks that timed out or failed, all peers, all runs (each costs seconds no step phase shows). */
  workflow_tasks_timed_out: number;
  /** Each workflow task that timed out or failed (present when there was one). */
  workflow_task_troubles?: WorkflowTaskTrouble[];
  workflow_tasks_failed: number;
  /** Append-only file rewrites of all peers' Redis servers during the run (each forks the server). */
  aof_rewrites: number;
  /** Test accuracy after the last epoch (on `testLimit` samples). */
  test_accuracy: number | null;
  /** Mean training loss of the last epoch (the slowest peer's samples). */
  train_loss: number;
  /** Latency of p1's status query, sampled every 200 ms while the run trained. */
  status_query_ms: { n: number; p50: number | null; max: number | null };
  /** With --timeline: the tail of each step of the measured epoch, on the real clock. */
  timeline?: TimelineSummary;
  config: Record<string, unknown>;
}

/** A workflow task that timed out or failed, as its history tells it (what stalled, and where). */
export interface WorkflowTaskTrouble {
  workflow: string;
  run: string;
  kind: 'timed_out' | 'failed';
  /** The timeout's type, or the failure's cause and message. */
  detail: string;
  /** The server's time of the timeout or failure, ISO. */
  at: string;
  /** Milliseconds from the task's scheduling to its start (null: never started) and to the timeout or failure. */
  scheduled_to_start_ms: number | null;
  scheduled_to_end_ms: number | null;
  /** The task queue it was scheduled on (a worker's sticky queue, or the peer's). */
  task_queue: string;
  /** The identity of the worker that started it. */
  started_by: string | null;
  /** The event before its scheduling (what the task was to handle). */
  after: string | null;
}

/** The workflow tasks of one run's history that timed out or failed, each with what the history says of it. */
export function workflowTaskTroubles(
  workflow: string,
  run: string,
  events: temporal.api.history.v1.IHistoryEvent[],
): WorkflowTaskTrouble[] {
  const byId = new Map(events.map((e) => [Number(e.eventId), e]));
  return events.flatMap((e) => {
    const timedOut = e.workflowTaskTimedOutEventAttributes;
    const failed = e.workflowTaskFailedEventAttributes;
    const attrs = timedOut ?? failed;
    if (!attrs) return [];
    const scheduled = byId.get(Number(attrs.scheduledEventId));
    const started = attrs.startedEventId ? byId.get(Number(attrs.startedEventId)) : undefined;
    const before = scheduled ? byId.get(Number(scheduled.eventId) - 1) : undefined;
    const at = optionalTsToMs(e.eventTime);
    const t0 = optionalTsToMs(scheduled?.eventTime);
    const t1 = optionalTsToMs(started?.eventTime);
    return [
      {
        workflow,
        run,
        kind: timedOut ? 'timed_out' : 'failed',
        detail: timedOut
          ? (temporal.api.enums.v1.TimeoutType[timedOut.timeoutType ?? 0] ?? 'unknown')
          : `${temporal.api.enums.v1.WorkflowTaskFailedCause[failed?.cause ?? 0] ?? 'unknown'}: ${failed?.failure?.message ?? ''}`,
        at: at !== undefined ? new Date(at).toISOString() : '',
        scheduled_to_start_ms: t0 !== undefined && t1 !== undefined ? t1 - t0 : null,
        scheduled_to_end_ms: t0 !== undefined && at !== undefined ? at - t0 : null,
        task_queue: scheduled?.workflowTaskScheduledEventAttributes?.taskQueue?.name ?? '',
        started_by: started?.workflowTaskStartedEventAttributes?.identity ?? null,
        after: before ? (temporal.api.enums.v1.EventType[before.eventType ?? 0] ?? null) : null,
      },
    ];
  });
}

/**
 * Per workflow (every run of it, continueAsNew included): the workflow and activity tasks the server handed its
 * worker, and its workflow tasks that timed out or failed (a stalled worker, a replay that went wrong: each
 * costs seconds the step phases do not show).
 */
async function historyCounts(
  client: Client,
  workflowId: string,
): Promise<{ tasks: number; troubles: WorkflowTaskTrouble[] }> {
  const counts = { tasks: 0, troubles: [] as WorkflowTaskTrouble[] };
  for await (const info of client.workflow.list({ query: `WorkflowId = '${workflowId}'` })) {
    const events = (await client.workflow.getHandle(workflowId, info.runId).fetchHistory()).events ?? [];
    counts.tasks += events.filter(
      (e) => e.workflowTaskStartedEventAttributes || e.activityTaskStartedEventAttributes,
    ).length;
    counts.troubles.push(...workflowTaskTroubles(workflowId, info.runId, events));
  }
  return counts;
}

export async function runEpochBench(opts: Options, say: (line: string) => void): Promise<EpochReport> {
  const stateDir = mkdtempSync(join(tmpdir(), 'spirt-bench-epoch-'));
  say(`starting a ${opts.peers}-peer stack`);
  // Every worker appends its timeline here (lib/log/trace.ts).
  const traceFile = opts.timeline ? join(stateDir, 'timeline.jsonl') : null;
  const stack = await startStack({
    peers: opts.peers,
    stateDir,
    temporalPort: await freePort(),
    redisPortBase: await freePortRange(opts.peers + 1),
    functionsPerPeer: opts.functions,
    eagerActivities: opts.eager,
    functionNice: opts.functionNice,
    functionIdle: opts.functionIdle,
    redisForkIdle: opts.redisForkIdle,
    ...(traceFile ? { workerEnv: { SPIRT_TRACE: traceFile } } : {}),
  });
  const { client, connection } = await temporalClient(stack.file);
  try {
    const config = parseRunConfig({
      model: opts.model as RunConfig['model'],
      peers: opts.peers,
      epochs: opts.epochs,
      batchSize: opts.batchSize,
      trainLimit: opts.trainLimit,
      testLimit: 2000,
      seed: 5,
      evalEvery: opts.epochs,
      ...opts.set,
      run: `bench-epoch-${Date.now().toString(36)}`,
    });
    say(
      `${opts.model}: ${opts.peers} peers x ${config.shardsPerPeer} shards x batch ${config.batchSize}, ${opts.trainLimit} samples, ${opts.epochs} epochs`,
    );
    const handles = await startRun(client, stack.file, config);
    // Status query latency while the run trains (what `spirt train` and `spirt status` wait for).
    const queryMs: number[] = [];
    let finished = false;
    const probing = (async () => {
      while (!finished) {
        const started = Date.now();
        const ok = await handles[0].query('status').then(
          () => true,
          () => false,
        );
        if (ok && !finished) queryMs.push(Date.now() - started);
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
    })();
    const outcomes = await results(handles);
    finished = true;
    await probing;
    queryMs.sort((a, b) => a - b);
    const done = outcomes.map((o) => {
      if (!('result' in o)) throw new Error(`bench epoch: peer ${o.peer} failed: ${o.failure}`);
      return o.result;
    });
    const epoch = opts.epochs;
    const records = done.map((r) => {
      const record = r.history.find((h) => h.epoch === epoch);
      if (record) return record;
      // A peer the others removed (a barrier that timed out on an overloaded machine, say) has no such epoch.
      const removals = r.membership.map((m) => `${m.peer} ${m.change} at ${m.epoch}:${m.step} (${m.reason})`);
      throw new Error(
        `bench epoch: peer ${r.peerId} did not train epoch ${epoch}: it ended ${r.outcome}` +
          `${r.endReason ? ` (${r.endReason})` : ''}${removals.length > 0 ? `; membership: ${removals.join('; ')}` : ''}`,
      );
    });
    const all = await Promise.all(done.map((r) => stepMetrics(stack.file, config.run, r.peerId)));
    const metrics = all.map((m) => m.filter((x) => x.epoch === epoch));
    // Each peer's epoch on the real clock: from its last update of the epoch before to its last of this one.
    // The first epoch has no such start: its workflow time stands in.
    const lastUpdate = (m: (typeof metrics)[number]) => Math.max(...m.map((x) => x.at));
    const flow = records.map((r) => r.epochMs - (r.phaseMs.evaluate ?? 0));
    const wall = all.map((m, i) => {
      const before = m.filter((x) => x.epoch === epoch - 1);
      return before.length > 0 && metrics[i].length > 0 ? lastUpdate(metrics[i]) - lastUpdate(before) : flow[i];
    });
    const slowest = wall.indexOf(Math.max(...wall));
    const steps = records[slowest].steps;
    // Every peer's gradient must have gone into every aggregation: a run that dropped some (a copy refused,
    // a peer unreachable) trained a different protocol, and its times say nothing about this one's.
    const dropped = metrics.flat().flatMap((m) => m.dropped.map((d) => ({ step: m.step, ...d })));
    if (dropped.length > 0)
      throw new Error(
        `bench epoch: ${dropped.length} peer gradients were dropped from the measured epoch's aggregations ` +
          `(first: ${dropped[0].peer} at step ${dropped[0].step}: ${dropped[0].reason}); the times are not comparable`,
      );
    // A cross-check of epoch_ms (which the workflow measures in workflow time) on the real clock: from the
    // first update of the epoch to the last, as the peers' Redis servers stamped them in the metrics stream.
    const stamps = metrics.flat().map((m) => m.at);
    const updatesSpanMs = stamps.length > 0 ? Math.max(...stamps) - Math.min(...stamps) : 0;
    // The critical path's compute: per step, the longest function call of any peer.
    let computeMs = 0;
    for (let step = 0; step < steps; step++) {
      computeMs += Math.max(0, ...metrics.map((m) => m.find((x) => x.step === step)?.timings.functions ?? 0));
    }
    const phases: Record<string, number> = {};
    for (const [name, ms] of Object.entries(records[slowest].phaseMs))
      if (name !== 'evaluate') phases[name] = Math.round(ms);
    const epochMs = wall[slowest];
    const histories = await Promise.all(done.map((r) => historyCounts(client, peerWorkflowId(config.run, r.peerId))));
    const troubles = histories.flatMap((h) => h.troubles);
    const trips = histories[done.findIndex((r) => r.peerId === 'p1')]?.tasks ?? 0;
    // Rewrites of the peers' append-only files during the run (all epochs): each forks the Redis server.
    const rewrites = await Promise.all(done.map((r) => peerPersistenceInfo(stack.file, r.peerId, 'aof_rewrites')));
    const timeline = traceFile ? summarizeTimeline(parseTrace(readFileSync(traceFile, 'utf8')), epoch) : undefined;
    return {
      suite: 'epoch',
      model: opts.model,
      peers: opts.peers,
      batch_size: config.batchSize,
      steps_per_epoch: steps,
      epoch_ms: Math.round(epochMs),
      workflow_epoch_ms: Math.round(Math.max(...flow)),
      compute_ms: Math.round(computeMs),
      prestarted_calls: metrics.flat().reduce((a, m) => a + m.prestarted, 0),
      updates_span_ms: updatesSpanMs,
      overhead_ratio: Number(((epochMs - computeMs) / epochMs).toFixed(4)),
      non_compute_ms_per_step: Number(((epochMs - computeMs) / steps).toFixed(1)),
      compute_ms_per_step: Number((computeMs / steps).toFixed(1)),
      steps: phases,
      server_round_trips_per_step: Number((trips / Math.max(1, opts.epochs * steps)).toFixed(2)),
      workflow_tasks_timed_out: troubles.filter((t) => t.kind === 'timed_out').length,
      workflow_tasks_failed: troubles.filter((t) => t.kind === 'failed').length,
      ...(troubles.length > 0 ? { workflow_task_troubles: troubles } : {}),
      aof_rewrites: rewrites.reduce<number>((a, n) => a + (n ?? 0), 0),
      test_accuracy: records[slowest].testAccuracy,
      train_loss: Number(records[slowest].trainLoss.toFixed(4)),
      status_query_ms: {
        n: queryMs.length,
        p50: queryMs[Math.floor(queryMs.length / 2)] ?? null,
        max: queryMs.at(-1) ?? null,
      },
      ...(timeline ? { timeline } : {}),
      config: {
        shardsPerPeer: config.shardsPerPeer,
        localActivities: config.localActivities,
        eagerActivities: opts.eager,
        functionNice: opts.functionNice,
        functionIdle: opts.functionIdle,
        redisForkIdle: opts.redisForkIdle,
        trainLimit: opts.trainLimit,
        epochs: opts.epochs,
        ...opts.set,
      },
    };
  } finally {
    await connection.close();
    await stack.stop();
    rmSync(stateDir, { recursive: true, force: true });
  }
}

export async function main(argv: string[]): Promise<void> {
  const opts = parse(argv);
  const say = (line: string) => (opts.json ? process.stderr : process.stdout).write(line + '\n');
  const report = await runEpochBench(opts, say);
  if (opts.json) process.stdout.write(JSON.stringify(report) + '\n');
  else {
    say(
      `epoch ${report.epoch_ms} ms, in functions ${report.compute_ms} ms: overhead ${(report.overhead_ratio * 100).toFixed(1)}% (${report.non_compute_ms_per_step} ms per step beside ${report.compute_ms_per_step} ms of compute)`,
    );
    say(
      `phases: ${Object.entries(report.steps)
        .map(([k, v]) => `${k} ${v} ms`)
        .join(', ')}`,
    );
    say(
      `epoch in workflow time ${report.workflow_epoch_ms} ms; first calls started by the epoch before: ${report.prestarted_calls}`,
    );
    say(`server round trips per step (p1): ${report.server_round_trips_per_step}`);
    if (report.workflow_tasks_timed_out + report.workflow_tasks_failed > 0)
      say(
        `workflow tasks timed out: ${report.workflow_tasks_timed_out}, failed: ${report.workflow_tasks_failed} (the times include their retries)`,
      );
    for (const t of report.workflow_task_troubles ?? [])
      say(
        `  ${t.workflow} ${t.kind} (${t.detail}) at ${t.at}: on ${t.task_queue}, after ${t.after}, started ${t.scheduled_to_start_ms ?? 'never'} ms after scheduling${t.started_by ? ` by ${t.started_by}` : ''}, ended ${t.scheduled_to_end_ms} ms after`,
      );
    if (report.timeline) {
      const t = report.timeline;
      const part = (name: string, s: { mean: number; p50: number }) => `${name} ${s.mean} (p50 ${s.p50})`;
      say(
        `the step's tail, ms per step over ${t.steps} steps: ${[
          part('last peer: average and sign', t.last_average_ms),
          part('announce', t.last_announce_ms),
          part('others: notified', t.others_notified_ms),
          part('their copy of its gradient', t.others_copy_ms),
          part('their wait at the fetch', t.others_fetch_ms),
          part('aggregate', t.others_aggregate_ms),
          part('update', t.others_update_ms),
          part('to the last next front', t.tail_ms),
          part('front skew', t.front_skew_ms),
        ].join(', ')}`,
      );
    }
  }
}
