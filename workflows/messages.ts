// Signals and queries of peerTrainingWorkflow, as typed constants shared by the workflow, the CLI and tests.
import { defineQuery, defineSignal } from '@temporalio/workflow';
import type { RunConfig } from '../lib/config/schema';
import type { PeerStatus } from '../lib/protocol/types';

/** Readmit (or admit) a peer at the next epoch boundary; sent to every active peer's workflow. */
export const addPeerSignal = defineSignal<[{ peer: string }]>('addPeer');

/**
 * Remove a peer: each receiving workflow suspects it from now on, so it leaves the active set at the step
 * where every active peer lists it (the same agreement as for a failed peer). The named peer's own workflow
 * ends at its next step boundary.
 */
export const removePeerSignal = defineSignal<[{ peer: string; reason?: string }]>('removePeer');

/** Finish the current step, evaluate and end the run cleanly; travels to every peer on the sync messages. */
export const stopSignal = defineSignal<[{ reason?: string }?]>('stop');

/** Epoch, step, phase, membership, last loss and accuracy, step timings of one peer. */
export const statusQuery = defineQuery<PeerStatus>('status');

/** The run's validated config and peer ids in rank order: what a (re)joining peer's workflow is started with. */
export const runPlanQuery = defineQuery<{ run: string; peers: string[]; partitions?: number; config: RunConfig }>(
  'runPlan',
);
