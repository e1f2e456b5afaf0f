// `spirt bench join [--json] [--model softmax] [--train-limit 3072]`
//
// On a fresh local stack of 3 peers plus 1 standby peer: a 3-peer run, and in its epoch 2 the standby peer
// joins with `spirt peer add p4` (the real command, as a child process). Reports:
//   join_ms      `spirt peer add` started -> p4 is in every existing peer's trusted-peer table (its join
//                handshake verified by all), process start of the CLI included;
//   handshake_ms the join handshake workflow alone, as the command reports it;
//   admitted_ms  `spirt peer add` started -> p4's first step applied (its first gradient aggregated).
// The paper's figure for a join: 7.2 s.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Client } from '@temporalio/client';
import { optionalTsToMs, type Timestamp } from '@temporalio/common/lib/time';
import { parseRunConfig } from '../lib/config';
import { ConfigError } from '../lib/errors/config-error';
import { readTrustedPeer } from '../lib/peer/trust';
import { peerWorkflowId } from '../lib/protocol/names';
import { connectRedis } from '../lib/redis/connect';
import { freePort, freePortRange } from '../lib/stack/ports';
import { startStack } from '../lib/stack/stack';
import { results, startRun, stepMetrics, temporalClient, waitForStatus } from './fault-run';

interface Options {
  json: boolean;
  model: string;
  trainLimit: number;
}

function parse(argv: string[]): Options {
  const opts: Options = { json: false, model: 'softmax', trainLimit: 3072 };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = () => {
      const v = argv[++i];
      if (v === undefined) throw new ConfigError(`bench join: ${a} needs a value`);
      return v;
    };
    if (a === '--json') opts.json = true;
    else if (a === '--model') opts.model = value();
    else if (a === '--train-limit') {
      opts.trainLimit = Number(value());
      if (!Number.isInteger(opts.trainLimit) || opts.trainLimit < 256)
        throw new ConfigError('bench join: --train-limit must be an integer >= 256');
    } else if (a === '--help' || a === '-h') {
      process.stdout.write('usage: spirt bench join [--json] [--model softmax] [--train-limit 3072]\n');
      process.exit(0);
    } else throw new ConfigError(`bench join: unknown option ${a}`);
  }
  return opts;
}

export async function main(argv: string[]): Promise<void> {
  const opts = parse(argv);
  const say = (line: string) => (opts.json ? process.stderr : process.stdout).write(line + '\n');
  const stateDir = mkdtempSync(join(tmpdir(), 'spirt-bench-join-'));
  say('starting a local stack: 3 peers + 1 standby');
  const stack = await startStack({
    peers: 3,
    standby: 1,
    stateDir,
    temporalPort: await freePort(),
    redisPortBase: await freePortRange(16),
  });
  const { client, connection } = await temporalClient(stack.file);
  const owners = await Promise.all(['p1', 'p2', 'p3'].map((p) => connectRedis(stack.ownerEndpoint(p))));
  try {
    const config = parseRunConfig({
      model: opts.model,
      peers: 3,
      trainLimit: opts.trainLimit,
      testLimit: 1000,
      batchSize: 32,
      epochs: 4,
      seed: 5,
      run: `join-${process.pid}`,
    });
    const handles = await startRun(client, stack.file, config);
    await waitForStatus(handles[0], (s) => s.epoch === 2 && s.step >= 1);
    say('epoch 2 reached: spirt peer add p4');
    const started = Date.now();
    const cli = spawn(
      process.execPath,
      [
        join(__dirname, '..', '..', 'bin', 'spirt.js'),
        'peer',
        'add',
        'p4',
        '--run',
        config.run,
        '--state-dir',
        stateDir,
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let output = '';
    cli.stdout.on('data', (d: Buffer) => (output += d.toString()));
    cli.stderr.on('data', (d: Buffer) => (output += d.toString()));
    const exited = new Promise<number>((resolve) => cli.on('exit', (code) => resolve(code ?? -1)));
    let joinMs = -1;
    while (joinMs < 0) {
      const trusted = await Promise.all(owners.map((r) => readTrustedPeer(r, 'p4')));
      if (trusted.every((t) => t?.credential && t.trustedAt >= started)) joinMs = Date.now() - started;
      else if (Date.now() - started > 60_000) throw new Error(`p4 not trusted after 60 s: ${output}`);
      else await new Promise((r) => setTimeout(r, 10));
    }
    const code = await exited;
    if (code !== 0) throw new Error(`spirt peer add failed (${code}): ${output}`);
    const handshakeMs = Number(/in (\d+) ms/.exec(output)?.[1] ?? NaN);
    const outcomes = await results([...handles, client.workflow.getHandle(peerWorkflowId(config.run, 'p4'))]);
    const failed = outcomes.filter((o) => !('result' in o));
    if (failed.length > 0) throw new Error(`run failed: ${JSON.stringify(failed)}`);
    const p4 = await stepMetrics(stack.file, config.run, 'p4');
    if (p4.length === 0) throw new Error('p4 applied no step');
    const admittedMs = p4[0].at - started;
    const phases = await handshakePhases(client);
    const result = {
      suite: 'join',
      join_ms: joinMs,
      handshake_ms: handshakeMs,
      admitted_ms: admittedMs,
      peers_before: 3,
      model: opts.model,
      target_join_ms: 3000,
      handshake_activities: phases,
    };
    say(`join ${joinMs} ms (handshake ${handshakeMs} ms), admitted after ${admittedMs} ms`);
    if (opts.json) process.stdout.write(JSON.stringify(result) + '\n');
  } finally {
    for (const r of owners) r.disconnect();
    await connection.close();
    await stack.stop();
    rmSync(stateDir, { recursive: true, force: true });
  }
}

/**
 * Where the join handshake's time went, from its workflow history: each activity's queueing (scheduled ->
 * started, i.e. waiting for a worker) and running time, in ms from the workflow's start.
 */
async function handshakePhases(
  client: Client,
): Promise<{ activity: string; queue: string; at: number; wait: number; run: number }[]> {
  let id: { workflowId: string; runId: string } | null = null;
  for await (const wf of client.workflow.list({ query: `WorkflowType = 'joinHandshakeWorkflow'` }))
    id = { workflowId: wf.workflowId, runId: wf.runId };
  if (!id) return [];
  const history = await client.workflow.getHandle(id.workflowId, id.runId).fetchHistory();
  const ms = (t: Timestamp | null | undefined) => optionalTsToMs(t) ?? 0;
  const events = history.events ?? [];
  const t0 = ms(events[0]?.eventTime);
  const scheduled = new Map<string, { activity: string; queue: string; at: number; started?: number }>();
  const out: { activity: string; queue: string; at: number; wait: number; run: number }[] = [];
  for (const e of events) {
    const id = String(e.eventId);
    const s = e.activityTaskScheduledEventAttributes;
    if (s)
      scheduled.set(id, {
        activity: s.activityType?.name ?? '?',
        queue: s.taskQueue?.name ?? '?',
        at: ms(e.eventTime) - t0,
      });
    const st = e.activityTaskStartedEventAttributes;
    if (st) {
      const entry = scheduled.get(String(st.scheduledEventId));
      if (entry) entry.started = ms(e.eventTime) - t0;
    }
    const c = e.activityTaskCompletedEventAttributes;
    if (c) {
      const entry = scheduled.get(String(c.scheduledEventId));
      if (entry && entry.started !== undefined)
        out.push({
          activity: entry.activity,
          queue: entry.queue,
          at: entry.at,
          wait: entry.started - entry.at,
          run: ms(e.eventTime) - t0 - entry.started,
        });
    }
  }
  return out;
}
