package ai.bakery.runtime.collective;

import java.nio.file.Path;
import java.time.Duration;

/**
 * A rank in its own JVM, for the cross-process tests. Args: mode (suite | hang), rendezvous folder, group,
 * rank, world size. "suite" runs {@link #suite} and exits 0 when every result matches; "hang" does one
 * all-reduce, prints READY and then waits to be killed.
 */
public final class RingPeerMain {
  private RingPeerMain() {}

  public static void main(String[] args) throws Exception {
    String mode = args[0];
    Rendezvous rendezvous = new FileRendezvous(Path.of(args[1]));
    String group = args[2];
    int rank = Integer.parseInt(args[3]);
    int worldSize = Integer.parseInt(args[4]);
    TcpRingCollective.Options options = RingFixtures.fastOptions().withTimeout(Duration.ofSeconds(30));
    try (Collective c = TcpRingCollective.create(group, 3, rank, worldSize, rendezvous, options)) {
      if (mode.equals("suite")) {
        suite(c);
        System.out.println("SUITE OK rank " + rank);
      } else {
        try (HostBuffer b = HostBuffer.of(RingFixtures.floats(rank, 7))) {
          c.allReduce(b.pointer(), 7, DType.FLOAT32, ReduceOp.SUM);
        }
        System.out.println("READY");
        System.out.flush();
        Thread.sleep(Long.MAX_VALUE);
      }
    } catch (Throwable t) {
      t.printStackTrace();
      System.exit(1);
    }
    System.exit(0);
  }

  /** Every operation once, with results checked against hand-computed references. */
  static void suite(Collective c) {
    int n = c.worldSize();
    int rank = c.rank();
    int count = 1_000_003;
    try (HostBuffer b = HostBuffer.of(RingFixtures.floats(rank, count))) {
      c.allReduce(b.pointer(), count, DType.FLOAT32, ReduceOp.SUM);
      float[] got = b.toFloats();
      for (int i = 0; i < count; i++) {
        check(got[i] == RingFixtures.expected(ReduceOp.SUM, n, i), "allReduce element " + i);
      }
    }
    int per = 1001;
    try (HostBuffer send = HostBuffer.of(RingFixtures.floats(rank, per * n));
        HostBuffer recv = HostBuffer.allocate(DType.FLOAT32, per)) {
      c.reduceScatter(send.pointer(), recv.pointer(), per, DType.FLOAT32, ReduceOp.MAX);
      float[] got = recv.toFloats();
      for (int i = 0; i < per; i++) {
        check(got[i] == RingFixtures.expected(ReduceOp.MAX, n, (long) rank * per + i), "reduceScatter element " + i);
      }
    }
    try (HostBuffer send = HostBuffer.of(new long[] {RingFixtures.longValue(rank, 0), RingFixtures.longValue(rank, 1)});
        HostBuffer recv = HostBuffer.allocate(DType.INT64, 2L * n)) {
      c.allGather(send.pointer(), recv.pointer(), 2, DType.INT64);
      long[] got = recv.toLongs();
      for (int r = 0; r < n; r++) {
        check(got[2 * r] == RingFixtures.longValue(r, 0) && got[2 * r + 1] == RingFixtures.longValue(r, 1), "allGather block " + r);
      }
    }
    try (HostBuffer b = HostBuffer.ofBf16(RingFixtures.bf16(rank, 1003))) {
      c.broadcast(b.pointer(), 1003, DType.BFLOAT16, n - 1);
      short[] want = RingFixtures.bf16(n - 1, 1003);
      short[] got = b.toBf16();
      for (int i = 0; i < got.length; i++) {
        check(got[i] == want[i], "broadcast element " + i);
      }
    }
    c.barrier();
  }

  private static void check(boolean ok, String what) {
    if (!ok) {
      throw new AssertionError("rank mismatch at " + what);
    }
  }
}
