package ai.bakery.runtime.collective;

import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/**
 * Where the members of a group find each other: every rank publishes a payload under a key and receives all
 * ranks' payloads in rank order once all have published. Payloads are host:port addresses for
 * {@link TcpRingCollective} and the ncclUniqueId for {@link NcclCollective}. Keys name one group of one
 * generation (see {@link #key}); implementations: {@link InMemoryRendezvous} (one JVM),
 * {@link FileRendezvous} (a shared folder), and the coordinator's (actors module).
 */
@FunctionalInterface
public interface Rendezvous {
  /**
   * Publishes {@code payload} for {@code rank} of {@code worldSize} under {@code key}; blocks until every rank
   * has published and returns the payloads indexed by rank.
   *
   * @throws CollectiveException with reason RENDEZVOUS when {@code timeout} passes first
   */
  List<byte[]> exchange(String key, int rank, int worldSize, byte[] payload, Duration timeout);

  /** The key for group {@code group} of generation {@code generation}. */
  static String key(String group, long generation) {
    return group + "@gen" + generation;
  }

  static byte[] encodeAddress(InetSocketAddress address) {
    return (address.getHostString() + ":" + address.getPort()).getBytes(StandardCharsets.UTF_8);
  }

  /** Parses {@code host:port} payloads, naming the rank whose payload is malformed. */
  static List<InetSocketAddress> decodeAddresses(List<byte[]> payloads) {
    List<InetSocketAddress> out = new ArrayList<>(payloads.size());
    for (int rank = 0; rank < payloads.size(); rank++) {
      String text = new String(payloads.get(rank), StandardCharsets.UTF_8);
      int colon = text.lastIndexOf(':');
      try {
        if (colon <= 0) {
          throw new NumberFormatException("no port");
        }
        int port = Integer.parseInt(text.substring(colon + 1));
        out.add(InetSocketAddress.createUnresolved(text.substring(0, colon), port));
      } catch (NumberFormatException e) {
        throw new CollectiveException(CollectiveException.Reason.RENDEZVOUS,
            "rank " + rank + " published '" + text + "', not host:port");
      }
    }
    return out;
  }
}
