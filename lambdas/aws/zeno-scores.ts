// AWS Lambda entry of the zeno-scores function (bundled alone by scripts/package-lambda.js).
import { awsHandler } from '../aws-handler';

export const handler = awsHandler('zeno-scores');
