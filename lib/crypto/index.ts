export {
  type KeySuite,
  type KeyPairPem,
  type PeerKeys,
  KEY_SUITES,
  DEFAULT_KEY_SUITE,
  generatePeerKeys,
  generateAdminKeys,
  keyFingerprint,
  parsePublicKey,
  assertKeyType,
} from './keys';
export { signBytes, verifyBytes } from './sign';
export { type SealedBox, type SealAlgorithm, sealTo, openSealed } from './seal';
export { canonicalJson, canonicalHash, sha256Hex } from './canonical';
export { type ReplayGuard, MemoryReplayGuard, type MemoryReplayGuardOptions } from './replay-guard';
export {
  type EnrolmentToken,
  type EnrolmentFields,
  type VerifyEnrolmentOptions,
  type RevokedPeers,
  issueEnrolment,
  encodeEnrolment,
  parseEnrolment,
  verifyEnrolment,
  adminFingerprintOf,
} from './enrolment';
export {
  type Revocation,
  signRevocation,
  appendRevocation,
  readRevocations,
  revocationCheck,
  verifyRevocation,
} from './revocation';
export { parseExpiry } from './expiry';
export { type PublicKeysFile, publicKeysFile, checkPublicKeysFile } from './public-keys';
export { type SealedPeerKeys, sealPrivateKeys, openPrivateKeys } from './key-store';
// The signed protocol message lives in lib/protocol; re-exported here so callers find all of it in one place.
export {
  type SignedEnvelope,
  type EnvelopeFields,
  type VerifyEnvelopeOptions,
  signEnvelope,
  verifyEnvelope,
  envelopeSigningInput,
} from '../protocol/envelope';
