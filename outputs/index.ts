/**
 * Loads every output type into the registry (each module registers its type and its
 * `replay --output` URL schemes). Imported once by the CLI before configs are validated.
 * These registration modules hold only specs and URL converters: each driver module and its
 * client library is imported on demand by `createDriver` (see output-registry.ts), so a run
 * that writes a file does not load kafkajs or the Elasticsearch client.
 */
import './elasticsearch/index.js';
import './opensearch/index.js';
import './kafka/index.js';
import './splunk-hec/index.js';
import './graylog-gelf/index.js';
import './syslog/index.js';
