import { ConfigError } from '../../lib/errors/config-error';
import { NON_RETRYABLE_ERROR_CLASSES, nonRetryableErrorTypes } from '../../lib/protocol/errors';
import { initialState } from '../../lib/protocol/start';

describe('workflow start input', () => {
  it('a short input gets every default and the initial assignment', () => {
    const s = initialState({ run: 'r1', peer: 'p2', peers: 3, model: 'softmax' });
    expect(s).toMatchObject({ kind: 'state', run: 'r1', peerId: 'p2', epoch: 1, step: 0, active: ['p1', 'p2', 'p3'] });
    expect(s.peers).toEqual([
      { id: 'p1', rank: 0 },
      { id: 'p2', rank: 1 },
      { id: 'p3', rank: 2 },
    ]);
    expect(s.config).toMatchObject({ model: 'softmax', peers: 3, epochs: 3, batchSize: 64, probeIntervalMs: 500 });
    expect(s.owners).toEqual({ '0/0': 'p1', '0/1': 'p1', '1/0': 'p2', '1/1': 'p2', '2/0': 'p3', '2/1': 'p3' });
  });

  it.each([
    [{ peer: 'p1' }, /"run"/],
    [{ run: 'r1' }, /"peer"/],
    [{ run: 'r1', peer: 'p9', peers: 2 }, /not among the peers/],
    [{ run: 'r1', peer: 'p1', peers: 0 }, /"peers"/],
    [{ run: 'r1', peer: 'p1', modle: 'x' }, /unknown field\(s\) "modle"/],
    [{ run: 'r1', peer: 'p1', model: 'gpt5' }, /"model": allowed values/],
    ['nonsense', /JSON object/],
  ])('%j is refused with a clear message', (input, message) => {
    expect(() => initialState(input as never)).toThrow(ConfigError);
    expect(() => initialState(input as never)).toThrow(message);
  });
});

describe('the config parser in workflow code', () => {
  // The worker evaluates a workflow's modules for every run; zod's are many. Only a start input needs them.
  it('is loaded only when a start input is parsed, not for the state a run continues as new with', () => {
    const state = initialState({ run: 'r1', peer: 'p1', peers: 2, model: 'softmax' });
    let loaded = 0;
    jest.isolateModules(() => {
      jest.doMock('../../lib/config/parse', () => {
        loaded++;
        return jest.requireActual('../../lib/config/parse');
      });
      const { initialState: fresh } =
        jest.requireActual<typeof import('../../lib/protocol/start')>('../../lib/protocol/start');
      expect(fresh({ ...state, epoch: 2 })).toMatchObject({ kind: 'state', epoch: 2 });
      expect(loaded).toBe(0);
      expect(fresh({ run: 'r1', peer: 'p1', peers: 2, model: 'softmax' }).config.model).toBe('softmax');
      expect(loaded).toBe(1);
    });
  });
});

describe('non-retryable error types', () => {
  it('are the names the error classes really carry', () => {
    const instances = NON_RETRYABLE_ERROR_CLASSES.map(
      (E) => new (E as unknown as new (...a: unknown[]) => Error)('x', []),
    );
    expect(nonRetryableErrorTypes).toEqual(instances.map((e) => e.name));
  });
});
