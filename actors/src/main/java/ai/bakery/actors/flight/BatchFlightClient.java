package ai.bakery.actors.flight;

import ai.bakery.actors.job.BatchId;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import org.apache.arrow.flight.FlightCallHeaders;
import org.apache.arrow.flight.FlightClient;
import org.apache.arrow.flight.FlightStream;
import org.apache.arrow.flight.HeaderCallOption;
import org.apache.arrow.flight.Location;
import org.apache.arrow.flight.Ticket;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.vector.VectorSchemaRoot;
import org.apache.arrow.vector.ipc.ArrowStreamWriter;

/** Fetches packed batches from a data shard's Flight server, as Arrow IPC stream bytes. Thread safe. */
public final class BatchFlightClient implements AutoCloseable {
  private final BufferAllocator allocator;
  private final FlightClient client;
  private final HeaderCallOption auth;

  public BatchFlightClient(BufferAllocator allocator, Location server, String token) {
    this(allocator, server, token, null);
  }

  /** Over TLS, trusting only the job's CA (from this node's identity). */
  public BatchFlightClient(BufferAllocator allocator, Location server, String token,
      ai.bakery.actors.security.NodeIdentity tls) {
    this.allocator = allocator;
    FlightClient.Builder b = FlightClient.builder(allocator, server);
    if (tls != null) {
      b.useTls().trustedCertificates(tls.authority());
    }
    this.client = b.build();
    FlightCallHeaders headers = new FlightCallHeaders();
    headers.insert("authorization", "Bearer " + token);
    this.auth = new HeaderCallOption(headers);
  }

  public byte[] fetch(BatchId id) {
    Ticket ticket = new Ticket(BatchFlightServer.ticketOf(id).getBytes(StandardCharsets.UTF_8));
    try (FlightStream stream = client.getStream(ticket, auth)) {
      VectorSchemaRoot root = stream.getRoot();
      ByteArrayOutputStream out = new ByteArrayOutputStream();
      try (ArrowStreamWriter writer = new ArrowStreamWriter(root, null, out)) {
        writer.start();
        while (stream.next()) {
          writer.writeBatch();
        }
        writer.end();
      }
      return out.toByteArray();
    } catch (IOException e) {
      throw new UncheckedIOException("fetching batch " + id, e);
    } catch (Exception e) {
      if (e instanceof RuntimeException r) {
        throw r;
      }
      throw new IllegalStateException("fetching batch " + id, e);
    }
  }

  @Override
  public void close() throws InterruptedException {
    client.close();
  }
}
