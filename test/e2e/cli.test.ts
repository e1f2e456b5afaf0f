// The CLI as a user runs it: real processes, real servers, exit codes and what is left running.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, freePortRange, isPortFree } from '../../lib/stack/ports';
import { toolchain } from '../helpers/servers';

const SPIRT = join(__dirname, '..', '..', 'bin', 'spirt.js');
/** A run that learns something in a few steps: softmax on the first 1024 samples. */
const TINY_RUN = ['--model', 'softmax', '--train-limit', '1024', '--test-limit', '500'];

function spirt(args: string[], env: Record<string, string> = {}) {
  const r = spawnSync(process.execPath, [SPIRT, ...args], {
    env: { ...process.env, SPIRT_LOG_LEVEL: 'warn', ...env },
    encoding: 'utf8',
    timeout: 120_000,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Processes whose command line mentions `needle` (our state dirs are unique temp dirs). */
function processesMentioning(needle: string): string[] {
  const r = spawnSync('pgrep', ['-af', needle], { encoding: 'utf8' });
  return r.stdout.split('\n').filter((l) => l.trim().length > 0 && !l.includes('pgrep'));
}

async function stackPorts() {
  const temporalPort = await freePort();
  const redisBase = await freePortRange(4);
  /** `spirt <command>` on these ports, in `dir`, with `peers` peers. */
  const args = (command: string, dir: string, peers: number) => [
    command,
    '--peers',
    String(peers),
    '--state-dir',
    dir,
    '--temporal-port',
    String(temporalPort),
    '--redis-port-base',
    String(redisBase),
  ];
  return { temporalPort, redisBase, args };
}

function tempDir(): string {
  return mkdtempSync(join(tmpdir(), 'spirt-e2e-'));
}

describe('spirt --help', () => {
  const commands = [
    'up',
    'train',
    'demo',
    'models',
    'model import',
    'bench',
    'bench engine',
    'status',
    'stop',
    'peer remove',
    'peer add',
    'logs',
  ];

  it('spirt --help lists every command', () => {
    const r = spirt(['--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^Usage: spirt <command> \[options\]/);
    for (const name of ['up', 'train', 'demo', 'models', 'model', 'bench', 'status', 'stop', 'peer', 'logs']) {
      expect(r.stdout).toMatch(new RegExp(`^  ${name}\\b`, 'm'));
    }
  });

  it.each(commands)('spirt %s --help prints its usage', (command) => {
    const r = spirt([...command.split(' '), '--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`^Usage: spirt ${command} `));
  });

  it('run flags of the failure detector and convergence are in train --help', () => {
    const r = spirt(['train', '--help']);
    for (const flag of ['--probe-interval-ms', '--suspect-after', '--heartbeat-stale-ms', '--target-accuracy']) {
      expect(r.stdout).toContain(flag);
    }
  });

  it('an unknown command prints the usage and exits 2', () => {
    const r = spirt(['frobnicate']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^spirt: unknown command "frobnicate"\nUsage: spirt <command>/);
    const suite = spirt(['bench', 'nosuch']);
    expect(suite.code).toBe(2);
    expect(suite.stderr).toMatch(/^spirt: unknown command "bench nosuch"\nUsage: spirt bench/);
  });

  it('an unknown flag is one line and exit 1', () => {
    const r = spirt(['train', '--epoch', '2']);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe("spirt: error: unknown option '--epoch' (Did you mean --epochs?)\n");
  });
});

describe('spirt CLI: bad input gets one clear line and a non-zero exit', () => {
  it('an invalid config field, named with the allowed values', () => {
    const r = spirt(['train', '--model', 'gpt5', '--state-dir', tempDir()]);
    expect(r.code).toBe(1);
    expect(r.stderr.trim()).toMatch(/^spirt: error: config field "model": allowed values are "softmax" \| "mlp"/);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
  });

  it('a config file with an unknown field', () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'run.json'), JSON.stringify({ epoch: 2 }));
    const r = spirt(['train', '--config', join(dir, 'run.json'), '--state-dir', dir]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/unknown field\(s\) "epoch"/);
  });

  it('a missing temporal CLI', async () => {
    const { args } = await stackPorts();
    const cmd = args('up', tempDir(), 1);
    const r = spirt(cmd, { SPIRT_TEMPORAL_BIN: '/nonexistent/temporal' });
    expect(r.code).toBe(1);
    expect(r.stderr.trim()).toBe(
      'spirt: error: temporal CLI not found at /nonexistent/temporal; run npm run setup (or set SPIRT_TEMPORAL_BIN)',
    );
  });

  it('a missing redis-server stops the Temporal server it already started', async () => {
    const { temporalPort, args } = await stackPorts();
    const dir = tempDir();
    const cmd = args('up', dir, 1);
    const r = spirt(cmd, { SPIRT_REDIS_SERVER: '/nonexistent/redis-server' });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(
      /redis-server not found at \/nonexistent\/redis-server; install the Debian package redis-server/,
    );
    expect(await isPortFree(temporalPort)).toBe(true);
    expect(processesMentioning(dir)).toEqual([]);
  });

  it('a port already in use', async () => {
    const { temporalPort, redisBase, args } = await stackPorts();
    const blocker = createServer();
    await new Promise<void>((r) => blocker.listen(redisBase, '127.0.0.1', () => r()));
    try {
      const cmd = args('up', tempDir(), 2);
      const r = spirt(cmd);
      expect(r.code).toBe(1);
      expect(r.stderr.trim()).toBe(
        `spirt: error: port ${redisBase} (Redis of peer p1) is already in use; stop what uses it or pick other ports`,
      );
      expect(await isPortFree(temporalPort)).toBe(true);
    } finally {
      blocker.close();
    }
  });

  it('an unreachable peer Redis', async () => {
    const dir = tempDir();
    const deadPort = await freePort();
    const stack = {
      id: 'x',
      pid: process.pid,
      startedAt: new Date().toISOString(),
      temporal: { address: '127.0.0.1:1', namespace: 'default', uiUrl: 'http://127.0.0.1:2' },
      network: 'spirt-x',
      peers: [{ id: 'p1', rank: 0, host: '127.0.0.1', port: deadPort, taskQueue: 'q', dataDir: dir, identityDir: dir }],
      moduleLoaded: false,
      workflowBundle: join(dir, 'none.js'),
    };
    writeFileSync(join(dir, 'stack.json'), JSON.stringify(stack));
    const network = {
      v: 1,
      network: 'spirt-x',
      adminPublicKey: 'none',
      temporal: { address: '127.0.0.1:1', namespace: 'default' },
      peers: [
        {
          id: 'p1',
          rank: 0,
          redis: { host: '127.0.0.1', port: deadPort },
          taskQueue: 'q',
          inbox: { username: 'inbox', password: 'x' },
          enrolment: 'x',
        },
      ],
    };
    writeFileSync(join(dir, 'network.json'), JSON.stringify(network));
    const r = spirt(['train', '--peers', '1', '--state-dir', dir]);
    expect(r.code).toBe(1);
    expect(r.stderr.trim()).toBe(
      `spirt: error: peer p1: cannot reach Redis at 127.0.0.1:${deadPort}: connection refused`,
    );
  });

  it('train without a running stack', () => {
    const dir = tempDir();
    const r = spirt(['train', '--state-dir', dir]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/no running stack in .*; start one with: spirt up/);
  });
});

/** Starts `spirt up` in the background and resolves once it says the stack is up. */
async function startUp(cmd: string[]): Promise<{ child: ChildProcess; output: () => string }> {
  const child = spawn(process.execPath, [SPIRT, ...cmd], {
    env: { ...process.env, SPIRT_LOG_LEVEL: 'warn' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (out += d.toString()));
  const deadline = Date.now() + 90_000;
  while (!out.includes('stack is up') && Date.now() < deadline && child.exitCode === null) {
    await new Promise((r) => setTimeout(r, 200));
  }
  return { child, output: () => out };
}

/** Ctrl-C; resolves with the exit code. */
async function interrupt(child: ChildProcess): Promise<number | null> {
  const exited = new Promise<number | null>((r) => child.once('exit', (c) => r(c)));
  child.kill('SIGINT');
  return exited;
}

describe('spirt up + train + Ctrl-C', () => {
  let up: ChildProcess | null = null;
  afterAll(() => {
    up?.kill('SIGKILL');
  });

  it('starts the stack, trains, lists the workflows with search attributes, and stops everything on SIGINT', async () => {
    const { temporalPort, redisBase, args } = await stackPorts();
    const dir = tempDir();
    const started = await startUp(args('up', dir, 2));
    const child = started.child;
    up = child;
    const out = started.output();
    expect(out).toContain('stack is up');
    expect(out).toContain(`Temporal UI: http://127.0.0.1:${temporalPort + 1000}`);
    expect(out).toContain(`peer p2:     redis 127.0.0.1:${redisBase + 1}`);

    const run = `e2e-${Date.now().toString(36)}`;
    const train = spirt([
      'train',
      '--state-dir',
      dir,
      '--run',
      run,
      '--peers',
      '2',
      '--epochs',
      '2',
      ...TINY_RUN,
      '--max-steps-per-epoch',
      '3',
    ]);
    expect(train.stderr).toBe('');
    expect(train.code).toBe(0);
    expect(train.stdout).toMatch(/epoch 1\/2 .*test accuracy 0\.\d+/);
    expect(train.stdout).toMatch(/epoch 2\/2 /);
    const summaryPath = join(dir, 'runs', run, 'summary.json');
    expect(train.stdout).toContain(`summary: ${summaryPath}`);
    const summary = JSON.parse(readFileSync(summaryPath, 'utf8'));
    expect(summary).toMatchObject({ run, peers: 2, epochs: 2 });
    expect(summary.epochMs).toHaveLength(2);

    // status of a finished run comes from the workflows' results.
    const status = spirt(['status', '--state-dir', dir, '--run', run]);
    expect(status.stderr).toBe('');
    expect(status.code).toBe(0);
    expect(status.stdout).toMatch(/^p1 +completed {2}epochs 2 {2}train loss \d\.\d{4} {2}test accuracy 0\.\d{4}$/m);
    expect(status.stdout).toMatch(/^p2 +completed/m);
    expect(status.stdout).toContain('membership: no changes');
    // Without --run: the run started last.
    expect(spirt(['status', '--state-dir', dir, '--json']).stdout).toContain(`"run":"${run}"`);
    const noSuchRun = spirt(['status', '--state-dir', dir, '--run', 'nosuchrun']);
    expect(noSuchRun.code).toBe(1);
    expect(noSuchRun.stderr).toBe('spirt: error: run nosuchrun has no peer workflows in namespace default\n');
    const stopFinished = spirt(['stop', '--state-dir', dir, '--run', run]);
    expect(stopFinished.code).toBe(1);
    expect(stopFinished.stderr).toBe(`spirt: error: run ${run} has no running peer workflows\n`);

    // Worker logs go to <state dir>/logs/<peer>.log, readable by the owner only.
    expect(statSync(join(dir, 'logs')).mode & 0o777).toBe(0o700);
    expect(statSync(join(dir, 'logs', 'p1.log')).mode & 0o777).toBe(0o600);
    const logs = spirt(['logs', '--state-dir', dir]);
    expect(logs.code).toBe(0);
    expect(logs.stdout).toMatch(/^p1 +\{.*"msg":"worker process started"/m);
    expect(logs.stdout).toMatch(/^p2 +\{.*"msg":"worker process started"/m);
    const p2Log = spirt(['logs', 'p2', '--state-dir', dir]);
    expect(p2Log.stdout.trim().split('\n')[0]).toBe(readFileSync(join(dir, 'logs', 'p2.log'), 'utf8').split('\n')[0]);
    for (const line of p2Log.stdout.trim().split('\n')) expect(() => JSON.parse(line)).not.toThrow();

    const again = spirt(['train', '--state-dir', dir, '--run', run, '--peers', '2']);
    expect(again.code).toBe(1);
    expect(again.stderr.trim()).toBe(`spirt: error: run ${run} already exists (completed); choose another --run`);

    const listRun = () => {
      const list = spawnSync(
        toolchain().temporal,
        [
          'workflow',
          'list',
          '--address',
          `127.0.0.1:${temporalPort}`,
          '--query',
          `SpirtRun="${run}" AND SpirtEpoch=2`,
          '-o',
          'json',
        ],
        { encoding: 'utf8' },
      );
      return (JSON.parse(list.stdout) as { execution: { workflowId: string } }[])
        .map((w) => w.execution.workflowId)
        .sort();
    };
    expect(listRun()).toEqual([`spirt-${run}-p1`, `spirt-${run}-p2`]);

    expect(await interrupt(child)).toBe(0);
    expect(started.output()).toContain('stopped');
    expect(out).toContain(`logs:        ${join(dir, 'logs')}`);
    expect(existsSync(join(dir, 'stack.json'))).toBe(false);
    expect(processesMentioning(dir)).toEqual([]);
    expect(await isPortFree(temporalPort)).toBe(true);
    expect(await isPortFree(redisBase)).toBe(true);

    // The Temporal database lives in the state dir: a restarted stack still knows the finished run.
    const restarted = await startUp(args('up', dir, 2));
    up = restarted.child;
    expect(restarted.output()).toContain('stack is up');
    expect(listRun()).toEqual([`spirt-${run}-p1`, `spirt-${run}-p2`]);
    expect(await interrupt(restarted.child)).toBe(0);
    expect(processesMentioning(dir)).toEqual([]);
    expect(await isPortFree(redisBase)).toBe(true);
  });
});

describe('spirt demo', () => {
  it('runs up + train + stop and writes summary.json', async () => {
    const { temporalPort, args } = await stackPorts();
    const dir = tempDir();
    const r = spirt([
      ...args('demo', dir, 2),
      '--epochs',
      '1',
      ...TINY_RUN,
      '--max-steps-per-epoch',
      '4',
      '--run',
      'demo-e2e',
    ]);
    // On failure the diff shows what the demo said.
    expect({ code: r.code, stderr: r.code === 0 ? '' : r.stderr }).toEqual({ code: 0, stderr: '' });
    expect(r.stdout).toMatch(/epoch 1\/1 .*test accuracy/);
    const summaryPath = join(dir, 'runs', 'demo-e2e', 'summary.json');
    expect(r.stdout).toContain(`summary: ${summaryPath}`);
    const summary = JSON.parse(readFileSync(summaryPath, 'utf8'));
    expect(Object.keys(summary)).toEqual(
      expect.arrayContaining(['run', 'model', 'peers', 'epochs', 'testAccuracy', 'epochMs']),
    );
    expect(summary.testAccuracy).toBeGreaterThan(0.3);
    expect(processesMentioning(dir)).toEqual([]);
    expect(await isPortFree(temporalPort)).toBe(true);
  });
});
