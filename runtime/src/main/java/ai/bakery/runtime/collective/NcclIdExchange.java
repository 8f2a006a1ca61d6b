package ai.bakery.runtime.collective;

import ai.bakery.runtime.collective.CollectiveException.Reason;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.List;

/**
 * Hands rank 0's ncclUniqueId to every rank through a {@link Rendezvous}. Each payload starts with the
 * sender's generation, so a rank of another generation that meets under the same key is rejected before any
 * communicator is built; rank 0's payload continues with the 128 id bytes.
 */
final class NcclIdExchange {
  static final int ID_BYTES = 128;

  private NcclIdExchange() {}

  /** {@code id} is rank 0's ncclUniqueId bytes; null on the other ranks. Returns rank 0's id. */
  static byte[] exchange(Rendezvous rendezvous, String key, long generation, int rank, int worldSize, byte[] id,
      Duration timeout) {
    if ((rank == 0) != (id != null)) {
      throw new IllegalArgumentException("exactly rank 0 supplies the id; rank " + rank + (id == null ? " did not" : " did"));
    }
    return decode(rendezvous.exchange(key, rank, worldSize, encode(generation, id), timeout), generation);
  }

  static byte[] encode(long generation, byte[] id) {
    if (id != null && id.length != ID_BYTES) {
      throw new IllegalArgumentException("an ncclUniqueId has " + ID_BYTES + " bytes, got " + id.length);
    }
    ByteBuffer b = ByteBuffer.allocate(Long.BYTES + (id == null ? 0 : ID_BYTES));
    b.putLong(generation);
    if (id != null) {
      b.put(id);
    }
    return b.array();
  }

  static byte[] decode(List<byte[]> payloads, long generation) {
    for (int r = 0; r < payloads.size(); r++) {
      byte[] p = payloads.get(r);
      if (p.length < Long.BYTES) {
        throw new CollectiveException(Reason.PROTOCOL, "rank " + r + " published " + p.length + " bytes, not a generation");
      }
      long theirs = ByteBuffer.wrap(p).getLong();
      if (theirs != generation) {
        throw new CollectiveException(Reason.GENERATION_MISMATCH,
            "rank " + r + " joined with generation " + theirs + ", this group is generation " + generation);
      }
    }
    byte[] root = payloads.get(0);
    if (root.length != Long.BYTES + ID_BYTES) {
      throw new CollectiveException(Reason.PROTOCOL, "rank 0 published " + (root.length - Long.BYTES)
          + " id bytes, expected " + ID_BYTES);
    }
    byte[] id = new byte[ID_BYTES];
    System.arraycopy(root, Long.BYTES, id, 0, ID_BYTES);
    return id;
  }
}
