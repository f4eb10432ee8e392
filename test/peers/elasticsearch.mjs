// Elasticsearch test peer: one Elasticsearch 9.x node assembled from Maven Central jars
// (server + transport-netty4 + test framework for classpath plugins), started by a small
// launcher (test/peers/elasticsearch/src/.../LkrgTestNode.java) on free loopback ports.
// Single node, HTTP only, no security (x-pack is not on the classpath), disk watermarks off,
// heap 512m. What such a node lacks: the _data_stream REST APIs, the built-in logs-*-*
// templates, ingest processors, match_only_text / wildcard / constant_keyword, GET / (the
// rest-root module). Bulk `create` into a data stream through a composable template with
// "data_stream": {} works (core). Prints ELASTICSEARCH_URL=http://127.0.0.1:PORT.
// State in .peers/elasticsearch/ (home/, elasticsearch.log, ports.json); jars in
// ${XDG_CACHE_HOME:-~/.cache}/lkrg-siem/peers/elasticsearch-<version>/libs. See peers.mjs.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { defineSearchPeer } from './elasticsearch/search-peer.mjs';

export const name = 'elasticsearch';

/** Newest 9.x whose server, transport-netty4 and framework jars are all on Central. Override: ELASTICSEARCH_PEER_VERSION. */
export const DEFAULT_VERSION = '9.5.3';

const dir = path.join(path.dirname(fileURLToPath(import.meta.url)), 'elasticsearch');

const peer = defineSearchPeer({
  name,
  envPrefix: 'ELASTICSEARCH',
  product: 'Elasticsearch',
  version: DEFAULT_VERSION,
  versionProperty: 'es.version',
  pom: path.join(dir, 'pom.xml'),
  sources: [path.join(dir, 'src', 'org', 'elasticsearch', 'node', 'LkrgTestNode.java')],
  mainClass: 'org.elasticsearch.node.LkrgTestNode',
  // ES 9 / Lucene 10 need Java 21+; the machine has Temurin 25.
  minJava: 21,
  preferJava: 25,
  jvmFlags: [
    '--enable-native-access=ALL-UNNAMED',
    '-Dio.netty.noUnsafe=true',
    '-Dio.netty.noKeySetOptimization=true',
    '-Dio.netty.recycler.maxCapacityPerThread=0',
    '-Des.set.netty.runtime.available.processors=false',
  ],
  // The @elastic/elasticsearch client refuses any 2xx answer without this header.
  checkReady: (res) =>
    res.headers['x-elastic-product'] === 'Elasticsearch'
      ? undefined
      : `no "X-Elastic-Product: Elasticsearch" header on ${res.status} answer: the client's product check would fail`,
});

export const { up, down, status } = peer;
