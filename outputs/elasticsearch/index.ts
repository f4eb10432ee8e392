/**
 * Registers the `elasticsearch` output type and its `--output` URL schemes
 * (`elasticsearch+http://HOST:PORT[/INDEX]`, `elasticsearch+https://...`; query keys
 * install_templates=true, pipeline=NAME). Imported once by the CLI.
 */
import { registerOutputScheme } from '../../src/app/output-flags.js';
import { registerOutputType } from '../output-registry.js';
import { searchUrlToConfig } from '../search-bulk/search-url.js';
import { createElasticsearchOutput, elasticsearchFields } from './elasticsearch-output.js';

registerOutputType('elasticsearch', {
  desc: 'Elasticsearch 8.x/9.x: bulk create into data streams (logs-lkrg.alert-default, logs-lkrg.log-default), id = event.id, per-event results.',
  kind: 'queued',
  fields: { ...elasticsearchFields },
  createDriver: (cfg, name, log) => createElasticsearchOutput(cfg, name, log),
});
for (const scheme of ['elasticsearch+http', 'elasticsearch+https']) {
  registerOutputScheme(scheme, (url) => searchUrlToConfig('elasticsearch', url));
}
