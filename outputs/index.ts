/**
 * Loads every output type into the registry (each module registers its type and its
 * `replay --output` URL schemes). Imported once by the CLI before configs are validated.
 */
import './elasticsearch/index.js';
import './opensearch/index.js';
import './kafka/index.js';
import './splunk-hec/index.js';
import './graylog-gelf/index.js';
import './syslog/index.js';
