package ai.bakery.actors.flight;

import ai.bakery.actors.job.BatchId;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.Executor;
import java.util.function.Function;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.stream.javadsl.Sink;
import org.apache.pekko.stream.javadsl.Source;

/**
 * Pulls a step's batches through Pekko Streams: at most {@code prefetch} fetches in flight, results in
 * order, and nothing fetched faster than the consumer takes it (back-pressure to the Flight server).
 */
public final class BatchPrefetcher {
  private final ActorSystem<?> system;
  private final int prefetch;
  private final Executor io;

  public BatchPrefetcher(ActorSystem<?> system, int prefetch, Executor io) {
    if (prefetch < 1) {
      throw new IllegalArgumentException("prefetch must be >= 1, got " + prefetch);
    }
    this.system = system;
    this.prefetch = prefetch;
    this.io = io;
  }

  /** Fetches every batch and hands each, in order, to {@code consume}; completes when all are consumed. */
  public <T> CompletionStage<List<T>> fetchAll(List<BatchId> ids, Function<BatchId, byte[]> fetch,
      Function<byte[], T> consume) {
    return Source.from(ids)
        .mapAsync(prefetch, id -> CompletableFuture.supplyAsync(() -> fetch.apply(id), io))
        .map(consume::apply)
        .runWith(Sink.seq(), system);
  }
}
