/**
 * Config keys of the `opensearch` output (besides the shared delivery keys). Kept apart from
 * opensearch-output.ts so that registering the type and validating configs does not load the
 * OpenSearch client.
 */
import type { FieldSpec } from '../../src/config/config-spec.js';
import { searchFields } from '../search-bulk/search-config.js';

export const opensearchFields: Readonly<Record<string, FieldSpec>> = searchFields({
  product: 'OpenSearch',
  apiKey: false,
  defaultPort: 9200,
});
