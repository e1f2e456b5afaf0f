import { handler as computeGradient } from './compute-gradient';
import { handler as evaluate } from './evaluate';
import { handler as zenoScores } from './zeno-scores';
import type { FunctionEvents, FunctionName, FunctionResults } from '../lib/protocol/functions';

export type { FunctionName, FunctionEvents, FunctionResults } from '../lib/protocol/functions';

/** Handlers by function name: what the local pool and the inline invoker call. */
export const handlers: { [K in FunctionName]: (event: FunctionEvents[K]) => Promise<FunctionResults[K]> } = {
  'compute-gradient': computeGradient,
  evaluate,
  'zeno-scores': zenoScores,
};
