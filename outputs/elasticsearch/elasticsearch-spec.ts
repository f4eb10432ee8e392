/**
 * Config keys of the `elasticsearch` output (besides the shared delivery keys). Kept apart from
 * elasticsearch-output.ts so that registering the type and validating configs does not load
 * the Elasticsearch client.
 */
import type { FieldSpec } from '../../src/config/config-spec.js';
import { searchFields } from '../search-bulk/search-config.js';

export const elasticsearchFields: Readonly<Record<string, FieldSpec>> = searchFields({
  product: 'Elasticsearch',
  apiKey: true,
  defaultPort: 9200,
});
