package ai.bakery.actors.security;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/** One job CA with nodes n1, n2, data-0, worker-0 and one foreign CA with node mallory, made once per JVM. */
final class TestCerts {
  private static Path root;

  private TestCerts() {}

  static synchronized Path root() {
    if (root == null) {
      try {
        Path dir = Files.createTempDirectory("bakery-certs");
        ClusterCerts job = new ClusterCerts(dir.resolve("job"));
        job.createAuthority();
        for (String n : List.of("n1", "n2", "data-0", "worker-0")) {
          job.issueNode(n, List.of("127.0.0.1", "localhost"));
        }
        ClusterCerts other = new ClusterCerts(dir.resolve("other"));
        other.createAuthority();
        other.issueNode("mallory", List.of("127.0.0.1", "localhost"));
        root = dir;
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
    }
    return root;
  }

  static Path job() {
    return root().resolve("job");
  }

  static Path other() {
    return root().resolve("other");
  }
}
