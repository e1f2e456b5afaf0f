import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import type { DeployConfig } from './config';
import {
  CONTEXT_PEER,
  CONTEXT_PURPOSE,
  FUNCTION_CREDENTIAL_PURPOSE,
  FUNCTION_NAMES,
  peerResourceName,
  type DeployedFunctionName,
} from './names';

export interface PeerFunctionsProps {
  config: DeployConfig;
  peer: string;
  key: kms.IKey;
  vpc: ec2.IVpc;
  subnets: ec2.SubnetSelection;
}

/** ENI management Lambda needs to run in a VPC; EC2 does not scope these actions to resources. */
const VPC_ACCESS_ACTIONS = [
  'ec2:CreateNetworkInterface',
  'ec2:DescribeNetworkInterfaces',
  'ec2:DescribeSubnets',
  'ec2:DeleteNetworkInterface',
  'ec2:AssignPrivateIpAddresses',
  'ec2:UnassignPrivateIpAddresses',
];

/**
 * A peer's three stateless functions on Lambda, in the VPC next to the peer's Redis. Each has its own role
 * that may only manage its ENIs, write its own log group, and decrypt, with the peer's key, a ciphertext
 * whose encryption context names this peer and the functions' Redis credential: nothing else the peer's
 * key protects (its sealed private keys use another context).
 */
export class PeerFunctions extends Construct {
  readonly functions: Record<DeployedFunctionName, lambda.Function>;
  readonly roles: Record<DeployedFunctionName, iam.Role>;
  readonly securityGroup: ec2.SecurityGroup;

  constructor(scope: Construct, id: string, props: PeerFunctionsProps) {
    super(scope, id);
    const { config, peer, key } = props;
    this.securityGroup = new ec2.SecurityGroup(this, 'Sg', {
      vpc: props.vpc,
      description: `spirt ${config.network} ${peer}: functions (reach the Redis of their peer and AWS APIs only)`,
      allowAllOutbound: false,
    });
    this.securityGroup.addEgressRule(ec2.Peer.anyIpv4(), ec2.Port.tcp(443), 'HTTPS: KMS');

    const runtime = new lambda.Runtime(config.functions.runtime, lambda.RuntimeFamily.NODEJS, {
      supportsInlineCode: true,
    });
    const code = lambda.Code.fromAsset(config.functions.codeDir);
    const functions: Partial<Record<DeployedFunctionName, lambda.Function>> = {};
    const roles: Partial<Record<DeployedFunctionName, iam.Role>> = {};
    for (const name of FUNCTION_NAMES) {
      const functionName = peerResourceName(config.network, peer, name);
      const logGroup = new logs.LogGroup(this, `${name}-logs`, {
        logGroupName: `/aws/lambda/${functionName}`,
        retention: logs.RetentionDays.TWO_WEEKS,
        removalPolicy: RemovalPolicy.DESTROY,
      });
      // Inline policies: in place before the function is created (Lambda checks the ENI rights then).
      const role = new iam.Role(this, `${name}-role`, {
        assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
        description: `spirt ${config.network} ${peer} ${name}`,
        inlinePolicies: {
          function: new iam.PolicyDocument({
            statements: [
              new iam.PolicyStatement({ sid: 'VpcAccess', actions: VPC_ACCESS_ACTIONS, resources: ['*'] }),
              new iam.PolicyStatement({
                sid: 'OwnLogGroup',
                actions: ['logs:CreateLogStream', 'logs:PutLogEvents'],
                resources: [logGroup.logGroupArn],
              }),
              new iam.PolicyStatement({
                sid: 'DecryptOwnPeersRedisCredential',
                actions: ['kms:Decrypt'],
                resources: [key.keyArn],
                conditions: {
                  StringEquals: {
                    [`kms:EncryptionContext:${CONTEXT_PEER}`]: peer,
                    [`kms:EncryptionContext:${CONTEXT_PURPOSE}`]: FUNCTION_CREDENTIAL_PURPOSE,
                  },
                },
              }),
            ],
          }),
        },
      });
      const sizing = config.functions.sizing[name];
      functions[name] = new lambda.Function(this, name, {
        functionName,
        description: `spirt ${config.network} ${peer}: ${name}`,
        runtime,
        architecture: lambda.Architecture.X86_64,
        code,
        handler: `${name}.handler`,
        memorySize: sizing.memoryMb,
        timeout: Duration.seconds(sizing.timeoutSeconds),
        vpc: props.vpc,
        vpcSubnets: props.subnets,
        securityGroups: [this.securityGroup],
        role,
        logGroup,
        environment: {
          SPIRT_PEER_ID: peer,
          SPIRT_NETWORK: config.network,
          SPIRT_KMS_KEY_ID: key.keyArn,
          SPIRT_KMS: 'aws',
          AWS_NODEJS_CONNECTION_REUSE_ENABLED: '1',
        },
      });
      roles[name] = role;
    }
    this.functions = functions as Record<DeployedFunctionName, lambda.Function>;
    this.roles = roles as Record<DeployedFunctionName, iam.Role>;
  }
}
