/*
 * Test-peer launcher for lkrg-siem: starts one Elasticsearch node from the Maven Central jars
 * (server + transport-netty4 + test framework), single node, loopback only, no security.
 *
 * Since 8.3 a production Node no longer loads plugins from the classpath; the test framework's
 * MockPluginsService still does. MockNode itself pulls in ESTestCase's static initialisation,
 * so this class lives in package org.elasticsearch.node (NodeConstruction and
 * NodeServiceProvider are package-private) and builds the node the same way without it.
 *
 * Usage: LkrgTestNode <home> <httpPort> <transportPort>
 * Prints "LKRG_PEER_READY <httpPort>" once the node has started; closes on SIGTERM.
 */
package org.elasticsearch.node;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Collection;
import java.util.List;
import java.util.Map;

import org.elasticsearch.cluster.service.ClusterService;
import org.elasticsearch.common.logging.LogConfigurator;
import org.elasticsearch.common.settings.Settings;
import org.elasticsearch.env.Environment;
import org.elasticsearch.plugins.MockPluginsService;
import org.elasticsearch.plugins.Plugin;
import org.elasticsearch.plugins.PluginsLoader;
import org.elasticsearch.plugins.PluginsService;
import org.elasticsearch.transport.netty4.Netty4Plugin;

public final class LkrgTestNode extends Node {

    private static final class ClasspathPlugins extends NodeServiceProvider {
        private final Collection<Class<? extends Plugin>> plugins;

        ClasspathPlugins(Collection<Class<? extends Plugin>> plugins) {
            this.plugins = plugins;
        }

        @Override
        PluginsService newPluginService(Environment env, PluginsLoader loader) {
            return new MockPluginsService(env.settings(), env, plugins);
        }
    }

    LkrgTestNode(Environment env, Collection<Class<? extends Plugin>> plugins) {
        super(NodeConstruction.prepareConstruction(env, null, new ClasspathPlugins(plugins), true));
    }

    @Override
    protected void configureNodeAndClusterIdStateListener(ClusterService clusterService) {
        // The node/cluster id listener sets process-wide statics for logging; not needed here.
    }

    public static void main(String[] args) throws Exception {
        Path home = Path.of(args[0]).toAbsolutePath();
        int httpPort = Integer.parseInt(args[1]);
        int transportPort = Integer.parseInt(args[2]);
        for (String dir : List.of("config", "data", "logs")) {
            Files.createDirectories(home.resolve(dir));
        }
        LogConfigurator.configureESLogging();
        Settings settings = Settings.builder()
            .put("path.home", home.toString())
            .put("path.data", home.resolve("data").toString())
            .put("path.logs", home.resolve("logs").toString())
            .put("cluster.name", "lkrg-test")
            .put("node.name", "es-1")
            .put("network.host", "127.0.0.1")
            .put("http.port", httpPort)
            .put("transport.port", transportPort)
            .put("discovery.type", "single-node")
            .put("cluster.routing.allocation.disk.threshold_enabled", false)
            .put("action.auto_create_index", System.getProperty("lkrg.autoCreateIndex", "true"))
            .build();
        LogConfigurator.configureWithoutConfig(settings);
        Environment env = InternalSettingsPreparer.prepareEnvironment(settings, Map.of(), home.resolve("config"), () -> "es-1");
        Node node = new LkrgTestNode(env, List.of(Netty4Plugin.class));
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            try {
                node.close();
            } catch (Exception ignored) {
                // best effort on shutdown
            }
        }));
        node.start();
        System.out.println("LKRG_PEER_READY " + httpPort);
        System.out.flush();
        Thread.currentThread().join();
    }
}
