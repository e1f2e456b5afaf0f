import { Stack } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as s3assets from 'aws-cdk-lib/aws-s3-assets';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { peerTaskQueue } from '../../lib/protocol/names';
import type { DeployConfig, HostSettings } from './config';
import { NETWORK_FILE_KEY, peerPublicPrefix, type DeployedFunctionName, type PeerQueueName } from './names';
import type { SpirtNetwork } from './network';
import { HOST_PATHS, renderBootScript, type HostBootSettings } from './user-data';

export interface PeerHostProps {
  config: DeployConfig;
  peer: string;
  rank: number;
  settings: HostSettings;
  key: kms.IKey;
  queues: Record<PeerQueueName, sqs.IQueue>;
  functions: Record<DeployedFunctionName, lambda.IFunction>;
  functionsSecurityGroup: ec2.ISecurityGroup;
  network: SpirtNetwork;
  /** The release tarball as an S3 asset, when the config names a local file. */
  releaseAsset?: s3assets.Asset;
}

/** Environment variable of a function's name or a queue's URL in the unit: SPIRT_LAMBDA_COMPUTE_GRADIENT. */
function envName(prefix: string, name: string): string {
  return `${prefix}_${name.toUpperCase().replace(/-/g, '_')}`;
}

/**
 * The host of one peer's Redis and Temporal worker: an EC2 instance in a private subnet, reached for
 * administration through SSM only (no key pair, no port 22). Its Redis port accepts the other peers'
 * hosts and this peer's functions, nothing else; its role reaches its own key, queues and functions, and
 * may only send to the other peers' queues.
 */
export class PeerHost extends Construct {
  readonly instance: ec2.Instance;
  readonly role: iam.Role;
  /** This host's own group: the Redis port's only ingress rules are on it. */
  readonly securityGroup: ec2.SecurityGroup;
  /** Send rights on the other peers' queues: kept apart from the role's own-resource policy. */
  readonly sendPolicy: iam.Policy;

  constructor(scope: Construct, id: string, props: PeerHostProps) {
    super(scope, id);
    const { config, peer, key, network } = props;
    const region = Stack.of(this).region;
    const redisPort = ec2.Port.tcp(config.redis.port);

    this.securityGroup = new ec2.SecurityGroup(this, 'Sg', {
      vpc: network.vpc,
      description: `spirt ${config.network} ${peer}: Redis host (from the peers of the network and its own functions only)`,
      allowAllOutbound: false,
    });
    this.securityGroup.addIngressRule(
      network.peersSecurityGroup,
      redisPort,
      'Redis from the peer hosts of the network',
    );
    this.securityGroup.addIngressRule(props.functionsSecurityGroup, redisPort, 'Redis from the functions of this peer');
    props.functionsSecurityGroup.addEgressRule(this.securityGroup, redisPort, 'Redis of this peer');
    if (network.endpointsSecurityGroup) {
      for (const sg of [this.securityGroup, props.functionsSecurityGroup]) {
        network.endpointsSecurityGroup.addIngressRule(sg, ec2.Port.tcp(443), `HTTPS from spirt ${peer}`);
      }
    }

    this.role = new iam.Role(this, 'Role', {
      assumedBy: new iam.ServicePrincipal('ec2.amazonaws.com'),
      description: `spirt ${config.network} ${peer}: peer host`,
      managedPolicies: [iam.ManagedPolicy.fromAwsManagedPolicyName('AmazonSSMManagedInstanceCore')],
    });
    this.role.addToPolicy(
      new iam.PolicyStatement({
        sid: 'OwnKey',
        actions: ['kms:Encrypt', 'kms:Decrypt', 'kms:GenerateDataKey', 'kms:DescribeKey'],
        resources: [key.keyArn],
      }),
    );
    this.role.addToPolicy(
      new iam.PolicyStatement({
        sid: 'OwnQueues',
        actions: ['sqs:ReceiveMessage', 'sqs:DeleteMessage', 'sqs:ChangeMessageVisibility', 'sqs:GetQueueAttributes'],
        resources: Object.values(props.queues).map((q) => q.queueArn),
      }),
    );
    this.role.addToPolicy(
      new iam.PolicyStatement({
        sid: 'OwnFunctions',
        actions: ['lambda:InvokeFunction'],
        resources: Object.values(props.functions).map((f) => f.functionArn),
      }),
    );
    this.role.addToPolicy(
      new iam.PolicyStatement({
        sid: 'ReadNetworkFile',
        actions: ['s3:GetObject'],
        resources: [network.networkBucket.arnForObjects(NETWORK_FILE_KEY)],
      }),
    );
    this.role.addToPolicy(
      new iam.PolicyStatement({
        sid: 'PublishOwnPublicMaterial',
        actions: ['s3:GetObject', 's3:PutObject'],
        resources: [network.networkBucket.arnForObjects(`${peerPublicPrefix(peer)}*`)],
      }),
    );
    const apiKey = config.temporal.apiKey;
    if (apiKey && 'secretArn' in apiKey) {
      this.role.addToPolicy(
        new iam.PolicyStatement({
          sid: 'TemporalApiKey',
          actions: ['secretsmanager:GetSecretValue'],
          resources: [apiKey.secretArn],
        }),
      );
    } else if (apiKey) {
      this.role.addToPolicy(
        new iam.PolicyStatement({
          sid: 'TemporalApiKey',
          actions: ['ssm:GetParameter'],
          resources: [
            Stack.of(this).formatArn({
              service: 'ssm',
              resource: 'parameter',
              resourceName: apiKey.parameterName.replace(/^\//, ''),
            }),
          ],
        }),
      );
    }
    if (config.temporal.mtls) {
      this.role.addToPolicy(
        new iam.PolicyStatement({
          sid: 'TemporalClientCertificate',
          actions: ['secretsmanager:GetSecretValue'],
          resources: [config.temporal.mtls.secretArn],
        }),
      );
    }
    props.releaseAsset?.grantRead(this.role);
    this.sendPolicy = new iam.Policy(this, 'SendToPeers', { roles: [this.role] });

    const environment: Record<string, string> = {
      SPIRT_PEER_ID: peer,
      SPIRT_NETWORK: config.network,
      SPIRT_RANK: String(props.rank),
      SPIRT_TASK_QUEUE: peerTaskQueue(config.network, peer),
      SPIRT_STATE_DIR: HOST_PATHS.stateDir,
      AWS_REGION: region,
      SPIRT_KMS: 'aws',
      SPIRT_KMS_KEY_ID: key.keyArn,
      SPIRT_REDIS_PORT: String(config.redis.port),
      SPIRT_REDIS_TLS: config.redis.tls ? '1' : '0',
      SPIRT_REDIS_SERVER: props.settings.redisServer,
      SPIRT_TEMPORAL_ADDRESS: config.temporal.address,
      SPIRT_TEMPORAL_NAMESPACE: config.temporal.namespace,
      SPIRT_TEMPORAL_TLS: config.temporal.tls ? '1' : '0',
      SPIRT_QUEUES: 'sqs',
      SPIRT_FUNCTIONS: 'lambda',
      SPIRT_NETWORK_BUCKET: network.networkBucket.bucketName,
    };
    if (config.temporal.serverName) environment.SPIRT_TEMPORAL_TLS_SERVER_NAME = config.temporal.serverName;
    if (apiKey) environment.SPIRT_TEMPORAL_API_KEY_FILE = `${HOST_PATHS.runtimeDir}/temporal-api-key`;
    if (config.temporal.mtls) {
      environment.SPIRT_TEMPORAL_TLS_CERT = `${HOST_PATHS.runtimeDir}/temporal-client.crt`;
      environment.SPIRT_TEMPORAL_TLS_KEY = `${HOST_PATHS.runtimeDir}/temporal-client.key`;
    }
    for (const [name, queue] of Object.entries(props.queues))
      environment[envName('SPIRT_SQS', name) + '_URL'] = queue.queueUrl;
    for (const [name, fn] of Object.entries(props.functions))
      environment[envName('SPIRT_LAMBDA', name)] = fn.functionName;

    const boot: HostBootSettings = {
      network: config.network,
      peer,
      region,
      environment,
      redisPackage: props.settings.redisPackage,
      release: props.releaseAsset
        ? { kind: 's3', bucket: props.releaseAsset.s3BucketName, key: props.releaseAsset.s3ObjectKey }
        : config.release.kind === 'url'
          ? { kind: 'url', url: config.release.url, sha256: config.release.sha256 }
          : (() => {
              throw new Error('a release asset is required when the config names a local release file');
            })(),
      networkBucket: network.networkBucket.bucketName,
      networkFileKey: NETWORK_FILE_KEY,
      publicPrefix: peerPublicPrefix(peer),
      temporalApiKey: apiKey,
      temporalMtlsSecretArn: config.temporal.mtls?.secretArn,
    };
    const userData = ec2.UserData.forLinux();
    userData.addCommands(...renderBootScript(boot));

    const machineImage = props.settings.ami
      ? ec2.MachineImage.genericLinux(props.settings.ami)
      : // An SSM parameter reference in the template, resolved by CloudFormation at deploy time: no lookup here.
        ec2.MachineImage.latestAmazonLinux2023({ cpuType: ec2.AmazonLinuxCpuType.X86_64 });
    this.instance = new ec2.Instance(this, 'Instance', {
      instanceName: `spirt-${config.network}-${peer}`,
      vpc: network.vpc,
      vpcSubnets: props.settings.publicIp ? network.publicSubnets : network.hostSubnets,
      associatePublicIpAddress: props.settings.publicIp ? true : undefined,
      instanceType: new ec2.InstanceType(props.settings.instanceType),
      machineImage,
      securityGroup: this.securityGroup,
      role: this.role,
      userData,
      userDataCausesReplacement: true,
      requireImdsv2: true,
      blockDevices: [
        {
          deviceName: '/dev/xvda',
          // Redis' append-only file is on it: encrypted with the peer's own key.
          volume: ec2.BlockDeviceVolume.ebs(props.settings.volumeGb, {
            encrypted: true,
            kmsKey: key,
            volumeType: ec2.EbsDeviceVolumeType.GP3,
          }),
        },
      ],
    });
    this.instance.addSecurityGroup(network.peersSecurityGroup);
    // The subnet decides the zone; CDK also writes the zone out, hard-coded when the VPC is imported.
    (this.instance.node.defaultChild as ec2.CfnInstance).addPropertyDeletionOverride('AvailabilityZone');
  }

  /** Lets this host send to another peer's inboxes (and nothing else on them). */
  allowSendTo(queues: sqs.IQueue[]): void {
    this.sendPolicy.addStatements(
      new iam.PolicyStatement({
        actions: ['sqs:SendMessage'],
        resources: queues.map((q) => q.queueArn),
      }),
    );
  }
}
