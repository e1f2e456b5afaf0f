export { FailureDetector, type DetectorOptions, type PeerHealth, type ProbeOutcome } from './failure-detector';
export { agreeOnRemovals, isQuorum, type AgreementInput, type AgreementOutcome } from './agreement';
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
