// `spirt logs [PEER] [-f]`: the worker log files of a stack's state dir (the stack need not be running).
import { closeSync, existsSync, fstatSync, openSync, readdirSync, readSync } from 'node:fs';
import { join } from 'node:path';
import { StringDecoder } from 'node:string_decoder';
import type { Command } from 'commander';
import { StackError } from '../../lib/errors/stack-error';
import { defaultStateDir } from '../../lib/stack/paths';
import { comparePeerIds } from '../../lib/train/summary';

interface LogsOptions {
  stateDir?: string;
  follow?: boolean;
}

export function registerLogs(program: Command): void {
  program
    .command('logs')
    .description('print the worker logs (JSON lines) of a stack: one peer, or every peer with its id before each line')
    .argument('[peer]', 'peer id (p1, p2, ...) or "temporal" for the Temporal dev server')
    .option('--state-dir <dir>', 'state dir of the stack (default $SPIRT_STATE_DIR or ~/.local/state/spirt)')
    .option('-f, --follow', 'keep printing new lines until Ctrl-C')
    .action((peer: string | undefined, options: LogsOptions) => logs(peer, options));
}

async function logs(peer: string | undefined, options: LogsOptions): Promise<void> {
  const stateDir = options.stateDir ?? defaultStateDir();
  const dir = join(stateDir, 'logs');
  if (!existsSync(dir))
    throw new StackError(`no logs in ${stateDir}; start a stack with spirt up --state-dir ${stateDir}`);
  const names = () =>
    readdirSync(dir)
      .filter((f) => f.endsWith('.log'))
      .map((f) => f.slice(0, -'.log'.length));
  if (peer !== undefined && !names().includes(peer)) {
    throw new StackError(
      `no log of ${peer} in ${dir} (there are: ${names().sort(comparePeerIds).join(', ') || 'none'})`,
    );
  }
  // Every worker's log, not the Temporal server's, unless asked for by name.
  const selected = () =>
    peer !== undefined
      ? [peer]
      : names()
          .filter((n) => n !== 'temporal')
          .sort(comparePeerIds);
  const prefix = peer === undefined;
  const tails = new Map<string, LogTail>();
  const drain = () => {
    for (const name of selected()) {
      let tail = tails.get(name);
      if (!tail) tails.set(name, (tail = new LogTail(join(dir, `${name}.log`), prefix ? `${name.padEnd(4)} ` : '')));
      tail.drain();
    }
  };
  drain();
  if (!options.follow) {
    for (const tail of tails.values()) tail.flushPartial();
    return;
  }
  await new Promise<void>((resolve) => {
    const timer = setInterval(drain, 500);
    const stop = () => {
      clearInterval(timer);
      resolve();
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
}

/** Reads a growing file from where it was left, whole lines at a time (a worker may be mid-line). */
class LogTail {
  private offset = 0;
  private partial = '';
  private readonly decoder = new StringDecoder('utf8');

  constructor(
    private readonly path: string,
    private readonly prefix: string,
  ) {}

  drain(): void {
    if (!existsSync(this.path)) return;
    const fd = openSync(this.path, 'r');
    try {
      const size = fstatSync(fd).size;
      if (size < this.offset) this.offset = 0; // truncated or replaced
      const buffer = Buffer.alloc(1 << 16);
      while (this.offset < size) {
        const n = readSync(fd, buffer, 0, Math.min(buffer.length, size - this.offset), this.offset);
        if (n <= 0) break;
        this.offset += n;
        this.write(this.decoder.write(buffer.subarray(0, n)));
      }
    } finally {
      closeSync(fd);
    }
  }

  flushPartial(): void {
    if (this.partial) process.stdout.write(this.prefix + this.partial + '\n');
    this.partial = '';
  }

  private write(text: string): void {
    const lines = (this.partial + text).split('\n');
    this.partial = lines.pop() ?? '';
    if (lines.length) process.stdout.write(lines.map((l) => this.prefix + l + '\n').join(''));
  }
}
