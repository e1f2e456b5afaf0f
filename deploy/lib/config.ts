import { existsSync, readFileSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { z } from 'zod';
import { packageRoot } from '../../lib/stack/paths';
import { DeployConfigError } from './deploy-config-error';

// The deployment config: one JSON file per network (deploy/network.example.json). Everything has a default
// except the network name, the peers, the administrator principal and the Temporal endpoint.

/**
 * Ids become part of resource names (`spirt-<network>-<peer>-compute-gradient`, at most 64 characters for
 * Lambda), so both are short lowercase DNS-like labels.
 */
const ID = /^[a-z][a-z0-9-]*$/;
const networkId = z
  .string({ error: 'network: a name is required (e.g. "demo")' })
  .max(20, 'at most 20 characters')
  .regex(ID, 'lowercase letters, digits and "-", starting with a letter');
const peerId = z
  .string({ error: 'a peer id is required' })
  .max(16, 'at most 16 characters')
  .regex(ID, 'lowercase letters, digits and "-", starting with a letter (e.g. "p1")');

const arn = (what: string) => z.string().regex(/^arn:aws[a-z-]*:/, `${what} must be an ARN (arn:aws:...)`);

const functionSizing = z
  .object({
    /** @default 3008 (compute-gradient, evaluate), 2048 (zeno-scores) */
    memoryMb: z.number().int().min(128).max(10240).optional(),
    /** @default 300 (compute-gradient, evaluate), 120 (zeno-scores) */
    timeoutSeconds: z.number().int().min(1).max(900).optional(),
  })
  .strict();

const hostSchema = z
  .object({
    /** @default 't3.large' */
    instanceType: z
      .string()
      .regex(/^[a-z0-9-]+\.[a-z0-9]+$/, 'an EC2 instance type such as "t3.large"')
      .optional(),
    /** Root volume size; the volume holds Redis' append-only file. @default 30 */
    volumeGb: z.number().int().min(8).max(16384).optional(),
    /**
     * AMI per region (`{ "eu-west-1": "ami-..." }`). Without it, the latest Amazon Linux 2023 through the
     * public SSM parameter, resolved by CloudFormation at deploy time (no lookup at synth time).
     */
    ami: z.record(z.string(), z.string().regex(/^ami-[0-9a-f]+$/, 'an AMI id (ami-...)')).optional(),
    /** Put the host in a public subnet with a public IP (still no inbound rule from any address). @default false */
    publicIp: z.boolean().optional(),
    /** Amazon Linux package that provides Redis. @default 'redis6' */
    redisPackage: z.string().optional(),
    /** The redis-server binary that package installs (SPIRT_REDIS_SERVER of the unit). @default '/usr/bin/redis6-server' */
    redisServer: z.string().optional(),
  })
  .strict();

const configSchema = z
  .object({
    network: networkId,
    /** Account and region of the stack; both or neither (env-agnostic stack, resolved at deploy time). */
    account: z
      .string()
      .regex(/^\d{12}$/, 'a 12-digit AWS account id')
      .optional(),
    region: z
      .string()
      .regex(/^[a-z]{2}(-[a-z]+)+-\d$/, 'an AWS region such as "eu-west-1"')
      .optional(),
    admin: z
      .object(
        {
          /** The IAM role or user of the administrator: the only principal that may use the administrator key. */
          principalArn: arn('admin.principalArn'),
        },
        { error: 'admin: required, with the principalArn of the administrator role or user' },
      )
      .strict(),
    temporal: z
      .object(
        {
          address: z
            .string({ error: 'temporal.address is required (host:port of the Temporal frontend)' })
            .regex(/^[A-Za-z0-9.-]+:\d{1,5}$/, 'temporal.address must be host:port'),
          namespace: z.string({ error: 'temporal.namespace is required' }).min(1, 'temporal.namespace is empty'),
          /** @default true */
          tls: z.boolean().optional(),
          serverName: z.string().optional(),
          /** Secrets Manager secret (its SecretString is the key) or SSM SecureString parameter: a Temporal API key. */
          apiKey: z
            .union([
              z.object({ secretArn: arn('temporal.apiKey.secretArn') }).strict(),
              z.object({ parameterName: z.string().regex(/^\/[\w./-]+$/, 'an SSM parameter name (/a/b)') }).strict(),
            ])
            .optional(),
          /** Secrets Manager secret whose SecretString is JSON `{ "cert": PEM, "key": PEM }`: a client certificate. */
          mtls: z
            .object({ secretArn: arn('temporal.mtls.secretArn') })
            .strict()
            .optional(),
        },
        { error: 'temporal: required, with address and namespace' },
      )
      .strict(),
    vpc: z
      .union([
        z
          .object({
            /** @default '10.42.0.0/16' */
            cidr: z.string().optional(),
            /** @default 2 */
            maxAzs: z.number().int().min(1).max(6).optional(),
            /** NAT gateways (workers need outbound 443/7233 to Temporal). @default 1 */
            natGateways: z.number().int().min(0).max(6).optional(),
            /** Interface endpoints for SQS, KMS, Lambda, logs, SSM (and the S3 gateway endpoint). @default false */
            endpoints: z.boolean().optional(),
          })
          .strict(),
        z
          .object({
            /** An existing VPC, imported without lookups. */
            vpcId: z.string().regex(/^vpc-[0-9a-f]+$/, 'a VPC id (vpc-...)'),
            availabilityZones: z.array(z.string()).min(1),
            privateSubnetIds: z.array(z.string().regex(/^subnet-[0-9a-f]+$/, 'a subnet id (subnet-...)')).min(1),
            publicSubnetIds: z.array(z.string().regex(/^subnet-[0-9a-f]+$/, 'a subnet id (subnet-...)')).optional(),
            /** @default false */
            endpoints: z.boolean().optional(),
          })
          .strict(),
      ])
      .optional(),
    redis: z
      .object({
        /** @default 6379 */
        port: z.number().int().min(1024).max(65535).optional(),
        /** @default true */
        tls: z.boolean().optional(),
      })
      .strict()
      .optional(),
    functions: z
      .object({
        /**
         * The packaged functions (one `<name>.js` per function at its root, exporting `handler`); relative to
         * the config file. @default '<repo>/.build/lambda'
         */
        codeDir: z.string().optional(),
        /** Lambda runtime. @default 'nodejs20.x' */
        runtime: z.enum(['nodejs20.x', 'nodejs22.x', 'nodejs24.x']).optional(),
        'compute-gradient': functionSizing.optional(),
        evaluate: functionSizing.optional(),
        'zeno-scores': functionSizing.optional(),
      })
      .strict()
      .optional(),
    /** The spirt release the hosts run: a local tarball (uploaded as an asset) or a URL with its SHA-256. */
    release: z
      .union([
        z.object({ asset: z.string() }).strict(),
        z
          .object({
            url: z.string().regex(/^https:\/\//, 'release.url must be https://'),
            sha256: z.string().regex(/^[0-9a-f]{64}$/, 'release.sha256: 64 hex digits'),
          })
          .strict(),
      ])
      .optional(),
    host: hostSchema.optional(),
    peers: z
      .array(z.object({ id: peerId, host: hostSchema.optional() }).strict(), {
        error: 'peers: a list of peers ({ "id": "p1" }, ...) is required',
      })
      .min(2, 'a network needs at least 2 peers')
      // About 45 resources per peer; CloudFormation allows 500 per stack.
      .max(10, 'at most 10 peers in one stack (CloudFormation allows 500 resources per stack)'),
  })
  .strict()
  .superRefine((c, ctx) => {
    const seen = new Set<string>();
    c.peers.forEach((p, i) => {
      if (seen.has(p.id))
        ctx.addIssue({ code: 'custom', path: ['peers', i, 'id'], message: `duplicate peer id "${p.id}"` });
      seen.add(p.id);
    });
    if ((c.account === undefined) !== (c.region === undefined)) {
      ctx.addIssue({ code: 'custom', path: ['account'], message: 'give both account and region, or neither' });
    }
    if (c.temporal.apiKey && c.temporal.mtls) {
      ctx.addIssue({ code: 'custom', path: ['temporal'], message: 'give temporal.apiKey or temporal.mtls, not both' });
    }
  });

/** The config file as written. */
export type DeployConfigInput = z.input<typeof configSchema>;

export interface FunctionSizing {
  memoryMb: number;
  timeoutSeconds: number;
}

export interface HostSettings {
  instanceType: string;
  volumeGb: number;
  ami?: Record<string, string>;
  publicIp: boolean;
  redisPackage: string;
  redisServer: string;
}

/** The config with every default filled in and paths made absolute. */
export interface DeployConfig {
  network: string;
  env?: { account: string; region: string };
  admin: { principalArn: string };
  temporal: {
    address: string;
    namespace: string;
    port: number;
    tls: boolean;
    serverName?: string;
    apiKey?: { secretArn: string } | { parameterName: string };
    mtls?: { secretArn: string };
  };
  vpc:
    | { kind: 'new'; cidr: string; maxAzs: number; natGateways: number; endpoints: boolean }
    | {
        kind: 'existing';
        vpcId: string;
        availabilityZones: string[];
        privateSubnetIds: string[];
        publicSubnetIds?: string[];
        endpoints: boolean;
      };
  redis: { port: number; tls: boolean };
  functions: {
    codeDir: string;
    runtime: 'nodejs20.x' | 'nodejs22.x' | 'nodejs24.x';
    sizing: Record<'compute-gradient' | 'evaluate' | 'zeno-scores', FunctionSizing>;
  };
  release: { kind: 'asset'; path: string } | { kind: 'url'; url: string; sha256: string };
  peers: { id: string; rank: number; host: HostSettings }[];
}

/** Default locations the packaging step (docs/deploy.md) writes to. */
export function defaultBuildDir(): string {
  return join(packageRoot(), '.build');
}

function formatIssues(error: z.ZodError): string {
  return error.issues
    .map((issue) => {
      const where = issue.path.length ? issue.path.map(String).join('.') : '(config)';
      return `  ${where}: ${issue.message}`;
    })
    .join('\n');
}

/**
 * Validates a parsed config and fills in the defaults; relative paths are resolved against `baseDir`
 * (the config file's folder).
 * @throws DeployConfigError listing every problem, one per line, with its path in the file
 */
export function parseDeployConfig(raw: unknown, baseDir: string): DeployConfig {
  const parsed = configSchema.safeParse(raw);
  if (!parsed.success) throw new DeployConfigError(`invalid deployment config:\n${formatIssues(parsed.error)}`);
  const c = parsed.data;
  const abs = (p: string) => (isAbsolute(p) ? p : resolve(baseDir, p));
  const hostDefaults = c.host ?? {};
  const temporalPort = Number(c.temporal.address.split(':').pop());
  const vpc: DeployConfig['vpc'] =
    c.vpc && 'vpcId' in c.vpc
      ? { kind: 'existing', ...c.vpc, endpoints: c.vpc.endpoints ?? false }
      : {
          kind: 'new',
          cidr: c.vpc?.cidr ?? '10.42.0.0/16',
          maxAzs: c.vpc?.maxAzs ?? 2,
          natGateways: c.vpc?.natGateways ?? 1,
          endpoints: c.vpc?.endpoints ?? false,
        };
  const sizing = (name: 'compute-gradient' | 'evaluate' | 'zeno-scores', memoryMb: number, timeoutSeconds: number) => ({
    memoryMb: c.functions?.[name]?.memoryMb ?? memoryMb,
    timeoutSeconds: c.functions?.[name]?.timeoutSeconds ?? timeoutSeconds,
  });
  return {
    network: c.network,
    env: c.account && c.region ? { account: c.account, region: c.region } : undefined,
    admin: c.admin,
    temporal: {
      address: c.temporal.address,
      namespace: c.temporal.namespace,
      port: temporalPort,
      tls: c.temporal.tls ?? true,
      serverName: c.temporal.serverName,
      apiKey: c.temporal.apiKey,
      mtls: c.temporal.mtls,
    },
    vpc,
    redis: { port: c.redis?.port ?? 6379, tls: c.redis?.tls ?? true },
    functions: {
      codeDir: c.functions?.codeDir ? abs(c.functions.codeDir) : join(defaultBuildDir(), 'lambda'),
      runtime: c.functions?.runtime ?? 'nodejs20.x',
      sizing: {
        'compute-gradient': sizing('compute-gradient', 3008, 300),
        evaluate: sizing('evaluate', 3008, 300),
        'zeno-scores': sizing('zeno-scores', 2048, 120),
      },
    },
    release:
      c.release && 'url' in c.release
        ? { kind: 'url', url: c.release.url, sha256: c.release.sha256 }
        : {
            kind: 'asset',
            path: c.release?.asset ? abs(c.release.asset) : join(defaultBuildDir(), 'spirt-release.tgz'),
          },
    peers: c.peers.map((p, rank) => {
      const h = { ...hostDefaults, ...p.host };
      return {
        id: p.id,
        rank,
        host: {
          instanceType: h.instanceType ?? 't3.large',
          volumeGb: h.volumeGb ?? 30,
          ami: h.ami,
          publicIp: h.publicIp ?? false,
          redisPackage: h.redisPackage ?? 'redis6',
          redisServer: h.redisServer ?? '/usr/bin/redis6-server',
        },
      };
    }),
  };
}

/** @throws DeployConfigError when the file is missing, not JSON or invalid */
export function loadDeployConfig(path: string): DeployConfig {
  if (!existsSync(path)) throw new DeployConfigError(`no deployment config at ${path}`);
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new DeployConfigError(`${path} is not valid JSON: ${(err as Error).message}`);
  }
  try {
    return parseDeployConfig(raw, dirname(resolve(path)));
  } catch (err) {
    if (err instanceof DeployConfigError) throw new DeployConfigError(`${path}: ${err.message}`);
    throw err;
  }
}

/**
 * The function bundle and the release tarball must exist before synthesis (CDK hashes them into assets).
 * @throws DeployConfigError naming the missing path and the step that makes it
 */
export function checkLocalAssets(config: DeployConfig): void {
  if (!existsSync(config.functions.codeDir)) {
    throw new DeployConfigError(
      `no function bundle at ${config.functions.codeDir}: package the functions first (docs/deploy.md, "Package")`,
    );
  }
  if (config.release.kind === 'asset' && !existsSync(config.release.path)) {
    throw new DeployConfigError(
      `no release tarball at ${config.release.path}: package the release first (docs/deploy.md, "Package"), or give release.url`,
    );
  }
}
