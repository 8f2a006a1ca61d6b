package ai.bakery.data.live;

import ai.bakery.data.source.SkipCounter;
import org.apache.pekko.actor.ActorSystem;
import org.apache.pekko.stream.javadsl.Source;

/**
 * Data that keeps arriving, as a Pekko Streams {@link Source} of samples with durable positions. The stream
 * emits only on demand, so back-pressure reaches the producer (a folder scan, the ingest endpoint, a Kafka
 * fetch). A source is opened once per run; {@link #close()} releases what {@link #open} acquired (a server
 * binding, a consumer).
 */
public interface LiveSource extends AutoCloseable {
  /** Short description for logs (type and where). */
  String describe();

  /**
   * The records from {@code from} on, in order per key; records listed in {@code from.done()} are passed over.
   *
   * @param skips bad input (unparseable lines, unknown roles) is counted here and never emitted
   * @param system runs the stream and any server
   */
  Source<LiveRecord, ?> open(LivePosition from, SkipCounter skips, ActorSystem system);

  @Override
  void close();
}
