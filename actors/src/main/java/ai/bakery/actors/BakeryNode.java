package ai.bakery.actors;

import ai.bakery.actors.coordinator.ActorRendezvous;
import ai.bakery.actors.coordinator.Coordinator;
import ai.bakery.actors.coordinator.RendezvousBoard;
import ai.bakery.actors.coordinator.JobStore;
import ai.bakery.actors.data.BatchSource;
import ai.bakery.actors.data.ShardHost;
import ai.bakery.actors.flight.BatchStore;
import ai.bakery.actors.job.JobPolicy;
import ai.bakery.actors.worker.StepExecutor;
import ai.bakery.actors.worker.Worker;
import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.SupervisorStrategy;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.cluster.typed.ClusterSingleton;
import org.apache.pekko.cluster.typed.ClusterSingletonSettings;
import org.apache.pekko.cluster.typed.SingletonActor;

/**
 * One JVM of a Bakery cluster. Every node reaches the coordinator through the cluster singleton proxy; the
 * singleton itself runs on the oldest node with role {@code coordinator}, restarted with back-off if it
 * fails and moved to the next oldest such node if that node goes, resuming the job from its {@link JobStore}.
 */
public final class BakeryNode implements AutoCloseable {
  public static final String COORDINATOR = "coordinator";
  public static final String WORKER = "worker";
  public static final String DATA = "data";

  private final ActorSystem<Void> system;
  private final ActorRef<Coordinator.Command> coordinator;
  private final ActorRef<RendezvousBoard.Command> board;

  /** @param config this node's own settings (address, seed nodes, roles), without library defaults */
  public BakeryNode(String clusterName, Config config, JobPolicy policy, JobStore store) {
    this(clusterName, config, policy, store, List.of(), 0);
  }

  /**
   * @param dataShards the job's data shards, placed by the coordinator on data nodes
   * @param maxFailedSteps the coordinator fails the job after this many aborted steps in a row (0: never)
   */
  public BakeryNode(String clusterName, Config config, JobPolicy policy, JobStore store, List<String> dataShards,
      int maxFailedSteps) {
    // The node's own settings, then Bakery's cluster settings, then every library's reference.conf.
    Config full = config.withFallback(ConfigFactory.parseResources(BakeryNode.class, "/bakery-cluster.conf"))
        .withFallback(ConfigFactory.load())
        .resolve();
    this.system = ActorSystem.create(Behaviors.empty(), clusterName, full);
    Config c = system.settings().config().getConfig("bakery.cluster");
    Duration tick = c.getDuration("tick-interval");
    Behavior<Coordinator.Command> supervised = Behaviors.supervise(
            Coordinator.create(policy, store, tick, dataShards, maxFailedSteps))
        .onFailure(SupervisorStrategy.restartWithBackoff(Duration.ofMillis(200), Duration.ofSeconds(10), 0.2));
    this.coordinator = ClusterSingleton.get(system).init(
        SingletonActor.of(supervised, COORDINATOR)
            .withSettings(ClusterSingletonSettings.create(system).withRole(COORDINATOR)));
    this.board = ClusterSingleton.get(system).init(
        SingletonActor.of(RendezvousBoard.create(), "rendezvous")
            .withSettings(ClusterSingletonSettings.create(system).withRole(COORDINATOR)));
  }

  /** Where this node's collective groups meet their peers (host:port or NCCL ids). */
  public ActorRendezvous rendezvous() {
    return new ActorRendezvous(system, board);
  }

  /** Starts a worker actor on this node (role worker). */
  public ActorRef<Worker.Command> startWorker(String id, StepExecutor executor) {
    return system.systemActorOf(Worker.create(id, coordinator, executor), "worker-" + id,
        org.apache.pekko.actor.typed.Props.empty());
  }

  /** Starts this node's data role: data shards the coordinator places here, served from {@code store}. */
  public ActorRef<ShardHost.Command> startShardHost(BatchSource.Factory sources, BatchStore store, String flight) {
    return system.systemActorOf(ShardHost.create(coordinator, sources, store, flight), "shard-host",
        org.apache.pekko.actor.typed.Props.empty());
  }

  /** Completes when {@code actor} stops (a worker released, a shard host at the job's end). */
  public CompletionStage<Void> whenStopped(ActorRef<?> actor) {
    CompletableFuture<Void> done = new CompletableFuture<>();
    system.systemActorOf(Behaviors.<Void>setup(ctx -> {
      ctx.watch(actor);
      return Behaviors.receive(Void.class)
          .onSignal(org.apache.pekko.actor.typed.Terminated.class, t -> {
            done.complete(null);
            return Behaviors.stopped();
          })
          .build();
    }), "watch-" + actor.path().name() + "-" + WATCHERS.incrementAndGet(), org.apache.pekko.actor.typed.Props.empty());
    return done;
  }

  private static final java.util.concurrent.atomic.AtomicInteger WATCHERS = new java.util.concurrent.atomic.AtomicInteger();

  public ActorRef<Coordinator.Command> coordinator() {
    return coordinator;
  }

  public ActorSystem<Void> system() {
    return system;
  }

  public List<String> roles() {
    return List.copyOf(system.settings().config().getStringList("pekko.cluster.roles"));
  }

  @Override
  public void close() {
    system.terminate();
    system.getWhenTerminated().toCompletableFuture().join();
  }
}
