// AWS Lambda entry of the evaluate function (bundled alone by scripts/package-lambda.js).
import { awsHandler } from '../aws-handler';

export const handler = awsHandler('evaluate');
