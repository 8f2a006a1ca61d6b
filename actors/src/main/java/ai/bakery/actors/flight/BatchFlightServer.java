package ai.bakery.actors.flight;

import ai.bakery.actors.job.BatchId;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import org.apache.arrow.flight.CallHeaders;
import org.apache.arrow.flight.CallStatus;
import org.apache.arrow.flight.FlightServer;
import org.apache.arrow.flight.Location;
import org.apache.arrow.flight.NoOpFlightProducer;
import org.apache.arrow.flight.Ticket;
import org.apache.arrow.flight.auth2.CallHeaderAuthenticator;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.vector.VectorSchemaRoot;
import org.apache.arrow.vector.ipc.ArrowStreamReader;

/**
 * Serves a data shard's packed batches over Arrow Flight: the ticket is the batch id ({@code shard#seq}),
 * the stream is the batch's record batches. Every call must carry the job's bearer token.
 */
public final class BatchFlightServer implements AutoCloseable {
  private final FlightServer server;

  /** Plain gRPC: only for tests and trusted single-machine runs; clusters use the TLS constructor. */
  public BatchFlightServer(BufferAllocator allocator, Location location, BatchStore store, String token)
      throws IOException {
    this(allocator, location, store, token, null);
  }

  /** Over TLS with the node's CA-signed certificate ({@code location} must be a grpc+tls location). */
  public BatchFlightServer(BufferAllocator allocator, Location location, BatchStore store, String token,
      ai.bakery.actors.security.NodeIdentity tls) throws IOException {
    FlightServer.Builder b = FlightServer.builder(allocator, location, new Producer(allocator, store))
        .headerAuthenticator(new TokenAuthenticator(token));
    if (tls != null) {
      b.useTls(tls.certificateChain(), tls.privateKey());
    }
    this.server = b.build().start();
  }

  public Location location() {
    return server.getLocation();
  }

  public int port() {
    return server.getPort();
  }

  @Override
  public void close() throws InterruptedException {
    server.shutdown();
    server.awaitTermination();
  }

  static String ticketOf(BatchId id) {
    return id.shard() + "#" + id.seq();
  }

  static BatchId parseTicket(byte[] ticket) {
    String s = new String(ticket, StandardCharsets.UTF_8);
    int hash = s.lastIndexOf('#');
    if (hash <= 0) {
      throw CallStatus.INVALID_ARGUMENT.withDescription("bad batch ticket '" + s + "'").toRuntimeException();
    }
    try {
      return new BatchId(s.substring(0, hash), Long.parseLong(s.substring(hash + 1)));
    } catch (NumberFormatException e) {
      throw CallStatus.INVALID_ARGUMENT.withDescription("bad batch ticket '" + s + "'").toRuntimeException();
    }
  }

  private static final class Producer extends NoOpFlightProducer {
    private final BufferAllocator allocator;
    private final BatchStore store;

    Producer(BufferAllocator allocator, BatchStore store) {
      this.allocator = allocator;
      this.store = store;
    }

    @Override
    public void getStream(CallContext context, Ticket ticket, ServerStreamListener listener) {
      BatchId id = parseTicket(ticket.getBytes());
      byte[] bytes = store.get(id).orElse(null);
      if (bytes == null) {
        listener.error(CallStatus.NOT_FOUND.withDescription("no batch " + id + " on this shard").toRuntimeException());
        return;
      }
      try (ArrowStreamReader reader = new ArrowStreamReader(new ByteArrayInputStream(bytes), allocator)) {
        VectorSchemaRoot root = reader.getVectorSchemaRoot();
        listener.start(root);
        while (reader.loadNextBatch()) {
          listener.putNext();
        }
        listener.completed();
      } catch (IOException e) {
        listener.error(CallStatus.INTERNAL.withDescription("batch " + id + ": " + e.getMessage()).toRuntimeException());
      }
    }
  }

  /** Accepts only {@code authorization: Bearer <job token>}; compares in constant time. */
  private static final class TokenAuthenticator implements CallHeaderAuthenticator {
    private final byte[] expected;

    TokenAuthenticator(String token) {
      if (token == null || token.isEmpty()) {
        throw new IllegalArgumentException("a Flight server needs a non-empty job token");
      }
      this.expected = ("Bearer " + token).getBytes(StandardCharsets.UTF_8);
    }

    @Override
    public AuthResult authenticate(CallHeaders headers) {
      String got = headers.get("authorization");
      if (got == null || !MessageDigest.isEqual(expected, got.getBytes(StandardCharsets.UTF_8))) {
        throw CallStatus.UNAUTHENTICATED.withDescription("missing or wrong job token").toRuntimeException();
      }
      return () -> "worker";
    }
  }
}
