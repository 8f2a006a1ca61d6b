package ai.bakery.actors.flight;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.bakery.actors.job.BatchId;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import org.apache.arrow.flight.FlightRuntimeException;
import org.apache.arrow.flight.FlightStatusCode;
import org.apache.arrow.flight.Location;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.memory.RootAllocator;
import org.apache.arrow.vector.IntVector;
import org.apache.arrow.vector.VectorSchemaRoot;
import org.apache.arrow.vector.ipc.ArrowStreamReader;
import org.apache.arrow.vector.ipc.ArrowStreamWriter;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.junit.jupiter.api.Test;

public class BatchFlightTest {
  public static byte[] batch(BufferAllocator alloc, int... values) throws Exception {
    try (IntVector v = new IntVector("packed_text_ids", alloc)) {
      v.allocateNew(values.length);
      for (int i = 0; i < values.length; i++) {
        v.set(i, values[i]);
      }
      v.setValueCount(values.length);
      try (VectorSchemaRoot root = VectorSchemaRoot.of(v)) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        try (ArrowStreamWriter w = new ArrowStreamWriter(root, null, out)) {
          w.start();
          w.writeBatch();
          w.end();
        }
        return out.toByteArray();
      }
    }
  }

  public static int[] values(BufferAllocator alloc, byte[] ipc) throws Exception {
    try (ArrowStreamReader r = new ArrowStreamReader(new ByteArrayInputStream(ipc), alloc)) {
      List<Integer> out = new ArrayList<>();
      while (r.loadNextBatch()) {
        IntVector v = (IntVector) r.getVectorSchemaRoot().getVector(0);
        for (int i = 0; i < v.getValueCount(); i++) {
          out.add(v.get(i));
        }
      }
      return out.stream().mapToInt(Integer::intValue).toArray();
    }
  }

  @Test
  void servesBatchesToTheRightTokenOnly() throws Exception {
    try (BufferAllocator alloc = new RootAllocator()) {
      BatchStore store = new BatchStore(8);
      for (int i = 0; i < 5; i++) {
        store.put(new BatchId("shard-0", i), batch(alloc, i, i * 10, i * 100));
      }
      Location loc = Location.forGrpcInsecure("127.0.0.1", 0);
      ActorTestKit kit = ActorTestKit.create();
      var io = Executors.newFixedThreadPool(2);
      try (BatchFlightServer server = new BatchFlightServer(alloc, loc, store, "bakery-test-secret-flight");
          BatchFlightClient good = new BatchFlightClient(alloc, Location.forGrpcInsecure("127.0.0.1", server.port()), "bakery-test-secret-flight");
          BatchFlightClient bad = new BatchFlightClient(alloc, Location.forGrpcInsecure("127.0.0.1", server.port()), "bakery-test-secret-guess")) {
        List<BatchId> ids = List.of(new BatchId("shard-0", 3), new BatchId("shard-0", 0), new BatchId("shard-0", 4));
        List<int[]> got = new BatchPrefetcher(kit.system(), 2, io)
            .fetchAll(ids, good::fetch, b -> {
              try {
                return values(alloc, b);
              } catch (Exception e) {
                throw new IllegalStateException(e);
              }
            })
            .toCompletableFuture().get(30, TimeUnit.SECONDS);
        assertArrayEquals(new int[] {3, 30, 300}, got.get(0));
        assertArrayEquals(new int[] {0, 0, 0}, got.get(1));
        assertArrayEquals(new int[] {4, 40, 400}, got.get(2));

        FlightRuntimeException denied = assertThrows(FlightRuntimeException.class, () -> bad.fetch(new BatchId("shard-0", 1)));
        assertEquals(FlightStatusCode.UNAUTHENTICATED, denied.status().code());

        store.release(new BatchId("shard-0", 1));
        FlightRuntimeException gone = assertThrows(FlightRuntimeException.class, () -> good.fetch(new BatchId("shard-0", 1)));
        assertEquals(FlightStatusCode.NOT_FOUND, gone.status().code());
        assertTrue(gone.getMessage().contains("shard-0#1"));
      } finally {
        io.shutdownNow();
        kit.shutdownTestKit();
      }
    }
  }

  @Test
  void storeBlocksProducersWhenFull() throws Exception {
    BatchStore store = new BatchStore(1);
    store.put(new BatchId("s", 0), new byte[] {1});
    Thread producer = new Thread(() -> {
      try {
        store.put(new BatchId("s", 1), new byte[] {2});
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    });
    producer.start();
    producer.join(300);
    assertTrue(producer.isAlive(), "a full store holds the producer back");
    store.release(new BatchId("s", 0));
    producer.join(5000);
    assertEquals(1, store.size());
  }
}
