import { trace } from '../lib/log/trace';
import { makeAdmitPeers } from './admit-peers';
import { makeAgreeOnInactivePeers } from './agree-on-inactive-peers';
import { makeAggregateGradients } from './aggregate-gradients';
import { makeApplyUpdate } from './apply-update';
import { makeAnnounceDeparture } from './announce-departure';
import { makeAverageShardGradients } from './average-shard-gradients';
import { makeAwaitAdmission } from './await-admission';
import { makeAwaitPeersReady } from './await-peers-ready';
import { makeComputeShardGradient } from './compute-shard-gradient';
import type { ActivityDeps } from './deps';
import { makeDeclineAdmission } from './decline-admission';
import { makeEvaluateModel } from './evaluate-model';
import { makeFetchPeerGradients } from './fetch-peer-gradients';
import { makeFusedStep } from './fused-step';
import { makePreparePeer } from './prepare-peer';
import { makeProbePeers } from './probe-peers';
import { makeAcceptOffers } from './join/accept-offers';
import { makeAnswerJoin } from './join/answer-join';
import { makeApplyRevocation } from './join/apply-revocation';
import { makeOfferCredentials } from './join/offer-credentials';
import { makePublishReady } from './publish-ready';

export type { ActivityDeps } from './deps';

/** All activities of one peer's worker, sharing its clients (built once per worker). One per paper step. */
export function createActivities(deps: ActivityDeps) {
  return {
    preparePeer: makePreparePeer(deps),
    computeShardGradient: makeComputeShardGradient(deps),
    averageShardGradients: makeAverageShardGradients(deps),
    probePeers: makeProbePeers(deps),
    publishReady: makePublishReady(deps),
    awaitPeersReady: makeAwaitPeersReady(deps),
    agreeOnInactivePeers: makeAgreeOnInactivePeers(deps),
    announceDeparture: makeAnnounceDeparture(deps),
    fetchPeerGradients: makeFetchPeerGradients(deps),
    aggregateGradients: makeAggregateGradients(deps),
    applyUpdate: makeApplyUpdate(deps),
    // Nothing: a regular activity the workflow awaits to end a long workflow task (see peer-training.ts).
    yieldToServer: async (): Promise<void> => trace(deps.peerId, 'yield', -1),
    // The same steps fused into three local activities (the default step path).
    ...makeFusedStep(deps),
    evaluateModel: makeEvaluateModel(deps),
    admitPeers: makeAdmitPeers(deps),
    awaitAdmission: makeAwaitAdmission(deps),
    declineAdmission: makeDeclineAdmission(deps),
    // The handshake (paper III.3.1), in activities/join/.
    offerCredentials: makeOfferCredentials(deps),
    acceptOffers: makeAcceptOffers(deps),
    answerJoin: makeAnswerJoin(deps),
    applyRevocation: makeApplyRevocation(deps),
  };
}

export type Activities = ReturnType<typeof createActivities>;
