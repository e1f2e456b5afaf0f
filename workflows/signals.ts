import { defineQuery } from '@temporalio/workflow';
import type { PeerStatus } from '../lib/protocol/types';

/** Current epoch, step, phase and per-epoch history of one peer. */
export const statusQuery = defineQuery<PeerStatus>('status');
