package ai.bakery.actors.launch;

import ai.bakery.actors.BakeryNode;
import ai.bakery.actors.coordinator.ClusterCheckpoints;
import ai.bakery.actors.coordinator.Coordinator;
import ai.bakery.actors.coordinator.FileJobStore;
import ai.bakery.actors.coordinator.JobStore;
import ai.bakery.actors.data.PipelineShardSource;
import ai.bakery.actors.flight.BatchFlightServer;
import ai.bakery.actors.flight.BatchStore;
import ai.bakery.actors.job.JobPolicy;
import ai.bakery.actors.security.ArteryTls;
import ai.bakery.actors.security.NodeIdentity;
import ai.bakery.actors.worker.ClusterRank;
import ai.bakery.actors.worker.TrainingExecutor;
import ai.bakery.actors.worker.Worker;
import ai.bakery.model.config.ConfigException;
import ai.bakery.runtime.collective.TcpRingCollective;
import ai.bakery.runtime.config.JobConfig;
import ai.bakery.runtime.config.JobConfigLoader;
import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import com.typesafe.config.ConfigValueFactory;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.apache.arrow.flight.Location;
import org.apache.arrow.memory.RootAllocator;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.javadsl.AskPattern;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One JVM of a cluster job ({@code bakery cluster node}): joins the cluster through its seed nodes and runs
 * its roles until the job ends. Exit status: 0 when the job finished, 1 when it failed or this node was
 * removed from the cluster, 2 for a bad command line or config.
 *
 * <ul>
 *   <li>coordinator: the job singleton (placement of data shards, ranks, steps, the ledger in
 *       {@code <job-dir>/job.json}); logs the step lines.
 *   <li>data: a Flight server and the data shards the coordinator places here.
 *   <li>worker: one rank ({@link TrainingExecutor}); on SIGTERM it leaves gracefully after its step.
 * </ul>
 */
public final class ClusterNode {
  private static final Logger LOG = LoggerFactory.getLogger(ClusterNode.class);
  public static final String CLUSTER = "bakery";

  private ClusterNode() {}

  /** This JVM's exit status once {@link #run(List)} has returned (its resources closed). */
  private static final CompletableFuture<Integer> EXITED = new CompletableFuture<>();

  public static void main(String[] args) {
    int status = run(List.of(args));
    EXITED.complete(status);
    System.exit(status); // blocks while a SIGTERM's shutdown hook runs; that hook then exits with this status
  }

  /** Runs a node from its command line; returns the exit status. */
  public static int run(List<String> args) {
    NodeOptions o;
    JobConfig config;
    try {
      o = NodeOptions.parse(args);
      if (!Files.isRegularFile(o.config())) {
        throw new IllegalArgumentException(o.config() + ": config file not found");
      }
      config = JobConfigLoader.load(o.config(), o.overrides()).config().requireRunnable();
    } catch (IllegalArgumentException | ConfigException e) {
      System.err.println("bakery cluster node: " + e.getMessage());
      return 2;
    }
    try {
      return run(o, config);
    } catch (IllegalArgumentException | ConfigException e) {
      System.err.println("bakery cluster node: " + e.getMessage());
      return 2;
    } catch (Exception e) {
      LOG.error("node failed", e);
      return 1;
    }
  }

  static int run(NodeOptions o, JobConfig config) throws Exception {
    Config pekko = pekkoConfig(o);
    Config cluster = pekko.withFallback(ConfigFactory.parseResources(BakeryNode.class, "/bakery-cluster.conf"))
        .withFallback(ConfigFactory.load()).resolve().getConfig("bakery.cluster");
    JobPolicy policy = policy(config, o, cluster);
    JobStore store = o.jobDir() != null ? new FileJobStore(o.jobDir().resolve("job.json"), checkpoints(config))
        : new NoStore();
    List<String> shards = new ArrayList<>();
    for (int i = 0; i < o.dataShards(); i++) {
      shards.add(PipelineShardSource.shardName(i));
    }
    NodeIdentity tls = o.certs() == null ? null : NodeIdentity.load(o.certs(), o.nodeName());
    List<AutoCloseable> resources = new ArrayList<>();
    List<CompletableFuture<Integer>> roles = new ArrayList<>();
    // a worker builds its model while the node joins the cluster
    CompletableFuture<ClusterRank> model = o.has("worker")
        ? CompletableFuture.supplyAsync(() -> ClusterRank.forJob(config)) : null;
    BakeryNode node = new BakeryNode(CLUSTER, pekko, policy, store, shards, o.maxFailedSteps());
    if (o.bootstrap().equals("kubernetes")) {
      // Pekko Management's HTTP endpoint answers the bootstrap's probes; the bootstrap finds the other pods
      // through the Kubernetes API and joins them (or forms the cluster when this pod is the lowest address)
      var classic = org.apache.pekko.actor.typed.javadsl.Adapter.toClassic(node.system());
      org.apache.pekko.management.javadsl.PekkoManagement.get(classic).start();
      org.apache.pekko.management.cluster.bootstrap.ClusterBootstrap.get(classic).start();
    }
    LOG.info("node up as {} at {}:{}, seeds {}", o.roles(), o.host(),
        node.system().settings().config().getInt("pekko.remote.artery.canonical.port"), o.seeds());
    ActorRef<Worker.Command> worker = null;
    try {
      if (o.has("coordinator")) {
        roles.add(watchJob(node, policy));
      }
      if (o.has("data")) {
        RootAllocator allocator = new RootAllocator();
        resources.add(allocator);
        BatchStore batches = new BatchStore(cluster.getInt("batch-store-capacity"));
        Location where = tls == null ? Location.forGrpcInsecure(o.host(), o.flightPort())
            : Location.forGrpcTls(o.host(), o.flightPort());
        BatchFlightServer server = new BatchFlightServer(allocator, where, batches, token(o), tls);
        resources.add(0, server);
        String uri = (tls == null ? Location.forGrpcInsecure(o.host(), server.port())
            : Location.forGrpcTls(o.host(), server.port())).getUri().toString();
        LOG.info("serving packed batches at {}", uri);
        var host = node.startShardHost(PipelineShardSource.factory(config, o.dataShards()), batches, uri);
        roles.add(node.whenStopped(host).thenApply(v -> 0).toCompletableFuture());
      }
      if (o.has("worker")) {
        String id = o.workerId();
        TcpRingCollective.Options ring = new TcpRingCollective.Options(cluster.getDuration("collective-timeout"),
            cluster.getDuration("rendezvous-timeout"), 512 << 10, 4, o.host(), o.host());
        TrainingExecutor executor = new TrainingExecutor(id, join(model), node.rendezvous(), node.system(),
            new TrainingExecutor.Settings(token(o), tls, ring, cluster.getInt("prefetch"), o.export()));
        resources.add(0, executor);
        worker = node.startWorker(id, executor);
        roles.add(node.whenStopped(worker).thenApply(v -> 0).toCompletableFuture());
      }
      org.apache.pekko.actor.Cancellable hook = onSigterm(node, worker, roles, cluster.getDuration("leave-timeout"));
      CompletableFuture<Integer> removed = node.system().getWhenTerminated().toCompletableFuture()
          .thenApply(t -> 1);
      int status = CompletableFuture.anyOf(
              CompletableFuture.allOf(roles.toArray(CompletableFuture[]::new)), removed)
          .thenApply(x -> removed.isDone() && !roles.stream().allMatch(CompletableFuture::isDone) ? 1
              : roles.stream().mapToInt(CompletableFuture::join).max().orElse(0))
          .get();
      if (status == 1 && removed.isDone()) {
        LOG.error("this node left the cluster before the job ended");
      }
      hook.cancel(); // a no-op once the JVM is shutting down: the hook closes the node
      return status;
    } finally {
      for (AutoCloseable r : resources) {
        try {
          r.close();
        } catch (Exception e) {
          LOG.warn("closing {}: {}", r.getClass().getSimpleName(), e.toString());
        }
      }
      node.close();
    }
  }

  /**
   * What a SIGTERM (a preemption notice) does. The hook is one of Pekko's JVM hooks, not a plain one: Artery's own
   * JVM hook shuts remoting down at once unless a Pekko JVM hook is still running, and then the coordinator could
   * only find this node unreachable, its worker lost. A worker tells the coordinator it leaves, finishes (or
   * abandons) its step in flight and waits up to {@code leaveTimeout} for the coordinator's release; then the node
   * leaves the cluster and the JVM exits with {@link #run(List)}'s status (0 after a release), not the signal's 143.
   */
  private static org.apache.pekko.actor.Cancellable onSigterm(BakeryNode node, ActorRef<Worker.Command> worker,
      List<CompletableFuture<Integer>> roles, Duration leaveTimeout) {
    return org.apache.pekko.actor.CoordinatedShutdown.get(node.system()).addCancellableJvmShutdownHook(() -> {
      boolean running = !roles.stream().allMatch(CompletableFuture::isDone);
      if (worker != null && running) {
        LOG.info("preemption notice: leaving the job after the step in flight (released within {} s, or leaving"
            + " anyway)", leaveTimeout.toSeconds());
        worker.tell(Worker.Preempted.INSTANCE);
        try {
          roles.get(roles.size() - 1).get(leaveTimeout.toMillis(), TimeUnit.MILLISECONDS);
          LOG.info("released by the coordinator: leaving the cluster");
        } catch (Exception e) {
          LOG.warn("not released within {} s: leaving the cluster anyway", leaveTimeout.toSeconds());
        }
      } else if (running) {
        LOG.info("stopping: leaving the cluster");
      }
      node.close(); // CoordinatedShutdown: the cluster sees this node leave, not vanish
      try {
        int status = EXITED.get(30, TimeUnit.SECONDS);
        LOG.info("exiting with status {}", status);
        // not Runtime.halt: its C exit would run libtorch's destructors under a trainer thread that did not stop
        // (TrainingExecutor.close leaves one running after 30 s), which then crashes instead of exiting
        ai.bakery.runtime.train.ProcessExit.now(status);
      } catch (Exception e) {
        // run() did not return in time (or this is not main's JVM): the signal's status stands
      }
    });
  }

  /** The future's value, its failure unwrapped (a config error stays one). */
  private static <T> T join(CompletableFuture<T> f) throws Exception {
    try {
      return f.get();
    } catch (java.util.concurrent.ExecutionException e) {
      if (e.getCause() instanceof Exception x) {
        throw x;
      }
      throw e;
    }
  }

  /** 0 when the job finishes, 1 when the coordinator gives up; checked twice a second. */
  private static CompletableFuture<Integer> watchJob(BakeryNode node, JobPolicy policy) {
    CompletableFuture<Integer> done = new CompletableFuture<>();
    Thread t = new Thread(() -> {
      while (!done.isDone()) {
        try {
          Thread.sleep(500);
          Coordinator.Status s = AskPattern.<Coordinator.Command, Coordinator.Status>ask(node.coordinator(),
                  Coordinator.GetStatus::new, Duration.ofSeconds(5), node.system().scheduler())
              .toCompletableFuture().get(6, TimeUnit.SECONDS);
          if (s.phase().equals("finished") || s.phase().equals("failed")) {
            Thread.sleep(1500); // let the job's end reach the workers and data nodes
            done.complete(s.phase().equals("finished") ? 0 : 1);
          }
        } catch (InterruptedException e) {
          return;
        } catch (Exception e) {
          // the singleton may be starting or moving: ask again
        }
      }
    }, "bakery-job-watch");
    t.setDaemon(true);
    t.start();
    return done;
  }

  static JobPolicy policy(JobConfig config, NodeOptions o, Config cluster) {
    var loop = config.training().loop();
    long end = config.training().schedule().totalSteps();
    if (loop.maxSteps() > 0) {
      end = Math.min(end, loop.maxSteps());
    }
    var ck = config.training().checkpoint();
    return new JobPolicy(o.minWorkers(), o.maxWorkers(), loop.gradientAccumulationSteps(),
        cluster.getDuration("step-timeout"), cluster.getDuration("form-timeout"), end)
        .withCheckpoints(ck.saveEvery(), Duration.ofMinutes(10));
  }

  /**
   * The job's checkpoints: {@code training.checkpoint.checkpoint_dir} (a folder every node must see at the same
   * path), its {@code keep_last}; a job without stored state resumes from them with {@code auto_resume}.
   */
  static ClusterCheckpoints checkpoints(JobConfig config) {
    var ck = config.training().checkpoint();
    return new ClusterCheckpoints(ck.checkpointDir(), ck.keepLast(), ck.autoResume());
  }

  /** The options as Pekko settings, then the node's config file over them, then TLS when asked for. */
  static Config pekkoConfig(NodeOptions o) {
    List<String> seeds = new ArrayList<>();
    for (String s : o.seeds()) {
      seeds.add("pekko://" + CLUSTER + "@" + s);
    }
    Config c = ConfigFactory.empty()
        .withValue("pekko.remote.artery.canonical.hostname", ConfigValueFactory.fromAnyRef(o.host()))
        .withValue("pekko.remote.artery.canonical.port", ConfigValueFactory.fromAnyRef(o.port()))
        .withValue("pekko.cluster.seed-nodes", ConfigValueFactory.fromIterable(seeds)) // empty: bootstrap
        .withValue("pekko.cluster.roles", ConfigValueFactory.fromIterable(new ArrayList<>(o.roles())))
        // this node's own Pekko JVM hook (onSigterm) orders the shutdown (a worker leaves after its step, then the
        // system stops): Pekko's default hook would stop the actor system at once, a lost worker to the coordinator
        .withValue("pekko.coordinated-shutdown.run-by-jvm-shutdown-hook", ConfigValueFactory.fromAnyRef("off"));
    if (o.nodeConfig() != null) {
      if (!Files.isRegularFile(o.nodeConfig())) {
        throw new IllegalArgumentException("--node-config: " + o.nodeConfig() + " not found");
      }
      c = ConfigFactory.parseFile(o.nodeConfig().toFile()).withFallback(c);
    }
    if (o.certs() != null) {
      c = ArteryTls.forNode(o.certs(), o.nodeName()).withFallback(c);
    }
    return c;
  }

  /** The job's Flight token: the token file's content, or BAKERY_JOB_TOKEN. */
  static String token(NodeOptions o) throws IOException {
    String env = System.getenv("BAKERY_JOB_TOKEN");
    if (o.tokenFile() != null && Files.isRegularFile(o.tokenFile())) {
      String t = Files.readString(o.tokenFile(), StandardCharsets.UTF_8).trim();
      if (t.isEmpty()) {
        throw new IllegalArgumentException("--token-file: " + o.tokenFile() + " is empty");
      }
      return t;
    }
    if (env != null && !env.isBlank()) {
      return env.trim();
    }
    throw new IllegalArgumentException("--token-file: " + o.tokenFile() + " not found (and no BAKERY_JOB_TOKEN)");
  }

  /** Nodes without the coordinator role never run the singleton, so never touch a store. */
  private static final class NoStore implements JobStore {
    @Override
    public Optional<ai.bakery.actors.job.JobSnapshot> load() {
      throw new IllegalStateException("the coordinator runs on a node without --job-dir");
    }

    @Override
    public void save(ai.bakery.actors.job.JobSnapshot snapshot) {
      throw new IllegalStateException("the coordinator runs on a node without --job-dir");
    }
  }
}
