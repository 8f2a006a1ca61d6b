package ai.bakery.data.live;

import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.apache.pekko.actor.ActorSystem;
import org.apache.pekko.stream.Materializer;
import org.apache.pekko.stream.OverflowStrategy;
import org.apache.pekko.stream.javadsl.Keep;
import org.apache.pekko.stream.javadsl.Sink;
import org.apache.pekko.stream.javadsl.Source;
import org.apache.pekko.stream.javadsl.SinkQueueWithCancel;

/**
 * A running live stream drained by the packer's thread: a bounded buffer of {@code capacity} records between
 * the stream and the packer. When the buffer is full the stream is back-pressured (it stops pulling from its
 * producer); the packer polls without blocking so an idle source never stalls other groups.
 */
final class LiveFeed<T> implements AutoCloseable {
  private final SinkQueueWithCancel<T> queue;
  private final String what;
  private CompletableFuture<Optional<T>> pending;
  private boolean finished;

  LiveFeed(Source<T, ?> source, int capacity, ActorSystem system, String what) {
    if (capacity < 1) {
      throw new IllegalArgumentException(what + ": buffer must be >= 1, got " + capacity);
    }
    this.what = what;
    this.queue = source.buffer(capacity, OverflowStrategy.backpressure())
        .toMat(Sink.queue(), Keep.right())
        .run(Materializer.matFromSystem(system));
  }

  /** The next record if one is buffered, else null at once. */
  T poll() {
    return poll(0);
  }

  /** The next record, waiting up to {@code millis} for one; null when none came (or the stream ended). */
  T poll(long millis) {
    if (finished) {
      return null;
    }
    if (pending == null) {
      pending = queue.pull().toCompletableFuture();
    }
    Optional<T> v;
    try {
      v = millis <= 0 ? (pending.isDone() ? pending.get() : null) : pending.get(millis, TimeUnit.MILLISECONDS);
    } catch (TimeoutException e) {
      return null;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return null;
    } catch (ExecutionException e) {
      throw new IllegalStateException("live source " + what + " failed: " + e.getCause().getMessage(), e.getCause());
    }
    if (v == null) {
      return null;
    }
    pending = null;
    if (v.isEmpty()) {
      finished = true;
      return null;
    }
    return v.get();
  }

  /** Whether the stream has completed (a finite source ran out). */
  boolean finished() {
    return finished;
  }

  @Override
  public void close() {
    queue.cancel();
  }
}
