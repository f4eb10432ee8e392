/**
 * Registers the `elasticsearch` output type and its `--output` URL schemes
 * (`elasticsearch+http://HOST:PORT[/INDEX]`, `elasticsearch+https://...`; query keys
 * install_templates=true, pipeline=NAME). Imported once by the CLI; the driver module and its
 * client library are imported when an output of this type is created.
 */
import { registerOutputScheme } from '../../src/app/output-flags.js';
import { registerOutputType } from '../output-registry.js';
import { SEARCH_BATCH_DEFAULTS } from '../search-bulk/search-config.js';
import { searchUrlToConfig } from '../search-bulk/search-url.js';
import { elasticsearchFields } from './elasticsearch-spec.js';

registerOutputType('elasticsearch', {
  desc: 'Elasticsearch 8.x/9.x: bulk create into data streams (logs-lkrg.alert-default, logs-lkrg.log-default), id = event.id, per-event results.',
  kind: 'queued',
  // The server indexes requests on one write thread per core: a third request waiting at the
  // server keeps them busy while our answer to a finished one is on its way, and larger
  // requests halve the per-request work (bulk coordination, translog sync, answer).
  batchDefaults: SEARCH_BATCH_DEFAULTS,
  fields: { ...elasticsearchFields },
  // the client library is loaded only when an output of this type is created
  createDriver: async (cfg, name, log) => (await import('./elasticsearch-output.js')).createElasticsearchOutput(cfg, name, log),
});
for (const scheme of ['elasticsearch+http', 'elasticsearch+https']) {
  registerOutputScheme(scheme, (url) => searchUrlToConfig('elasticsearch', url));
}
