import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as kms from 'aws-cdk-lib/aws-kms';
import type * as s3assets from 'aws-cdk-lib/aws-s3-assets';
import { Construct } from 'constructs';
import type { DeployConfig, HostSettings } from './config';
import type { SpirtNetwork } from './network';
import { PeerFunctions } from './peer-functions';
import { PeerHost } from './peer-host';
import { PeerQueues } from './peer-queues';

export interface PeerProps {
  config: DeployConfig;
  peer: { id: string; rank: number; host: HostSettings };
  network: SpirtNetwork;
  releaseAsset?: s3assets.Asset;
}

/**
 * Everything one peer owns: its KMS key (seals its private keys and Redis password at rest, encrypts the
 * functions' Redis credential, encrypts its queues and its host's volume), its inboxes, its functions and
 * its host.
 */
export class SpirtPeer extends Construct {
  readonly id: string;
  readonly key: kms.Key;
  readonly queues: PeerQueues;
  readonly functions: PeerFunctions;
  readonly host: PeerHost;

  constructor(scope: Construct, id: string, props: PeerProps) {
    super(scope, id);
    const { config, peer, network } = props;
    this.id = peer.id;
    this.key = new kms.Key(this, 'Key', {
      description: `spirt ${config.network} ${peer.id}: the peer's own key`,
      alias: `alias/spirt/${config.network}/${peer.id}`,
      enableKeyRotation: true,
      // What it sealed lives on the host's volume, which goes with the stack.
      removalPolicy: RemovalPolicy.DESTROY,
      pendingWindow: Duration.days(7),
    });
    this.queues = new PeerQueues(this, 'Queues', { network: config.network, peer: peer.id, key: this.key });
    this.functions = new PeerFunctions(this, 'Functions', {
      config,
      peer: peer.id,
      key: this.key,
      vpc: network.vpc,
      subnets: network.functionSubnets,
    });
    this.host = new PeerHost(this, 'Host', {
      config,
      peer: peer.id,
      rank: peer.rank,
      settings: peer.host,
      key: this.key,
      queues: this.queues.queues,
      functions: this.functions.functions,
      functionsSecurityGroup: this.functions.securityGroup,
      network,
      releaseAsset: props.releaseAsset,
    });
  }
}
