package ai.bakery.actors.security;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import ai.bakery.actors.flight.BatchFlightClient;
import ai.bakery.actors.flight.BatchFlightServer;
import ai.bakery.actors.flight.BatchStore;
import ai.bakery.actors.job.BatchId;
import org.apache.arrow.flight.FlightRuntimeException;
import org.apache.arrow.flight.Location;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.memory.RootAllocator;
import org.junit.jupiter.api.Test;

class FlightTlsTest {
  @Test
  void batchesTravelOverTlsAndAPlaintextOrForeignClientGetsNothing() throws Exception {
    NodeIdentity server = NodeIdentity.load(TestCerts.job(), "data-0");
    NodeIdentity worker = NodeIdentity.load(TestCerts.job(), "worker-0");
    NodeIdentity mallory = NodeIdentity.load(TestCerts.other(), "mallory");
    try (BufferAllocator alloc = new RootAllocator()) {
      BatchStore store = new BatchStore(4);
      byte[] ipc = ai.bakery.actors.flight.BatchFlightTest.batch(alloc, 7, 8, 9);
      store.put(new BatchId("data-0", 0), ipc);
      try (BatchFlightServer s = new BatchFlightServer(alloc, Location.forGrpcTls("127.0.0.1", 0), store, "bakery-test-secret-flight-tls", server)) {
        Location at = Location.forGrpcTls("localhost", s.port());
        try (BatchFlightClient good = new BatchFlightClient(alloc, at, "bakery-test-secret-flight-tls", worker)) {
          assertArrayEquals(new int[] {7, 8, 9},
              ai.bakery.actors.flight.BatchFlightTest.values(alloc, good.fetch(new BatchId("data-0", 0))));
        }
        try (BatchFlightClient plain = new BatchFlightClient(alloc, Location.forGrpcInsecure("localhost", s.port()), "bakery-test-secret-flight-tls")) {
          assertThrows(FlightRuntimeException.class, () -> plain.fetch(new BatchId("data-0", 0)));
        }
        try (BatchFlightClient stranger = new BatchFlightClient(alloc, at, "bakery-test-secret-flight-tls", mallory)) {
          // Mallory trusts only her own CA, so she cannot even verify the server.
          assertThrows(FlightRuntimeException.class, () -> stranger.fetch(new BatchId("data-0", 0)));
        }
      }
    }
  }
}
