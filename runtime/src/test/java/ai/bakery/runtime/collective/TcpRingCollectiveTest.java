package ai.bakery.runtime.collective;

import static ai.bakery.runtime.collective.RingFixtures.expected;
import static ai.bakery.runtime.collective.RingFixtures.floats;
import static ai.bakery.runtime.collective.RingFixtures.longValue;
import static ai.bakery.runtime.collective.RingFixtures.runRanks;
import static ai.bakery.runtime.collective.RingFixtures.value;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.bakery.runtime.collective.CollectiveException.Reason;
import java.io.BufferedReader;
import java.io.File;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

class TcpRingCollectiveTest {

  @ParameterizedTest(name = "{0} ranks, {1} elements")
  @CsvSource({"2, 1", "2, 7", "2, 1000003", "3, 1", "3, 7", "3, 1000003", "4, 5"})
  void allReduceFloat32SumAvgMax(int n, int count) throws Exception {
    runRanks(n, c -> {
      for (ReduceOp op : ReduceOp.values()) {
        try (HostBuffer b = HostBuffer.of(floats(c.rank(), count))) {
          c.allReduce(b.pointer(), count, DType.FLOAT32, op);
          float[] want = new float[count];
          for (int i = 0; i < count; i++) {
            want[i] = expected(op, n, i);
          }
          assertArrayEquals(want, b.toFloats(), op + " on rank " + c.rank());
        }
      }
    });
  }

  @ParameterizedTest(name = "{0} ranks")
  @ValueSource(ints = {2, 3})
  void allReduceBf16IsExactOnRepresentableSumsAndCloseOnRandomOnes(int n) throws Exception {
    int count = 100_003;
    runRanks(n, c -> {
      for (ReduceOp op : ReduceOp.values()) {
        try (HostBuffer b = HostBuffer.ofBf16(RingFixtures.bf16(c.rank(), count))) {
          c.allReduce(b.pointer(), count, DType.BFLOAT16, op);
          short[] want = new short[count];
          for (int i = 0; i < count; i++) {
            want[i] = Bf16.fromFloat(expected(op, n, i));
          }
          assertArrayEquals(want, b.toBf16(), op.toString());
        }
      }
      // Random values: every hop rounds to bf16 once, so the error stays within a few bf16 ulps of the sum.
      float[][] inputs = new float[n][1001];
      for (int r = 0; r < n; r++) {
        Random random = new Random(r);
        for (int i = 0; i < 1001; i++) {
          inputs[r][i] = Bf16.toFloat(Bf16.fromFloat((float) random.nextGaussian()));
        }
      }
      short[] mine = new short[1001];
      for (int i = 0; i < 1001; i++) {
        mine[i] = Bf16.fromFloat(inputs[c.rank()][i]);
      }
      try (HostBuffer b = HostBuffer.ofBf16(mine)) {
        c.allReduce(b.pointer(), 1001, DType.BFLOAT16, ReduceOp.SUM);
        short[] got = b.toBf16();
        for (int i = 0; i < 1001; i++) {
          double sum = 0;
          double magnitude = 0;
          for (int r = 0; r < n; r++) {
            sum += inputs[r][i];
            magnitude += Math.abs(inputs[r][i]);
          }
          assertEquals(sum, Bf16.toFloat(got[i]), magnitude * (n - 1) * Math.pow(2, -8) + 1e-6, "random element " + i);
        }
      }
    });
  }

  @ParameterizedTest(name = "{0} ranks")
  @ValueSource(ints = {2, 3})
  void allReduceInt64KeepsEveryBit(int n) throws Exception {
    int count = 10_007;
    runRanks(n, c -> {
      for (ReduceOp op : ReduceOp.values()) {
        long[] mine = new long[count];
        for (int i = 0; i < count; i++) {
          mine[i] = (i % 2 == 0 ? 1 : -1) * longValue(c.rank(), i);
        }
        try (HostBuffer b = HostBuffer.of(mine)) {
          c.allReduce(b.pointer(), count, DType.INT64, op);
          long[] want = new long[count];
          for (int i = 0; i < count; i++) {
            long sign = i % 2 == 0 ? 1 : -1;
            long acc = sign * longValue(0, i);
            for (int r = 1; r < n; r++) {
              acc = op == ReduceOp.MAX ? Math.max(acc, sign * longValue(r, i)) : acc + sign * longValue(r, i);
            }
            want[i] = op == ReduceOp.AVG ? acc / n : acc;
          }
          assertArrayEquals(want, b.toLongs(), op.toString());
        }
      }
    });
  }

  @ParameterizedTest(name = "{0} ranks, {1} per rank")
  @CsvSource({"2, 1", "2, 7", "2, 333335", "3, 1", "3, 7", "3, 333335"})
  void reduceScatterGivesEachRankItsBlockAndLeavesSendAlone(int n, int per) throws Exception {
    runRanks(n, c -> {
      float[] input = floats(c.rank(), per * n);
      try (HostBuffer send = HostBuffer.of(input); HostBuffer recv = HostBuffer.allocate(DType.FLOAT32, per)) {
        c.reduceScatter(send.pointer(), recv.pointer(), per, DType.FLOAT32, ReduceOp.AVG);
        float[] want = new float[per];
        for (int i = 0; i < per; i++) {
          want[i] = expected(ReduceOp.AVG, n, (long) c.rank() * per + i);
        }
        assertArrayEquals(want, recv.toFloats());
        assertArrayEquals(input, send.toFloats(), "send buffer must stay unchanged");
      }
      long[] mine = new long[3 * n];
      for (int i = 0; i < mine.length; i++) {
        mine[i] = longValue(c.rank(), i);
      }
      try (HostBuffer send = HostBuffer.of(mine); HostBuffer recv = HostBuffer.allocate(DType.INT64, 3)) {
        c.reduceScatter(send.pointer(), recv.pointer(), 3, DType.INT64, ReduceOp.SUM);
        for (int i = 0; i < 3; i++) {
          long want = 0;
          for (int r = 0; r < n; r++) {
            want += longValue(r, 3L * c.rank() + i);
          }
          assertEquals(want, recv.toLongs()[i]);
        }
      }
    });
  }

  @ParameterizedTest(name = "{0} ranks, {1} per rank")
  @CsvSource({"2, 1", "2, 100003", "3, 7", "3, 100003"})
  void allGatherConcatenatesInRankOrder(int n, int per) throws Exception {
    runRanks(n, c -> {
      long[] mine = new long[per];
      for (int i = 0; i < per; i++) {
        mine[i] = longValue(c.rank(), i);
      }
      try (HostBuffer send = HostBuffer.of(mine); HostBuffer recv = HostBuffer.allocate(DType.INT64, (long) per * n)) {
        c.allGather(send.pointer(), recv.pointer(), per, DType.INT64);
        long[] want = new long[per * n];
        for (int r = 0; r < n; r++) {
          for (int i = 0; i < per; i++) {
            want[r * per + i] = longValue(r, i);
          }
        }
        assertArrayEquals(want, recv.toLongs());
      }
      // In place: the own block already sits in recv.
      try (HostBuffer both = HostBuffer.allocate(DType.FLOAT32, 5L * n)) {
        float[] all = new float[5 * n];
        for (int i = 0; i < 5; i++) {
          all[c.rank() * 5 + i] = value(c.rank(), i);
        }
        try (HostBuffer init = HostBuffer.of(all)) {
          c.allGather(init.pointer(5L * c.rank()), init.pointer(), 5, DType.FLOAT32);
          float[] got = init.toFloats();
          for (int r = 0; r < n; r++) {
            for (int i = 0; i < 5; i++) {
              assertEquals(value(r, i), got[r * 5 + i]);
            }
          }
        }
      }
    });
  }

  @ParameterizedTest(name = "{0} ranks, {1} elements, root {2}")
  @CsvSource({"2, 1, 0", "2, 1000003, 1", "3, 7, 1", "3, 1000003, 2"})
  void broadcastCopiesTheRootsBuffer(int n, int count, int root) throws Exception {
    runRanks(n, c -> {
      try (HostBuffer b = HostBuffer.of(floats(c.rank(), count))) {
        c.broadcast(b.pointer(), count, DType.FLOAT32, root);
        assertArrayEquals(floats(root, count), b.toFloats());
      }
    });
  }

  @Test
  void barrierReleasesNoRankBeforeTheLastArrives() throws Exception {
    AtomicLong lastArrival = new AtomicLong();
    List<Long> releases = java.util.Collections.synchronizedList(new ArrayList<>());
    runRanks(3, c -> {
      if (c.rank() == 1) {
        Thread.sleep(300);
      }
      lastArrival.accumulateAndGet(System.nanoTime(), Math::max);
      c.barrier();
      releases.add(System.nanoTime());
    });
    assertEquals(3, releases.size());
    for (long t : releases) {
      assertTrue(t >= lastArrival.get(), "a rank left the barrier before the last one entered it");
    }
  }

  @Test
  void asyncOperationsRunInSubmissionOrder() throws Exception {
    runRanks(3, c -> {
      List<HostBuffer> buffers = new ArrayList<>();
      List<CompletableFuture<Void>> futures = new ArrayList<>();
      for (int k = 0; k < 5; k++) {
        HostBuffer b = HostBuffer.of(floats(c.rank() + k, 1000 + k));
        buffers.add(b);
        futures.add(c.allReduceAsync(b.pointer(), 1000 + k, DType.FLOAT32, ReduceOp.SUM));
      }
      CompletableFuture.allOf(futures.toArray(CompletableFuture[]::new)).get(30, TimeUnit.SECONDS);
      for (int k = 0; k < 5; k++) {
        float[] got = buffers.get(k).toFloats();
        for (int i = 0; i < got.length; i++) {
          float want = 0;
          for (int r = 0; r < 3; r++) {
            want += value(r + k, i);
          }
          assertEquals(want, got[i]);
        }
        buffers.get(k).close();
      }
    });
  }

  @Test
  void aGroupOfOneIsTheIdentity() throws Exception {
    runRanks(1, c -> {
      try (HostBuffer b = HostBuffer.of(floats(0, 9)); HostBuffer out = HostBuffer.allocate(DType.FLOAT32, 9)) {
        c.allReduce(b.pointer(), 9, DType.FLOAT32, ReduceOp.AVG);
        assertArrayEquals(floats(0, 9), b.toFloats());
        c.reduceScatter(b.pointer(), out.pointer(), 9, DType.FLOAT32, ReduceOp.SUM);
        assertArrayEquals(floats(0, 9), out.toFloats());
        c.broadcast(b.pointer(), 9, DType.FLOAT32, 0);
        c.barrier();
      }
    });
  }

  @Test
  void aPeerOfAnotherGenerationIsRejected() throws Exception {
    // Both ranks meet under one key, as a stale worker would, but claim different generations.
    InMemoryRendezvous shared = new InMemoryRendezvous();
    Rendezvous sameKey = (key, rank, worldSize, payload, timeout) -> shared.exchange("fixed", rank, worldSize, payload, timeout);
    TcpRingCollective.Options options = RingFixtures.fastOptions().withConnectTimeout(Duration.ofSeconds(5));
    CompletableFuture<Collective> old = CompletableFuture.supplyAsync(
        () -> TcpRingCollective.create("g", 1, 0, 2, sameKey, options));
    CompletableFuture<Collective> fresh = CompletableFuture.supplyAsync(
        () -> TcpRingCollective.create("g", 2, 1, 2, sameKey, options));
    for (CompletableFuture<Collective> f : List.of(old, fresh)) {
      ExecutionException e = assertThrows(ExecutionException.class, () -> f.get(20, TimeUnit.SECONDS));
      CollectiveException ce = assertInstanceOf(e.getCause());
      assertEquals(Reason.GENERATION_MISMATCH, ce.reason(), ce.getMessage());
    }
  }

  @Test
  void aHungPeerSurfacesAsTimeout() throws Exception {
    TcpRingCollective.Options options = RingFixtures.fastOptions().withTimeout(Duration.ofMillis(800));
    runRanks(2, options, c -> {
      if (c.rank() == 1) {
        Thread.sleep(2500); // never joins the all-reduce
        return;
      }
      try (HostBuffer b = HostBuffer.of(floats(0, 100_000))) {
        long start = System.nanoTime();
        CollectiveException e = assertThrows(CollectiveException.class,
            () -> c.allReduce(b.pointer(), 100_000, DType.FLOAT32, ReduceOp.SUM));
        long millis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
        assertEquals(Reason.TIMEOUT, e.reason(), e.getMessage());
        assertTrue(millis >= 700 && millis < 2000, "timed out after " + millis + " ms");
        // The group stays broken.
        assertEquals(Reason.TIMEOUT, assertThrows(CollectiveException.class, c::barrier).reason());
      }
    });
  }

  @Test
  void ranksIssuingDifferentCollectivesFailInsteadOfHanging() throws Exception {
    runRanks(2, c -> {
      int count = c.rank() == 0 ? 1000 : 1200; // rank 1 disagrees about the size
      try (HostBuffer b = HostBuffer.of(floats(c.rank(), count))) {
        CollectiveException e = assertThrows(CollectiveException.class,
            () -> c.allReduce(b.pointer(), count, DType.FLOAT32, ReduceOp.SUM));
        assertTrue(e.reason() == Reason.PROTOCOL || e.reason() == Reason.PEER_LOST, e.getMessage());
      }
    });
  }

  @Test
  void closingUnblocksAPendingOperation() throws Exception {
    runRanks(2, c -> {
      if (c.rank() == 1) {
        Thread.sleep(1500);
        return;
      }
      try (HostBuffer b = HostBuffer.of(floats(0, 1000))) {
        CompletableFuture<Void> pending = c.allReduceAsync(b.pointer(), 1000, DType.FLOAT32, ReduceOp.SUM);
        CompletableFuture<Void> queued = c.allReduceAsync(b.pointer(), 1000, DType.FLOAT32, ReduceOp.SUM);
        Thread.sleep(200);
        long start = System.nanoTime();
        c.close();
        for (CompletableFuture<Void> f : List.of(pending, queued)) {
          CollectiveException e = assertThrows(CollectiveException.class, () -> Collective.await(f));
          assertEquals(Reason.CLOSED, e.reason(), e.getMessage());
        }
        assertTrue(System.nanoTime() - start < TimeUnit.SECONDS.toNanos(2), "close took too long");
        assertEquals(Reason.CLOSED, assertThrows(CollectiveException.class, c::barrier).reason());
      }
    });
  }

  @Test
  void aPeerThatLeavesSurfacesAsPeerLost() throws Exception {
    runRanks(3, c -> {
      c.barrier();
      if (c.rank() == 2) {
        c.close();
        return;
      }
      try (HostBuffer b = HostBuffer.of(floats(0, 1000))) {
        CollectiveException e = assertThrows(CollectiveException.class,
            () -> c.allReduce(b.pointer(), 1000, DType.FLOAT32, ReduceOp.SUM));
        assertEquals(Reason.PEER_LOST, e.reason(), e.getMessage());
      }
    });
  }

  @Test
  void ranksInSeparateProcessesAgree(@TempDir Path dir) throws Exception {
    String group = RingFixtures.uniqueGroup("xproc");
    Process child = spawn("suite", dir, group, 1, 2);
    try {
      try (Collective c = TcpRingCollective.create(group, 3, 0, 2, new FileRendezvous(dir), RingFixtures.fastOptions())) {
        RingPeerMain.suite(c);
      }
      assertTrue(child.waitFor(30, TimeUnit.SECONDS), "child did not finish");
      String out = new String(child.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
      assertEquals(0, child.exitValue(), "child failed:\n" + out);
      assertTrue(out.contains("SUITE OK rank 1"), out);
    } finally {
      child.destroyForcibly();
    }
  }

  @Test
  void aKilledPeerProcessSurfacesWithinTheTimeout(@TempDir Path dir) throws Exception {
    String group = RingFixtures.uniqueGroup("kill");
    Process child = spawn("hang", dir, group, 1, 2);
    TcpRingCollective.Options options = RingFixtures.fastOptions().withTimeout(Duration.ofSeconds(3));
    try (Collective c = TcpRingCollective.create(group, 3, 0, 2, new FileRendezvous(dir), options);
        HostBuffer b = HostBuffer.of(floats(0, 7))) {
      c.allReduce(b.pointer(), 7, DType.FLOAT32, ReduceOp.SUM);
      BufferedReader lines = new BufferedReader(new InputStreamReader(child.getInputStream(), StandardCharsets.UTF_8));
      for (String line; (line = lines.readLine()) != null && !line.equals("READY"); ) {
        // skip child log lines
      }
      child.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
      long start = System.nanoTime();
      CollectiveException e = assertThrows(CollectiveException.class,
          () -> c.allReduce(b.pointer(), 7, DType.FLOAT32, ReduceOp.SUM));
      long millis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
      assertTrue(e.reason() == Reason.PEER_LOST || e.reason() == Reason.TIMEOUT, e.getMessage());
      assertTrue(millis < 4000, "noticed the dead peer after " + millis + " ms");
    } finally {
      child.destroyForcibly();
    }
  }

  @Test
  void badArgumentsAreRejectedUpFront() throws Exception {
    runRanks(1, c -> {
      assertThrows(IllegalArgumentException.class, () -> c.allReduce(null, 3, DType.FLOAT32, ReduceOp.SUM));
      try (HostBuffer b = HostBuffer.allocate(DType.FLOAT32, 3)) {
        assertThrows(IllegalArgumentException.class, () -> c.broadcast(b.pointer(), 3, DType.FLOAT32, 1));
        assertThrows(IllegalArgumentException.class, () -> c.allReduce(b.pointer(), -1, DType.FLOAT32, ReduceOp.SUM));
        assertThrows(IllegalArgumentException.class, () -> c.allReduce(b.pointer(), 3, DType.FLOAT32, null));
        c.allReduce(b.pointer(), 3, DType.FLOAT32, ReduceOp.SUM); // the group is still usable
      }
    });
    assertThrows(IllegalArgumentException.class,
        () -> TcpRingCollective.create("g", 0, 2, 2, new InMemoryRendezvous(), RingFixtures.fastOptions()));
  }

  static Process spawn(String mode, Path dir, String group, int rank, int worldSize) throws Exception {
    String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
    List<String> command = List.of(java, "-Xmx256m", "-cp", System.getProperty("java.class.path"),
        RingPeerMain.class.getName(), mode, dir.toString(), group, Integer.toString(rank), Integer.toString(worldSize));
    return new ProcessBuilder(command).redirectErrorStream(true).directory(new File(".")).start();
  }

  private static CollectiveException assertInstanceOf(Throwable t) {
    assertTrue(t instanceof CollectiveException, "expected a CollectiveException, got " + t);
    return (CollectiveException) t;
  }

  @Test
  void fileRendezvousReportsAMissingRank(@TempDir Path dir) {
    CollectiveException e = assertThrows(CollectiveException.class,
        () -> new FileRendezvous(dir).exchange("k", 0, 2, new byte[] {1}, Duration.ofMillis(100)));
    assertEquals(Reason.RENDEZVOUS, e.reason());
    assertTrue(e.getMessage().contains("rank 1"), e.getMessage());
    assertTrue(Files.exists(dir.resolve("k").resolve("0")));
  }
}
