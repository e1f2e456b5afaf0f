import { loadRunConfig, parseRunConfig } from '../../lib/config';
import { ConfigError } from '../../lib/errors';
import { writeFileSync, mkdtempSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';

describe('run config', () => {
  it('fills every default from an empty object', () => {
    const config = parseRunConfig({}, new Date('2026-11-21T12:34:56Z'));
    expect(config).toMatchObject({ peers: 4, epochs: 3, model: 'lenet5', dataset: 'mnist', batchSize: 64 });
    expect(config.learningRate).toBe(0.02);
    expect(config.run).toBe('r20261121-123456');
  });

  it('names the field and the allowed values for a bad enum', () => {
    expect(() => parseRunConfig({ model: 'gpt5' })).toThrow(ConfigError);
    expect(() => parseRunConfig({ model: 'gpt5' })).toThrow(/"model".*"softmax" \| "mlp" \| "lenet5"/);
  });

  it('names the field for an out-of-range number', () => {
    expect(() => parseRunConfig({ peers: 0 })).toThrow(/config field "peers"/);
    expect(() => parseRunConfig({ learningRate: -1 })).toThrow(/config field "learningRate"/);
    expect(() => parseRunConfig({ batchSize: 1.5 })).toThrow(/config field "batchSize"/);
  });

  it('rejects unknown fields and lists the allowed ones', () => {
    expect(() => parseRunConfig({ epoch: 3 })).toThrow(/unknown field\(s\) "epoch"; allowed fields: run, peers/);
  });

  it('rejects a bad run id', () => {
    expect(() => parseRunConfig({ run: 'Bad Run!' })).toThrow(/config field "run"/);
  });

  it('reads a file and lets flags override it; reports unreadable and non-JSON files', () => {
    const dir = mkdtempSync(join(tmpdir(), 'spirt-config-'));
    const file = join(dir, 'run.json');
    writeFileSync(file, JSON.stringify({ peers: 2, epochs: 5 }));
    expect(loadRunConfig(file, { epochs: 1 })).toMatchObject({ peers: 2, epochs: 1 });
    writeFileSync(file, '{ not json');
    expect(() => loadRunConfig(file)).toThrow(/not valid JSON/);
    expect(() => loadRunConfig(join(dir, 'missing.json'))).toThrow(/cannot read .*ENOENT/);
  });
});

describe('learning rate default', () => {
  it('follows the model unless given', () => {
    expect(parseRunConfig({ model: 'softmax' }).learningRate).toBe(0.1);
    expect(parseRunConfig({ model: 'lenet5', learningRate: 0.07 }).learningRate).toBe(0.07);
  });
});

describe('robust aggregation fields', () => {
  it("centered clipping's tau is a positive number or auto; zeno takes no pre-aggregator", () => {
    expect(parseRunConfig({}).centeredClippingTau).toBe('auto');
    expect(parseRunConfig({ centeredClippingTau: 0.5 }).centeredClippingTau).toBe(0.5);
    expect(() => parseRunConfig({ centeredClippingTau: 0 })).toThrow(/centeredClippingTau/);
    expect(() => parseRunConfig({ centeredClippingTau: 'big' })).toThrow(/centeredClippingTau/);
    expect(() => parseRunConfig({ aggregation: 'zeno', preAggregation: ['nnm'] })).toThrow(
      /preAggregation.*zeno .*no pre-aggregator \(got nnm\)/,
    );
    expect(parseRunConfig({ aggregation: 'meamed', preAggregation: ['nnm'] }).preAggregation).toEqual(['nnm']);
  });
});
