// Every activity the peer workflows call, proxied once with its timeouts and retry policy.
import { proxyActivities, proxyLocalActivities, type RetryPolicy } from '@temporalio/workflow';
import type { Activities } from '../activities';
import { nonRetryableErrorTypes } from '../lib/protocol/errors';

const retry: RetryPolicy = {
  initialInterval: '200 milliseconds',
  backoffCoefficient: 2,
  maximumAttempts: 5,
  nonRetryableErrorTypes,
};

// Function fan-out and evaluation: regular activities, each shard visible in the UI and retried alone. They
// heartbeat while the function runs, so a killed worker's calls are retried within seconds, not minutes.
export const { preparePeer, computeShardGradient, evaluateModel } = proxyActivities<Activities>({
  startToCloseTimeout: '10 minutes',
  heartbeatTimeout: '5 seconds',
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
