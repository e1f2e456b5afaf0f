// AWS Lambda entry of the compute-gradient function (bundled alone by scripts/package-lambda.js).
import { awsHandler } from '../aws-handler';

export const handler = awsHandler('compute-gradient');
