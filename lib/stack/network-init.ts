import { StackError } from '../errors/stack-error';
import { connectTemporal } from '../train/connect';
import type { HandshakeResult, NetworkInitInput } from '../../workflows/join-handshake';
import type { StackPeer } from './stack-file';

/**
 * Runs the initialisation handshake (paper Figure 2) on every founding peer: one `networkInitWorkflow` per
 * peer, visible in the Temporal UI, and waits until every peer trusts every other.
 * @throws StackError naming each peer that was refused or did not answer, with the reason.
 */
export async function initialiseNetwork(
  temporal: { address: string; namespace: string },
  network: string,
  peers: StackPeer[],
  timeoutMs = 30_000,
  /**
   * Standby peers (not in the network yet) run the same workflow with nobody to greet: their workers run
   * a first workflow now, so a later join does not pay the workflow sandbox's cold start (~0.7 s here).
   */
  standby: StackPeer[] = [],
): Promise<HandshakeResult[]> {
  const { client, connection } = await connectTemporal(temporal);
  try {
    const stamp = Date.now().toString(36);
    const warmUps = standby.map((peer) =>
      client.workflow.execute('networkInitWorkflow', {
        args: [{ network, peer: peer.id, peers: [], timeoutMs } satisfies NetworkInitInput],
        taskQueue: peer.taskQueue,
        workflowId: `spirt-${network}-standby-${stamp}-${peer.id}`,
      }),
    );
    const results = await Promise.all(
      peers.map(async (peer) => {
        const input: NetworkInitInput = {
          network,
          peer: peer.id,
          peers: peers.filter((p) => p.id !== peer.id).map((p) => p.id),
          timeoutMs,
        };
        return client.workflow.execute('networkInitWorkflow', {
          args: [input],
          taskQueue: peer.taskQueue,
          workflowId: `spirt-${network}-init-${stamp}-${peer.id}`,
        }) as Promise<HandshakeResult>;
      }),
    );
    const problems = results.flatMap((r, i) => [
      ...r.rejected.map((x) => `${peers[i].id} refused ${x.from}: ${x.reason}`),
      ...r.missing.map((m) => `${peers[i].id} got no hello from ${m}`),
      ...r.offerFailures.map((f) => `${peers[i].id} could not offer credentials to ${f.peer}: ${f.reason}`),
    ]);
    if (problems.length > 0) throw new StackError(`network ${network} did not initialise: ${problems.join('; ')}`);
    await Promise.all(warmUps);
    return results;
  } finally {
    await connection.close();
  }
}
