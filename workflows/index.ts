export { peerTrainingWorkflow } from './peer-training';
export { addPeerSignal, removePeerSignal, runPlanQuery, statusQuery, stopSignal } from './messages';
export { joinHandshakeWorkflow, networkInitWorkflow, revokePeerWorkflow } from './join-handshake';
