// The host's boot-time scripts (pure text): what runs before every start of the peer's unit.
import { HOST_PATHS, renderPrepareScript, renderUnit, type HostBootSettings } from '../../deploy/lib/user-data';

const settings: HostBootSettings = {
  network: 'demo',
  peer: 'p2',
  region: 'eu-west-1',
  environment: { SPIRT_PEER_ID: 'p2', SPIRT_KMS: 'aws' },
  redisPackage: 'redis6',
  release: { kind: 's3', bucket: 'rel', key: 'spirt.tgz' },
  networkBucket: 'net-bucket',
  networkFileKey: 'network.json',
  publicPrefix: 'peers/p2/',
};

describe('prepare script', () => {
  const script = renderPrepareScript(settings).split('\n');
  const at = (pattern: RegExp) => script.findIndex((l) => pattern.test(l));

  it("makes the peer's keys under its AWS KMS key as the spirt user, once, and publishes the public keys", () => {
    const generate = at(/keys generate/);
    expect(script[generate]).toBe(
      `runuser -u spirt -- /usr/local/bin/node ${HOST_PATHS.app}/bin/spirt.js keys generate --peer p2 --out ${HOST_PATHS.stateDir}/identity --kms aws --if-missing`,
    );
    const publish = at(/pubkeys\.json s3:/);
    expect(script[publish]).toContain('s3://net-bucket/peers/p2/pubkeys.json');
    // Keys first, then the network file: the administrator enrols from the published keys before the
    // network file exists.
    expect(generate).toBeLessThan(publish);
    expect(publish).toBeLessThan(at(/s3:\/\/net-bucket\/network\.json/));
  });

  it('the unit runs spirt peer start with the network file the script fetched', () => {
    expect(renderUnit(settings)).toContain(
      `peer start --network-file ${HOST_PATHS.networkFile} --peer p2 --state-dir ${HOST_PATHS.stateDir}`,
    );
  });
});
