// Assertions on the synthesized template of a 4-peer network: least privilege per role, Redis reachable
// from the network only, queues encrypted, the administrator key out of the peers' reach, a public output.
import type { Template } from 'aws-cdk-lib/assertions';
import { FUNCTION_NAMES, QUEUE_NAMES } from '../../deploy/lib/names';
import type { NetworkStack } from '../../deploy/lib/network-stack';
import { makePlaceholders, synthNetwork, testConfig, type Placeholders } from './helpers';

type Json = Record<string, unknown>;
interface Statement {
  Sid?: string;
  Effect: string;
  Action: string | string[];
  Resource: unknown;
  Condition?: Record<string, Record<string, unknown>>;
  Principal?: unknown;
}

let p: Placeholders;
let stack: NetworkStack;
let template: Template;
let resources: Record<string, { Type: string; Properties: Json }>;

beforeAll(() => {
  p = makePlaceholders();
  ({ stack, template } = synthNetwork(testConfig(p)));
  resources = template.toJSON().Resources;
});
afterAll(() => p.cleanup());

const actionsOf = (s: Statement) => (Array.isArray(s.Action) ? s.Action : [s.Action]);
const resourcesOf = (s: Statement) => (Array.isArray(s.Resource) ? s.Resource : [s.Resource]);
const resolve = (x: unknown) => stack.resolve(x) as unknown;
const logicalIdOf = (ref: unknown): string => {
  const r = ref as { 'Fn::GetAtt'?: [string, string]; Ref?: string };
  return r['Fn::GetAtt']?.[0] ?? r.Ref ?? JSON.stringify(ref);
};
/** Every logical id a policy fragment refers to. */
function referencedIds(x: unknown): string[] {
  const found: string[] = [];
  const walk = (v: unknown) => {
    if (Array.isArray(v)) v.forEach(walk);
    else if (v && typeof v === 'object') {
      const o = v as Json;
      if (typeof o.Ref === 'string') found.push(o.Ref);
      if (Array.isArray(o['Fn::GetAtt'])) found.push(o['Fn::GetAtt'][0] as string);
      Object.values(o).forEach(walk);
    }
  };
  walk(x);
  return found;
}
function policiesAttachedTo(roleId: string): Statement[] {
  return Object.values(resources)
    .filter((r) => r.Type === 'AWS::IAM::Policy')
    .filter((r) => (r.Properties.Roles as unknown[]).some((ref) => logicalIdOf(ref) === roleId))
    .flatMap((r) => (r.Properties.PolicyDocument as { Statement: Statement[] }).Statement);
}
function inlineStatements(roleId: string): Statement[] {
  const policies = (resources[roleId].Properties.Policies ?? []) as { PolicyDocument: { Statement: Statement[] } }[];
  return policies.flatMap((x) => x.PolicyDocument.Statement);
}

describe('function roles', () => {
  test('each may decrypt only with its own peer key, under the peer encryption context, and nothing else', () => {
    for (const peer of stack.peers) {
      const ownKey = logicalIdOf(resolve(peer.key.keyArn));
      for (const name of FUNCTION_NAMES) {
        const roleId = logicalIdOf(resolve(peer.functions.roles[name].roleArn));
        const role = resources[roleId].Properties;
        expect(role.ManagedPolicyArns).toBeUndefined();
        expect(policiesAttachedTo(roleId)).toEqual([]);
        const statements = inlineStatements(roleId);
        const kms = statements.filter((s) => actionsOf(s).some((a) => a.startsWith('kms:')));
        expect(kms).toHaveLength(1);
        expect(actionsOf(kms[0])).toEqual(['kms:Decrypt']);
        expect(resourcesOf(kms[0]).map(logicalIdOf)).toEqual([ownKey]);
        expect(kms[0].Condition).toEqual({
          StringEquals: {
            'kms:EncryptionContext:spirt:peer': peer.id,
            'kms:EncryptionContext:spirt:purpose': 'function-redis-credential',
          },
        });
        const others = statements.filter((s) => s !== kms[0]);
        for (const s of others) {
          for (const a of actionsOf(s))
            expect(a).toMatch(
              /^(ec2:\w+NetworkInterfaces?|ec2:DescribeSubnets|ec2:\w+PrivateIpAddresses|logs:(CreateLogStream|PutLogEvents))$/,
            );
          if (actionsOf(s).some((a) => a.startsWith('logs:'))) {
            const logGroup = logicalIdOf(resourcesOf(s)[0]);
            expect(resources[logGroup].Properties.LogGroupName).toBe(`/aws/lambda/spirt-demo-${peer.id}-${name}`);
          }
        }
      }
    }
  });

  test('functions: named, Node.js 20 on x86_64, in the VPC, with the peer environment and no secret in it', () => {
    for (const peer of stack.peers) {
      for (const name of FUNCTION_NAMES) {
        const fnId = logicalIdOf(resolve(peer.functions.functions[name].functionArn));
        const props = resources[fnId].Properties;
        expect(props.FunctionName).toBe(`spirt-demo-${peer.id}-${name}`);
        expect(props.Runtime).toBe('nodejs20.x');
        expect(props.Architectures).toEqual(['x86_64']);
        expect(props.Handler).toBe(`${name}.handler`);
        expect((props.VpcConfig as Json).SubnetIds).toBeDefined();
        const env = (props.Environment as { Variables: Json }).Variables;
        expect(env.SPIRT_PEER_ID).toBe(peer.id);
        expect(env.SPIRT_NETWORK).toBe('demo');
        expect(referencedIds(env.SPIRT_KMS_KEY_ID)).toEqual([logicalIdOf(resolve(peer.key.keyArn))]);
        expect(JSON.stringify(env)).not.toMatch(/password|secret|token|credential/i);
      }
    }
  });
});

describe('host roles', () => {
  test('kms, receive and invoke reach only the peer’s own resources; other peers’ queues only for SendMessage', () => {
    for (const peer of stack.peers) {
      const own = new Set([
        logicalIdOf(resolve(peer.key.keyArn)),
        ...QUEUE_NAMES.map((q) => logicalIdOf(resolve(peer.queues.queues[q].queueArn))),
        ...FUNCTION_NAMES.map((f) => logicalIdOf(resolve(peer.functions.functions[f].functionArn))),
      ]);
      const othersQueues = stack.peers
        .filter((o) => o !== peer)
        .flatMap((o) => QUEUE_NAMES.map((q) => logicalIdOf(resolve(o.queues.queues[q].queueArn))));
      const roleId = logicalIdOf(resolve(peer.host.role.roleArn));
      const statements = [...inlineStatements(roleId), ...policiesAttachedTo(roleId)];
      let sends = 0;
      for (const s of statements) {
        expect(s.Effect).toBe('Allow');
        const actions = actionsOf(s);
        const ids = referencedIds(s.Resource).filter((id) => !id.startsWith('Network') && id !== 'AWS::Partition');
        if (actions.some((a) => /^(kms|sqs|lambda):/.test(a))) expect(resourcesOf(s)).not.toContain('*');
        if (actions.includes('sqs:SendMessage')) {
          expect(actions).toEqual(['sqs:SendMessage']);
          for (const id of ids) expect(othersQueues).toContain(id);
          sends += ids.length;
        } else if (actions.some((a) => /^(kms|sqs|lambda):/.test(a))) {
          for (const id of ids) expect(own.has(id)).toBe(true);
        }
        if (actions.some((a) => a.startsWith('kms:'))) {
          expect(actions.sort()).toEqual(['kms:Decrypt', 'kms:DescribeKey', 'kms:Encrypt', 'kms:GenerateDataKey']);
        }
      }
      expect(sends).toBe(othersQueues.length);
      expect(resources[roleId].Properties.ManagedPolicyArns).toEqual([
        { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':iam::aws:policy/AmazonSSMManagedInstanceCore']] },
      ]);
    }
  });

  test('a peer key lets other hosts use it only through SQS, for this peer’s inboxes', () => {
    const peer = stack.peers[0];
    const keyPolicy = resources[logicalIdOf(resolve(peer.key.keyArn))].Properties.KeyPolicy as {
      Statement: Statement[];
    };
    const grants = keyPolicy.Statement.filter((s) => s.Sid?.includes('SendsToInboxesOf'));
    expect(grants).toHaveLength(3);
    for (const s of grants) {
      expect(actionsOf(s).sort()).toEqual(['kms:Decrypt', 'kms:GenerateDataKey']);
      expect(Object.keys(s.Condition ?? {}).sort()).toEqual(['ArnEquals', 'StringEquals']);
      expect(JSON.stringify(s.Condition)).toContain('spirt-demo-p1-sync');
    }
  });

  test('hosts: no key pair, IMDSv2, no public IP, volume encrypted with the peer key', () => {
    for (const peer of stack.peers) {
      const id = logicalIdOf(resolve(peer.host.instance.instanceId));
      const props = resources[id].Properties;
      expect(props.KeyName).toBeUndefined();
      expect(JSON.stringify(props.NetworkInterfaces ?? {})).not.toContain('AssociatePublicIpAddress');
      const volume = (props.BlockDeviceMappings as { Ebs: Json }[])[0].Ebs;
      expect(volume.Encrypted).toBe(true);
      expect(referencedIds(volume.KmsKeyId)).toEqual([logicalIdOf(resolve(peer.key.keyArn))]);
    }
    const templates = Object.values(resources).filter((r) => r.Type === 'AWS::EC2::LaunchTemplate');
    for (const t of templates) expect(JSON.stringify(t.Properties)).toContain('"HttpTokens":"required"');
  });
});

describe('network exposure', () => {
  test('no ingress from 0.0.0.0/0 or ::/0, and none from any CIDR at all to Redis', () => {
    const ingress: Json[] = [];
    for (const r of Object.values(resources)) {
      if (r.Type === 'AWS::EC2::SecurityGroupIngress') ingress.push(r.Properties);
      if (r.Type === 'AWS::EC2::SecurityGroup') ingress.push(...((r.Properties.SecurityGroupIngress as Json[]) ?? []));
    }
    expect(ingress.length).toBeGreaterThan(0);
    for (const rule of ingress) {
      expect(rule.CidrIp).not.toBe('0.0.0.0/0');
      expect(rule.CidrIpv6).not.toBe('::/0');
      const coversRedis =
        rule.IpProtocol === '-1' || ((rule.FromPort as number) <= 6379 && (rule.ToPort as number) >= 6379);
      if (coversRedis) {
        expect(rule.CidrIp).toBeUndefined();
        expect(rule.CidrIpv6).toBeUndefined();
        expect(rule.SourcePrefixListId).toBeUndefined();
        expect(rule.SourceSecurityGroupId).toBeDefined();
      }
    }
  });

  test('Redis on a host: from the network peer group and this peer’s functions only', () => {
    const peersSg = logicalIdOf(resolve(stack.network.peersSecurityGroup.securityGroupId));
    for (const peer of stack.peers) {
      const hostSg = logicalIdOf(resolve(peer.host.securityGroup.securityGroupId));
      const fnSg = logicalIdOf(resolve(peer.functions.securityGroup.securityGroupId));
      const sources = Object.values(resources)
        .filter((r) => r.Type === 'AWS::EC2::SecurityGroupIngress')
        .filter((r) => logicalIdOf(r.Properties.GroupId) === hostSg)
        .map((r) => [logicalIdOf(r.Properties.SourceSecurityGroupId), r.Properties.FromPort, r.Properties.ToPort]);
      expect(sources.sort()).toEqual(
        [
          [fnSg, 6379, 6379],
          [peersSg, 6379, 6379],
        ].sort(),
      );
    }
  });
});

describe('queues', () => {
  test('every queue is encrypted with its peer key; inboxes have a dead-letter queue', () => {
    const queues = Object.values(resources).filter((r) => r.Type === 'AWS::SQS::Queue');
    expect(queues).toHaveLength(4 * QUEUE_NAMES.length * 2);
    for (const q of queues) {
      const name = q.Properties.QueueName as string;
      const peer = stack.peers.find((x) => name.startsWith(`spirt-demo-${x.id}-`));
      expect(peer).toBeDefined();
      expect(referencedIds(q.Properties.KmsMasterKeyId)).toEqual([logicalIdOf(resolve(peer!.key.keyArn))]);
      if (!name.endsWith('-dlq')) expect(q.Properties.RedrivePolicy).toBeDefined();
      expect(q.Properties.FifoQueue).toBeUndefined();
    }
    // Every queue refuses requests without TLS.
    const policies = Object.values(resources).filter((r) => r.Type === 'AWS::SQS::QueuePolicy');
    expect(policies).toHaveLength(queues.length);
    for (const q of policies)
      expect(JSON.stringify(q.Properties.PolicyDocument)).toContain('"aws:SecureTransport":"false"');
  });
});

describe('administrator key storage', () => {
  test('only the administrator principal may use the key; the bucket refuses everyone else', () => {
    const keyId = logicalIdOf(resolve(stack.admin.key.keyArn));
    const policy = resources[keyId].Properties.KeyPolicy as { Statement: Statement[] };
    for (const s of policy.Statement) {
      const crypto = actionsOf(s).filter((a) => /^kms:(Decrypt|Encrypt|GenerateDataKey|ReEncrypt|\*)/.test(a));
      if (crypto.length) expect(s.Principal).toEqual({ AWS: 'arn:aws:iam::123456789012:role/spirt-admin' });
    }
    const bucketId = logicalIdOf(resolve(stack.admin.bucket.bucketArn));
    const bucket = resources[bucketId].Properties;
    expect(JSON.stringify(bucket.BucketEncryption)).toContain('aws:kms');
    expect(bucket.PublicAccessBlockConfiguration).toEqual({
      BlockPublicAcls: true,
      BlockPublicPolicy: true,
      IgnorePublicAcls: true,
      RestrictPublicBuckets: true,
    });
    const bucketPolicy = Object.values(resources).find(
      (r) => r.Type === 'AWS::S3::BucketPolicy' && logicalIdOf(r.Properties.Bucket) === bucketId,
    )!;
    const statements = (bucketPolicy.Properties.PolicyDocument as { Statement: Statement[] }).Statement;
    expect(
      statements.some((s) => s.Effect === 'Deny' && JSON.stringify(s.Condition).includes('aws:SecureTransport')),
    ).toBe(true);
    const deny = statements.find((s) => s.Sid === 'OnlyTheAdministratorTouchesObjects')!;
    expect(deny.Effect).toBe('Deny');
    expect(deny.Condition).toEqual({
      ArnNotEquals: { 'aws:PrincipalArn': 'arn:aws:iam::123456789012:role/spirt-admin' },
    });
  });

  test('no peer role refers to the administrator key or its bucket', () => {
    const adminIds = [logicalIdOf(resolve(stack.admin.key.keyArn)), logicalIdOf(resolve(stack.admin.bucket.bucketArn))];
    for (const peer of stack.peers) {
      const roles = [peer.host.role, ...FUNCTION_NAMES.map((n) => peer.functions.roles[n])];
      for (const role of roles) {
        const roleId = logicalIdOf(resolve(role.roleArn));
        const ids = referencedIds([inlineStatements(roleId), policiesAttachedTo(roleId)]);
        for (const id of adminIds) expect(ids).not.toContain(id);
      }
    }
  });
});

describe('network file output', () => {
  test('lists every peer with its endpoints and names, and nothing secret', () => {
    const outputs = template.toJSON().Outputs as Record<string, { Value: unknown }>;
    expect(outputs.NetworkFile).toBeDefined();
    const value = outputs.NetworkFile.Value as { 'Fn::Join': [string, unknown[]] };
    const text = value['Fn::Join'][1].map((part) => (typeof part === 'string' ? part : '<token>')).join('');
    const parsed = JSON.parse(text) as {
      kind: string;
      temporal: Json;
      peers: { id: string; redis: Json; queues: Json; functions: Json; taskQueue: string }[];
    };
    expect(parsed.kind).toBe('spirt-deployment');
    expect(parsed.temporal).toEqual({ address: 'demo.a1b2c.tmprl.cloud:7233', namespace: 'demo.a1b2c', tls: true });
    expect(parsed.peers.map((x) => x.id)).toEqual(['p1', 'p2', 'p3', 'p4']);
    for (const peer of parsed.peers) {
      expect(peer.redis).toEqual({ host: '<token>', port: 6379, tls: true });
      expect(Object.keys(peer.queues)).toEqual([...QUEUE_NAMES]);
      expect(Object.keys(peer.functions)).toEqual([...FUNCTION_NAMES]);
      expect(peer.taskQueue).toBe(`spirt-demo-${peer.id}`);
    }
    const all = JSON.stringify(outputs);
    expect(all).not.toMatch(/password|secret|PRIVATE KEY|apiKey|api-key|credential"/i);
    // Tokens only refer to resources (ids, ARNs, URLs, addresses), never to a Secrets Manager secret.
    expect(all).not.toContain('secretsmanager');
  });
});

describe('other shapes', () => {
  test('an imported VPC with endpoints, a release URL and an SSM API key: no lookups, scoped reads', () => {
    const config = testConfig(p, {
      vpc: {
        vpcId: 'vpc-0123456789abcdef0',
        availabilityZones: ['eu-west-1a', 'eu-west-1b'],
        privateSubnetIds: ['subnet-0123456789abcdef0', 'subnet-0123456789abcdef1'],
        endpoints: true,
      },
      release: { url: 'https://example.org/spirt-0.1.0.tgz', sha256: 'a'.repeat(64) },
      temporal: {
        address: 'temporal.internal:7233',
        namespace: 'default',
        apiKey: { parameterName: '/spirt/temporal' },
      },
      peers: [{ id: 'a' }, { id: 'b' }],
    });
    const { stack: other, template: t } = synthNetwork(config);
    t.resourceCountIs('AWS::EC2::VPC', 0);
    t.resourceCountIs('AWS::EC2::VPCEndpoint', 8);
    const json = JSON.stringify(t.toJSON());
    expect(json).toContain('sha256sum -c');
    const roleId = logicalIdOf(other.resolve(other.peers[0].host.role.roleArn));
    const ssm = Object.values(t.toJSON().Resources as typeof resources)
      .filter(
        (r) =>
          r.Type === 'AWS::IAM::Policy' && (r.Properties.Roles as unknown[]).some((x) => logicalIdOf(x) === roleId),
      )
      .flatMap((r) => (r.Properties.PolicyDocument as { Statement: Statement[] }).Statement)
      .filter((s) => actionsOf(s).some((a) => a.startsWith('ssm:')));
    expect(ssm).toHaveLength(1);
    expect(actionsOf(ssm[0])).toEqual(['ssm:GetParameter']);
    expect(JSON.stringify(ssm[0].Resource)).toContain(':parameter/spirt/temporal');
    // Endpoints accept HTTPS from the peers' groups, never from a CIDR.
    for (const r of Object.values(t.toJSON().Resources as typeof resources)) {
      if (r.Type === 'AWS::EC2::SecurityGroup') expect(r.Properties.SecurityGroupIngress).toBeUndefined();
    }
  });

  test('the largest network the config allows (10 peers) stays under 500 resources', () => {
    const peers = Array.from({ length: 10 }, (_, i) => ({ id: `p${i + 1}` }));
    const { template: t } = synthNetwork(testConfig(p, { peers, vpc: { endpoints: true } }));
    const count = Object.keys(t.toJSON().Resources).length;
    expect(count).toBeLessThan(500);
  });
});
