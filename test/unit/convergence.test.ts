import { convergence } from '../../lib/protocol/convergence';

const checks = (losses: number[], accuracy = 0.5) => losses.map((loss, i) => ({ epoch: i + 1, loss, accuracy }));

describe('convergence check', () => {
  it('stops at the target accuracy, only on the epoch just checked', () => {
    const c = [{ epoch: 2, loss: 0.3, accuracy: 0.91 }];
    expect(convergence(c, 2, { targetAccuracy: 0.9, plateauMinDelta: 0.001 })).toMatch(/accuracy 0.9100 >= 0.9/);
    expect(convergence(c, 3, { targetAccuracy: 0.9, plateauMinDelta: 0.001 })).toBeNull();
    expect(convergence(c, 2, { targetAccuracy: 0.95, plateauMinDelta: 0.001 })).toBeNull();
  });

  it('stops on a loss plateau over k checks', () => {
    const cfg = { plateauChecks: 2, plateauMinDelta: 0.01 };
    expect(convergence(checks([1, 0.5, 0.3]), 3, cfg)).toBeNull();
    expect(convergence(checks([1, 0.5, 0.499, 0.495]), 4, cfg)).toMatch(/less than 0.01 over 2 checks/);
    expect(convergence(checks([1, 0.5]), 2, cfg)).toBeNull();
  });

  it('never stops without a rule', () => {
    expect(convergence(checks([1, 1, 1, 1]), 4, { plateauMinDelta: 0.001 })).toBeNull();
  });
});
