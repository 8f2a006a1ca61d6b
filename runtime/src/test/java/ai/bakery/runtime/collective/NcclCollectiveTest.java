package ai.bakery.runtime.collective;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import ai.bakery.runtime.collective.CollectiveException.Reason;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.bytedeco.cuda.global.cudart;
import org.bytedeco.javacpp.Pointer;
import org.junit.jupiter.api.Test;

class NcclCollectiveTest {

  /** CUDA devices usable from Java here; 0 when the natives (Maven profile gpu) or a GPU are missing. */
  static int cudaDevices() {
    try {
      int[] n = new int[1];
      return cudart.cudaGetDeviceCount(n) == cudart.cudaSuccess ? n[0] : 0;
    } catch (LinkageError missingNatives) {
      return 0;
    }
  }

  @Test
  void theIdReachesEveryRankWithTheGeneration() throws Exception {
    InMemoryRendezvous rendezvous = new InMemoryRendezvous();
    byte[] id = new byte[NcclIdExchange.ID_BYTES];
    Arrays.fill(id, (byte) 0x5A);
    id[0] = 1;
    List<CompletableFuture<byte[]>> got = new ArrayList<>();
    for (int r = 0; r < 3; r++) {
      int rank = r;
      got.add(CompletableFuture.supplyAsync(() -> NcclIdExchange.exchange(rendezvous, "k", 9, rank, 3,
          rank == 0 ? id : null, Duration.ofSeconds(10))));
    }
    for (CompletableFuture<byte[]> f : got) {
      assertArrayEquals(id, f.get(10, TimeUnit.SECONDS));
    }
  }

  @Test
  void aRankOfAnotherGenerationIsRejectedBeforeNcclStarts() throws Exception {
    InMemoryRendezvous rendezvous = new InMemoryRendezvous();
    byte[] id = new byte[NcclIdExchange.ID_BYTES];
    CompletableFuture<byte[]> root = CompletableFuture.supplyAsync(
        () -> NcclIdExchange.exchange(rendezvous, "k", 4, 0, 2, id, Duration.ofSeconds(10)));
    CompletableFuture<byte[]> stale = CompletableFuture.supplyAsync(
        () -> NcclIdExchange.exchange(rendezvous, "k", 3, 1, 2, null, Duration.ofSeconds(10)));
    for (CompletableFuture<byte[]> f : List.of(root, stale)) {
      ExecutionException e = assertThrows(ExecutionException.class, () -> f.get(10, TimeUnit.SECONDS));
      assertEquals(Reason.GENERATION_MISMATCH, ((CollectiveException) e.getCause()).reason());
    }
    assertThrows(CollectiveException.class, () -> NcclIdExchange.decode(List.of(NcclIdExchange.encode(4, null)), 4));
    assertThrows(IllegalArgumentException.class, () -> NcclIdExchange.encode(4, new byte[5]));
  }

  @Test
  void typesAndOpsMapToNcclsEnums() {
    assertEquals(7, NcclCollective.ncclType(DType.FLOAT32));
    assertEquals(9, NcclCollective.ncclType(DType.BFLOAT16));
    assertEquals(4, NcclCollective.ncclType(DType.INT64));
    assertEquals(0, NcclCollective.ncclOp(ReduceOp.SUM));
    assertEquals(2, NcclCollective.ncclOp(ReduceOp.MAX));
    assertEquals(4, NcclCollective.ncclOp(ReduceOp.AVG));
  }

  /** One rank per GPU (NCCL forbids two ranks on one device); a single GPU still runs a group of one. */
  @Test
  void everyOperationOnTheGpus() throws Exception {
    int devices = cudaDevices();
    assumeTrue(devices > 0, "no CUDA device or CUDA natives (build with -Pgpu on a GPU machine)");
    int n = Math.min(devices, 4);
    Rendezvous rendezvous = new InMemoryRendezvous();
    String group = RingFixtures.uniqueGroup("nccl");
    ExecutorService pool = Executors.newFixedThreadPool(n);
    try {
      List<Future<?>> ranks = new ArrayList<>();
      for (int r = 0; r < n; r++) {
        int rank = r;
        ranks.add(pool.submit(() -> {
          try (NcclCollective c = NcclCollective.create(group, 1, rank, n, rank, null, rendezvous,
              new NcclCollective.Options(Duration.ofSeconds(60), Duration.ofSeconds(60)))) {
            runSuite(c);
          }
          return null;
        }));
      }
      for (Future<?> f : ranks) {
        f.get(120, TimeUnit.SECONDS);
      }
    } finally {
      pool.shutdownNow();
    }
  }

  private static void runSuite(Collective c) {
    int n = c.worldSize();
    int rank = c.rank();
    int count = 1_000_003;
    for (ReduceOp op : ReduceOp.values()) {
      try (HostBuffer host = HostBuffer.of(RingFixtures.floats(rank, count)); Device dev = Device.upload(host)) {
        c.allReduce(dev.pointer, count, DType.FLOAT32, op);
        dev.download(host);
        float[] got = host.toFloats();
        for (int i = 0; i < count; i++) {
          assertEquals(RingFixtures.expected(op, n, i), got[i], 1e-6f, op + " element " + i);
        }
      }
    }
    try (HostBuffer host = HostBuffer.ofBf16(RingFixtures.bf16(rank, 1001)); Device dev = Device.upload(host)) {
      c.allReduce(dev.pointer, 1001, DType.BFLOAT16, ReduceOp.SUM);
      dev.download(host);
      short[] got = host.toBf16();
      for (int i = 0; i < 1001; i++) {
        assertEquals(Bf16.fromFloat(RingFixtures.expected(ReduceOp.SUM, n, i)), got[i], "bf16 element " + i);
      }
    }
    int per = 7;
    try (HostBuffer send = HostBuffer.of(RingFixtures.floats(rank, per * n));
        HostBuffer recv = HostBuffer.allocate(DType.FLOAT32, per);
        Device dSend = Device.upload(send); Device dRecv = Device.upload(recv)) {
      c.reduceScatter(dSend.pointer, dRecv.pointer, per, DType.FLOAT32, ReduceOp.SUM);
      dRecv.download(recv);
      float[] got = recv.toFloats();
      for (int i = 0; i < per; i++) {
        assertEquals(RingFixtures.expected(ReduceOp.SUM, n, (long) rank * per + i), got[i]);
      }
    }
    try (HostBuffer send = HostBuffer.of(new long[] {RingFixtures.longValue(rank, 0)});
        HostBuffer recv = HostBuffer.allocate(DType.INT64, n);
        Device dSend = Device.upload(send); Device dRecv = Device.upload(recv)) {
      c.allGather(dSend.pointer, dRecv.pointer, 1, DType.INT64);
      dRecv.download(recv);
      for (int r = 0; r < n; r++) {
        assertEquals(RingFixtures.longValue(r, 0), recv.toLongs()[r]);
      }
    }
    try (HostBuffer host = HostBuffer.of(RingFixtures.floats(rank, 13)); Device dev = Device.upload(host)) {
      c.broadcast(dev.pointer, 13, DType.FLOAT32, n - 1);
      dev.download(host);
      assertArrayEquals(RingFixtures.floats(n - 1, 13), host.toFloats());
    }
    // Two all-reduces fused into one NCCL group launch.
    try (HostBuffer a = HostBuffer.of(RingFixtures.floats(rank, 33)); HostBuffer b = HostBuffer.of(RingFixtures.floats(rank, 65));
        Device da = Device.upload(a); Device db = Device.upload(b)) {
      List<CompletableFuture<Void>> launched = new ArrayList<>();
      ((NcclCollective) c).grouped(() -> {
        launched.add(c.allReduceAsync(da.pointer, 33, DType.FLOAT32, ReduceOp.SUM));
        launched.add(c.allReduceAsync(db.pointer, 65, DType.FLOAT32, ReduceOp.MAX));
      });
      launched.forEach(Collective::await);
      da.download(a);
      db.download(b);
      for (int i = 0; i < 65; i++) {
        if (i < 33) {
          assertEquals(RingFixtures.expected(ReduceOp.SUM, n, i), a.toFloats()[i]);
        }
        assertEquals(RingFixtures.expected(ReduceOp.MAX, n, i), b.toFloats()[i]);
      }
    }
    c.barrier();
  }

  /** A device copy of a host buffer, freed on close. */
  private static final class Device implements AutoCloseable {
    final Pointer pointer = new Pointer();
    final long bytes;

    private Device(long bytes) {
      this.bytes = bytes;
      assertEquals(cudart.cudaSuccess, cudart.cudaMalloc(pointer, Math.max(1, bytes)));
    }

    static Device upload(HostBuffer host) {
      Device d = new Device(host.dtype().bytes(host.count()));
      assertEquals(cudart.cudaSuccess, cudart.cudaMemcpy(d.pointer, host.pointer(), d.bytes, cudart.cudaMemcpyHostToDevice));
      return d;
    }

    void download(HostBuffer host) {
      assertEquals(cudart.cudaSuccess, cudart.cudaMemcpy(host.pointer(), pointer, bytes, cudart.cudaMemcpyDeviceToHost));
    }

    @Override
    public void close() {
      cudart.cudaFree(pointer);
    }
  }
}
