import { createElasticsearchOutput } from '../../../outputs/elasticsearch/elasticsearch-output.js';
import { defineSearchOutputSuite } from './search-suite.js';

defineSearchOutputSuite({
  product: 'Elasticsearch',
  peer: 'elasticsearch',
  urlVar: 'ELASTICSEARCH_URL',
  create: createElasticsearchOutput,
  // the jar-assembled node has no mapper-extras module: match_only_text is installed as text
  messageTypes: ['match_only_text', 'text'],
});
