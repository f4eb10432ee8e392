import { describe, expect, it } from 'vitest';
import { createElasticsearchOutput } from '../../../outputs/elasticsearch/elasticsearch-output.js';
import { createOpenSearchOutput } from '../../../outputs/opensearch/opensearch-output.js';
import { peerForSuite } from '../../support/peers.js';
import { ac, defineSearchOutputSuite, expectOutputError } from '../elasticsearch/search-suite.js';

defineSearchOutputSuite({
  product: 'OpenSearch',
  peer: 'opensearch',
  urlVar: 'OPENSEARCH_URL',
  create: createOpenSearchOutput,
  messageTypes: ['match_only_text', 'text'],
});

describe('elasticsearch output pointed at OpenSearch', () => {
  const peer = peerForSuite('opensearch');
  it('fails fatally at start with a message naming the output and the fix', async () => {
    const driver = createElasticsearchOutput({ urls: [peer.env.OPENSEARCH_URL] }, 'wrong-product');
    try {
      const err = await expectOutputError(driver.start(ac()));
      expect(err).toMatchObject({ fatal: true, retriable: false });
      expect(err.message).toMatch(/^wrong-product: the server at http:\/\/127\.0\.0\.1:\d+ is not Elasticsearch .*use an output of type opensearch/);
    } finally {
      await driver.close();
    }
  });
});
