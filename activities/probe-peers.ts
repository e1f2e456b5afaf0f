import type { WatchOptions } from '../lib/redis/peer-monitor';
import type { ActivityDeps } from './deps';

export interface ProbePeersInput {
  run: string;
  /** The other active peers. */
  peers: string[];
  watch: WatchOptions;
}

export interface ProbePeersResult {
  /** Peers the failure detector suspects now, with why and since when (worker clock, ms). */
  suspected: { peer: string; reason: string; since: number }[];
}

/**
 * Paper III.3.5, made continuous: the worker's monitor probes every peer on an interval (PING + a fresh
 * heartbeat key); this step refreshes which peers the run watches and reads the detector's current view.
 */
export function makeProbePeers(deps: ActivityDeps) {
  return async function probePeers(input: ProbePeersInput): Promise<ProbePeersResult> {
    const health = await deps.monitor.watch(input.run, input.peers, input.watch);
    return {
      suspected: health
        .filter((h) => h.suspected)
        .map((h) => ({ peer: h.peer, reason: h.reason ?? 'unknown', since: h.since ?? 0 })),
    };
  };
}
