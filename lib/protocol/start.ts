// Turns a workflow's start input into its initial state, validating it (pure: runs inside the workflow,
// so a peer started by hand with `temporal workflow start` gets the same checks and defaults as the CLI).
import type { parseRunConfig as ParseRunConfig } from '../config/parse';
import { ConfigError } from '../errors/config-error';
import { checkAttack, type AttackSpec } from '../attacks/attacks';
import { initialOwners } from '../membership/redistribution';
import { peerIdForRank } from './names';
import type { PeerTrainingInput, PeerTrainingStart, PeerTrainingState } from './types';

const PEER_ID = /^[a-z0-9][a-z0-9-]{0,39}$/;

/** @throws ConfigError naming the bad field. */
export function initialState(input: PeerTrainingInput): PeerTrainingState {
  if (input && (input as PeerTrainingState).kind === 'state') return input as PeerTrainingState;
  if (typeof input !== 'object' || input === null || Array.isArray(input))
    throw new ConfigError('workflow input: expected a JSON object like {"run":"r1","peer":"p1","peers":4}');
  const {
    peer,
    peers: peersField,
    join,
    partitions: partitionsField,
    attack: attackField,
    ...rest
  } = input as PeerTrainingStart;
  if (typeof peer !== 'string' || !PEER_ID.test(peer))
    throw new ConfigError('workflow input field "peer": expected this peer\'s id, e.g. "p1"');
  if (typeof rest.run !== 'string') throw new ConfigError('workflow input field "run": expected the run id');
  let ids: string[];
  if (Array.isArray(peersField)) {
    if (
      !peersField.every((p) => typeof p === 'string' && PEER_ID.test(p)) ||
      new Set(peersField).size !== peersField.length
    )
      throw new ConfigError('workflow input field "peers": expected distinct peer ids in rank order, or a count');
    ids = peersField as string[];
  } else {
    const count = peersField ?? 4;
    if (!Number.isInteger(count) || (count as number) < 1 || (count as number) > 64)
      throw new ConfigError('workflow input field "peers": expected a count 1..64 or a list of peer ids');
    ids = Array.from({ length: count as number }, (_, r) => peerIdForRank(r));
  }
  if (!ids.includes(peer))
    throw new ConfigError(`workflow input: peer "${peer}" is not among the peers ${ids.join(',')}`);
  // A peer that joins a running run after its start is listed after the run's first peers: the data stays
  // cut into the first peers' partitions (the units), which are re-split among all active peers.
  const partitions = partitionsField ?? ids.length;
  if (!Number.isInteger(partitions) || partitions < 1 || partitions > ids.length)
    throw new ConfigError(`workflow input field "partitions": expected a count 1..${ids.length}`);
  // Loaded here, not imported: the worker evaluates a workflow's modules afresh for every run (one per epoch,
  // and every replay for a query), and the config parser brings zod's ~120 modules (about 10 ms on an idle
  // core). Only a run's first workflow parses a start input; the runs continued as new carry their state.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { parseRunConfig } = require('../config/parse') as { parseRunConfig: typeof ParseRunConfig };
  const config = parseRunConfig({ ...rest, peers: partitions });
  const listed = config.byzantine.find((b) => b.peer === peer);
  const attack = attackField ?? (listed ? { ...listed, peer: undefined } : undefined);
  if (attack) checkAttack(attack, 'workflow input field "attack"');
  return {
    kind: 'state',
    run: config.run,
    peerId: peer,
    peers: ids.map((id, rank) => ({ id, rank })),
    ...(partitions !== ids.length ? { partitions } : {}),
    ...(attack ? { attack: JSON.parse(JSON.stringify(attack)) as AttackSpec } : {}),
    config,
    epoch: 1,
    step: 0,
    syncCursor: '-',
    history: [],
    active: [...ids],
    membership: [],
    owners: initialOwners(ids, ids, config.shardsPerPeer, partitions),
    catchUp: [],
    missing: {},
    operatorRemoved: [],
    pendingAdds: [],
    stopRequested: null,
    checks: [],
    ...(join === true ? { joining: true } : {}),
  };
}
