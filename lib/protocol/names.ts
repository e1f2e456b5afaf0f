// Naming rules shared by the CLI, workers and workflows (pure, deterministic).

/** Temporal task queue of one peer's worker in a stack (workers serve every run of their stack). */
export function peerTaskQueue(stackId: string, peerId: string): string {
  return `spirt-${stackId}-${peerId}`;
}

/** Workflow id of one peer's training workflow: `spirt-<run>-<peer>`. */
export function peerWorkflowId(run: string, peerId: string): string {
  return `spirt-${run}-${peerId}`;
}

/** Peer ids are `p1..pN` by rank (rank 0 is `p1`). */
export function peerIdForRank(rank: number): string {
  return `p${rank + 1}`;
}
