import { CfnOutput, Stack, type StackProps } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as s3assets from 'aws-cdk-lib/aws-s3-assets';
import type { Construct } from 'constructs';
import { peerTaskQueue } from '../../lib/protocol/names';
import { AdminKeyStorage } from './admin-storage';
import type { DeployConfig } from './config';
import { FUNCTION_NAMES, peerResourceName, QUEUE_NAMES } from './names';
import { SpirtNetwork } from './network';
import { deployedTemporal, type DeployedNetwork, type DeployedPeer } from './network-output';
import { SpirtPeer } from './peer';

export interface NetworkStackProps extends StackProps {
  config: DeployConfig;
}

/**
 * One spirt network in one stack: the VPC, the administrator key's storage, and every peer. One stack
 * because the peers refer to each other both ways (Redis reachability, send rights, queue keys); split
 * into per-peer stacks these references would form cycles.
 */
export class NetworkStack extends Stack {
  readonly network: SpirtNetwork;
  readonly admin: AdminKeyStorage;
  readonly peers: SpirtPeer[];

  constructor(scope: Construct, id: string, props: NetworkStackProps) {
    super(scope, id, props);
    const { config } = props;
    this.network = new SpirtNetwork(this, 'Network', config);
    this.admin = new AdminKeyStorage(this, 'AdminKey', {
      network: config.network,
      adminPrincipalArn: config.admin.principalArn,
    });
    this.network.networkBucket.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'AdministratorPublishesTheNetworkFile',
        principals: [new iam.ArnPrincipal(config.admin.principalArn)],
        actions: ['s3:GetObject', 's3:PutObject', 's3:ListBucket'],
        resources: [this.network.networkBucket.bucketArn, this.network.networkBucket.arnForObjects('*')],
      }),
    );
    const releaseAsset =
      config.release.kind === 'asset' ? new s3assets.Asset(this, 'Release', { path: config.release.path }) : undefined;

    this.peers = config.peers.map(
      (peer) => new SpirtPeer(this, `Peer-${peer.id}`, { config, peer, network: this.network, releaseAsset }),
    );

    for (const receiver of this.peers) {
      const inboxes = QUEUE_NAMES.map((name) => receiver.queues.queues[name]);
      const inboxArns = QUEUE_NAMES.map((name) =>
        this.formatArn({ service: 'sqs', resource: peerResourceName(config.network, receiver.id, name) }),
      );
      for (const sender of this.peers) {
        if (sender === receiver) continue;
        sender.host.allowSendTo(inboxes);
        // The inboxes are encrypted with the receiver's key, so a sender needs it, but only through SQS
        // and only for these queues: it cannot decrypt anything else the receiver's key protects.
        receiver.key.addToResourcePolicy(
          new iam.PolicyStatement({
            sid: `${sender.id}SendsToInboxesOf${receiver.id}`.replace(/[^A-Za-z0-9]/g, ''),
            principals: [sender.host.role],
            actions: ['kms:GenerateDataKey', 'kms:Decrypt'],
            resources: ['*'],
            conditions: {
              StringEquals: { 'kms:ViaService': `sqs.${this.region}.amazonaws.com` },
              // By name, not by reference: the queues refer to this key, so a reference would be a cycle.
              ArnEquals: { 'kms:EncryptionContext:aws:sqs:arn': inboxArns },
            },
          }),
        );
      }
    }

    const deployed: DeployedNetwork = {
      v: 1,
      kind: 'spirt-deployment',
      network: config.network,
      region: this.region,
      temporal: deployedTemporal(config),
      networkBucket: this.network.networkBucket.bucketName,
      adminKey: { keyArn: this.admin.key.keyArn, bucket: this.admin.bucket.bucketName },
      peers: this.peers.map((p, rank): DeployedPeer => ({
        id: p.id,
        rank,
        redis: { host: p.host.instance.instancePrivateIp, port: config.redis.port, tls: config.redis.tls },
        taskQueue: peerTaskQueue(config.network, p.id),
        instanceId: p.host.instance.instanceId,
        kmsKeyArn: p.key.keyArn,
        queues: Object.fromEntries(
          QUEUE_NAMES.map((name) => [name, p.queues.queues[name].queueUrl]),
        ) as DeployedPeer['queues'],
        functions: Object.fromEntries(
          FUNCTION_NAMES.map((name) => [name, p.functions.functions[name].functionName]),
        ) as DeployedPeer['functions'],
      })),
    };
    new CfnOutput(this, 'NetworkFile', {
      description: 'The deployed network (public): peers, private Redis endpoints, queues, functions, Temporal',
      value: this.toJsonString(deployed),
    });
    new CfnOutput(this, 'NetworkBucket', { value: this.network.networkBucket.bucketName });
    new CfnOutput(this, 'AdminKeyArn', { value: this.admin.key.keyArn });
    new CfnOutput(this, 'AdminKeyBucket', { value: this.admin.bucket.bucketName });
  }
}
