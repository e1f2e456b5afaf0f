// cfn-lint (installed by scripts/setup.js from PyPI into a cached virtualenv) on every template the app
// synthesizes. Fails on any error or warning except the ones ignored below, each for a stated reason.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { App } from 'aws-cdk-lib';
import { buildApp } from '../../deploy/lib/app';
import { readToolchain } from '../../lib/stack/paths';
import { makePlaceholders, testConfig, type Placeholders } from './helpers';

/**
 * - W3005: CDK adds `DependsOn` on a Lambda function's role next to the `Fn::GetAtt` of that role; the
 *   duplicate dependency is harmless and not ours to remove.
 * - W2531: nodejs20.x is deprecated by Lambda (creation blocked from 2027-02-01); it is the project's runtime,
 *   `functions.runtime` moves to a newer one, and docs/deploy.md gives the dates.
 */
const IGNORED = ['W3005', 'W2531'];

/** cfn-lint's exit code is a bit mask: 2 errors, 4 warnings, 8 informational; 1 is a crash. */
const FAILING_BITS = 1 | 2 | 4;

function cfnLintPath(): string {
  const path = readToolchain().cfnLint;
  if (!path || !existsSync(path)) {
    throw new Error(
      'cfn-lint is not installed: run `node scripts/setup.js` (it installs cfn-lint from PyPI into <cache>/cfn-lint-venv; needs python3 with venv), or set SPIRT_CFN_LINT',
    );
  }
  return path;
}

let p: Placeholders;
beforeAll(() => (p = makePlaceholders()));
afterAll(() => p.cleanup());

test('without cfn-lint the test says how to install it', () => {
  const saved = process.env.SPIRT_CFN_LINT;
  process.env.SPIRT_CFN_LINT = join(p.dir, 'no-such-cfn-lint');
  try {
    expect(cfnLintPath).toThrow(/cfn-lint is not installed: run `node scripts\/setup.js`/);
  } finally {
    if (saved === undefined) delete process.env.SPIRT_CFN_LINT;
    else process.env.SPIRT_CFN_LINT = saved;
  }
});

test('cfn-lint passes on every synthesized template', () => {
  const cfnLint = cfnLintPath();
  const configs = [
    testConfig(p),
    testConfig(p, {
      network: 'other',
      vpc: {
        vpcId: 'vpc-0123456789abcdef0',
        availabilityZones: ['eu-west-1a', 'eu-west-1b'],
        privateSubnetIds: ['subnet-0123456789abcdef0', 'subnet-0123456789abcdef1'],
        publicSubnetIds: ['subnet-0123456789abcdef2', 'subnet-0123456789abcdef3'],
        endpoints: true,
      },
      account: '123456789012',
      region: 'eu-west-1',
      release: { url: 'https://example.org/spirt-0.1.0.tgz', sha256: 'a'.repeat(64) },
      temporal: {
        address: 'ns.acct.tmprl.cloud:7233',
        namespace: 'ns.acct',
        mtls: { secretArn: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:spirt/temporal-mtls-AbCdEf' },
      },
      host: { ami: { 'eu-west-1': 'ami-0123456789abcdef0' }, publicIp: true },
      peers: [{ id: 'a' }, { id: 'b', host: { instanceType: 'm6i.large' } }],
    }),
  ];
  const templates: string[] = [];
  configs.forEach((config, i) => {
    const outdir = join(p.dir, `cdk.out.${i}`);
    buildApp(config, new App({ outdir })).app.synth();
    templates.push(
      ...readdirSync(outdir)
        .filter((f) => f.endsWith('.template.json'))
        .map((f) => join(outdir, f)),
    );
  });
  expect(templates).toHaveLength(2);
  const r = spawnSync(cfnLint, ['--format', 'parseable', '--ignore-checks', ...IGNORED, '--', ...templates], {
    encoding: 'utf8',
  });
  if (r.error) throw new Error(`cfn-lint did not run: ${r.error.message}`);
  const findings = `${r.stdout}${r.stderr}`.trim();
  expect({ exitCode: r.status, findings }).toEqual({ exitCode: (r.status ?? 1) & ~FAILING_BITS, findings: '' });
});
