// Shared by the deployment tests: a config like deploy/network.example.json whose function code and
// release are small placeholders in a tmp dir, so synthesis runs offline and fast.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { buildApp } from '../../deploy/lib/app';
import { parseDeployConfig, type DeployConfig } from '../../deploy/lib/config';
import type { NetworkStack } from '../../deploy/lib/network-stack';
import { packageRoot } from '../../lib/stack/paths';

// CDK's built-in template validation takes ~13 s per synthesis; the cfn-lint test lints the same templates.
process.env.CDK_VALIDATION = 'false';

export interface Placeholders {
  dir: string;
  lambdaDir: string;
  releaseFile: string;
  cleanup(): void;
}

/** A tmp dir with a placeholder function bundle and release tarball (any bytes do for an asset). */
export function makePlaceholders(): Placeholders {
  const dir = mkdtempSync(join(tmpdir(), 'spirt-deploy-test-'));
  const lambdaDir = join(dir, 'lambda');
  mkdirSync(lambdaDir);
  for (const name of ['compute-gradient', 'evaluate', 'zeno-scores']) {
    writeFileSync(join(lambdaDir, `${name}.js`), 'exports.handler = async () => ({});\n');
  }
  const releaseFile = join(dir, 'spirt-release.tgz');
  writeFileSync(releaseFile, 'placeholder release\n');
  return { dir, lambdaDir, releaseFile, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** deploy/network.example.json as parsed JSON. */
export function exampleConfig(): Record<string, unknown> {
  return JSON.parse(readFileSync(join(packageRoot(), 'deploy', 'network.example.json'), 'utf8')) as Record<
    string,
    unknown
  >;
}

/** The example config pointed at the placeholders, with `overrides` merged on top (shallow). */
export function testConfig(p: Placeholders, overrides: Record<string, unknown> = {}): DeployConfig {
  const raw = {
    ...exampleConfig(),
    functions: { codeDir: p.lambdaDir },
    release: { asset: p.releaseFile },
    ...overrides,
  };
  return parseDeployConfig(raw, p.dir);
}

export function synthNetwork(config: DeployConfig, outdir?: string): { stack: NetworkStack; template: Template } {
  const { stack } = buildApp(config, new App(outdir ? { outdir } : {}));
  return { stack, template: Template.fromStack(stack) };
}
