export { FailureDetector, type PeerHealth, type ProbeOutcome, type SuspicionOptions } from './failure-detector';
export {
  addSignalOutcome,
  agreeOnRemovals,
  isQuorum,
  type AddSignalOutcome,
  type AgreementInput,
  type AgreementOutcome,
} from './agreement';
export {
  catchUpBatches,
  initialOwners,
  ownedRanges,
  parseUnitKey,
  reassignUnits,
  unitKey,
  unitsOf,
  type BatchRef,
  type Unit,
  type UnitOwners,
} from './redistribution';
