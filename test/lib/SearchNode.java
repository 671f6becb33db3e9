// A one-node OpenSearch for the mesh test harness (test/lib/servers_search.sh):
// the codelibs runner, bound to 127.0.0.1 only (HTTP and transport), single-node
// discovery.  Usage: SearchNode BASE_DIR HTTP_PORT TRANSPORT_PORT
import org.codelibs.opensearch.runner.OpenSearchRunner;

public class SearchNode {
	public static void main(String[] args) throws Exception {
		String base = args[0];
		int http = Integer.parseInt(args[1]);
		int transport = Integer.parseInt(args[2]);
		OpenSearchRunner runner = new OpenSearchRunner();
		// the runner refuses a base port above its default maximum
		runner.setMaxHttpPort(http);
		runner.onBuild((n, s) -> {
			s.put("network.host", "127.0.0.1");
			s.put("http.port", String.valueOf(http));
			s.put("transport.port", String.valueOf(transport));
			s.put("discovery.type", "single-node");
			s.put("cluster.routing.allocation.disk.threshold_enabled", "false");
			s.put("action.auto_create_index", "true");
		});
		try {
			runner.build(OpenSearchRunner.newConfigs().basePath(base).numOfNode(1)
				.baseHttpPort(http - 1).clusterName("mesh-test").printOnFailure());
		} catch (Throwable t) {
			// the runner's own main swallows this and exits 1 without a word
			t.printStackTrace();
			System.exit(1);
		}
		System.out.println("SearchNode: ready on 127.0.0.1:" + http);
		while (!runner.isClosed())
			Thread.sleep(1000);
	}
}
