// `spirt bench signing [--json] [--reps 5] [--suite modern|rsa]`
//
// The authenticity cost of one training step at each model's gradient size: signing the averaged gradient
// (SHA-256 of the bytes + one signature over the statement) on the publishing peer, and checking it on a
// fetching peer (SHA-256 + one verification), plus one sync message signed and verified. Per step a peer
// signs once and verifies once per other active peer. Median of --reps runs, in milliseconds.
import { randomBytes } from 'node:crypto';
import { generatePeerKeys, type KeySuite } from '../lib/crypto';
import { ConfigError } from '../lib/errors/config-error';
import { checkGradientSignature, signGradient } from '../lib/protocol/gradient-signature';
import { checkSyncSignature, signSyncFields } from '../lib/protocol/signed-sync';

/** Trainable parameters of the zoo models (docs/models.md). */
const MODELS: Record<string, number> = {
  lenet5: 61_706,
  mobilenet_v3_small: 1_527_818,
  resnet18: 11_175_370,
};

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

function time(fn: () => void, reps: number): number {
  const out: number[] = [];
  for (let i = 0; i < reps; i++) {
    const t = process.hrtime.bigint();
    fn();
    out.push(Number(process.hrtime.bigint() - t) / 1e6);
  }
  return median(out);
}

export async function main(argv: string[]): Promise<void> {
  let json = false;
  let reps = 5;
  let suite: KeySuite = 'modern';
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--json') json = true;
    else if (a === '--reps') {
      reps = Number(argv[++i]);
      if (!Number.isInteger(reps) || reps < 1) throw new ConfigError('bench signing: --reps must be an integer >= 1');
    } else if (a === '--suite') {
      const v = argv[++i];
      if (v !== 'modern' && v !== 'rsa') throw new ConfigError('bench signing: --suite must be modern or rsa');
      suite = v;
    } else if (a === '--help' || a === '-h') {
      process.stdout.write('usage: spirt bench signing [--json] [--reps 5] [--suite modern|rsa]\n');
      return;
    } else throw new ConfigError(`bench signing: unknown option ${a}`);
  }
  const keys = generatePeerKeys(suite);
  const results = Object.entries(MODELS).map(([model, params]) => {
    const gradient = randomBytes(params * 4);
    const fields = { run: 'bench', epoch: 1, step: 1, peer: 'p1' };
    let signed = '';
    const signMs = time(() => {
      signed = JSON.stringify(signGradient(keys.signing.privateKey, fields, gradient));
    }, reps);
    const verifyMs = time(() => {
      const reason = checkGradientSignature(keys.signing.publicKey, signed, fields, gradient);
      if (reason) throw new Error(reason);
    }, reps);
    const sync = ['type', 'ready', 'run', 'bench', 'peer', 'p1', 'epoch', '1', 'step', '1', 'body', '{}'];
    let syncSigned: string[] = [];
    const syncSignMs = time(() => (syncSigned = signSyncFields(sync, keys.signing.privateKey)), reps);
    const syncVerifyMs = time(() => {
      if (checkSyncSignature(syncSigned, keys.signing.publicKey)) throw new Error('sync signature');
    }, reps);
    return {
      model,
      bytes: gradient.length,
      sign_ms: round(signMs),
      verify_ms: round(verifyMs),
      sync_sign_ms: round(syncSignMs),
      sync_verify_ms: round(syncVerifyMs),
      per_step_4_peers_ms: round(signMs + 3 * verifyMs + syncSignMs + 3 * syncVerifyMs),
    };
  });
  if (json) process.stdout.write(JSON.stringify({ suite: 'signing', keySuite: suite, reps, results }) + '\n');
  else
    for (const r of results)
      process.stdout.write(
        `${r.model.padEnd(20)} ${(r.bytes / 1e6).toFixed(1).padStart(6)} MB  sign ${r.sign_ms} ms  verify ${r.verify_ms} ms  per step (4 peers) ${r.per_step_4_peers_ms} ms\n`,
      );
}

function round(x: number): number {
  return Math.round(x * 1000) / 1000;
}
