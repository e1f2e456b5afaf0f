import { signSnapshot, snapshotStatement } from '../lib/protocol/model-snapshot';
import { encodeSync } from '../lib/protocol/sync-message';
import type { MembershipEvent } from '../lib/protocol/types';
import { runKeys } from '../lib/redis/keys';
import { deliverEach } from './deliver';
import type { ActivityDeps } from './deps';
import { signedSync } from './signing';

export interface AdmitPeersInput {
  run: string;
  /** The epoch the admitted peers start with (step 0). */
  epoch: number;
  peers: string[];
  /** The active set from then on, admitted peers included. */
  active: string[];
  membership: MembershipEvent[];
  /** Every peer of the run in rank order (peers that joined after the start last). */
  order?: string[];
}

/** How long a published snapshot stays readable by the admitted peers. */
const SNAPSHOT_TTL_SECONDS = 3600;

/**
 * Run by the lowest-rank active peer at an epoch boundary (paper III.3.1, the model half of a join):
 * publishes its current parameters, optimiser state and buffers as a snapshot in its own Redis with a
 * manifest it signs (hashes of every part), then tells each admitted peer, on that peer's sync stream, where
 * to start. The admitted peer pulls and checks the snapshot itself: no peer may write another peer's model.
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
    const statement = snapshotStatement(
      { run: input.run, epoch: input.epoch, peer: deps.peerId },
      { params, momentum, buffers, layout, appliedStep: applied },
    );
    const manifest = signSnapshot(statement, deps.security?.keys.signing.privateKey ?? null);
    const ex = ['EX', SNAPSHOT_TTL_SECONDS] as const;
    const tx = own
      .multi()
      .set(keys.snapshot(input.epoch, 'params'), params, ...ex)
      .set(keys.snapshot(input.epoch, 'layout'), layout, ...ex);
    if (momentum) tx.set(keys.snapshot(input.epoch, 'momentum'), momentum, ...ex);
    else tx.del(keys.snapshot(input.epoch, 'momentum'));
    if (buffers) tx.set(keys.snapshot(input.epoch, 'buffers'), buffers, ...ex);
    else tx.del(keys.snapshot(input.epoch, 'buffers'));
    tx.set(keys.snapshot(input.epoch, 'manifest'), JSON.stringify(manifest), ...ex);
    await tx.exec();
    const notice = (peer: string) =>
      signedSync(
        deps,
        encodeSync({
          type: 'admitted',
          run: input.run,
          peer: deps.peerId,
          target: peer,
          epoch: input.epoch,
          step: 0,
          active: input.active,
          membership: input.membership,
          paramsSha256: statement.paramsSha256,
          ...(input.order ? { order: input.order } : {}),
        }),
      );
    const told = await deliverEach(deps, keys.syncStream, input.peers, notice, { what: 'admission', run: input.run });
    return { admitted: told.delivered, failed: told.failed };
  };
}
