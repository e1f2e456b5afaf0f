// `spirt temporal setup`: the spirt search attributes on a namespace of any Temporal cluster.
import type { Command } from 'commander';
import { addTemporalOptions, say, type TemporalOptions } from './common';

export function registerTemporal(program: Command): void {
  const group = program.command('temporal').description('set up a Temporal cluster for spirt');
  addTemporalOptions(
    group
      .command('setup')
      .description(
        'register the spirt search attributes (SpirtRun, SpirtPeer, ...) on a namespace through the operator ' +
          'service; idempotent. TLS / API key from SPIRT_TEMPORAL_TLS* / SPIRT_TEMPORAL_API_KEY_FILE',
      ),
  ).action((options: TemporalOptions) => setup(options));
}

async function setup(options: TemporalOptions): Promise<void> {
  const { withTemporal } = await import('./temporal-session');
  const { setupSearchAttributes } = await import('../../lib/train/search-attributes-setup');
  await withTemporal(options, async (session) => {
    const { namespace, address } = session.target;
    const out = await setupSearchAttributes(session.connection, namespace).catch((err: Error) => {
      throw new Error(
        `cannot register search attributes on ${namespace} at ${address}: ${err.message}` +
          ' (on Temporal Cloud add them in the namespace settings or with tcld; see README)',
      );
    });
    say(
      `namespace ${namespace} at ${address}: ` +
        (out.added.length ? `added ${out.added.join(', ')}` : 'nothing to add') +
        (out.present.length ? `; already there: ${out.present.join(', ')}` : ''),
    );
  });
}
