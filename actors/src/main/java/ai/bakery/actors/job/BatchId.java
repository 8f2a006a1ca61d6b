package ai.bakery.actors.job;

/** A packed batch produced by a data shard: the shard's name and the batch's sequence number in it. */
public record BatchId(String shard, long seq) implements Comparable<BatchId> {
  @Override
  public int compareTo(BatchId o) {
    int c = shard.compareTo(o.shard);
    return c != 0 ? c : Long.compare(seq, o.seq);
  }

  @Override
  public String toString() {
    return shard + "#" + seq;
  }
}
