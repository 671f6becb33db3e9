// A one-node search server for the mesh test harness (test/lib/servers_search.sh):
// a codelibs runner (OpenSearch's org.codelibs.opensearch.runner.OpenSearchRunner
// or Elasticsearch's org.codelibs.elasticsearch.runner.ElasticsearchClusterRunner,
// whichever is on the class path; the two have the same API, driven here by
// reflection), bound to 127.0.0.1 only (HTTP and transport), single-node
// discovery.  Usage: SearchNode BASE_DIR HTTP_PORT TRANSPORT_PORT
import java.lang.reflect.Method;
import java.lang.reflect.Proxy;

public class SearchNode {
	static final String[] RUNNERS = {
		"org.codelibs.opensearch.runner.OpenSearchRunner",
		"org.codelibs.elasticsearch.runner.ElasticsearchClusterRunner"};

	public static void main(String[] args) throws Exception {
		String base = args[0];
		int http = Integer.parseInt(args[1]);
		int transport = Integer.parseInt(args[2]);
		Class<?> cls = null;
		for (String name : RUNNERS) {
			try { cls = Class.forName(name); break; } catch (ClassNotFoundException e) { }
		}
		if (cls == null)
			throw new IllegalStateException("no search runner on the class path");
		Object runner = cls.getConstructor().newInstance();
		// the runner refuses a base port above its default maximum
		cls.getMethod("setMaxHttpPort", int.class).invoke(runner, http);
		Class<?> builder = Class.forName(cls.getName() + "$Builder");
		Object onBuild = Proxy.newProxyInstance(cls.getClassLoader(), new Class<?>[] {builder},
			(proxy, m, a) -> {
				if (!m.getName().equals("build"))
					return null;
				Object s = a[1];
				Method put = s.getClass().getMethod("put", String.class, String.class);
				put.invoke(s, "network.host", "127.0.0.1");
				put.invoke(s, "http.port", String.valueOf(http));
				put.invoke(s, "transport.port", String.valueOf(transport));
				put.invoke(s, "discovery.type", "single-node");
				put.invoke(s, "cluster.routing.allocation.disk.threshold_enabled", "false");
				put.invoke(s, "action.auto_create_index", "true");
				return null;
			});
		cls.getMethod("onBuild", builder).invoke(runner, onBuild);
		Object configs = cls.getMethod("newConfigs").invoke(null);
		Class<?> cc = configs.getClass();
		cc.getMethod("basePath", String.class).invoke(configs, base);
		cc.getMethod("numOfNode", int.class).invoke(configs, 1);
		cc.getMethod("baseHttpPort", int.class).invoke(configs, http - 1);
		cc.getMethod("clusterName", String.class).invoke(configs, "mesh-test");
		cc.getMethod("printOnFailure").invoke(configs);
		try {
			cls.getMethod("build", cc).invoke(runner, configs);
		} catch (Throwable t) {
			// the runners' own main swallows this and exits 1 without a word
			t.printStackTrace();
			System.exit(1);
		}
		System.out.println("SearchNode: " + cls.getSimpleName() + " ready on 127.0.0.1:" + http);
		Method closed = cls.getMethod("isClosed");
		while (!(Boolean) closed.invoke(runner))
			Thread.sleep(1000);
	}
}
