export { peerTrainingWorkflow } from './peer-training';
export { statusQuery } from './signals';
