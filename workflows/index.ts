export { peerTrainingWorkflow } from './peer-training';
export { addPeerSignal, removePeerSignal, statusQuery, stopSignal } from './messages';
