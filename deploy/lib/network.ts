import { RemovalPolicy } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import type { DeployConfig } from './config';

/** Subnet groups of a VPC the stack creates: hosts and functions apart, both private. */
export const SUBNETS = { public: 'public', hosts: 'hosts', functions: 'functions' } as const;

/**
 * The network-wide parts: the VPC (new, or imported without lookups), optional VPC endpoints, the
 * security group every peer host wears (the peers may reach each other's Redis through it), and the
 * bucket where the administrator publishes the network file and hosts publish their public material.
 */
export class SpirtNetwork extends Construct {
  readonly vpc: ec2.IVpc;
  readonly hostSubnets: ec2.SubnetSelection;
  readonly functionSubnets: ec2.SubnetSelection;
  readonly publicSubnets: ec2.SubnetSelection;
  /** Worn by every peer host: membership of the network, and its outbound rules. */
  readonly peersSecurityGroup: ec2.SecurityGroup;
  /** In front of the interface endpoints, when there are any (ingress added per peer, from its groups). */
  readonly endpointsSecurityGroup?: ec2.SecurityGroup;
  /** Public material only: the network file, the peers' public keys. */
  readonly networkBucket: s3.Bucket;

  constructor(scope: Construct, id: string, config: DeployConfig) {
    super(scope, id);
    const v = config.vpc;
    if (v.kind === 'new') {
      const privateType = v.natGateways > 0 ? ec2.SubnetType.PRIVATE_WITH_EGRESS : ec2.SubnetType.PRIVATE_ISOLATED;
      this.vpc = new ec2.Vpc(this, 'Vpc', {
        ipAddresses: ec2.IpAddresses.cidr(v.cidr),
        maxAzs: v.maxAzs,
        natGateways: v.natGateways,
        subnetConfiguration: [
          { name: SUBNETS.public, subnetType: ec2.SubnetType.PUBLIC, cidrMask: 24 },
          { name: SUBNETS.hosts, subnetType: privateType, cidrMask: 24 },
          // Lambda takes one address per function ENI (per subnet and security group): room to grow.
          { name: SUBNETS.functions, subnetType: privateType, cidrMask: 22 },
        ],
        // The S3 gateway endpoint is free: release downloads and the network bucket stay off the NAT.
        gatewayEndpoints: { S3: { service: ec2.GatewayVpcEndpointAwsService.S3 } },
      });
      this.hostSubnets = { subnetGroupName: SUBNETS.hosts };
      this.functionSubnets = { subnetGroupName: SUBNETS.functions };
      this.publicSubnets = { subnetGroupName: SUBNETS.public };
    } else {
      this.vpc = ec2.Vpc.fromVpcAttributes(this, 'Vpc', {
        vpcId: v.vpcId,
        availabilityZones: v.availabilityZones,
        privateSubnetIds: v.privateSubnetIds,
        publicSubnetIds: v.publicSubnetIds,
      });
      this.hostSubnets = { subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS };
      this.functionSubnets = { subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS };
      this.publicSubnets = { subnetType: ec2.SubnetType.PUBLIC };
    }

    this.peersSecurityGroup = new ec2.SecurityGroup(this, 'PeersSg', {
      vpc: this.vpc,
      description: `spirt ${config.network}: every peer host (the peers reach each other through it)`,
      allowAllOutbound: false,
    });
    // Workers reach Temporal (443 for Temporal Cloud's API-key endpoint, its own port otherwise) and AWS APIs.
    this.peersSecurityGroup.addEgressRule(ec2.Peer.anyIpv4(), ec2.Port.tcp(443), 'HTTPS: AWS APIs, packages, Temporal');
    if (config.temporal.port !== 443) {
      this.peersSecurityGroup.addEgressRule(
        ec2.Peer.anyIpv4(),
        ec2.Port.tcp(config.temporal.port),
        'Temporal frontend',
      );
    }
    this.peersSecurityGroup.addEgressRule(
      this.peersSecurityGroup,
      ec2.Port.tcp(config.redis.port),
      'Redis of the other peers',
    );

    if (v.endpoints) {
      this.endpointsSecurityGroup = new ec2.SecurityGroup(this, 'EndpointsSg', {
        vpc: this.vpc,
        description: `spirt ${config.network}: interface VPC endpoints (HTTPS from the hosts and functions of the peers)`,
        allowAllOutbound: false,
      });
      const services: [string, ec2.InterfaceVpcEndpointAwsService][] = [
        ['Sqs', ec2.InterfaceVpcEndpointAwsService.SQS],
        ['Kms', ec2.InterfaceVpcEndpointAwsService.KMS],
        ['Lambda', ec2.InterfaceVpcEndpointAwsService.LAMBDA],
        ['Logs', ec2.InterfaceVpcEndpointAwsService.CLOUDWATCH_LOGS],
        ['Ssm', ec2.InterfaceVpcEndpointAwsService.SSM],
        ['SsmMessages', ec2.InterfaceVpcEndpointAwsService.SSM_MESSAGES],
        ['Ec2Messages', ec2.InterfaceVpcEndpointAwsService.EC2_MESSAGES],
        ['SecretsManager', ec2.InterfaceVpcEndpointAwsService.SECRETS_MANAGER],
      ];
      // An imported VPC brings its own S3 route (gateway endpoint or NAT): its route tables are not known here.
      for (const [name, service] of services) {
        this.vpc.addInterfaceEndpoint(name, {
          service,
          subnets: this.hostSubnets,
          securityGroups: [this.endpointsSecurityGroup],
          open: false,
          privateDnsEnabled: true,
        });
      }
    }

    this.networkBucket = new s3.Bucket(this, 'NetworkBucket', {
      encryption: s3.BucketEncryption.S3_MANAGED,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      enforceSSL: true,
      versioned: true,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      // Public material only, and all of it can be published again: nothing to keep after a teardown.
      removalPolicy: RemovalPolicy.DESTROY,
      autoDeleteObjects: false,
    });
  }
}
