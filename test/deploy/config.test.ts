import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadDeployConfig, parseDeployConfig } from '../../deploy/lib/config';
import { DeployConfigError } from '../../deploy/lib/deploy-config-error';
import { exampleConfig, makePlaceholders, type Placeholders } from './helpers';

let p: Placeholders;
beforeAll(() => (p = makePlaceholders()));
afterAll(() => p.cleanup());

function errorOf(raw: unknown): string {
  try {
    parseDeployConfig(raw, '/tmp');
  } catch (err) {
    expect(err).toBeInstanceOf(DeployConfigError);
    return (err as Error).message;
  }
  throw new Error('the config was accepted');
}

describe('deployment config', () => {
  test('the example parses, with defaults filled in and paths resolved from the config folder', () => {
    const c = parseDeployConfig(exampleConfig(), '/srv/spirt/deploy');
    expect(c.network).toBe('demo');
    expect(c.peers.map((x) => [x.id, x.rank])).toEqual([
      ['p1', 0],
      ['p2', 1],
      ['p3', 2],
      ['p4', 3],
    ]);
    expect(c.functions.codeDir).toBe('/srv/spirt/.build/lambda');
    expect(c.release).toEqual({ kind: 'asset', path: '/srv/spirt/.build/spirt-release.tgz' });
    expect(c.redis).toEqual({ port: 6379, tls: true });
    expect(c.temporal).toMatchObject({ port: 7233, tls: true });
    expect(c.functions.runtime).toBe('nodejs20.x');
    expect(c.peers[0].host).toMatchObject({ instanceType: 't3.large', publicIp: false });
    expect(c.env).toBeUndefined();
  });

  test('a bad peer id says which peer and what ids look like', () => {
    const msg = errorOf({ ...exampleConfig(), peers: [{ id: 'p1' }, { id: 'Peer_2' }] });
    expect(msg).toContain('peers.1.id');
    expect(msg).toMatch(/lowercase letters, digits and "-"/);
  });

  test('a duplicate peer id is named', () => {
    const msg = errorOf({ ...exampleConfig(), peers: [{ id: 'p1' }, { id: 'p2' }, { id: 'p1' }] });
    expect(msg).toContain('peers.2.id: duplicate peer id "p1"');
  });

  test('a missing Temporal address is named', () => {
    const msg = errorOf({ ...exampleConfig(), temporal: { namespace: 'default' } });
    expect(msg).toContain('temporal.address');
    expect(msg).toContain('is required');
  });

  test('every problem is listed, not only the first', () => {
    const msg = errorOf({ ...exampleConfig(), network: 'Bad Name', admin: { principalArn: 'someone' } });
    expect(msg).toContain('network:');
    expect(msg).toContain('admin.principalArn must be an ARN');
  });

  test('too few peers, account without region, unknown keys', () => {
    expect(errorOf({ ...exampleConfig(), peers: [{ id: 'p1' }] })).toContain('at least 2 peers');
    expect(errorOf({ ...exampleConfig(), account: '123456789012' })).toContain('give both account and region');
    expect(errorOf({ ...exampleConfig(), redis: { port: 6379, password: 'x' } })).toMatch(/redis.*password/s);
  });

  test('loadDeployConfig names the file in its errors', () => {
    const file = join(p.dir, 'bad.json');
    writeFileSync(file, '{ not json');
    expect(() => loadDeployConfig(file)).toThrow(/bad\.json is not valid JSON/);
    expect(() => loadDeployConfig(join(p.dir, 'missing.json'))).toThrow(/no deployment config at .*missing\.json/);
    writeFileSync(file, JSON.stringify({ ...exampleConfig(), peers: [{ id: 'p1' }, { id: 'p1' }] }));
    expect(() => loadDeployConfig(file)).toThrow(/bad\.json: invalid deployment config:\n {2}peers\.1\.id: duplicate/);
  });
});
