// Every activity the peer workflows call, proxied once with its timeouts and retry policy.
import { proxyActivities, proxyLocalActivities, type RetryPolicy } from '@temporalio/workflow';
import type { Activities } from '../activities';
import { nonRetryableErrorTypes, RETRY } from '../lib/protocol/errors';

const retry: RetryPolicy = {
  initialInterval: RETRY.initialIntervalMs,
  backoffCoefficient: RETRY.backoffCoefficient,
  maximumAttempts: RETRY.maximumAttempts,
  nonRetryableErrorTypes,
};

// Function fan-out and evaluation: regular activities, each shard visible in the UI and retried alone. They
// heartbeat while the function runs, so a killed worker's calls are retried within seconds, not minutes.
export const { preparePeer, computeShardGradient, evaluateModel } = proxyActivities<Activities>({
  startToCloseTimeout: '10 minutes',
  heartbeatTimeout: '5 seconds',
  retry,
});

// A no-op regular activity: awaiting it ends the current workflow task (handed straight back to this worker
// with eager dispatch), so that queries and signals waiting for the task are answered. A timer does the same
// but waits for the server's timer queue, hundreds of milliseconds on a busy dev server.
export const { yieldToServer } = proxyActivities<Activities>({
  startToCloseTimeout: '1 minute',
  retry,
});

export const { admitPeers } = proxyActivities<Activities>({
  startToCloseTimeout: '10 minutes',
  retry,
});

// Short in-Redis steps run as local activities: chained inside one workflow task, without a server
// round trip each (that round trip dominated small steps), and still recorded in history.
export const {
  averageShardGradients,
  probePeers,
  publishReady,
  agreeOnInactivePeers,
  announceDeparture,
  declineAdmission,
  fetchPeerGradients,
  aggregateGradients,
  applyUpdate,
} = proxyLocalActivities<Activities>({
  startToCloseTimeout: '5 minutes',
  retry,
});

export const { awaitPeersReady, awaitAdmission } = proxyActivities<Activities>({
  // The barrier has its own timeout (syncTimeoutMs); heartbeats show it is alive while it waits.
  startToCloseTimeout: '2 hours',
  heartbeatTimeout: '5 seconds',
  retry,
});

// Function calls as local activities (run config `localActivities`: 'compute'), and a whole step as two
// fused local activities ('all': activities/fused-step.ts). A step then runs inside one
// workflow task, with no round trip to the server. The SDK keeps a long workflow task alive (it heartbeats
// it), each activity is still a marker in history with its input and result, retried by the worker, and
// re-run on replay after a crash (computing a gradient and waiting at a barrier are idempotent; applying
// the update is guarded by the applied-step key).
export const { computeShardGradient: computeShardGradientLocal } = proxyLocalActivities<Activities>({
  startToCloseTimeout: '10 minutes',
  retry,
});

export const {
  stepFront,
  stepFinish,
  stepChain,
  awaitPeersReady: awaitPeersReadyLocal,
} = proxyLocalActivities<Activities>({
  // stepFront holds the barrier, which has its own timeout (syncTimeoutMs); stepChain holds a barrier per step.
  startToCloseTimeout: '2 hours',
  retry,
});
