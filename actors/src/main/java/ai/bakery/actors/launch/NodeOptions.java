package ai.bakery.actors.launch;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The command line of one cluster node: {@code --option value ...} (or {@code --option=value}), then the job's
 * config file, then that config's overrides ({@code --training.optimizer.lr 2e-5}). Node options must come
 * before the config, since overrides look like options.
 *
 * @param roles coordinator, data and/or worker
 * @param host the address this node binds and advertises (Artery, Flight, the collective ring)
 * @param port the Artery port (0: any free one; seed nodes need a fixed one)
 * @param seeds seed nodes as host:port
 * @param bootstrap {@code seeds} (join through {@code seeds}) or {@code kubernetes} (Pekko Management cluster
 *     bootstrap: peers found through the Kubernetes API, settings in {@code --node-config})
 * @param flightPort the data role's Flight port (0: any free one)
 * @param dataShards how many data shards the job has
 * @param minWorkers below this many workers the job waits
 * @param maxWorkers ranks are given to at most this many workers
 * @param jobDir the coordinator's job state (job.json) and, by default, the job token
 * @param tokenFile the file holding the job's Flight token (default {@code <job-dir>/job.token})
 * @param id this worker's name (default {@code worker-<host>-<pid>})
 * @param certs the job's certificate folder (from {@code bakery cluster certs}); null for plain TCP
 * @param nodeName this node's key store name in {@code certs}
 * @param nodeConfig a HOCON file with further settings for this node (addresses, timeouts)
 * @param export a worker writes the final weights here when the job finishes (null: it does not)
 * @param maxFailedSteps the coordinator fails the job after this many aborted steps in a row
 * @param config the job's config file
 * @param overrides the config's overrides
 */
public record NodeOptions(Set<String> roles, String host, int port, List<String> seeds, String bootstrap,
    int flightPort,
    int dataShards, int minWorkers, int maxWorkers, Path jobDir, Path tokenFile, String id, Path certs,
    String nodeName, Path nodeConfig, Path export, int maxFailedSteps, Path config, List<String> overrides) {

  public static final Set<String> ROLES = Set.of("coordinator", "data", "worker");

  /** Options that take a value, with their defaults (null: none). */
  static final Map<String, String> OPTIONS = new LinkedHashMap<>();

  static {
    OPTIONS.put("role", null);
    OPTIONS.put("host", "127.0.0.1");
    OPTIONS.put("port", "0");
    OPTIONS.put("seed", null);
    OPTIONS.put("bootstrap", "seeds");
    OPTIONS.put("flight-port", "0");
    OPTIONS.put("data-shards", "1");
    OPTIONS.put("min-workers", "1");
    OPTIONS.put("max-workers", "64");
    OPTIONS.put("job-dir", null);
    OPTIONS.put("token-file", null);
    OPTIONS.put("id", null);
    OPTIONS.put("certs", null);
    OPTIONS.put("node", null);
    OPTIONS.put("node-config", null);
    OPTIONS.put("export", null);
    OPTIONS.put("max-failed-steps", "10");
  }

  public NodeOptions {
    if (roles.isEmpty()) {
      throw new IllegalArgumentException("--role: give coordinator, data and/or worker");
    }
    for (String r : roles) {
      if (!ROLES.contains(r)) {
        throw new IllegalArgumentException("--role: '" + r + "' is not one of coordinator, data, worker");
      }
    }
    if (!bootstrap.equals("seeds") && !bootstrap.equals("kubernetes")) {
      throw new IllegalArgumentException("--bootstrap: '" + bootstrap + "' is not seeds or kubernetes");
    }
    if (bootstrap.equals("seeds") && seeds.isEmpty()) {
      throw new IllegalArgumentException("--seed: give at least one seed node (host:port; a node may seed itself),"
          + " or --bootstrap kubernetes");
    }
    if (bootstrap.equals("kubernetes") && !seeds.isEmpty()) {
      throw new IllegalArgumentException("--seed and --bootstrap kubernetes exclude each other: the bootstrap forms"
          + " the cluster from the pods it discovers");
    }
    if (dataShards < 1) {
      throw new IllegalArgumentException("--data-shards must be >= 1, got " + dataShards);
    }
    if (minWorkers < 1 || maxWorkers < minWorkers) {
      throw new IllegalArgumentException("--min-workers (" + minWorkers + ") must be >= 1 and <= --max-workers ("
          + maxWorkers + ")");
    }
    if (roles.contains("coordinator") && jobDir == null) {
      throw new IllegalArgumentException("--job-dir: the coordinator keeps the job's state there; give a folder");
    }
    if (tokenFile == null && jobDir != null) {
      tokenFile = jobDir.resolve("job.token");
    }
    if (tokenFile == null && !roles.equals(Set.of("coordinator")) && System.getenv("BAKERY_JOB_TOKEN") == null) {
      throw new IllegalArgumentException("--token-file (or --job-dir, or BAKERY_JOB_TOKEN): data and worker nodes"
          + " need the job's Flight token");
    }
    if (certs != null && nodeName == null) {
      throw new IllegalArgumentException("--node: with --certs, name this node's key store (<certs>/<node>.p12)");
    }
    if (config == null) {
      throw new IllegalArgumentException("missing <config>: the job's YAML file, after the node options");
    }
    seeds = List.copyOf(seeds);
    overrides = List.copyOf(overrides);
    roles = Set.copyOf(roles);
  }

  /** Parses {@code args}; errors name the option. */
  public static NodeOptions parse(List<String> args) {
    LaunchArgs parsed = LaunchArgs.parse(args, OPTIONS.keySet(), "node option");
    Map<String, String> given = new LinkedHashMap<>();
    List<String> seeds = new ArrayList<>();
    for (Map.Entry<String, String> o : parsed.options()) {
      if (o.getKey().equals("seed")) {
        seeds.addAll(split(o.getValue()));
      } else {
        given.put(o.getKey(), o.getValue());
      }
    }
    Path config = parsed.config();
    List<String> overrides = parsed.overrides();
    return new NodeOptions(Set.copyOf(split(get(given, "role", ""))), get(given, "host", null),
        integer(given, "port"), seeds, get(given, "bootstrap", "seeds"), integer(given, "flight-port"), integer(given, "data-shards"),
        integer(given, "min-workers"), integer(given, "max-workers"), path(given, "job-dir"),
        path(given, "token-file"), given.get("id"), path(given, "certs"), given.get("node"),
        path(given, "node-config"), path(given, "export"), integer(given, "max-failed-steps"), config, overrides);
  }

  private static String get(Map<String, String> given, String key, String fallback) {
    String v = given.getOrDefault(key, OPTIONS.get(key));
    return v == null ? fallback : v;
  }

  private static int integer(Map<String, String> given, String key) {
    String v = get(given, key, null);
    try {
      return Integer.parseInt(v.trim());
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException("--" + key + ": '" + v + "' is not a whole number");
    }
  }

  private static Path path(Map<String, String> given, String key) {
    String v = given.get(key);
    return v == null || v.isBlank() ? null : Path.of(v);
  }

  static List<String> split(String s) {
    List<String> out = new ArrayList<>();
    for (String p : s.split(",")) {
      if (!p.isBlank()) {
        out.add(p.trim());
      }
    }
    return out;
  }

  public boolean has(String role) {
    return roles.contains(role);
  }

  /** The worker's name: given, or unique per host and process. */
  public String workerId() {
    return id != null ? id : "worker-" + host + "-" + ProcessHandle.current().pid();
  }
}
