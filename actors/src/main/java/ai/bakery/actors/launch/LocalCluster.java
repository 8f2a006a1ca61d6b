package ai.bakery.actors.launch;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;

/**
 * A whole cluster job on this machine ({@code bakery cluster up}): {@code C} coordinator-role nodes (the first
 * runs the job singleton, the others stand by to take it over), {@code M} data nodes and {@code N} workers, each
 * its own JVM on loopback, started from this JVM's class path. Every coordinator-role node is a seed node. Their
 * output is forwarded line by line with the node's name in front; closing stops them all (SIGTERM, then SIGKILL
 * after a grace period). Nodes get the loopback profile ({@code bakery-loopback.conf}) as their node config.
 *
 * <p>The job's Flight token is made here (random, in {@code <job-dir>/job.token}, owner-only) and handed to the
 * nodes as a file, never on a command line.
 */
public final class LocalCluster implements AutoCloseable {
  /**
   * @param workers worker JVMs (ranks)
   * @param dataShards data-node JVMs, one data shard each
   * @param coordinators coordinator-role JVMs: the singleton's node and its stand-bys
   * @param minWorkers the job waits below this many workers
   * @param jobDir the job's state, token and exported weights
   * @param heap each node's -Xmx
   * @param export where workers write their final weights (null: nowhere)
   * @param jvmArgs further flags of every node's JVM
   * @param config the job's YAML
   * @param overrides its overrides
   */
  public record Options(int workers, int dataShards, int coordinators, int minWorkers, Path jobDir, String heap,
      Path export, List<String> jvmArgs, Path config, List<String> overrides) {
    public Options {
      if (workers < 1) {
        throw new IllegalArgumentException("--workers must be >= 1, got " + workers);
      }
      if (dataShards < 1) {
        throw new IllegalArgumentException("--data-shards must be >= 1, got " + dataShards);
      }
      if (coordinators < 1) {
        throw new IllegalArgumentException("--coordinators must be >= 1, got " + coordinators);
      }
      if (minWorkers < 1 || minWorkers > workers) {
        throw new IllegalArgumentException("--min-workers must be in 1.." + workers + ", got " + minWorkers);
      }
      if (config == null || !Files.isRegularFile(config)) {
        throw new IllegalArgumentException("<config>: " + config + ": config file not found");
      }
      overrides = List.copyOf(overrides);
      jvmArgs = List.copyOf(jvmArgs);
    }

    /** One coordinator (no stand-by). */
    public Options(int workers, int dataShards, int minWorkers, Path jobDir, String heap, Path export,
        List<String> jvmArgs, Path config, List<String> overrides) {
      this(workers, dataShards, 1, minWorkers, jobDir, heap, export, jvmArgs, config, overrides);
    }

    /**
     * {@code --workers N --data-shards M [--coordinators C] [--min-workers K] [--job-dir D] [--heap 2g]
     * [--export D] <config> ...}.
     */
    public static Options parse(List<String> args) {
      LaunchArgs parsed = LaunchArgs.parse(args,
          List.of("workers", "data-shards", "coordinators", "min-workers", "job-dir", "heap", "export"), "option");
      Map<String, String> given = new LinkedHashMap<>();
      parsed.options().forEach(o -> given.put(o.getKey(), o.getValue()));
      int workers = number(given, "workers", "2");
      Path jobDir = Path.of(given.getOrDefault("job-dir", "cluster-job"));
      return new Options(workers, number(given, "data-shards", "1"), number(given, "coordinators", "1"),
          number(given, "min-workers", "1"), jobDir,
          given.getOrDefault("heap", "2g"), given.containsKey("export") ? Path.of(given.get("export")) : null,
          NodeOptions.split(System.getenv().getOrDefault("BAKERY_NODE_JAVA_OPTS", "").replace(' ', ',')),
          parsed.config(), parsed.overrides());
    }

    private static int number(Map<String, String> given, String key, String dflt) {
      String v = given.getOrDefault(key, dflt);
      try {
        return Integer.parseInt(v.trim());
      } catch (NumberFormatException e) {
        throw new IllegalArgumentException("--" + key + ": '" + v + "' is not a whole number");
      }
    }
  }

  /** Settings of nodes sharing one machine's cores, written to {@code <job-dir>/local-node.conf}. */
  static final String LOCAL_CONF = "local-node.conf";

  /** The loopback profile (a resource next to bakery-cluster.conf): failure detection and split-brain timing. */
  static final String LOOPBACK_PROFILE = "/bakery-loopback.conf";

  /** The loopback profile's text, copied into every job's {@code local-node.conf}. */
  static String loopbackSettings() {
    try (var in = LocalCluster.class.getResourceAsStream(LOOPBACK_PROFILE)) {
      if (in == null) {
        throw new IllegalStateException(LOOPBACK_PROFILE + " is missing from the class path");
      }
      return new String(in.readAllBytes(), StandardCharsets.UTF_8);
    } catch (IOException e) {
      throw new java.io.UncheckedIOException("cannot read " + LOOPBACK_PROFILE, e);
    }
  }

  private final Options options;
  private final PrintStream out;
  private final Map<String, Process> nodes = new LinkedHashMap<>();
  private final Map<String, List<String>> lines = new LinkedHashMap<>();
  /** {@link System#nanoTime()} at which each line of {@link #lines} arrived, same index. */
  private final Map<String, List<Long>> arrivals = new LinkedHashMap<>();
  private String extraSettings = "";
  private final List<Thread> pumps = new ArrayList<>();
  /** Nodes this launcher killed on purpose: their exit status says nothing about the job. */
  private final java.util.Set<String> killed = new java.util.HashSet<>();
  /** Artery ports of the coordinator-role nodes, fixed: they are the seed nodes. */
  private final List<Integer> seedPorts = new ArrayList<>();

  public LocalCluster(Options options, PrintStream out) {
    this.options = options;
    this.out = out;
  }

  /** Runs a job to its end from a command line; returns the exit status (0: the job finished). */
  public static int run(List<String> args, PrintStream out) {
    Options o;
    try {
      o = Options.parse(args);
    } catch (IllegalArgumentException e) {
      System.err.println("bakery cluster up: " + e.getMessage());
      return 2;
    }
    LocalCluster cluster = new LocalCluster(o, out);
    Thread hook = new Thread(cluster::close, "bakery-cluster-teardown");
    Runtime.getRuntime().addShutdownHook(hook);
    try {
      cluster.start();
      int status = cluster.await(Long.MAX_VALUE);
      out.println(status == 0 ? "cluster job finished" : "cluster job failed (status " + status + ")");
      return status;
    } catch (IOException e) {
      System.err.println("bakery cluster up: " + e.getMessage());
      return 1;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return 130;
    } finally {
      cluster.close();
      try {
        Runtime.getRuntime().removeShutdownHook(hook);
      } catch (IllegalStateException e) {
        // shutting down already
      }
    }
  }

  /**
   * Pekko settings appended to {@code local-node.conf} (HOCON, later keys win), e.g. a tighter failure detector
   * for a recovery measurement; call before {@link #start()}.
   */
  public synchronized LocalCluster withNodeSettings(String hocon) {
    extraSettings = hocon == null ? "" : hocon.endsWith("\n") ? hocon : hocon + "\n";
    return this;
  }

  /** Starts the coordinators (the first is the oldest, so it runs the singleton), the data nodes and the workers. */
  public synchronized void start() throws IOException {
    start(true);
  }

  /**
   * As {@link #start()}; with {@code dataNodes} false the data nodes are left for {@link #startDataNode} later, and
   * the job waits for its first batches meanwhile (a test lines up stand-bys before training begins).
   */
  public synchronized void start(boolean dataNodes) throws IOException {
    Files.createDirectories(options.jobDir());
    writeToken(options.jobDir().resolve("job.token"));
    Files.writeString(options.jobDir().resolve(LOCAL_CONF), loopbackSettings() + "\n" + extraSettings,
        StandardCharsets.UTF_8);
    for (int i = 0; i < options.coordinators(); i++) {
      seedPorts.add(freePort());
    }
    for (int i = 0; i < options.coordinators(); i++) {
      spawn(coordinatorName(i), List.of("--role", "coordinator", "--port", Integer.toString(seedPorts.get(i)),
          "--job-dir", options.jobDir().toString(), "--min-workers", Integer.toString(options.minWorkers()),
          "--max-workers", Integer.toString(options.workers())));
    }
    for (int i = 0; dataNodes && i < options.dataShards(); i++) {
      startDataNode("data-" + i);
    }
    for (int i = 0; i < options.workers(); i++) {
      startWorker("worker-" + i);
    }
  }

  /** {@code coordinator} for the first (the singleton's first home), {@code coordinator-<i>} for stand-bys. */
  public static String coordinatorName(int index) {
    return index == 0 ? "coordinator" : "coordinator-" + index;
  }

  /** Starts a data-node JVM named {@code name}, e.g. a replacement for a lost one. */
  public synchronized void startDataNode(String name) throws IOException {
    spawn(name, List.of("--role", "data"));
  }

  /** Starts a worker JVM named {@code name} (also its worker id), e.g. a replacement for a lost one. */
  public synchronized void startWorker(String name) throws IOException {
    List<String> args = new ArrayList<>(List.of("--role", "worker", "--id", name));
    if (options.export() != null) {
      args.addAll(List.of("--export", options.export().toString()));
    }
    spawn(name, args);
  }

  /** SIGKILL: the node vanishes without notice. */
  public synchronized void kill(String name) {
    Process p = node(name);
    killed.add(name);
    p.destroyForcibly();
  }

  /** SIGTERM: a preemption notice (a worker leaves after its step). */
  public synchronized void stop(String name) {
    // through the handle: Process.destroy() also closes this side's pipes, and the node's last lines were lost
    node(name).toHandle().destroy();
  }

  /** The node's output so far. */
  public List<String> lines(String name) {
    synchronized (lines) {
      return List.copyOf(lines.getOrDefault(name, List.of()));
    }
  }

  /** A line of a node's output and the {@link System#nanoTime()} at which this JVM read it. */
  public record TimedLine(long nanos, String text) {}

  /** The node's output so far, each line with the time it arrived. */
  public List<TimedLine> timedLines(String name) {
    synchronized (lines) {
      List<String> text = lines.getOrDefault(name, List.of());
      List<Long> at = arrivals.getOrDefault(name, List.of());
      List<TimedLine> out = new ArrayList<>(at.size());
      for (int i = 0; i < Math.min(text.size(), at.size()); i++) {
        out.add(new TimedLine(at.get(i), text.get(i)));
      }
      return out;
    }
  }

  public synchronized Process node(String name) {
    Process p = nodes.get(name);
    if (p == null) {
      throw new IllegalArgumentException("no node " + name + " (nodes: " + nodes.keySet() + ")");
    }
    return p;
  }

  /**
   * Waits for the coordinator-role nodes to end the job (each exits once the job is over; one killed on purpose
   * is skipped, its successor carries on), then for the other nodes to stop (they are killed after 60 s). Fails
   * the job when every worker, or every data node, has stopped while a coordinator still runs.
   *
   * @return the status of the coordinators that were not killed (0: finished), 1 for a job that cannot go on or
   *     whose every coordinator was killed, -1 on timeout
   */
  public int await(long timeoutMillis) throws InterruptedException {
    long end = timeoutMillis == Long.MAX_VALUE ? Long.MAX_VALUE : System.currentTimeMillis() + timeoutMillis;
    long orphanedSince = 0;
    while (!allStopped("coordinator")) {
      Thread.sleep(200);
      if (System.currentTimeMillis() > end) {
        return -1;
      }
      boolean noWorker = allStopped("worker");
      boolean noData = allStopped("data-");
      if (noWorker || noData) {
        // workers exit right after the job's end, a moment before the coordinator: give it time to say so
        orphanedSince = orphanedSince == 0 ? System.currentTimeMillis() : orphanedSince;
        if (System.currentTimeMillis() - orphanedSince > 15_000) {
          say("cluster", "every " + (noWorker ? "worker" : "data node") + " has stopped; the job cannot go on");
          return 1;
        }
      } else {
        orphanedSince = 0;
      }
    }
    int status = coordinatorStatus();
    long grace = System.currentTimeMillis() + 60_000;
    for (Process p : snapshot()) {
      long left = Math.max(1, grace - System.currentTimeMillis());
      if (!p.waitFor(left, TimeUnit.MILLISECONDS)) {
        p.destroyForcibly();
      }
    }
    return status;
  }

  /** The worst exit status of the coordinator-role nodes not killed on purpose (1 when all were). */
  private synchronized int coordinatorStatus() {
    int status = -2;
    for (Map.Entry<String, Process> e : nodes.entrySet()) {
      if (e.getKey().startsWith("coordinator") && !killed.contains(e.getKey())) {
        status = Math.max(status, e.getValue().exitValue());
      }
    }
    return status == -2 ? 1 : status;
  }

  private synchronized boolean allStopped(String prefix) {
    return nodes.entrySet().stream().filter(e -> e.getKey().startsWith(prefix))
        .noneMatch(e -> e.getValue().isAlive());
  }

  private synchronized List<Process> snapshot() {
    return new ArrayList<>(nodes.values());
  }

  private void spawn(String name, List<String> roleArgs) throws IOException {
    List<String> cmd = new ArrayList<>();
    cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
    cmd.add("-Xmx" + options.heap());
    if (options.jvmArgs().stream().noneMatch(a -> a.startsWith("-XX:+Use") && a.endsWith("GC"))) {
      cmd.add("-XX:+UseParallelGC");
    }
    cmd.add("--add-opens=java.base/java.nio=ALL-UNNAMED");
    cmd.add("-Dai.djl.offline=true");
    cmd.add("-Dio.netty.tryReflectionSetAccessible=true");
    cmd.addAll(options.jvmArgs());
    for (String prop : List.of("bakery.home", "logback.configurationFile")) {
      if (System.getProperty(prop) != null) {
        cmd.add("-D" + prop + "=" + System.getProperty(prop));
      }
    }
    cmd.add("-cp");
    cmd.add(classPath());
    cmd.add(ClusterNode.class.getName());
    cmd.addAll(roleArgs);
    List<String> seeds = new ArrayList<>();
    for (int port : seedPorts) {
      seeds.add("127.0.0.1:" + port);
    }
    cmd.addAll(List.of("--seed", String.join(",", seeds), "--data-shards", Integer.toString(options.dataShards()),
        "--token-file", options.jobDir().resolve("job.token").toString(),
        "--node-config", options.jobDir().resolve(LOCAL_CONF).toString()));
    cmd.add(options.config().toString());
    cmd.addAll(options.overrides());
    ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true);
    Process p = pb.start();
    nodes.put(name, p);
    synchronized (lines) {
      lines.put(name, new CopyOnWriteArrayList<>());
      arrivals.put(name, new CopyOnWriteArrayList<>());
    }
    Thread pump = new Thread(() -> forward(name, p), "bakery-cluster-out-" + name);
    pump.setDaemon(true);
    pump.start();
    pumps.add(pump);
    say("cluster", "started " + name + " (pid " + p.pid() + ")");
  }

  private void forward(String name, Process p) {
    try (BufferedReader r = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
      for (String line = r.readLine(); line != null; line = r.readLine()) {
        long now = System.nanoTime();
        synchronized (lines) {
          arrivals.get(name).add(now);
          lines.get(name).add(line);
        }
        say(name, line);
      }
    } catch (IOException e) {
      // the process is gone
    }
    try {
      say("cluster", name + " exited with status " + p.waitFor());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  private void say(String who, String line) {
    synchronized (out) {
      out.println("[" + who + "] " + line);
    }
  }

  /** The class path this JVM runs with (under Surefire, the test class path rather than its booter jar). */
  static String classPath() {
    String surefire = System.getProperty("surefire.test.class.path");
    return surefire != null && !surefire.isBlank() ? surefire : System.getProperty("java.class.path");
  }

  private static void writeToken(Path file) throws IOException {
    if (Files.isRegularFile(file) && Files.size(file) > 0) {
      return;
    }
    byte[] raw = new byte[32];
    new SecureRandom().nextBytes(raw);
    Path tmp = file.resolveSibling(file.getFileName() + ".tmp");
    Files.deleteIfExists(tmp);
    try {
      Files.createFile(tmp, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
    } catch (UnsupportedOperationException e) {
      Files.createFile(tmp);
    }
    Files.writeString(tmp, HexFormat.of().formatHex(raw), StandardCharsets.UTF_8);
    Files.move(tmp, file, java.nio.file.StandardCopyOption.ATOMIC_MOVE);
  }

  static int freePort() throws IOException {
    try (ServerSocket s = new ServerSocket(0)) {
      return s.getLocalPort();
    }
  }

  /** Stops every node still running: SIGTERM, then SIGKILL after 20 s. */
  @Override
  public void close() {
    List<Process> all = snapshot();
    for (Process p : all) {
      if (p.isAlive()) {
        p.destroy();
      }
    }
    long end = System.currentTimeMillis() + 20_000;
    for (Process p : all) {
      try {
        if (!p.waitFor(Math.max(1, end - System.currentTimeMillis()), TimeUnit.MILLISECONDS)) {
          p.destroyForcibly();
        }
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        p.destroyForcibly();
      }
    }
  }
}
