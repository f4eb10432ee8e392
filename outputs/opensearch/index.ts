/**
 * Registers the `opensearch` output type and its `--output` URL schemes
 * (`opensearch+http://HOST:PORT[/INDEX]`, `opensearch+https://...`; query keys
 * install_templates=true, pipeline=NAME). Imported once by the CLI.
 */
import { registerOutputScheme } from '../../src/app/output-flags.js';
import { registerOutputType } from '../output-registry.js';
import { searchUrlToConfig } from '../search-bulk/search-url.js';
import { createOpenSearchOutput, opensearchFields } from './opensearch-output.js';

registerOutputType('opensearch', {
  desc: 'OpenSearch 2.x/3.x: bulk create into data streams (logs-lkrg.alert-default, logs-lkrg.log-default), id = event.id, per-event results.',
  kind: 'queued',
  fields: { ...opensearchFields },
  createDriver: (cfg, name, log) => createOpenSearchOutput(cfg, name, log),
});
for (const scheme of ['opensearch+http', 'opensearch+https']) {
  registerOutputScheme(scheme, (url) => searchUrlToConfig('opensearch', url));
}
