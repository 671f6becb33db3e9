/*
 * MeshNeo4j: an in-process Neo4j 5.26 for mesh's tests (test/lib/servers_graph.sh).
 *
 *   java -cp 'LIB/*:CLASSES' MeshNeo4j HTTP_PORT DATA_DIR
 *
 * Serves the HTTP API on 127.0.0.1:HTTP_PORT with Bolt disabled and auth
 * enabled; the password of user neo4j is read from the environment variable
 * MESH_NEO4J_PASSWORD (never from argv, which other users can read) and set
 * before the first request.  Prints "ready <http uri>" once serving; stops on
 * SIGTERM.
 */
import java.nio.file.Path;
import java.util.Map;

import org.neo4j.configuration.GraphDatabaseSettings;
import org.neo4j.configuration.connectors.BoltConnector;
import org.neo4j.configuration.connectors.HttpConnector;
import org.neo4j.configuration.helpers.SocketAddress;
import org.neo4j.harness.Neo4j;
import org.neo4j.harness.Neo4jBuilders;

public final class MeshNeo4j {
	public static void main(String[] args) throws Exception {
		if (args.length != 2) {
			System.err.println("usage: MeshNeo4j HTTP_PORT DATA_DIR");
			System.exit(2);
		}
		int port = Integer.parseInt(args[0]);
		String password = System.getenv("MESH_NEO4J_PASSWORD");
		if (password == null || password.length() < 8) {
			System.err.println("MESH_NEO4J_PASSWORD must hold a password of 8 or more characters");
			System.exit(2);
		}
		Neo4j neo4j = Neo4jBuilders.newInProcessBuilder(Path.of(args[1]))
				.withConfig(HttpConnector.enabled, true)
				.withConfig(HttpConnector.listen_address, new SocketAddress("127.0.0.1", port))
				.withConfig(HttpConnector.advertised_address, new SocketAddress("127.0.0.1", port))
				.withConfig(BoltConnector.enabled, false)
				.withConfig(GraphDatabaseSettings.auth_enabled, true)
				.build();
		// Embedded access bypasses auth: set the password (no change required).
		neo4j.databaseManagementService().database("system").executeTransactionally(
				"ALTER USER neo4j SET PASSWORD $pw CHANGE NOT REQUIRED", Map.of("pw", password));
		Runtime.getRuntime().addShutdownHook(new Thread(neo4j::close));
		System.out.println("ready " + neo4j.httpURI());
		System.out.flush();
		Thread.currentThread().join();
	}
}
