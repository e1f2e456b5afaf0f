// Search attributes every peer workflow carries, so runs, peers, epochs, loss and accuracy are
// visible and filterable in the Temporal UI. Pure definitions: safe to import from workflows.
import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';

export const runAttribute = defineSearchAttributeKey('SpirtRun', SearchAttributeType.KEYWORD);
export const peerAttribute = defineSearchAttributeKey('SpirtPeer', SearchAttributeType.KEYWORD);
export const epochAttribute = defineSearchAttributeKey('SpirtEpoch', SearchAttributeType.INT);
export const lossAttribute = defineSearchAttributeKey('SpirtLoss', SearchAttributeType.DOUBLE);
export const accuracyAttribute = defineSearchAttributeKey('SpirtAccuracy', SearchAttributeType.DOUBLE);

export const activePeersAttribute = defineSearchAttributeKey('SpirtActivePeers', SearchAttributeType.INT);

export const allSearchAttributes = [
  runAttribute,
  peerAttribute,
  epochAttribute,
  lossAttribute,
  accuracyAttribute,
  activePeersAttribute,
];

/** `name=Type` pairs for `temporal server start-dev --search-attribute`. */
export function searchAttributeFlags(): string[] {
  const cliType: Record<string, string> = { KEYWORD: 'Keyword', INT: 'Int', DOUBLE: 'Double' };
  return allSearchAttributes.map((key) => `${key.name}=${cliType[key.type]}`);
}
