package ai.bakery.runtime.collective;

import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

/** Ranks that are threads of one JVM (tests, single-process runs). Each key is used once. */
public final class InMemoryRendezvous implements Rendezvous {
  private record Round(int worldSize, byte[][] payloads, CountDownLatch arrived) {}

  private final Map<String, Round> rounds = new ConcurrentHashMap<>();

  @Override
  public List<byte[]> exchange(String key, int rank, int worldSize, byte[] payload, Duration timeout) {
    Round round = rounds.computeIfAbsent(key, k -> new Round(worldSize, new byte[worldSize][], new CountDownLatch(worldSize)));
    if (round.worldSize() != worldSize) {
      throw new CollectiveException(CollectiveException.Reason.RENDEZVOUS,
          "key " + key + ": rank " + rank + " expects world size " + worldSize + ", others " + round.worldSize());
    }
    if (rank < 0 || rank >= worldSize) {
      throw new IllegalArgumentException("rank " + rank + " outside [0, " + worldSize + ")");
    }
    synchronized (round) {
      if (round.payloads()[rank] != null) {
        throw new CollectiveException(CollectiveException.Reason.RENDEZVOUS, "key " + key + ": rank " + rank + " published twice");
      }
      round.payloads()[rank] = payload.clone();
    }
    round.arrived().countDown();
    try {
      if (!round.arrived().await(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
        throw new CollectiveException(CollectiveException.Reason.RENDEZVOUS,
            "key " + key + ": only " + (worldSize - round.arrived().getCount()) + " of " + worldSize
                + " ranks arrived within " + timeout);
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new CollectiveException(CollectiveException.Reason.RENDEZVOUS, "interrupted at key " + key, e);
    }
    synchronized (round) {
      return Arrays.stream(round.payloads()).map(byte[]::clone).toList();
    }
  }
}
