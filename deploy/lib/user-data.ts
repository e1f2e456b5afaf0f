// The host's boot script and systemd unit, rendered as plain text (pure; values may be CDK tokens, which
// the stack resolves into Fn::Join). Kept apart from the constructs so that it can be read in one place.

/** What the boot script needs to know about one peer's host. */
export interface HostBootSettings {
  network: string;
  peer: string;
  region: string;
  /** Environment of the systemd unit (no secrets: the Temporal credential is fetched into /run at start). */
  environment: Record<string, string>;
  redisPackage: string;
  release: { kind: 's3'; bucket: string; key: string } | { kind: 'url'; url: string; sha256: string };
  networkBucket: string;
  networkFileKey: string;
  /** Where the host publishes its public keys in the network bucket (`peers/<id>/`). */
  publicPrefix: string;
  temporalApiKey?: { secretArn: string } | { parameterName: string };
  temporalMtlsSecretArn?: string;
}

/** Where the unit's files live on the host. */
export const HOST_PATHS = {
  app: '/opt/spirt/app',
  env: '/etc/spirt/peer.env',
  networkFile: '/etc/spirt/network.json',
  stateDir: '/var/lib/spirt',
  runtimeDir: '/run/spirt',
  prepare: '/opt/spirt/bin/prepare-start.sh',
} as const;

/** Single-quoted for bash (tokens stay inside the quotes). */
function q(value: string): string {
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

/**
 * Runs as root before every start of the unit: makes the peer's keys on first boot (as the spirt user,
 * sealed under the peer's AWS KMS key: no private key is ever on disk in the clear) and publishes its public
 * keys for enrolment; fetches the network file the administrator published (the unit fails, and systemd
 * retries, until it exists) and the Temporal credential into a tmpfs file readable only by the spirt user.
 */
export function renderPrepareScript(s: HostBootSettings): string {
  const run = HOST_PATHS.runtimeDir;
  const identity = `${HOST_PATHS.stateDir}/identity`;
  const lines = [
    '#!/bin/bash',
    'set -euo pipefail',
    'umask 077',
    `install -d -m 0700 -o spirt -g spirt ${run}`,
    // The unit's environment (SPIRT_KMS_KEY_ID, AWS_REGION) reaches this step and runuser keeps it.
    `runuser -u spirt -- /usr/local/bin/node ${HOST_PATHS.app}/bin/spirt.js keys generate --peer ${s.peer} --out ${identity} --kms aws --if-missing`,
    `aws s3 cp --region ${s.region} --only-show-errors ${identity}/pubkeys.json s3://${s.networkBucket}/${s.publicPrefix}pubkeys.json`,
    `if ! aws s3 cp --region ${s.region} --only-show-errors s3://${s.networkBucket}/${s.networkFileKey} ${HOST_PATHS.networkFile}.new; then`,
    `  echo "spirt: no network file at s3://${s.networkBucket}/${s.networkFileKey} yet (publish it after enrolment, see docs/deploy.md)" >&2`,
    '  exit 1',
    'fi',
    `chmod 0644 ${HOST_PATHS.networkFile}.new && mv ${HOST_PATHS.networkFile}.new ${HOST_PATHS.networkFile}`,
  ];
  if (s.temporalApiKey && 'secretArn' in s.temporalApiKey) {
    lines.push(
      `aws secretsmanager get-secret-value --region ${s.region} --secret-id ${q(s.temporalApiKey.secretArn)} --query SecretString --output text > ${run}/temporal-api-key`,
    );
  } else if (s.temporalApiKey) {
    lines.push(
      `aws ssm get-parameter --region ${s.region} --with-decryption --name ${q(s.temporalApiKey.parameterName)} --query Parameter.Value --output text > ${run}/temporal-api-key`,
    );
  }
  if (s.temporalMtlsSecretArn) {
    const get = `aws secretsmanager get-secret-value --region ${s.region} --secret-id ${q(s.temporalMtlsSecretArn)} --query SecretString --output text`;
    lines.push(
      `${get} | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>process.stdout.write(JSON.parse(s).cert))' > ${run}/temporal-client.crt`,
    );
    lines.push(
      `${get} | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>process.stdout.write(JSON.parse(s).key))' > ${run}/temporal-client.key`,
    );
  }
  lines.push(`chown -R spirt:spirt ${run}`);
  return lines.join('\n') + '\n';
}

/** The systemd unit: one process tree per peer (its redis-server and its Temporal worker). */
export function renderUnit(s: HostBootSettings): string {
  return [
    '[Unit]',
    `Description=spirt peer ${s.peer} of network ${s.network} (Redis and Temporal worker)`,
    'After=network-online.target',
    'Wants=network-online.target',
    '',
    '[Service]',
    'User=spirt',
    'Group=spirt',
    `EnvironmentFile=${HOST_PATHS.env}`,
    `ExecStartPre=+${HOST_PATHS.prepare}`,
    `ExecStart=/usr/local/bin/node ${HOST_PATHS.app}/bin/spirt.js peer start --network-file ${HOST_PATHS.networkFile} --peer ${s.peer} --state-dir ${HOST_PATHS.stateDir}`,
    'Restart=always',
    'RestartSec=15',
    'LimitNOFILE=65536',
    'NoNewPrivileges=yes',
    'ProtectSystem=strict',
    'ProtectHome=yes',
    'PrivateTmp=yes',
    `ReadWritePaths=${HOST_PATHS.stateDir} ${HOST_PATHS.runtimeDir}`,
    '',
    '[Install]',
    'WantedBy=multi-user.target',
    '',
  ].join('\n');
}

/** The first-boot script (EC2 user data): packages, the release, the unit. */
export function renderBootScript(s: HostBootSettings): string[] {
  const fetchRelease =
    s.release.kind === 's3'
      ? [
          `aws s3 cp --region ${s.region} --only-show-errors s3://${s.release.bucket}/${s.release.key} /opt/spirt/release.tgz`,
        ]
      : [
          `curl -fsSL --proto '=https' ${q(s.release.url)} -o /opt/spirt/release.tgz`,
          `echo ${q(`${s.release.sha256}  /opt/spirt/release.tgz`)} | sha256sum -c -`,
        ];
  const env = Object.entries(s.environment).map(([k, v]) => `${k}=${v}`);
  return [
    'set -euo pipefail',
    `dnf install -y -q nodejs20 nodejs20-npm ${s.redisPackage} gcc make tar gzip`,
    'ln -sf /usr/bin/node-20 /usr/local/bin/node',
    'ln -sf /usr/bin/npm-20 /usr/local/bin/npm',
    // The unit starts its own redis-server; the package's service stays off.
    `systemctl disable --now ${s.redisPackage} || true`,
    'id spirt >/dev/null 2>&1 || useradd --system --home-dir /var/lib/spirt --shell /sbin/nologin spirt',
    `install -d -m 0755 ${HOST_PATHS.app} /opt/spirt/bin /etc/spirt`,
    `install -d -m 0700 -o spirt -g spirt ${HOST_PATHS.stateDir}`,
    ...fetchRelease,
    `tar -xzf /opt/spirt/release.tgz -C ${HOST_PATHS.app} --strip-components=1`,
    // onnxruntime-node: the CPU binaries are in the package (its optional GPU download is skipped).
    `if [ ! -d ${HOST_PATHS.app}/node_modules ]; then (cd ${HOST_PATHS.app} && npm_config_onnxruntime_node_install=skip npm install --omit=dev --no-audit --no-fund --loglevel=error); fi`,
    `if [ -f ${HOST_PATHS.app}/redisai-module/Makefile ]; then make -s -C ${HOST_PATHS.app}/redisai-module OUT_DIR=/opt/spirt/module || echo "spirt: module build failed, Redis runs the Lua path"; fi`,
    `cat > ${HOST_PATHS.env} <<'SPIRT_ENV'`,
    ...env,
    'SPIRT_ENV',
    `if [ -f /opt/spirt/module/spirt.so ]; then echo SPIRT_MODULE_PATH=/opt/spirt/module/spirt.so; else echo SPIRT_MODULE_PATH=none; fi >> ${HOST_PATHS.env}`,
    `chmod 0644 ${HOST_PATHS.env}`,
    `cat > ${HOST_PATHS.prepare} <<'SPIRT_PREPARE'`,
    renderPrepareScript(s).trimEnd(),
    'SPIRT_PREPARE',
    `chmod 0755 ${HOST_PATHS.prepare}`,
    `cat > /etc/systemd/system/spirt-peer.service <<'SPIRT_UNIT'`,
    renderUnit(s).trimEnd(),
    'SPIRT_UNIT',
    'systemctl daemon-reload',
    'systemctl enable --now spirt-peer.service',
  ];
}
