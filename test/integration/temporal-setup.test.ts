// `spirt temporal setup` against a real Temporal dev server started without the spirt search attributes
// (as any other cluster), on another loopback address than the default one.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Connection } from '@temporalio/client';
import { msToTs } from '@temporalio/common/lib/time';
import { temporal } from '@temporalio/proto';
import { allSearchAttributes } from '../../lib/protocol/search-attributes';
import { freePort } from '../../lib/stack/ports';
import { startTemporalDevServer, type TemporalDevServer } from '../../lib/stack/temporal-process';
import { setupSearchAttributes } from '../../lib/train/search-attributes-setup';
import { toolchain } from '../helpers/servers';

const HOST = '127.0.0.2';
let server: TemporalDevServer;
let connection: Connection;
let dir: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'spirt-temporal-setup-'));
  const port = await freePort(HOST);
  server = await startTemporalDevServer({
    executable: toolchain().temporal,
    host: HOST,
    port,
    uiPort: await freePort(HOST),
    dbFile: join(dir, 'temporal.db'),
    searchAttributes: false,
  });
  connection = await Connection.connect({ address: server.address });
}, 90_000);

afterAll(async () => {
  await connection?.close();
  await server?.stop();
  rmSync(dir, { recursive: true, force: true });
});

const custom = async (namespace: string) =>
  (await connection.operatorService.listSearchAttributes({ namespace })).customAttributes ?? {};

describe('spirt temporal setup', () => {
  it('adds the missing attributes on a namespace of a cluster that has none, then is a no-op', async () => {
    expect(server.address.startsWith(`${HOST}:`)).toBe(true);
    const before = await custom('default');
    for (const key of allSearchAttributes) expect(before[key.name]).toBeUndefined();
    const first = await setupSearchAttributes(connection, 'default');
    expect(first.added.sort()).toEqual(allSearchAttributes.map((k) => k.name).sort());
    const after = await custom('default');
    const T = temporal.api.enums.v1.IndexedValueType;
    expect(after.SpirtRun).toBe(T.INDEXED_VALUE_TYPE_KEYWORD);
    expect(after.SpirtEpoch).toBe(T.INDEXED_VALUE_TYPE_INT);
    expect(after.SpirtAccuracy).toBe(T.INDEXED_VALUE_TYPE_DOUBLE);
    const again = await setupSearchAttributes(connection, 'default');
    expect(again).toEqual({ added: [], present: expect.arrayContaining(first.added) });
  });

  it('refuses an attribute that exists with another type, naming both types', async () => {
    await connection.workflowService.registerNamespace({
      namespace: 'other',
      workflowExecutionRetentionPeriod: msToTs('1 day'),
    });
    const T = temporal.api.enums.v1.IndexedValueType;
    await connection.operatorService.addSearchAttributes({
      namespace: 'other',
      searchAttributes: { SpirtEpoch: T.INDEXED_VALUE_TYPE_KEYWORD },
    });
    await expect(setupSearchAttributes(connection, 'other')).rejects.toThrow(
      /SpirtEpoch exists in namespace other as INDEXED_VALUE_TYPE_KEYWORD, spirt needs INDEXED_VALUE_TYPE_INT/,
    );
  });
});
