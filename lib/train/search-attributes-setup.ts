// Registers spirt's search attributes on a namespace of any Temporal cluster, through the operator service
// (the dev server gets them from its command line instead). Idempotent.
import type { Connection } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { ConfigError } from '../errors/config-error';
import { allSearchAttributes } from '../protocol/search-attributes';

const IndexedValueType = temporal.api.enums.v1.IndexedValueType;
const TYPE_OF: Record<string, temporal.api.enums.v1.IndexedValueType> = {
  KEYWORD: IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD,
  INT: IndexedValueType.INDEXED_VALUE_TYPE_INT,
  DOUBLE: IndexedValueType.INDEXED_VALUE_TYPE_DOUBLE,
};

export interface SearchAttributesSetup {
  added: string[];
  present: string[];
}

/**
 * Adds the spirt search attributes missing from `namespace`.
 * @throws ConfigError when one exists with another type (the namespace is someone else's, or an old spirt)
 * @throws Error from the operator service (Temporal Cloud refuses it: add them in the Cloud UI or with tcld)
 */
export async function setupSearchAttributes(connection: Connection, namespace: string): Promise<SearchAttributesSetup> {
  const listed = await connection.operatorService.listSearchAttributes({ namespace });
  const custom = listed.customAttributes ?? {};
  const missing: Record<string, temporal.api.enums.v1.IndexedValueType> = {};
  const present: string[] = [];
  for (const key of allSearchAttributes) {
    const want = TYPE_OF[key.type];
    const have = custom[key.name];
    if (have === undefined || have === null) missing[key.name] = want;
    else if (have !== want)
      throw new ConfigError(
        `search attribute ${key.name} exists in namespace ${namespace} as ${IndexedValueType[have]}, spirt needs ${IndexedValueType[want]}`,
      );
    else present.push(key.name);
  }
  const added = Object.keys(missing);
  if (added.length > 0) await connection.operatorService.addSearchAttributes({ namespace, searchAttributes: missing });
  return { added, present };
}
