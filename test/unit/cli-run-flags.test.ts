import { Command } from 'commander';
import { runConfigSchema } from '../../lib/config/schema';
import { loadRunConfig } from '../../lib/config/load';
import { ConfigError } from '../../lib/errors';
import { addRunFlags, camelCase, RUN_FLAGS, runConfigOverrides } from '../../workers/cli/run-flags';

/** Parses `args` as `train` options the way the CLI does, without running anything. */
function parseTrainFlags(args: string[]): Record<string, unknown> {
  const command = addRunFlags(new Command('train').exitOverride());
  command.parse(args, { from: 'user' });
  return runConfigOverrides(command.opts());
}

describe('run flags -> run config fields', () => {
  it('maps kebab-case flags to camelCase fields, --lr to learningRate', () => {
    expect(camelCase('probe-interval-ms')).toBe('probeIntervalMs');
    expect(camelCase('byzantine-f')).toBe('byzantineF');
    expect(
      parseTrainFlags([
        '--lr',
        '0.05',
        '--batch-size',
        '32',
        '--probe-interval-ms',
        '250',
        '--target-accuracy',
        '0.97',
        '--plateau-min-delta',
        '0.01',
        '--model',
        'mlp',
        '--in-db-path',
        'lua',
      ]),
    ).toEqual({
      learningRate: 0.05,
      batchSize: 32,
      probeIntervalMs: 250,
      targetAccuracy: 0.97,
      plateauMinDelta: 0.01,
      model: 'mlp',
      inDbPath: 'lua',
    });
  });

  it('leaves absent flags out, so the config file and the defaults apply', () => {
    expect(parseTrainFlags([])).toEqual({});
  });

  it('every flag sets a field the run config schema knows', () => {
    const fields = Object.keys(runConfigSchema.shape);
    for (const f of RUN_FLAGS) expect(fields).toContain(f.field);
  });

  it('a number flag that is not a number is one clear error', () => {
    expect(() => parseTrainFlags(['--suspect-after', 'two'])).toThrow(
      new ConfigError('flag --suspect-after: "two" is not a number'),
    );
  });

  it('values are validated by loadRunConfig, which names the field', () => {
    expect(() => loadRunConfig(undefined, parseTrainFlags(['--suspect-after', '0']))).toThrow(
      /config field "suspectAfter"/,
    );
    expect(() => loadRunConfig(undefined, parseTrainFlags(['--aggregation', 'mode']))).toThrow(
      /config field "aggregation": allowed values are "mean"/,
    );
  });

  it('a field unknown to the schema passes through to loadRunConfig, which names it', () => {
    expect(() => loadRunConfig(undefined, { ...runConfigOverrides({}), noSuchField: 1 })).toThrow(
      /unknown field\(s\) "noSuchField"/,
    );
  });

  it('flags override the config file', () => {
    const config = loadRunConfig(undefined, parseTrainFlags(['--heartbeat-stale-ms', '3000', '--eval-every', '2']));
    expect(config).toMatchObject({ heartbeatStaleMs: 3000, evalEvery: 2 });
  });
});
