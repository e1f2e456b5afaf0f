import { createHash } from 'node:crypto';
import { encodeSync } from '../lib/protocol/sync-message';
import type { MembershipEvent } from '../lib/protocol/types';
import { runKeys } from '../lib/redis/keys';
import type { ActivityDeps } from './deps';

export interface AdmitPeersInput {
  run: string;
  /** The epoch the admitted peers start with (step 0). */
  epoch: number;
  peers: string[];
  /** The active set from then on, admitted peers included. */
  active: string[];
  membership: MembershipEvent[];
}

/**
 * Run by the lowest-rank active peer at an epoch boundary (paper III.3.1, the model half of a join): copies
 * its current parameters, optimiser state and buffers into each admitted peer's Redis, then tells the peer
 * where to start, with the parameters' hash so that the newcomer can check what it received.
 */
export function makeAdmitPeers(deps: ActivityDeps) {
  return async function admitPeers(input: AdmitPeersInput): Promise<{ admitted: string[]; failed: string[] }> {
    const keys = runKeys(input.run);
    const own = await deps.directory.connection(deps.peerId);
    const [params, momentum, buffers, layout, applied] = await Promise.all([
      own.getBuffer(keys.params),
      own.getBuffer(keys.momentum),
      own.getBuffer(keys.buffers),
      own.get(keys.layout),
      own.get(keys.appliedStep),
    ]);
    if (!params || !layout) throw new Error(`admitPeers: this peer has no model for run ${input.run}`);
    const paramsSha256 = createHash('sha256').update(params).digest('hex');
    const outcomes = await Promise.allSettled(
      input.peers.map(async (peer) => {
        const remote = await deps.directory.connection(peer);
        const tx = remote.multi().set(keys.params, params).set(keys.layout, layout);
        if (momentum) tx.set(keys.momentum, momentum);
        else tx.del(keys.momentum);
        if (buffers) tx.set(keys.buffers, buffers);
        if (applied) tx.set(keys.appliedStep, applied);
        await tx.exec();
        const notice = encodeSync({
          type: 'admitted',
          run: input.run,
          peer: deps.peerId,
          target: peer,
          epoch: input.epoch,
          step: 0,
          active: input.active,
          membership: input.membership,
          paramsSha256,
        });
        await remote.xadd(keys.syncStream, 'MAXLEN', '~', '10000', '*', ...notice);
      }),
    );
    const admitted: string[] = [];
    const failed: string[] = [];
    outcomes.forEach((o, i) => {
      if (o.status === 'fulfilled') admitted.push(input.peers[i]);
      else {
        failed.push(input.peers[i]);
        deps.log.warn({ run: input.run, peer: input.peers[i], err: String(o.reason) }, 'admission: model not copied');
      }
    });
    return { admitted, failed };
  };
}
